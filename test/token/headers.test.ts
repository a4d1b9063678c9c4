import { expect, test } from "bun:test";
import { formatHeaderLines, headersFor } from "../../src/token/headers.ts";
import { validateTokenInput } from "../../src/token/store.ts";

test.each([
  ["bearer", "abc123", undefined, [["Authorization", "Bearer abc123"]]],
  ["bearer ignores the org", "abc123", "org-1", [["Authorization", "Bearer abc123"]]],
  ["session key", "sk-ant-sid01-xyz", undefined, [["Cookie", "sessionKey=sk-ant-sid01-xyz"]]],
  ["session key with org", "sk-ant-sid01-xyz", "org-1", [["Cookie", "sessionKey=sk-ant-sid01-xyz"], ["X-Organization-Uuid", "org-1"]]],
  ["only the exact prefix is a session key", "sk-ant-oat01-abc", "org-1", [["Authorization", "Bearer sk-ant-oat01-abc"]]],
] as const)("%s", (_n, token, org, expected) => {
  expect(headersFor(token, org)).toEqual(expected.map((h) => [...h]));
});

test("lines for curl -H @-", () => {
  expect(formatHeaderLines([["A", "1"], ["B", "2"]])).toBe("A: 1\nB: 2");
});

test.each([
  ["tok\n", "tok"],
  ["  tok  ", "tok"],
])("token input %p is accepted as %p", (input, out) => expect(validateTokenInput(input)).toBe(out));

test.each([
  ["", /No token on stdin/],
  ["\n\n", /No token on stdin/],
  ["two\nlines", /single line/],
  ["has space", /single line/],
  ["ctrl\x01", /single line/],
  ["x".repeat(70000), /over 65536 bytes/],
])("token input %#: rejected", (input, msg) => expect(() => validateTokenInput(input)).toThrow(msg));
