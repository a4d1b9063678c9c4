/**
 * The refresh that never races. Any number of processes (and the daemon) may ask for a token from
 * one store at once; exactly one refreshes and the rest use its result:
 *
 * 1. Read the store without a lock. Fresh enough? Return it: the fast path holds no lock.
 * 2. Else take flock(2) on the store's lock file and re-read INSIDE the lock: the decision to
 *    refresh is made under the lock, so the processes that queued behind the winner find its
 *    fresh token and never send their (now rotated, reuse-detected) refresh token.
 * 3. Refresh; write atomically, keeping the old refresh token when the response has none.
 *    Failures never delete or blank the store: a loser that clears it would destroy the winner's
 *    freshly rotated token.
 */
import { setTimeout as sleepMs } from "node:timers/promises";
import { AuthRefusedError, NotFoundError, UnavailableError } from "../errors.ts";
import type { FileLock } from "../fs/lock.ts";
import { loginHint, OAuthServerError, TransientError, type TokenGrant } from "./errors.ts";
import { lockStore } from "./lock.ts";
import { isFresh, recordFromGrant, validityNeeded, type OAuthRecord } from "./record.ts";
import type { CredentialStore } from "./store.ts";


/** Refresh with one refresh token; throws OAuthServerError or TransientError. */
export type RefreshFn = (refreshToken: string, signal: AbortSignal) => Promise<TokenGrant>;

/**
 * Who sends the refresh and writes its answer once the lock is held and a refresh is due. Default:
 * this process. The CLI hands it to a detached helper (detached.ts) so a killed caller loses nothing.
 */
export type LockedRefresh = (ctx: {
  store: CredentialStore;
  held: FileLock;
  current: OAuthRecord;
  /** The refresh in this process, for when the other process cannot be started. */
  here: () => Promise<ValidToken>;
}) => Promise<ValidToken>;

export interface GetValidTokenOptions {
  store: CredentialStore;
  /** Defaults to the store's lock path. */
  lockPath?: string;
  /** The token must stay valid this long, else it is refreshed first; default: validityNeeded's rule. */
  minValidMs?: number;
  /** The default rule's margin (5 min), capped at half the token's lifetime. */
  marginMs?: number;
  /** Overall budget for waiting on the lock and retrying the server. */
  timeoutMs: number;
  /** The protocol call (callers load oauth4webapi inside it, so the fast path never pays for it). */
  refresh: RefreshFn;
  /** The profile name, for messages and the login hint. */
  profile: string;
  now?: () => number;
  lock?: (path: string, timeoutMs: number) => Promise<FileLock>;
  sleep?: (ms: number) => Promise<void>;
  refreshLocked?: LockedRefresh;
}

export type TokenSource =
  /** The stored token was fresh enough. */
  | "store"
  /** Another process refreshed while we waited for the lock. */
  | "refreshed-elsewhere"
  /** We refreshed it. */
  | "refreshed"
  /** Our refresh token was refused, but a writer outside the lock had stored a valid record. */
  | "rotated-outside-lock";

export interface ValidToken {
  record: OAuthRecord;
  source: TokenSource;
  /** Set when the token expires within the margin and cannot be refreshed (no refresh token). */
  warning?: string;
}


/** Return a token valid for at least `minValidMs` (or the default rule), refreshing under the lock when needed. */
export async function getValidToken(o: GetValidTokenOptions): Promise<ValidToken> {
  const now = o.now ?? Date.now;
  const fresh = (r: OAuthRecord) => isFresh(r, validityNeeded(r, o.minValidMs, o.marginMs), now());
  const first = await o.store.read();
  if (!first) throw noCredential(o);
  if (fresh(first)) return { record: first, source: "store" };
  if (!first.refreshToken) return cannotRefresh(first, o, now());

  const deadline = now() + o.timeoutMs;
  const held = await lockStore(o.store, o.timeoutMs, { lockPath: o.lockPath, lock: o.lock });
  try {
    const current = await o.store.read();
    if (!current) throw noCredential(o);
    if (fresh(current)) return { record: current, source: "refreshed-elsewhere" };
    if (!current.refreshToken) return cannotRefresh(current, o, now());
    if (o.refreshLocked) return await o.refreshLocked({ store: o.store, held, current, here: () => refreshLocked(o, current, deadline, now) });
    return await refreshLocked(o, current, deadline, now);
  } finally {
    held.release();
  }
}

async function refreshLocked(o: GetValidTokenOptions, current: OAuthRecord, deadline: number, now: () => number): Promise<ValidToken> {
  let used = current;
  for (let attempt = 0; ; attempt++) {
    let grant: TokenGrant;
    try {
      grant = await withRetry(() => o.refresh(used.refreshToken!, AbortSignal.timeout(Math.max(1, deadline - now()))), o, deadline, now);
    } catch (e) {
      if (!(e instanceof OAuthServerError) || e.error !== "invalid_grant") throw e;
      // A writer outside our lock (the agent itself, another tool) may have rotated the token.
      const again = await o.store.read();
      const changed = again !== undefined && (again.accessToken !== used.accessToken || again.refreshToken !== used.refreshToken);
      if (again && changed) {
        if (isFresh(again, validityNeeded(again, o.minValidMs, o.marginMs), now())) return { record: again, source: "rotated-outside-lock" };
        // Rotated but already inside the margin: renew it once with its own refresh token.
        if (attempt === 0 && again.refreshToken && again.refreshToken !== used.refreshToken) {
          used = again;
          continue;
        }
        if (again.expiresAt > now()) return { record: again, source: "rotated-outside-lock" };
      }
      throw new AuthRefusedError(
        `The server refused the refresh token for profile "${o.profile}" (invalid_grant: revoked, expired or already used); the stored credential was left as it was`,
        { cause: e, hint: loginHint(o.profile) },
      );
    }
    const record = recordFromGrant(grant, now(), used);
    await o.store.write(record);
    return { record, source: "refreshed" };
  }
}

/** Retry transient failures with capped exponential backoff until the deadline. */
async function withRetry<T>(call: () => Promise<T>, o: GetValidTokenOptions, deadline: number, now: () => number): Promise<T> {
  const sleep = o.sleep ?? ((ms: number) => sleepMs(ms));
  let delay = 200;
  let last: TransientError | undefined;
  for (;;) {
    if (now() >= deadline) break;
    try {
      return await call();
    } catch (e) {
      if (!(e instanceof TransientError)) throw e;
      last = e;
    }
    const wait = Math.min(delay, deadline - now());
    if (wait <= 0) break;
    await sleep(wait);
    delay = Math.min(delay * 2, 5000);
  }
  throw new UnavailableError(
    `Could not refresh the token for profile "${o.profile}" within ${o.timeoutMs} ms: ${last?.message ?? "no time left"}; the stored credential was left as it was`,
    { cause: last, hint: "Check the network and the authorization server, or allow more time with --timeout" },
  );
}

function noCredential(o: GetValidTokenOptions): NotFoundError {
  return new NotFoundError(`No OAuth credential for profile "${o.profile}" in ${o.store.description}`, { hint: loginHint(o.profile) });
}

function cannotRefresh(record: OAuthRecord, o: GetValidTokenOptions, at: number): ValidToken {
  const left = Math.round((record.expiresAt - at) / 1000);
  if (left <= 0)
    throw new AuthRefusedError(`The access token for profile "${o.profile}" expired ${-left} s ago and there is no refresh token to renew it`, {
      hint: loginHint(o.profile),
    });
  return { record, source: "store", warning: `The access token expires in ${left} s and there is no refresh token to renew it; run ${loginHint(o.profile)}` };
}
