/**
 * Property tests for the token file reader and its parsers: any env values, fd contents and file
 * contents give a trimmed non-empty token or one of our errors (exit 2 or 3), never another throw,
 * and an error never repeats what it read.
 */
import { describe, expect, it } from "bun:test";
import fc from "fast-check";
import { NotFoundError, TokenctlError, UsageError } from "../../src/errors.ts";
import { headersFor } from "../../src/token/headers.ts";
import { parseFdVar, readToken, type ReaderDeps } from "../../src/token/reader.ts";
import { resolveSources } from "../../src/token/sources.ts";
import { validateTokenInput } from "../../src/token/store.ts";
import { anyString, invalidUtf8, RUNS } from "../support/fuzz.ts";

const sources = resolveSources({}, { HOME: "/home/x" });
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
const content = fc.oneof(anyString, invalidUtf8, fc.constantFrom("", " \n", "\n\n", "tok\n", "  tok  "));
/** A file read: its text, missing (NotFoundError) or refused (another TokenctlError). */
const fileOutcome = fc.oneof(content.map((text) => ({ text })), fc.constantFrom({ error: "missing" as const }, { error: "insecure" as const }));
const fdVar = fc.oneof(anyString, fc.nat({ max: 20 }).map(String), fc.constantFrom("3", " 4 ", "-1", "1e3", "0x3", "99999999999"));

describe("readToken over arbitrary sources", () => {
  it(`${RUNS} environments, fds and files: a trimmed token from the first non-empty source, or exit 2/3`, () => {
    fc.assert(
      fc.property(maybe(content), maybe(fdVar), maybe(content), fileOutcome, (envToken, fdText, fdContent, file) => {
        const writes: string[] = [];
        const env: Record<string, string | undefined> = { [sources.envName]: envToken, [sources.fdEnvName]: fdText };
        const deps: ReaderDeps = {
          env,
          readFd: () => fdContent,
          readFile() {
            if ("text" in file) return file.text.trim(); // as readSecretFile does
            if (file.error === "missing") throw new NotFoundError("missing");
            throw new UsageError("insecure");
          },
          writeFile: (_p, data) => void writes.push(data),
        };
        let result: ReturnType<typeof readToken>;
        try {
          result = readToken(sources, deps);
        } catch (e) {
          expect(e).toBeInstanceOf(TokenctlError);
          const err = e as TokenctlError;
          expect([2, 3]).toContain(err.exitCode);
          // The message names sources, never what they held.
          for (const secret of [envToken, fdContent, "text" in file ? file.text : undefined])
            // (the fd variable's own value is not a secret and may be quoted)
            if (secret && secret.trim().length >= 8 && !fdText?.includes(secret.trim())) expect(err.message).not.toContain(secret.trim());
          return;
        }
        expect(result.token).toBe(result.token.trim());
        expect(result.token).not.toBe("");
        if (envToken?.trim()) expect(result).toMatchObject({ source: "env", token: envToken.trim() });
        else if (result.source === "fd") {
          expect(result.token).toBe(fdContent!.trim());
          expect(writes.every((w) => w === result.token)).toBe(true);
        } else expect(result.source).toBe("file");
      }),
      { numRuns: RUNS },
    );
  });

  it(`${RUNS} fd variables: a number 0..999999999 or a UsageError that quotes at most 20 characters`, () => {
    fc.assert(
      fc.property(fdVar, (v) => {
        try {
          const fd = parseFdVar("X_FD", v);
          if (fd !== undefined) expect(Number.isInteger(fd) && fd >= 0 && fd < 1e9).toBe(true);
          else expect(v.trim()).toBe("");
        } catch (e) {
          expect(e).toBeInstanceOf(UsageError);
          expect((e as Error).message.length).toBeLessThan(120);
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe("validateTokenInput and headersFor over arbitrary stdin", () => {
  it(`${RUNS} inputs: a header-safe token or a UsageError that does not quote the input`, () => {
    fc.assert(
      fc.property(fc.oneof(content, fc.string({ unit: "grapheme-ascii" })), (input) => {
        let token: string;
        try {
          token = validateTokenInput(input);
        } catch (e) {
          expect(e).toBeInstanceOf(UsageError);
          if (input.trim().length >= 8) expect((e as Error).message).not.toContain(input.trim());
          return;
        }
        expect(token).toMatch(/^[\x21-\x7e]+$/);
        for (const [name, value] of headersFor(token, "org")) {
          expect(name).toMatch(/^[A-Za-z-]+$/);
          expect(value).not.toMatch(/[\r\n\0]/);
        }
      }),
      { numRuns: RUNS },
    );
  });
});
