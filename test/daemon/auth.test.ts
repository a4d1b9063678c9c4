import { describe, expect, it, spyOn } from "bun:test";
import * as crypto from "node:crypto";
import { checkAuth, generateToken, tokenDigest } from "../../src/daemon/auth.ts";
import { trustedOwner } from "../../src/fs/trust.ts";

const token = "ab".repeat(32);
const digest = tokenDigest(token);

describe("generateToken", () => {
  it("gives 64 lowercase hex chars, different every time", () => {
    const a = generateToken();
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(generateToken()).not.toBe(a);
  });
});

describe("checkAuth", () => {
  it.each([
    ["the right token", { type: "auth", token }, { kind: "token", ok: true }],
    ["a wrong token of equal length", { type: "auth", token: "cd".repeat(32) }, { kind: "token", ok: false }],
    ["a one-char-off token", { type: "auth", token: `${token.slice(0, 63)}c` }, { kind: "token", ok: false }],
    ["a shorter token", { type: "auth", token: "ab" }, { kind: "token", ok: false }],
    ["a longer token", { type: "auth", token: `${token}00` }, { kind: "token", ok: false }],
    ["an empty token", { type: "auth", token: "" }, { kind: "token", ok: false }],
    ["a number", { type: "auth", token: 42 }, { kind: "token", ok: false }],
    ["null", { type: "auth", token: null }, { kind: "token", ok: false }],
    ["an object", { type: "auth", token: { token } }, { kind: "token", ok: false }],
    ["the token JSON-quoted", { type: "auth", token: [token] }, { kind: "token", ok: false }],
    ["the upper-cased token", { type: "auth", token: token.toUpperCase() }, { kind: "token", ok: false }],
    ["another credential", { type: "auth", session: "x" }, { kind: "other-credential" }],
    ["a non-auth message", { type: "ping", token }, { kind: "not-auth" }],
  ])("%s", (_n, message, expected) => {
    expect(checkAuth(message, digest)).toEqual(expected as never);
  });

  it("compares with timingSafeEqual on equal-length digests, whatever the offered length", () => {
    const spy = spyOn(crypto, "timingSafeEqual");
    try {
      for (const t of ["", "ab", token, `${token}${token}`]) checkAuth({ type: "auth", token: t }, digest);
      expect(spy).toHaveBeenCalledTimes(4);
      for (const call of spy.mock.calls) expect((call[0] as Buffer).length).toBe(32);
    } finally {
      spy.mockRestore();
    }
  });
});

describe("who may connect (trustedOwner, as for files)", () => {
  it("allows our uid and root only", () => {
    expect(trustedOwner(1000, 1000)).toBe(true);
    expect(trustedOwner(0, 1000)).toBe(true);
    expect(trustedOwner(1001, 1000)).toBe(false);
    expect(trustedOwner(65534, 0)).toBe(false);
  });
});
