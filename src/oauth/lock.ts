/**
 * The one way to take a store's refresh lock: its directory is made here (private, 0700) and a
 * wait that runs out becomes UnavailableError with the `fuser` hint. Refresh, login and logout all
 * hold this lock while they read-decide-write, so none of them interleaves with another.
 */
import { dirname } from "node:path";
import { TokenctlError, UnavailableError } from "../errors.ts";
import { lock as flock, type FileLock } from "../fs/lock.ts";
import { ensurePrivateDir } from "../fs/secure.ts";
import type { OAuthRecord } from "./record.ts";
import type { CredentialStore } from "./store.ts";

export type LockFn = (path: string, timeoutMs: number) => Promise<FileLock>;

/** Take `lockPath` (default: the store's), creating its directory; waits up to `timeoutMs`. */
export async function lockStore(store: Pick<CredentialStore, "lockPath">, timeoutMs: number, o: { lockPath?: string; lock?: LockFn } = {}): Promise<FileLock> {
  const path = o.lockPath ?? store.lockPath;
  try {
    ensurePrivateDir(dirname(path));
  } catch (e) {
    if (e instanceof TokenctlError) throw e;
    throw new TokenctlError(`Could not create ${dirname(path)} for the lock file`, { cause: e });
  }
  // Real time, not an injected clock: flock's wait is real.
  const started = Date.now();
  try {
    return await (o.lock ?? flock)(path, timeoutMs);
  } catch (e) {
    // Only a wait that ran out means "someone else holds it"; an unopenable file says so itself.
    if (Date.now() - started < timeoutMs) throw e;
    throw new UnavailableError(`Another process held the refresh lock ${path} for over ${timeoutMs} ms`, {
      cause: e,
      hint: `See who holds it: fuser -v ${path}`,
    });
  }
}

/** Write a record under the store's refresh lock, so a login never interleaves with a refresh. */
export async function saveLocked(store: CredentialStore, record: OAuthRecord, timeoutMs: number): Promise<void> {
  const held = await lockStore(store, timeoutMs);
  try {
    await store.write(record);
  } finally {
    held.release();
  }
}

/** Delete a record under the store's refresh lock; false when there was none. */
export async function removeLocked(store: CredentialStore, timeoutMs: number): Promise<boolean> {
  const held = await lockStore(store, timeoutMs);
  try {
    return await store.remove();
  } finally {
    held.release();
  }
}
