import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { CredentialFormatError, isFresh, parseRecord, parseRecordText, recordToJson } from "../../src/oauth/record.ts";

describe("parseRecord", () => {
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
