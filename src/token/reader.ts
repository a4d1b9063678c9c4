/**
 * The token reader: env var, else inherited fd (persisted to the file for subprocesses), else the
 * well-known file. The first source holding a non-empty value wins; every step is recorded so a
 * miss can say what was tried and why each source gave nothing — never what a value was.
 */
import { constants, closeSync, openSync } from "node:fs";
import { NotFoundError, UsageError, errnoCode } from "../errors.ts";
import type { Env } from "../fs/paths.ts";
import { MAX_SECRET_BYTES, readAllFd, readSecretFile, writeSecretFile } from "../fs/secure.ts";
import type { TokenSources } from "./sources.ts";

export type SourceKind = "env" | "fd" | "file";

export interface Attempt {
  source: SourceKind;
  /** The variable or path consulted. */
  where: string;
  found: boolean;
  /** Why it gave nothing, or how it was used. */
  note: string;
}

export interface TokenResult {
  token: string;
  source: SourceKind;
  attempts: Attempt[];
  /** Set when an fd-read token was written to the well-known file. */
  persistedTo?: string;
  /** Set when persisting failed; the token is still good. */
  persistError?: string;
}

/** Side effects of the reader, injectable for tests. */
export interface ReaderDeps {
  env: Env;
  /** Read an inherited fd once; undefined when the fd was not inherited. */
  readFd(fd: number): string | undefined;
  readFile(path: string): string;
  writeFile(path: string, data: string): void;
}

/** Nothing found: carries the per-source account for the CLI to print. */
export class TokenNotFoundError extends NotFoundError {
  override name = "TokenNotFoundError";
  constructor(readonly attempts: Attempt[]) {
    super(`No token found. Tried, in order:\n${formatAttempts(attempts)}`, {
      hint: "Hand the process a token with `tokenctl token set` (stdin), or set the env var or fd shown above",
    });
  }
}

/** One line per source: "1. env TOKENCTL_TOKEN: not set". */
export function formatAttempts(attempts: Attempt[]): string {
  return attempts.map((a, i) => `  ${i + 1}. ${a.source} ${a.where}: ${a.note}`).join("\n");
}

/** The fd path that re-opens an inherited descriptor from offset 0 without moving the parent's offset. */
export function fdPath(fd: number, platform: NodeJS.Platform = process.platform): string {
  return platform === "linux" ? `/proc/self/fd/${fd}` : `/dev/fd/${fd}`;
}

/** Real side effects. */
export const defaultReaderDeps = (env: Env = process.env): ReaderDeps => ({
  env,
  readFd(fd) {
    let handle: number;
    try {
      // Not O_NOFOLLOW: /proc/self/fd/N is a magic link by design.
      handle = openSync(fdPath(fd), constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (e) {
      const code = errnoCode(e);
      // ENOENT (Linux) / EBADF (macOS): not inherited. ENXIO: a socket, which cannot be re-opened.
      if (code === "ENOENT" || code === "EBADF" || code === "ENXIO") return undefined;
      throw e;
    }
    try {
      return readAllFd(handle, MAX_SECRET_BYTES, `fd ${fd}`);
    } finally {
      closeSync(handle);
    }
  },
  readFile: (path) => readSecretFile(path),
  writeFile: (path, data) => writeSecretFile(path, data),
});

/** Parse the fd variable: undefined when unset or empty, a UsageError when not a non-negative integer. */
export function parseFdVar(name: string, value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const v = value.trim();
  if (!/^\d{1,9}$/.test(v)) throw new UsageError(`${name} must hold a file descriptor number (a non-negative integer), got "${v.slice(0, 20)}"`);
  return Number(v);
}

/** Read the token from the first source that has one. Throws TokenNotFoundError when none does. */
export function readToken(sources: TokenSources, deps: ReaderDeps = defaultReaderDeps()): TokenResult {
  const attempts: Attempt[] = [];

  const fromEnv = deps.env[sources.envName]?.trim();
  if (fromEnv) {
    attempts.push({ source: "env", where: sources.envName, found: true, note: "set" });
    return { token: fromEnv, source: "env", attempts };
  }
  attempts.push({ source: "env", where: sources.envName, found: false, note: deps.env[sources.envName] === undefined ? "not set" : "empty" });

  const fd = parseFdVar(sources.fdEnvName, deps.env[sources.fdEnvName]);
  if (fd === undefined) {
    attempts.push({ source: "fd", where: sources.fdEnvName, found: false, note: "not set" });
  } else {
    const where = `${sources.fdEnvName}=${fd}`;
    const value = deps.readFd(fd)?.trim();
    if (value === undefined) attempts.push({ source: "fd", where, found: false, note: `fd ${fd} was not inherited` });
    else if (value === "") attempts.push({ source: "fd", where, found: false, note: `fd ${fd} is empty (already read?)` });
    else {
      attempts.push({ source: "fd", where, found: true, note: `read fd ${fd}` });
      const result: TokenResult = { token: value, source: "fd", attempts };
      try {
        let current: string | undefined;
        try {
          current = deps.readFile(sources.file);
        } catch {
          current = undefined; // missing or unusable: overwrite it with a safe one
        }
        if (current !== value) deps.writeFile(sources.file, value);
        result.persistedTo = sources.file;
      } catch (e) {
        result.persistError = e instanceof Error ? e.message : String(e);
      }
      return result;
    }
  }

  let fromFile: string;
  try {
    fromFile = deps.readFile(sources.file);
  } catch (e) {
    if (e instanceof NotFoundError) {
      attempts.push({ source: "file", where: sources.file, found: false, note: "does not exist" });
      throw new TokenNotFoundError(attempts);
    }
    throw e; // insecure or unreadable: the user must fix it, not be told "no token"
  }
  if (fromFile === "") {
    attempts.push({ source: "file", where: sources.file, found: false, note: "empty" });
    throw new TokenNotFoundError(attempts);
  }
  attempts.push({ source: "file", where: sources.file, found: true, note: "read" });
  return { token: fromFile, source: "file", attempts };
}
