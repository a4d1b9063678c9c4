import { expect, test } from "bun:test";
import fc from "fast-check";
import { deleteMember, setMember } from "../../src/oauth/json-object.ts";

const shared = `{
  "other": {"n": 1.50, "s": "a\\"}b"},
  "claudeAiOauth": {"accessToken": "old"},
  "big": 12345678901234567890
}
`;

test("replaces one member and keeps the others byte for byte", () => {
  const out = setMember(shared, "claudeAiOauth", { accessToken: "new" });
  expect(JSON.parse(out).claudeAiOauth).toEqual({ accessToken: "new" });
  expect(out).toContain(`"other": {"n": 1.50, "s": "a\\"}b"},`);
  expect(out).toContain(`"big": 12345678901234567890\n}\n`);
});

test("appends a new member", () => {
  const out = setMember(shared, "mine", { a: 1 });
  expect(JSON.parse(out).mine).toEqual({ a: 1 });
  expect(out.startsWith(shared.slice(0, shared.lastIndexOf("\n}")))).toBe(true);
  expect(setMember("{}", "k", 1)).toBe('{"k":1}');
  expect(JSON.parse(setMember("{\n}\n", "k", { x: [1] }))).toEqual({ k: { x: [1] } });
});

test("deletes a member, first, middle or last", () => {
  for (const key of ["other", "claudeAiOauth", "big"]) {
    const out = deleteMember(shared, key);
    const expected = JSON.parse(shared.replace(/12345678901234567890/, "0"));
    delete expected[key];
    const got = JSON.parse(out.replace(/12345678901234567890/, "0"));
    expect(got).toEqual(expected);
  }
  expect(deleteMember('{"a":1}', "a")).toBe("{}");
  expect(deleteMember('{"a":1}', "b")).toBe('{"a":1}');
});

test("property: set/delete agree with JSON.parse for any object", () => {
  fc.assert(
    fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.string().filter((k) => k !== "__proto__"), fc.jsonValue(), fc.boolean(), (obj, key, value, pretty) => {
      const text = pretty ? JSON.stringify(obj, null, 2) : JSON.stringify(obj);
      const set = JSON.parse(setMember(text, key, value));
      const expected = JSON.parse(text);
      expected[key] = value;
      expect(set).toEqual(JSON.parse(JSON.stringify(expected)));
      const del = JSON.parse(deleteMember(text, key));
      delete expected[key];
      expect(del).toEqual(JSON.parse(JSON.stringify(expected)));
    }),
  );
});
