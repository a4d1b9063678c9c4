/**
 * Shared generators for the property tests (test/**\/*.fuzz.test.ts): arbitrary JSON values, lines
 * that are sometimes JSON and sometimes not, invalid UTF-8, and the strings that have broken
 * JavaScript parsers before (prototype keys, lone surrogates, NUL, huge numbers).
 */
import fc from "fast-check";

/** Generated inputs per property; the issue asks for at least 10,000. */
export const RUNS = 10_000;

/** Strings JavaScript code tends to mishandle as keys or values. */
export const nastyString = fc.constantFrom(
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "",
  " ",
  "\u0000",
  "\ud800",
  "\udfff",
  "\u2028",
  "\ufeff",
  "\r\n",
  "%s%n",
  "../..",
  "é",
  "😀",
);

/** Any string: printable, full Unicode, lone surrogates, or one of the nasty ones. */
export const anyString = fc.oneof(
  fc.string(),
  fc.string({ unit: "binary" }),
  fc.string({ unit: fc.constantFrom("\ud800", "\udc00", "a", "\u0000", "\\", '"', "\n") }),
  nastyString,
);

/** Any JSON-compatible value (what JSON.parse can hand us), with nasty strings as keys and values. */
export const anyValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double(),
    fc.constantFrom(Number.MAX_SAFE_INTEGER + 2, -0, 1e308, 5e-324),
    anyString,
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.string(), nastyString), tie("value"), { maxKeys: 4 }),
  ),
})).value;

/** Bytes that are usually not valid UTF-8, decoded the way the daemon decodes a frame. */
export const invalidUtf8 = fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString("utf8"));

/** One input line: free text, decoded random bytes, JSON text of any value, or truncated JSON. */
export const anyLine = fc.oneof(
  anyString,
  invalidUtf8,
  anyValue.map((v) => JSON.stringify(v) ?? "undefined"),
  fc.record({ type: anyValue, id: anyValue, token: anyValue, topics: anyValue, topic: anyValue, data: anyValue }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
  fc.tuple(anyValue.map((v) => JSON.stringify(v) ?? ""), fc.nat()).map(([s, n]) => s.slice(0, n % (s.length + 1))),
);

/** An object whose every listed field is absent or an arbitrary JSON value (wrong types included). */
export function looseRecord<K extends string>(keys: readonly K[], overrides: Partial<Record<K, fc.Arbitrary<unknown>>> = {}) {
  const model = Object.fromEntries(keys.map((k) => [k, fc.oneof(overrides[k] ?? anyValue, anyValue)])) as Record<K, fc.Arbitrary<unknown>>;
  return fc.record(model, { requiredKeys: [] });
}
