/**
 * Property tests for what Vault sync parses: the credential shape check, the credential JSON held
 * in the secret, Vault's HTTP answers (any status, any body), the planner over any secret data, and
 * the merge into the credentials file (other keys kept).
 */
import { describe, expect, it } from "bun:test";
import fc from "fast-check";
import { TokenctlError } from "../../src/errors.ts";
import { VaultClient } from "../../src/vault/client.ts";
import { mergeCredentials } from "../../src/vault/files.ts";
import { FIELDS, localStateOf, planSync, TERMINAL, type SyncState } from "../../src/vault/plan.ts";
import { canonicalJson, checkCredential, parseCredentialJson } from "../../src/vault/record.ts";
import { anyLine, anyValue, looseRecord, nastyString, RUNS } from "../support/fuzz.ts";

const secret = fc.string({ minLength: 12, maxLength: 30, unit: "grapheme-ascii" }).map((s) => `SECRET${s}`);
const credLike = looseRecord(["accessToken", "refreshToken", "expiresAt", "scopes", "subscriptionType"] as const, {
  accessToken: secret,
  refreshToken: secret,
  expiresAt: fc.oneof(fc.nat(), fc.constantFrom(NaN, Infinity)),
  scopes: fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
});
const secretsIn = (s: string) => s.match(/SECRET[^"\\]*/g) ?? [];

describe("credential shape check", () => {
  it(`${RUNS} values and JSON texts: ok with the right types, or a problem that names a field, never a value`, () => {
    fc.assert(
      fc.property(fc.oneof(credLike, anyValue), fc.boolean(), (value, asText) => {
        const text = JSON.stringify(value) ?? "";
        const check = asText ? parseCredentialJson(text) : checkCredential(value);
        if (check.ok) {
          const c = check.credential;
          expect(typeof c.accessToken === "string" && c.accessToken !== "").toBe(true);
          expect(typeof c.refreshToken === "string" && c.refreshToken !== "").toBe(true);
          expect(Number.isFinite(c.expiresAt)).toBe(true);
          expect(canonicalJson(JSON.parse(canonicalJson(c)))).toBe(canonicalJson(c));
        } else {
          for (const s of secretsIn(text)) expect(check.problem).not.toContain(s);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it(`${RUNS} non-JSON texts and non-strings: a problem, never a throw`, () => {
    fc.assert(
      fc.property(fc.oneof(anyLine, anyValue), (v) => {
        const check = parseCredentialJson(v);
        if (!check.ok) expect(typeof check.problem).toBe("string");
      }),
      { numRuns: RUNS },
    );
  });
});

describe("planSync over any secret data and local state", () => {
  it(`${RUNS} states: a plan that ends in one terminal step or needs new facts; never throws`, () => {
    const data = fc.oneof(
      fc.dictionary(fc.oneof(fc.string({ maxLength: 4 }), nastyString), anyValue, { maxKeys: 3 }),
      looseRecord([FIELDS.setupToken, FIELDS.credentialJson, FIELDS.expiresAtMs, "other"] as const, {
        [FIELDS.setupToken]: fc.oneof(fc.constantFrom("sk-ant-oat01-abc", "sk-ant-oat01-", "sk-ant-oat01-a b", "x"), anyValue),
        [FIELDS.credentialJson]: fc.oneof(credLike.map((c) => JSON.stringify(c)), anyLine),
      }) as fc.Arbitrary<Record<string, unknown>>,
    );
    fc.assert(
      fc.property(
        data,
        fc.nat({ max: 5 }),
        fc.constantFrom("present" as const, "absent" as const, "unparseable" as const),
        fc.oneof(anyValue, fc.record({ k: credLike })),
        fc.constantFrom("pending" as const, "ok" as const, "failed" as const),
        fc.boolean(),
        fc.option(fc.string({ maxLength: 10 }), { nil: undefined }),
        (remoteData, version, file, parsed, probe, restored, envFile) => {
          const state: SyncState = {
            now: 1_000,
            local: localStateOf(file, parsed, "k"),
            remote: { version, data: remoteData },
            envFile,
            probe,
            restored,
            settings: { setupTokenPrefix: "sk-ant-oat01-", envName: "CLAUDE_CODE_OAUTH_TOKEN" },
          };
          const steps = planSync(state);
          expect(steps.length).toBeGreaterThan(0);
          const last = steps.at(-1)!;
          expect(TERMINAL.has(last.do) || last.do === "probe").toBe(true);
          for (const step of steps.slice(0, -1)) expect(TERMINAL.has(step.do)).toBe(false);
          for (const step of steps) {
            if (step.do === "write-env") expect(step.content).toMatch(/^CLAUDE_CODE_OAUTH_TOKEN=[\x21-\x7e]+\n$/);
            if (step.do === "restore") expect(checkCredential(step.credential).ok).toBe(true);
            if (step.do === "backup") expect(parseCredentialJson(step.data[FIELDS.credentialJson]).ok).toBe(true);
            if (step.do === "warn" || step.do === "fail" || step.do === "skip-backup")
              for (const s of secretsIn(JSON.stringify(remoteData) + JSON.stringify(parsed))) expect(step.message).not.toContain(s);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe("restore merge into the credentials file", () => {
  it(`${RUNS} existing files: the credential lands at the key, every other key kept`, () => {
    fc.assert(
      fc.property(fc.option(fc.dictionary(fc.oneof(fc.string({ maxLength: 5 }), nastyString), anyValue, { maxKeys: 4 }), { nil: undefined }), fc.oneof(fc.constant("claudeAiOauth"), nastyString.filter((k) => k !== "")), credLike, (existing, key, cred) => {
        const before = existing === undefined ? undefined : JSON.parse(JSON.stringify(existing));
        const check = checkCredential(cred);
        if (!check.ok) return;
        const out = JSON.parse(mergeCredentials(before, key, check.credential));
        expect(Object.hasOwn(out, key)).toBe(true);
        expect(canonicalJson(out[key])).toBe(canonicalJson(check.credential));
        for (const k of Object.keys(before ?? {})) if (k !== key) expect(out[k]).toEqual(before[k]);
        expect(Object.keys(out).sort()).toEqual([...new Set([...Object.keys(before ?? {}), key])].sort());
      }),
      { numRuns: RUNS },
    );
  });
});

describe("Vault's HTTP answers", () => {
  it(`${RUNS} answers (any status, any body): a parsed result, or one of our errors: no token, no control character, capped, and no echo of the KV write's body`, async () => {
    const status = fc.oneof(fc.constantFrom(200, 204, 301, 400, 401, 403, 404, 500, 502, 503), fc.integer({ min: 200, max: 599 }));
    const body = fc.oneof(
      anyLine,
      anyValue.map((v) => JSON.stringify(v) ?? ""),
      fc.record({ data: fc.oneof(anyValue, fc.record({ data: anyValue, metadata: fc.oneof(anyValue, fc.record({ version: anyValue })) })), errors: fc.oneof(anyValue, fc.array(fc.oneof(secret, fc.constant("permission denied")))) }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
    );
    await fc.assert(
      fc.asyncProperty(status, body, fc.constantFrom("readKv", "lookupSelf", "writeKv", "renewSelf"), async (code, text, call) => {
        const client = new VaultClient({
          addr: "http://127.0.0.1:1",
          token: "hvs.SECRETTOKEN",
          timeoutMs: 1000,
          sleep: async () => {},
          fetch: (async () => new Response(code === 204 ? null : text, { status: code, headers: code >= 300 && code < 400 ? { Location: "http://other:8200/x" } : {} })) as unknown as typeof fetch,
        });
        try {
          const r = call === "readKv" ? await client.readKv("secret", "a/b") : call === "writeKv" ? await client.writeKv("secret", "a/b", {}, 0) : call === "lookupSelf" ? await client.lookupSelf() : await client.renewSelf();
          if (call === "readKv") expect(typeof (r as { version: number }).version).toBe("number");
          if (call === "writeKv") expect(typeof r).toBe("number");
        } catch (e) {
          expect(e).toBeInstanceOf(TokenctlError);
          const message = (e as Error).message;
          expect(message).not.toContain("SECRETTOKEN");
          expect(message).not.toMatch(/[\x00-\x1f\x7f-\x9f]/);
          // Vault's texts are quoted for the other calls (escaped and capped); never for the write, which sent the credential.
          expect(message.length).toBeLessThan(900);
          if (call === "writeKv") for (const s of secretsIn(text)) expect(message).not.toContain(s);
        }
      }),
      { numRuns: RUNS },
    );
  });
});
