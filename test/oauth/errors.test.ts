import { describe, expect, test } from "bun:test";
import { loginHint } from "../../src/oauth/errors.ts";

describe("loginHint", () => {
  // The fix line names the profile that was used, so it fixes that one, quoted so it runs as pasted.
  test.each([
    [undefined, "", "tokenctl oauth login"],
    ["default", "", "tokenctl oauth login"],
    ["work", "", "tokenctl oauth login --profile work"],
    ["work", " --device", "tokenctl oauth login --profile work --device"],
    ["a.b_c-1", "", "tokenctl oauth login --profile a.b_c-1"],
    ["my work", "", "tokenctl oauth login --profile 'my work'"],
    ["it's", "", "tokenctl oauth login --profile 'it'\\''s'"],
  ])("profile %p, flags %p", (profile, flags, expected) => expect(loginHint(profile, flags)).toBe(expected));
});
