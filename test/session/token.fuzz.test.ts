/**
 * Property tests for the session token parser and the registry's input checks: any text is a
 * session token or "no session" with a reason that never quotes it; any register input is a record
 * or a UsageError; any snapshot a restarted daemon finds loads what is valid and skips the rest.
 */
import { describe, expect, it } from "bun:test";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { UsageError } from "../../src/errors.ts";
import { type RegisterInput, SessionRegistry } from "../../src/session/registry.ts";
import { hashToken, isSessionToken, mintToken, readSessionToken, tokenProblem } from "../../src/session/token.ts";
import { anyString, anyValue, invalidUtf8, looseRecord, nastyString, RUNS } from "../support/fuzz.ts";
import { tempDir } from "../support/tmp.ts";

const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);
/** Tokens and near-misses: right, upper-case, too short/long, padded, non-hex, or anything. */
const tokenish = fc.oneof(
  hex64,
  hex64.map((t) => t.toUpperCase()),
  hex64.map((t) => t.slice(1)),
  hex64.map((t) => `${t}0`),
  hex64.map((t) => ` \n${t}\t\n`),
  hex64.map((t) => `${t.slice(0, 63)}g`),
  anyString,
  invalidUtf8,
);

describe("session token parser", () => {
  it(`${RUNS} texts: a token exactly when 64 lower-case hex after trimming; the reason never quotes the text`, () => {
    fc.assert(
      fc.property(tokenish, (text) => {
        const problem = tokenProblem(text);
        const valid = /^[0-9a-f]{64}$/.test(text.trim());
        expect(problem === undefined).toBe(valid);
        expect(isSessionToken(text)).toBe(/^[0-9a-f]{64}$/.test(text));
        if (problem && text.trim().length >= 8) expect(problem).not.toContain(text.trim());
        const read = readSessionToken({ TOKENCTL_SESSION_TOKEN: text });
        expect(read.ok).toBe(valid);
        if (read.ok) expect(read.token).toBe(text.trim());
        else expect(read.reason).not.toContain(text.trim().length >= 8 ? text.trim() : "\u0000never");
      }),
      { numRuns: RUNS },
    );
  });

  it("token files with arbitrary bytes (2,000 real files): ok, or no session with a reason, never a throw", () => {
    const dir = tempDir();
    const file = join(dir, "session-token");
    fc.assert(
      fc.property(fc.oneof(tokenish.map((t) => Buffer.from(t)), fc.uint8Array({ maxLength: 5000 }).map((b) => Buffer.from(b))), fc.constantFrom(0o600, 0o644), (data, mode) => {
        writeFileSync(file, data);
        chmodSync(file, mode);
        const read = readSessionToken({ TOKENCTL_SESSION_TOKEN_FILE: file });
        const text = data.toString("utf8");
        if (read.ok) {
          expect(mode).toBe(0o600);
          expect(read.token).toBe(text.trim());
        } else if (text.trim().length >= 8) expect(read.reason).not.toContain(text.trim());
      }),
      { numRuns: 2_000 },
    );
  });
});

describe("session registry inputs", () => {
  it(`${RUNS} sequences of register inputs (wrong types included): a record or a UsageError; counts always add up`, () => {
    const input = looseRecord(["token", "name", "scope", "pid", "cwd"] as const, {
      token: fc.oneof(hex64, tokenish),
      scope: fc.oneof(fc.constantFrom("default", "a/b", "team:x", "x@y"), nastyString),
      pid: fc.integer({ min: -5, max: 2 ** 31 + 5 }),
      name: anyString,
      cwd: anyString,
    });
    fc.assert(
      fc.property(fc.array(input, { minLength: 1, maxLength: 4 }), (inputs) => {
        const registry = new SessionRegistry();
        for (const input of inputs as RegisterInput[]) {
          const before = registry.size;
          try {
            const record = registry.register(input);
            expect(registry.size).toBe(before + 1);
            expect(registry.resolve(input.token)).toEqual(record);
            expect(JSON.stringify(record)).not.toContain(input.token as string);
          } catch (e) {
            expect(e).toBeInstanceOf(UsageError);
            expect(registry.size).toBe(before);
          }
        }
        const { total, byScope } = registry.counts();
        expect(total).toBe(registry.size);
        expect(Object.keys(byScope).sort()).toEqual([...new Set(registry.list().map((s) => s.scope))].sort());
        expect(Object.values(byScope).reduce((a, b) => a + b, 0)).toBe(total);
      }),
      { numRuns: RUNS },
    );
  });

  it(`${RUNS} snapshots: restore loads the valid entries, skips the rest, or refuses the whole with a UsageError`, () => {
    const goodEntry = fc.record({
      hash: hex64,
      record: fc.record({ id: fc.stringMatching(/^[0-9a-f]{16}$/), name: fc.string({ maxLength: 8 }), scope: fc.constantFrom("default", "a"), pid: fc.integer({ min: 1, max: 99999 }), cwd: fc.constant("/"), createdAt: fc.constant(new Date(0).toISOString()) }),
    });
    const snapshot = fc.oneof(
      anyValue,
      fc.record({ version: fc.oneof(fc.constant(1), anyValue), sessions: fc.array(fc.oneof(goodEntry, anyValue, goodEntry.map((e) => ({ ...e, record: { ...e.record, pid: "1" } }))), { maxLength: 6 }) }),
    );
    fc.assert(
      fc.property(snapshot, (snap) => {
        const registry = new SessionRegistry();
        try {
          const { loaded, skipped } = registry.restore(snap);
          const sessions = (snap as { sessions: unknown[] }).sessions;
          expect(loaded + skipped).toBe(sessions.length);
          expect(registry.size).toBe(loaded);
          // What loaded resolves by hash only: a re-snapshot round-trips.
          const again = new SessionRegistry();
          expect(again.restore(JSON.parse(JSON.stringify(registry.snapshot())))).toEqual({ loaded, skipped: 0 });
        } catch (e) {
          expect(e).toBeInstanceOf(UsageError);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("a minted token's hash is what the registry keys on, and the raw token is never in a snapshot", () => {
    const registry = new SessionRegistry();
    const token = mintToken();
    registry.register({ token, pid: 1 });
    const snap = JSON.stringify(registry.snapshot());
    expect(snap).toContain(hashToken(token));
    expect(snap).not.toContain(token);
  });
});
