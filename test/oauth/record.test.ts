import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { CredentialFormatError, isFresh, parseRecord, parseRecordText, recordFromGrant, recordToJson, validityNeeded } from "../../src/oauth/record.ts";

describe("parseRecord", () => {
  test.each([
    [undefined, "Log in again to replace it: tokenctl oauth login"],
    ["default", "Log in again to replace it: tokenctl oauth login"],
    ["work", "Log in again to replace it: tokenctl oauth login --profile work"],
  ])("a bad record's hint logs in to profile %p, and holds no token", (profile, hint) => {
    const bad = { accessToken: "SECRET-at", refreshToken: 7, expiresAt: 1 };
    for (const parse of [() => parseRecord(bad, "t", profile), () => parseRecordText(JSON.stringify(bad), "t", profile), () => parseRecordText("{SECRET", "t", profile)]) {
      const e = (() => {
        try {
          parse();
        } catch (err) {
          return err as CredentialFormatError;
        }
      })()!;
      expect(e).toBeInstanceOf(CredentialFormatError);
      expect(e.hint).toBe(hint);
      expect(`${e.message} ${e.hint}`).not.toContain("SECRET");
    }
  });
  test("accepts a full record", () => {
    expect(parseRecord({ accessToken: "a", refreshToken: "r", expiresAt: 5, scopes: ["x"] }, "t")).toEqual({
      accessToken: "a",
      refreshToken: "r",
      expiresAt: 5,
      scopes: ["x"],
    });
  });
  test("an empty refresh token reads as none (what lock-free refreshers leave behind)", () => {
    expect(parseRecord({ accessToken: "a", refreshToken: "", expiresAt: 5 }, "t")).toEqual({ accessToken: "a", expiresAt: 5, scopes: [] });
  });
  test.each([
    [null, "expected an object, found null"],
    [[], "expected an object, found an array"],
    ["s", "expected an object, found a string"],
    [{ expiresAt: 1 }, "expected accessToken to be a non-empty string, found undefined"],
    [{ accessToken: "", expiresAt: 1 }, "found an empty string"],
    [{ accessToken: "a", refreshToken: 3, expiresAt: 1 }, "expected refreshToken to be a string, found number"],
    [{ accessToken: "a", expiresAt: "soon" }, "expected expiresAt to be milliseconds since the epoch (a non-negative number), found a string"],
    [{ accessToken: "a", expiresAt: Number.NaN }, "found NaN"],
    [{ accessToken: "a", expiresAt: 1, scopes: "x y" }, "expected scopes to be an array of strings, found a string"],
    [{ accessToken: "a", expiresAt: 1, scopes: [1] }, "with non-string items"],
  ])("rejects %p", (value, message) => {
    expect(() => parseRecord(value, "where")).toThrow(message);
    expect(() => parseRecord(value, "where")).toThrow(CredentialFormatError);
  });
  test("messages never contain the secret values", () => {
    try {
      parseRecord({ accessToken: "SECRET-A", refreshToken: 42, expiresAt: 1 }, "w");
      throw new Error("no throw");
    } catch (e) {
      expect(String((e as Error).message)).not.toContain("SECRET-A");
    }
  });
  test("garbage never crashes with anything but CredentialFormatError", () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        try {
          parseRecordText(text, "w");
        } catch (e) {
          if (!(e instanceof CredentialFormatError)) throw e;
        }
      }),
    );
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        try {
          parseRecord(v, "w");
        } catch (e) {
          if (!(e instanceof CredentialFormatError)) throw e;
        }
      }),
    );
  });
});

test("recordToJson never writes an empty refresh token", () => {
  expect(recordToJson({ accessToken: "a", expiresAt: 1, scopes: [] })).toEqual({ accessToken: "a", expiresAt: 1, scopes: [] });
  expect(() => recordToJson({ accessToken: "a", refreshToken: "", expiresAt: 1, scopes: [] })).toThrow();
});

test("isFresh uses the margin", () => {
  const r = { accessToken: "a", expiresAt: 10_000, scopes: [] };
  expect(isFresh(r, 1000, 8_000)).toBe(true);
  expect(isFresh(r, 1000, 9_500)).toBe(false);
});

describe("recordFromGrant (login and refresh alike)", () => {
  const at = 1_000_000;
  test.each([
    ["rotated: everything from the grant", { accessToken: "a2", refreshToken: "r2", expiresIn: 60, scope: "x y" }, { refreshToken: "r1", scopes: ["s"] }, { accessToken: "a2", refreshToken: "r2", expiresAt: at + 60_000, lifetimeMs: 60_000, scopes: ["x", "y"] }],
    ["not rotated: the old refresh token and scopes kept", { accessToken: "a2" }, { refreshToken: "r1", scopes: ["s"] }, { accessToken: "a2", refreshToken: "r1", expiresAt: at + 3_600_000, lifetimeMs: 3_600_000, scopes: ["s"] }],
    ["an empty refresh token is never stored", { accessToken: "a2", refreshToken: "", expiresIn: 5 }, { scopes: [] }, { accessToken: "a2", expiresAt: at + 5000, lifetimeMs: 5000, scopes: [] }],
    ["login without a refresh token: none, the requested scopes", { accessToken: "a", expiresIn: 300 }, { scopes: ["openid"] }, { accessToken: "a", expiresAt: at + 300_000, lifetimeMs: 300_000, scopes: ["openid"] }],
  ])("%s", (_name, grant, before, want) => {
    expect(recordFromGrant(grant, at, before)).toEqual(want);
  });
});

describe("lifetimeMs", () => {
  test("kept through parse and store; a wrong value is refused without quoting a secret", () => {
    const r = { accessToken: "a", expiresAt: 5, lifetimeMs: 300_000, scopes: [] };
    expect(parseRecord(recordToJson(r), "t")).toEqual(r);
    expect(() => parseRecord({ accessToken: "a", expiresAt: 5, lifetimeMs: -1 }, "t")).toThrow("expected lifetimeMs to be a positive number of milliseconds, found -1");
    expect(() => parseRecord({ accessToken: "a", expiresAt: 5, lifetimeMs: "1" }, "t")).toThrow("found a string");
  });
  test.each([
    [undefined, 20_000, 10_000],
    [undefined, 3_600_000, 300_000],
    [undefined, undefined, 300_000],
    [60_000, 20_000, 60_000],
  ])("minValid %p, lifetime %p → %p", (minValid, lifetimeMs, want) => {
    expect(validityNeeded({ lifetimeMs }, minValid)).toBe(want);
  });
});
