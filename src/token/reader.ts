/**
 * The token reader: env var, else inherited fd (persisted to the file for subprocesses), else the
 * well-known file. The first source holding a non-empty value wins; every step is recorded so a
 * miss can say what was tried and why each source gave nothing — never what a value was.
 */
import { constants, closeSync, openSync, readdirSync, readFileSync, readlinkSync, statSync, type Stats } from "node:fs";
import { NotFoundError, UsageError, errnoCode } from "../errors.ts";
import type { Env } from "../fs/paths.ts";
import { MAX_SECRET_BYTES, readAllFd, readSecretFile, writeSecretFile } from "../fs/secure.ts";
import type { TokenSources } from "./sources.ts";
import { tokenValueProblem } from "./store.ts";

/** How long the fd source may take to reach end of input (flag --fd-timeout). */
export const DEFAULT_FD_TIMEOUT_MS = 2000;

export type SourceKind = "env" | "fd" | "file";

export interface Attempt {
  source: SourceKind;
  /** The variable or path consulted. */
  where: string;
  /** Where that name came from: "--file", "TOKENCTL_TOKEN_FILE", "preset claude-code", "default". */
  from?: string;
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
  /**
   * Read an inherited fd once; undefined when the fd was not inherited. Throws UsageError for a
   * type that holds no token (directory, socket) and when no end of input comes by the deadline.
   */
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

/**
 * One line per source: "1. env TOKENCTL_TOKEN: not set", "3. file /x/token (TOKENCTL_TOKEN_FILE):
 * does not exist". Where a name came from is shown for the file always, for the variables when a
 * flag or preset chose them.
 */
export function formatAttempts(attempts: Attempt[]): string {
  return attempts.map((a, i) => `  ${i + 1}. ${a.source} ${whereOf(a.source, a.where, a.from)}: ${a.note}`).join("\n");
}

function whereOf(source: SourceKind, where: string, from: string | undefined): string {
  return from && (source === "file" || from !== "default") ? `${where} (${from})` : where;
}

/** A token source held a value that cannot be a token (exit 2). The value is never quoted. */
export class InvalidTokenError extends UsageError {
  override name = "InvalidTokenError";
}

/** Refuse a value that `token set` would refuse, naming the source, never the value. */
function checkValue(value: string, source: SourceKind, where: string, from: string | undefined): string {
  const problem = tokenValueProblem(value);
  if (problem)
    throw new InvalidTokenError(`The token from ${source} ${whereOf(source, where, from)} ${problem}; a token is one line of printable ASCII without spaces`, {
      hint: `Hand over the token alone, e.g. printf %s "$TOKEN" | tokenctl token set`,
    });
  return value;
}

/** The file type of a stat, in words. */
function typeName(st: Stats): string {
  if (st.isDirectory()) return "a directory";
  if (st.isSocket()) return "a socket";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSymbolicLink()) return "a symbolic link";
  if (st.isFIFO()) return "a pipe";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isFile()) return "a regular file";
  return "an unknown file type";
}

/** The fd path that re-opens an inherited descriptor from offset 0 without moving the parent's offset. */
export function fdPath(fd: number, platform: NodeJS.Platform = process.platform): string {
  return platform === "linux" ? `/proc/self/fd/${fd}` : `/dev/fd/${fd}`;
}

/**
 * True when `fd` is one end of a pipe whose other end is open in this process too: a runtime's
 * own self-pipe (Node's libuv keeps several, from fd 4 on), not a pipe a parent handed over, whose
 * writer is elsewhere. Linux only (/proc); elsewhere false.
 */
export function isOwnPipe(fd: number): boolean {
  if (process.platform !== "linux") return false;
  let link: string;
  let fds: string[];
  try {
    link = readlinkSync(`/proc/self/fd/${fd}`);
    if (!link.startsWith("pipe:")) return false;
    fds = readdirSync("/proc/self/fd");
  } catch {
    return false; // cannot tell: treat it as handed over, as before this check
  }
  return fds.some((n) => {
    if (n === String(fd)) return false;
    try {
      return readlinkSync(`/proc/self/fd/${n}`) === link;
    } catch {
      return false; // closed meanwhile (the readdir's own fd): not a second end
    }
  });
}

const O_CLOEXEC = 0o2000000;

/** The close-on-exec flag of `fd` from /proc/self/fdinfo (Linux), undefined when it cannot be read. */
function closeOnExec(fd: number): boolean | undefined {
  try {
    const flags = /^flags:\s*([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))?.[1];
    return flags === undefined ? undefined : (Number.parseInt(flags, 8) & O_CLOEXEC) !== 0;
  } catch {
    return undefined;
  }
}

/**
 * True when `fd` is close-on-exec while this runtime leaves inherited fds as they came: then the
 * runtime opened it itself (Deno's module caches and sockets from fd 7 on), since an fd marked
 * close-on-exec cannot have come through exec. Bun and Deno leave inherited fds alone, which fd 0
 * shows; Node marks every fd close-on-exec at start-up, so there this tells nothing (false).
 */
export function isRuntimeOwnFd(fd: number): boolean {
  if (process.platform !== "linux" || fd <= 2) return false;
  return closeOnExec(0) === false && closeOnExec(fd) === true;
}

/**
 * Real side effects. `fdTimeoutMs`: the fd source's deadline (default 2 s). `ownFd`: whether an
 * open fd is the runtime's own rather than inherited (default isRuntimeOwnFd; tests that open the
 * fd in-process, where it is close-on-exec, pass their own).
 */
export const defaultReaderDeps = (env: Env = process.env, options: { fdTimeoutMs?: number; ownFd?: (fd: number) => boolean } = {}): ReaderDeps => ({
  env,
  readFd(fd) {
    const timeoutMs = options.fdTimeoutMs ?? DEFAULT_FD_TIMEOUT_MS;
    let st: Stats;
    try {
      // stat of the fd path rather than fstat(fd): Deno's fstat takes its own resource ids, not
      // the process's fd numbers, so an inherited fd 3 would look absent there.
      st = statSync(fdPath(fd));
    } catch (e) {
      const code = errnoCode(e);
      if (code === "ENOENT" || code === "EBADF") return undefined; // not inherited
      throw e;
    }
    // No file type at all (an anonymous inode: epoll, eventfd), a pipe with both ends here, or a
    // close-on-exec fd: the runtime's own, opened under a number the parent did not pass on.
    if (typeName(st) === "an unknown file type" || (st.isFIFO() && isOwnPipe(fd)) || (options.ownFd ?? isRuntimeOwnFd)(fd)) return undefined;
    // A pipe, FIFO, file or terminal can hold a token; anything else is a mistake worth naming.
    if (!(st.isFile() || st.isFIFO() || st.isCharacterDevice()))
      throw new UsageError(`fd ${fd} is ${typeName(st)}, not a pipe or file holding a token`, {
        hint: `Pass the token on fd ${fd} as a pipe or a file, e.g. 3< token-file`,
      });
    let handle: number;
    try {
      // Not O_NOFOLLOW: /proc/self/fd/N is a magic link by design. A fresh open description, so
      // the parent's offset stays put, and non-blocking, so the deadline below holds.
      handle = openSync(fdPath(fd), constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (e) {
      const code = errnoCode(e);
      if (code === "ENOENT" || code === "EBADF") return undefined;
      if (code === "ENXIO") throw new UsageError(`fd ${fd} is a socket, not a pipe or file holding a token`);
      throw e;
    }
    try {
      return readAllFd(handle, MAX_SECRET_BYTES, `fd ${fd} (${typeName(st)})`, timeoutMs, "Close the writing end once the token is written, or allow longer: --fd-timeout 10s");
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

  const from = sources.from;
  const fromEnv = deps.env[sources.envName]?.trim();
  if (fromEnv) {
    attempts.push({ source: "env", where: sources.envName, from: from?.env, found: true, note: "set" });
    return { token: checkValue(fromEnv, "env", sources.envName, from?.env), source: "env", attempts };
  }
  attempts.push({ source: "env", where: sources.envName, from: from?.env, found: false, note: deps.env[sources.envName] === undefined ? "not set" : "empty" });

  const fd = parseFdVar(sources.fdEnvName, deps.env[sources.fdEnvName]);
  if (fd === undefined) {
    attempts.push({ source: "fd", where: sources.fdEnvName, from: from?.fd, found: false, note: "not set" });
  } else {
    const where = `${sources.fdEnvName}=${fd}`;
    const value = deps.readFd(fd)?.trim();
    if (value === undefined) attempts.push({ source: "fd", where, from: from?.fd, found: false, note: `fd ${fd} was not inherited` });
    else if (value === "") attempts.push({ source: "fd", where, from: from?.fd, found: false, note: `fd ${fd} is empty (already read?)` });
    else {
      // Validated before it is persisted: a bad value must not reach the file either.
      checkValue(value, "fd", where, from?.fd);
      attempts.push({ source: "fd", where, from: from?.fd, found: true, note: `read fd ${fd}` });
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
      attempts.push({ source: "file", where: sources.file, from: from?.file, found: false, note: "does not exist" });
      throw new TokenNotFoundError(attempts);
    }
    throw e; // insecure or unreadable: the user must fix it, not be told "no token"
  }
  if (fromFile === "") {
    attempts.push({ source: "file", where: sources.file, from: from?.file, found: false, note: "empty" });
    throw new TokenNotFoundError(attempts);
  }
  attempts.push({ source: "file", where: sources.file, from: from?.file, found: true, note: "read" });
  return { token: checkValue(fromFile, "file", sources.file, from?.file), source: "file", attempts };
}
