/**
 * An exclusive flock(2) on a lock file, in every runtime, so that every runtime excludes every other
 * (and shell scripts using flock(1) on the same path):
 * - Bun: flock(2) through bun:ffi on an fd from node:fs.
 * - Deno: `Deno.FsFile.tryLockSync(true)`, which is flock(2) on Unix.
 * - Node: no flock API (nodejs/node#20588 was closed without one), so util-linux's flock(1) is run
 *   on an fd we opened and pass as its fd 3. flock(2) locks belong to the open file description,
 *   which we keep; flock(1) exits at once and no helper process stays alive. macOS ships no
 *   flock(1), so Node there has no way to take the lock and says so (UnavailableError, exit 5).
 * There is deliberately no fallback to mkdir or O_EXCL lock files: those do not exclude a flock
 * holder, and two processes would then both refresh one rotating token.
 *
 * Release closes the fd without LOCK_UN: the lock lives as long as the open file description, so a
 * process the caller handed the fd to (stdio) keeps holding it. Node, Bun and Deno open files
 * with O_CLOEXEC, so no other child inherits it.
 */
import { spawn, spawnSync } from "node:child_process";
import { closeSync, constants, openSync, readdirSync, readFileSync, statSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { TokenctlError, UnavailableError, errnoCode } from "../errors.ts";
import { type Ffi, errnoSymbol, loadBunFfi, openLibc } from "./ffi.ts";
import { type Platform, describePlatform, platform } from "./platform.ts";

/** A held lock. `fd` is the lock file's descriptor (hand it to a child as stdio to pass the lock on). */
export interface HeldFlock {
  readonly fd: number;
  /** Close the fd, dropping the lock unless a child was given it. Idempotent. */
  release(): void;
}

export interface Flock {
  /** How the lock is taken, for messages: "bun:ffi", "Deno.FsFile", "flock(1)". */
  readonly via: string;
  /** Take the lock without waiting; undefined when another holder has it. */
  tryLock(path: string): HeldFlock | undefined;
  /** Take the lock, waiting up to `timeoutMs` without blocking the event loop; undefined on timeout. */
  lock(path: string, timeoutMs: number): Promise<HeldFlock | undefined>;
}

const LOCK_EX = 2;
const LOCK_NB = 4;
const EINTR = 4;
/** EWOULDBLOCK: 11 on Linux, 35 on macOS and FreeBSD. */
const EWOULDBLOCK = new Set([11, 35]);
/** The exit status we ask flock(1) to use for "held by someone else" (-E), distinct from its errors. */
const FLOCK1_CONFLICT = 75;

/** Open (creating 0600) the lock file; never through a symlink. */
function openLockFd(path: string): number {
  try {
    return openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  } catch (e) {
    throw new TokenctlError(`Could not open lock file ${path} (${errnoCode(e) ?? "unknown error"})`, { cause: e });
  }
}

function closer(fd: number): HeldFlock {
  let open = true;
  return {
    fd,
    release() {
      if (!open) return;
      open = false;
      closeSync(fd);
    },
  };
}

/** Retry `attempt` with a backoff (1 ms doubling to 25 ms) until it succeeds or `timeoutMs` passes. */
async function poll<T>(attempt: () => T | undefined, timeoutMs: number): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  let delay = 1;
  for (;;) {
    const got = attempt();
    if (got !== undefined) return got;
    if (Date.now() >= deadline) return undefined;
    await sleep(delay);
    delay = Math.min(delay * 2, 25);
  }
}

/** Bun: flock(2) through bun:ffi. */
export function bunFlock(os: NodeJS.Platform, ffi: Pick<Ffi, "dlopen" | "read"> | null = loadBunFfi({ runtime: "bun", os }) ?? null): Flock {
  if (!ffi) throw new UnavailableError("bun:ffi is not available in this runtime");
  const errnoFn = errnoSymbol(os);
  const opened = openLibc(ffi, os, {
    flock: { args: ["i32", "i32"], returns: "i32" },
    [errnoFn]: { args: [], returns: "ptr" },
  });
  if ("error" in opened)
    throw new UnavailableError(`Could not load the C library to call flock(2) (tried ${opened.tried.join(", ")})`, { cause: opened.error });
  const flock = opened.lib.symbols.flock as (fd: number, op: number) => number;
  const errnoPtr = opened.lib.symbols[errnoFn] as () => number | null;
  const errno = () => {
    const p = errnoPtr();
    return p ? ffi.read.i32(p as never, 0) : 0;
  };
  const tryLock = (path: string): HeldFlock | undefined => {
    const fd = openLockFd(path);
    for (;;) {
      if (flock(fd, LOCK_EX | LOCK_NB) === 0) return closer(fd);
      const err = errno();
      if (err === EINTR) continue;
      closeSync(fd);
      if (EWOULDBLOCK.has(err)) return undefined;
      throw new TokenctlError(`flock(2) on ${path} failed (errno ${err})`);
    }
  };
  return { via: "bun:ffi", tryLock, lock: (path, timeoutMs) => poll(() => tryLock(path), timeoutMs) };
}

/** The part of Deno's API we use (typed here: the project type-checks against bun-types). */
interface DenoFile {
  tryLockSync(exclusive?: boolean): boolean;
  statSync(): { dev: number; ino: number | null };
  close(): void;
}
interface DenoApi {
  lstatSync(path: string): { isSymlink: boolean; dev: number; ino: number | null };
  openSync(path: string, options: { read: boolean; write: boolean; create: boolean; mode?: number }): DenoFile;
}

/**
 * Deno keeps its own file table: an FsFile shows no fd. The lock's fd is found only when asked for
 * (to hand it on), among this process's fds: the one on the same file (device and inode) whose
 * /proc fdinfo lists an flock (Linux), or the only one on that file (/dev/fd elsewhere).
 */
function findDenoFd(path: string, file: DenoFile, os: NodeJS.Platform): number {
  const st = file.statSync();
  const linux = os === "linux";
  const dir = linux ? "/proc/self/fd" : "/dev/fd";
  const matches: number[] = [];
  for (const name of readdirSync(dir)) {
    const fd = Number(name);
    try {
      // stat through the fd's link, not fstat: Deno's node:fs knows only the fds it opened itself.
      const s = statSync(`${dir}/${name}`);
      if (s.dev !== st.dev || s.ino !== st.ino) continue;
      if (linux && !/^lock:.*\bFLOCK\b/m.test(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))) continue;
      matches.push(fd);
    } catch {
      // Closed meanwhile, or the directory's own fd.
    }
  }
  if (matches.length !== 1) throw new UnavailableError(`Could not tell which fd holds the lock on ${path} under Deno (${matches.length} candidates)`);
  return matches[0]!;
}

/** Deno: Deno.FsFile.tryLockSync (flock(2) on Unix). */
export function denoFlock(os: NodeJS.Platform, deno = (globalThis as { Deno?: DenoApi }).Deno): Flock {
  if (!deno) throw new UnavailableError("the Deno API is not available in this runtime");
  const tryLock = (path: string): HeldFlock | undefined => {
    // Deno.openSync has no O_NOFOLLOW: refuse a symlink, then check the opened file is the one looked at.
    let before: { dev: number; ino: number | null } | undefined;
    try {
      // Deno's own lstat: about 3× cheaper than node:fs's under Deno.
      const l = deno.lstatSync(path);
      if (l.isSymlink) throw new TokenctlError(`Could not open lock file ${path} (ELOOP: it is a symlink)`);
      before = { dev: l.dev, ino: l.ino };
    } catch (e) {
      if ((e as Error).name !== "NotFound") throw e;
    }
    let file: DenoFile;
    try {
      file = deno.openSync(path, { read: true, write: true, create: true, mode: 0o600 });
    } catch (e) {
      throw new TokenctlError(`Could not open lock file ${path} (${(e as Error).name})`, { cause: e });
    }
    const st = file.statSync();
    if (before && (st.dev !== before.dev || st.ino !== before.ino)) {
      file.close();
      throw new TokenctlError(`Lock file ${path} was replaced while being opened`);
    }
    if (!file.tryLockSync(true)) {
      file.close();
      return undefined;
    }
    let open = true;
    let fd: number | undefined;
    return {
      get fd() {
        fd ??= findDenoFd(path, file, os);
        return fd;
      },
      release() {
        if (!open) return;
        open = false;
        file.close();
      },
    };
  };
  return { via: "Deno.FsFile", tryLock, lock: (path, timeoutMs) => poll(() => tryLock(path), timeoutMs) };
}

/** Where to find flock(1); injectable for tests. */
export interface NodeFlockOptions {
  command?: string;
}

function flock1Failure(path: string, how: { error?: Error; status: number | null; stderr?: string }): Error {
  if (how.error && errnoCode(how.error) === "ENOENT")
    return new UnavailableError("Cannot lock under Node: flock(1) from util-linux is not installed", {
      hint: "Install util-linux (it provides flock), or use the tokenctl binary",
    });
  const said = (how.stderr ?? "").replace(/[^\x20-\x7e]/g, "?").trim().slice(0, 200);
  return new TokenctlError(`flock(1) on ${path} failed (${how.error ? errnoCode(how.error) ?? how.error.message : `exit ${how.status}`})${said ? `: ${said}` : ""}`);
}

/** Node on Linux: util-linux flock(1) on our fd, given to it as fd 3. */
export function nodeFlock(os: NodeJS.Platform, options: NodeFlockOptions = {}): Flock {
  if (os === "darwin")
    throw new UnavailableError("Cannot lock under Node on macOS: Node has no flock(2) API and macOS ships no flock(1)", {
      hint: "Use the tokenctl binary, or run `tokenctl daemon` so clients get tokens from it",
    });
  const command = options.command ?? "flock";
  const tryLock = (path: string): HeldFlock | undefined => {
    const fd = openLockFd(path);
    const r = spawnSync(command, ["-x", "-n", "-E", String(FLOCK1_CONFLICT), "3"], { stdio: ["ignore", "ignore", "pipe", fd] });
    if (r.status === 0) return closer(fd);
    closeSync(fd);
    if (r.status === FLOCK1_CONFLICT) return undefined;
    throw flock1Failure(path, { error: r.error, status: r.status, stderr: r.stderr?.toString() });
  };
  const lock = (path: string, timeoutMs: number): Promise<HeldFlock | undefined> => {
    const fd = openLockFd(path);
    const seconds = Math.max(timeoutMs, 0) / 1000;
    return new Promise((resolve, reject) => {
      // -w waits in flock(1), not in us: one process for the whole wait, the event loop stays free.
      const child = spawn(command, ["-x", "-w", seconds.toFixed(3), "-E", String(FLOCK1_CONFLICT), "3"], { stdio: ["ignore", "ignore", "pipe", fd] });
      let stderr = "";
      let settled = false;
      child.stderr!.on("data", (b: Buffer) => (stderr += b.toString()));
      child.on("error", (error) => {
        if (settled) return;
        settled = true;
        closeSync(fd);
        reject(flock1Failure(path, { error, status: null }));
      });
      child.on("close", (status) => {
        if (settled) return;
        settled = true;
        if (status === 0) return resolve(closer(fd));
        closeSync(fd);
        if (status === FLOCK1_CONFLICT) return resolve(undefined);
        reject(flock1Failure(path, { status, stderr }));
      });
    });
  };
  return { via: "flock(1)", tryLock, lock };
}

const chosen = new Map<string, Flock>();

/** The flock for this platform (chosen once per platform). Throws UnavailableError when there is none. */
export function flockFor(p: Platform = platform()): Flock {
  const key = `${p.runtime}/${p.os}`;
  let f = chosen.get(key);
  if (f) return f;
  if (p.os === "win32") throw new UnavailableError(`Cannot take flock(2) on ${describePlatform(p)}`);
  f = p.runtime === "bun" ? bunFlock(p.os) : p.runtime === "deno" ? denoFlock(p.os) : nodeFlock(p.os);
  chosen.set(key, f);
  return f;
}
