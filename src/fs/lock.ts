/**
 * Advisory file locks with flock(2), taken through src/runtime/flock.ts in whichever runtime runs
 * us (bun:ffi, Deno.FsFile, or flock(1) under Node), so all of them exclude each other.
 *
 * Why flock and not a lock file we create and delete: the kernel drops a flock when its holder
 * dies (even by SIGKILL), so there are no stale locks, and shell scripts can take the same lock
 * with flock(1) on the same path.
 */
import { TokenctlError } from "../errors.ts";
import { flockFor } from "../runtime/flock.ts";

/** A held lock; release() is idempotent, and process exit releases it too. */
export interface FileLock {
  readonly path: string;
  /**
   * The lock file's descriptor. A child given it (as stdio) shares the lock: the lock lasts until
   * every holder of that open file has closed it. (Under Deno, whose files show no fd, it is
   * looked up among the process's fds on first use.)
   */
  readonly fd: number;
  /** Close our fd: drops the lock unless a child was handed it. */
  release(): void;
}

/** Take an exclusive lock without waiting; undefined when another holder has it. */
export function tryLock(path: string): FileLock | undefined {
  const held = flockFor().tryLock(path);
  return held && withPath(path, held);
}

/**
 * Take an exclusive lock, waiting up to `timeoutMs`. The wait never blocks the event loop (the
 * daemon's other clients keep running): polling with LOCK_NB, or flock(1) -w under Node.
 */
export async function lock(path: string, timeoutMs: number): Promise<FileLock> {
  const held = await flockFor().lock(path, timeoutMs);
  if (!held)
    throw new TokenctlError(`Timed out after ${timeoutMs} ms waiting for the lock on ${path}`, {
      hint: `See who holds it: fuser -v ${path}`,
    });
  return withPath(path, held);
}

function withPath(path: string, held: { readonly fd: number; release(): void }): FileLock {
  return {
    path,
    get fd() {
      return held.fd;
    },
    release: () => held.release(),
  };
}
