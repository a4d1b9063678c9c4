/**
 * Advisory file locks with flock(2), called through bun:ffi.
 *
 * Why flock and not a lock file we create and delete: the kernel drops a flock when its holder
 * dies (even by SIGKILL), so there are no stale locks, and shell scripts can take the same lock
 * with flock(1) on the same path.
 */
import { closeSync, constants, openSync } from "node:fs";
import { dlopen, FFIType, read } from "bun:ffi";
import { TokenctlError, errnoCode } from "../errors.ts";

const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;
const EINTR = 4;

interface Libc {
  flock(fd: number, op: number): number;
  errno(): number;
}

let libc: Libc | undefined;

function loadLibc(): Libc {
  if (libc) return libc;
  const candidates =
    process.platform === "darwin" ? ["libc.dylib", "/usr/lib/libSystem.B.dylib"] : ["libc.so.6", "libc.so", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"];
  const errnoSymbol = process.platform === "darwin" || process.platform === "freebsd" ? "__error" : "__errno_location";
  let lastError: unknown;
  for (const name of candidates) {
    try {
      const lib = dlopen(name, {
        flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
        [errnoSymbol]: { args: [], returns: FFIType.ptr },
      });
      const errnoFn = lib.symbols[errnoSymbol] as () => number | null;
      libc = {
        flock: (fd, op) => lib.symbols.flock(fd, op) as number,
        errno: () => {
          const p = errnoFn();
          return p ? read.i32(p as never, 0) : 0;
        },
      };
      return libc;
    } catch (e) {
      lastError = e;
    }
  }
  throw new TokenctlError(`Could not load libc to call flock(2) (tried ${candidates.join(", ")})`, { cause: lastError });
}

/** A held lock; release() is idempotent, and process exit releases it too. */
export interface FileLock {
  readonly path: string;
  /** The open file description holding the flock; a child that inherits it holds the lock too. */
  readonly fd: number;
  release(): void;
}

function openLockFile(path: string): number {
  try {
    return openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  } catch (e) {
    throw new TokenctlError(`Could not open lock file ${path} (${errnoCode(e) ?? "unknown error"})`, { cause: e });
  }
}

function held(path: string, fd: number): FileLock {
  let open = true;
  return {
    path,
    fd,
    release() {
      if (!open) return;
      open = false;
      loadLibc().flock(fd, LOCK_UN);
      closeSync(fd);
    },
  };
}

/** Take an exclusive lock without waiting; undefined when another holder has it. */
export function tryLock(path: string): FileLock | undefined {
  const c = loadLibc();
  const fd = openLockFile(path);
  for (;;) {
    if (c.flock(fd, LOCK_EX | LOCK_NB) === 0) return held(path, fd);
    const err = c.errno();
    if (err === EINTR) continue;
    closeSync(fd);
    // EWOULDBLOCK (11 on Linux, 35 on macOS): someone else holds it.
    if (err === 11 || err === 35) return undefined;
    throw new TokenctlError(`flock(2) on ${path} failed (errno ${err})`);
  }
}

/**
 * Take an exclusive lock, waiting up to `timeoutMs`. Polls with LOCK_NB so the event loop (and
 * the daemon's other clients) keep running while we wait; a blocking flock would freeze them.
 */
export async function lock(path: string, timeoutMs: number): Promise<FileLock> {
  const deadline = Date.now() + timeoutMs;
  let delay = 1;
  for (;;) {
    const l = tryLock(path);
    if (l) return l;
    if (Date.now() >= deadline)
      throw new TokenctlError(`Timed out after ${timeoutMs} ms waiting for the lock on ${path}`, {
        hint: `See who holds it: fuser -v ${path}`,
      });
    await Bun.sleep(delay);
    delay = Math.min(delay * 2, 25);
  }
}
