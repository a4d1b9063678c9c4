/**
 * Property tests for config.json's parser and profile resolution: any text is a set of validated
 * profiles or a UsageError (exit 2); every valid profile, whatever its name, is kept.
 */
import { describe, expect, it } from "bun:test";
import fc from "fast-check";
import { UsageError } from "../../src/errors.ts";
import { checkUrl, parseProfiles, resolveProfile, type ProfileSettings } from "../../src/oauth/config.ts";
import { anyLine, anyString, anyValue, looseRecord, nastyString, RUNS } from "../support/fuzz.ts";

const url = fc.oneof(
  fc.constantFrom("https://id.example", "http://127.0.0.1:8080/x", "http://localhost", "http://[::1]:9/", "http://evil.example", "ftp://x", "https://", "not a url", "file:///etc/passwd"),
  anyString,
);
const profile = looseRecord(["issuer", "authorizationEndpoint", "tokenEndpoint", "revocationEndpoint", "clientId", "scopes", "store", "bogus"] as const, {
  issuer: url,
  tokenEndpoint: url,
  authorizationEndpoint: url,
  revocationEndpoint: url,
  clientId: fc.string({ minLength: 1, maxLength: 8 }),
  scopes: fc.oneof(fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }), fc.string({ maxLength: 12 })),
  store: fc.constantFrom("keychain", "file", "file:/x.json", "file:/x.json#k", "file:", "file:/x#", "vault"),
});
const validProfile = fc.record(
  {
    issuer: fc.constantFrom("https://id.example", "http://127.0.0.1:8080"),
    tokenEndpoint: fc.constantFrom("https://id.example/token"),
    clientId: fc.string({ minLength: 1, maxLength: 8 }),
    scopes: fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
    store: fc.constantFrom("keychain", "file:/x.json#k"),
  },
  { requiredKeys: [] },
);
const profileName = fc.oneof(fc.stringMatching(/^[A-Za-z0-9._-]{1,8}$/), nastyString, fc.string({ maxLength: 6 }));
const configDoc = fc.oneof(
  anyValue,
  fc.record({ oauth: fc.oneof(anyValue, fc.record({ profiles: fc.oneof(anyValue, fc.dictionary(profileName, fc.oneof(profile, anyValue), { maxKeys: 3 })) })) }, { requiredKeys: [] }),
  fc.dictionary(profileName, profile, { minKeys: 1, maxKeys: 3 }).map((profiles) => ({ oauth: { profiles } })),
);
const configText = fc.oneof(configDoc.map((d) => JSON.stringify(d) ?? ""), anyLine);

/** Would this profile pass? The rules of config.ts, restated independently. */
function valid(raw: unknown): boolean {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return false;
  const allowed = ["issuer", "authorizationEndpoint", "tokenEndpoint", "revocationEndpoint", "clientId", "scopes", "store"];
  for (const [k, v] of Object.entries(raw)) {
    if (!allowed.includes(k)) return false;
    if (k === "scopes") {
      if (!(typeof v === "string" || (Array.isArray(v) && v.every((s) => typeof s === "string")))) return false;
    } else if (typeof v !== "string" || v === "") return false;
  }
  return true;
}

describe("parseProfiles over arbitrary config.json texts", () => {
  it(`${RUNS} texts: every profile kept under its own name, or a UsageError; never another throw`, () => {
    fc.assert(
      fc.property(configText, (text) => {
        let profiles: Record<string, ProfileSettings>;
        try {
          profiles = parseProfiles(text, "/c/config.json");
        } catch (e) {
          expect(e).toBeInstanceOf(UsageError);
          expect((e as Error).message).toContain("/c/config.json");
          return;
        }
        const doc = JSON.parse(text);
        const given = doc?.oauth?.profiles ?? {};
        for (const [name, raw] of Object.entries(given)) {
          expect(valid(raw)).toBe(true);
          expect(Object.hasOwn(profiles, name)).toBe(true);
        }
        expect(Object.keys(profiles).sort()).toEqual(Object.keys(given).sort());
      }),
      { numRuns: RUNS },
    );
  });

  it(`${RUNS} flag sets and names: a resolved profile whose settings come from its own entry, or a UsageError`, () => {
    fc.assert(
      fc.property(
        fc.dictionary(profileName, validProfile, { maxKeys: 3 }),
        fc.record({ profile: fc.option(profileName, { nil: undefined }), issuer: fc.option(url, { nil: undefined }), scope: fc.option(fc.string({ maxLength: 8 }), { nil: undefined }), store: fc.option(fc.constantFrom("file:/y#z", "keychain", "bad"), { nil: undefined }) }),
        (entries, flags) => {
          let text: string;
          try {
            text = JSON.stringify({ oauth: { profiles: parseProfiles(JSON.stringify({ oauth: { profiles: entries } }), "c") } });
          } catch {
            return; // an entry with a bad URL or store: covered by the test above
          }
          try {
            const p = resolveProfile(flags, {}, () => parseProfiles(text, "c"));
            const name = flags.profile || "default";
            expect(p.name).toBe(name);
            const own = Object.hasOwn(entries, name) ? (entries[name] as ProfileSettings) : {};
            expect(p.issuer).toBe(flags.issuer || own.issuer);
            expect(typeof p.store).toBe("string");
            expect(Array.isArray(p.scopes)).toBe(true);
          } catch (e) {
            expect(e).toBeInstanceOf(UsageError);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it(`${RUNS} URLs: https anywhere, http only on loopback, else a UsageError`, () => {
    fc.assert(
      fc.property(url, (value) => {
        try {
          const u = checkUrl(value, "--issuer");
          expect(u.protocol === "https:" || ["127.0.0.1", "localhost", "[::1]"].includes(u.hostname)).toBe(true);
        } catch (e) {
          expect(e).toBeInstanceOf(UsageError);
        }
      }),
      { numRuns: RUNS },
    );
  });
});
