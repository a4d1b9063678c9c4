/**
 * Property tests for the OAuth credential record parser, the store spec parser, and the shared
 * file's member editing (json-object.ts): any stored value is a record or a CredentialFormatError
 * that never quotes a value; editing one key of any JSON object keeps every other key.
 */
import { describe, expect, it } from "bun:test";
import fc from "fast-check";
import { UsageError } from "../../src/errors.ts";
import { deleteMember, setMember } from "../../src/oauth/json-object.ts";
import { CredentialFormatError, parseRecord, parseRecordText, recordToJson } from "../../src/oauth/record.ts";
import { parseStoreSpec } from "../../src/oauth/store.ts";
import { anyLine, anyString, anyValue, looseRecord, nastyString, RUNS } from "../support/fuzz.ts";

/** Secret-looking strings long enough that finding one in a message cannot be chance. */
const secret = fc.string({ minLength: 12, maxLength: 40, unit: "grapheme-ascii" }).map((s) => `SECRET${s}`);
const recordLike = looseRecord(["accessToken", "refreshToken", "expiresAt", "scopes", "extra"] as const, {
  accessToken: secret,
  refreshToken: fc.oneof(secret, fc.constant("")),
  expiresAt: fc.oneof(fc.nat(), fc.constantFrom(NaN, Infinity, -1, 1e300)),
  scopes: fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 }),
});
const secretsIn = (v: unknown): string[] => JSON.stringify(v)?.match(/SECRET[^"\\]*/g) ?? [];

describe("parseRecord", () => {
  it(`${RUNS} values: a well-typed record, or a CredentialFormatError (exit 2) naming the field, never a value`, () => {
    fc.assert(
      fc.property(fc.oneof(recordLike, anyValue), (value) => {
        try {
          const r = parseRecord(value, "file x#k");
          expect(typeof r.accessToken).toBe("string");
          expect(r.accessToken).not.toBe("");
          expect(r.refreshToken === undefined || (typeof r.refreshToken === "string" && r.refreshToken !== "")).toBe(true);
          expect(Number.isFinite(r.expiresAt) && r.expiresAt >= 0).toBe(true);
          expect(r.scopes.every((s) => typeof s === "string")).toBe(true);
          // What parses can be stored and parses back the same.
          const stored = JSON.stringify(recordToJson(r));
          expect(JSON.stringify(recordToJson(parseRecord(JSON.parse(stored), "again")))).toBe(stored);
        } catch (e) {
          expect(e).toBeInstanceOf(CredentialFormatError);
          expect((e as CredentialFormatError).exitCode).toBe(2);
          for (const s of secretsIn(value)) expect((e as Error).message).not.toContain(s);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it(`${RUNS} texts: parseRecordText gives a record or a CredentialFormatError, never a SyntaxError`, () => {
    fc.assert(
      fc.property(fc.oneof(anyLine, recordLike.map((r) => JSON.stringify(r))), (text) => {
        try {
          parseRecordText(text, "keychain");
        } catch (e) {
          expect(e).toBeInstanceOf(CredentialFormatError);
          for (const s of text.match(/SECRET[^"\\]*/g) ?? []) expect((e as Error).message).not.toContain(s);
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe("parseStoreSpec", () => {
  it(`${RUNS} specs: keychain, file, file:PATH[#KEY] with non-empty parts, or a UsageError`, () => {
    fc.assert(
      fc.property(fc.oneof(anyString, fc.tuple(fc.constantFrom("file:", "file", "keychain", "File:"), anyString, fc.constantFrom("", "#", "#k"), anyString).map((p) => p.join(""))), (spec) => {
        try {
          const s = parseStoreSpec(spec);
          if (s.type === "file" && spec !== "file") {
            expect(s.path).toBeTruthy();
            expect(s.key === undefined || s.key.length > 0).toBe(true);
            expect(`file:${s.path}${s.key === undefined ? "" : `#${s.key}`}`).toBe(spec);
          }
        } catch (e) {
          expect(e).toBeInstanceOf(UsageError);
        }
      }),
      { numRuns: RUNS },
    );
  });
});

/** Any JSON object as text, in one of the layouts other programs write. */
const objectText = fc
  .tuple(
    fc.array(fc.tuple(fc.oneof(fc.string({ maxLength: 6 }), nastyString, fc.constantFrom("k", "a\"b", "a\\")), anyValue), { maxLength: 5 }),
    fc.constantFrom(undefined, 2, 4, "\t"),
    fc.constantFrom("", "\n", " \n\n", "\r\n"),
    fc.boolean(),
  )
  .map(([entries, indent, trailer, dupes]) => {
    // JSON.stringify drops duplicate keys; write members by hand so duplicates (legal JSON) occur too.
    const list = dupes && entries.length ? [...entries, [entries[0]![0], "dup"] as [string, unknown]] : entries;
    const sep = indent === undefined ? "" : "\n";
    const pad = typeof indent === "number" ? " ".repeat(indent) : (indent ?? "");
    const members = list.map(([k, v]) => `${pad}${JSON.stringify(k)}:${indent === undefined ? "" : " "}${JSON.stringify(v ?? null)}`);
    return `{${sep}${members.join(`,${sep}`)}${sep}}${trailer}`;
  });
const key = fc.oneof(fc.string({ maxLength: 6 }), nastyString, fc.constantFrom("k", "a\"b"));

describe("json-object setMember / deleteMember on the shared credentials file", () => {
  it(`${RUNS} objects: setMember sets exactly one key, every other key keeps its value`, () => {
    fc.assert(
      fc.property(objectText, key, anyValue, (text, k, v) => {
        const before = JSON.parse(text) as Record<string, unknown>;
        const out = setMember(text, k, v ?? null);
        const after = JSON.parse(out) as Record<string, unknown>;
        expect(after[k]).toEqual(JSON.parse(JSON.stringify(v ?? null)));
        expect(Object.hasOwn(after, k)).toBe(true);
        for (const other of Object.keys(before)) if (other !== k) expect(after[other]).toEqual(before[other]);
        expect(Object.keys(after).sort()).toEqual([...new Set([...Object.keys(before), k])].sort());
      }),
      { numRuns: RUNS },
    );
  });

  it(`${RUNS} objects: deleteMember removes exactly one key, every other key keeps its value`, () => {
    fc.assert(
      fc.property(objectText, fc.option(key, { nil: undefined }), (text, maybeKey) => {
        const before = JSON.parse(text) as Record<string, unknown>;
        const k = maybeKey ?? Object.keys(before)[0] ?? "k";
        const after = JSON.parse(deleteMember(text, k)) as Record<string, unknown>;
        expect(Object.hasOwn(after, k)).toBe(false);
        expect(Object.keys(after).sort()).toEqual(Object.keys(before).filter((x) => x !== k).sort());
        for (const other of Object.keys(after)) expect(after[other]).toEqual(before[other]);
      }),
      { numRuns: RUNS },
    );
  });
});
