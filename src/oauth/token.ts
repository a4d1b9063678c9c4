/**
 * A valid access token for a profile, wherever it comes from: the daemon when one answers (it
 * holds the profile and keeps it fresh), else the profile's store and the locked refresh here.
 * Used by `oauth token`, `exec --oauth` and the daemon extension alike. oauth4webapi is imported
 * only when a refresh is really needed, so a fresh token costs one store read.
 */
import type { Env } from "../fs/paths.ts";
import type { Profile } from "./config.ts";
import type { FileLock } from "../fs/lock.ts";
import { getValidToken, type LockedRefresh, type RefreshFn, type TokenSource, type ValidToken } from "./refresh.ts";
import { chooseStore, type CredentialStore, type SecretsApi } from "./store.ts";
import type { Fetch } from "./protocol.ts";

export interface TokenForOptions {
  profile: Profile;
  /** Undefined: the default rule, min(5 min, half the token's lifetime) (see validityNeeded). */
  minValidMs?: number;
  /** The default rule's margin (default 5 min). */
  marginMs?: number;
  timeoutMs: number;
  env?: Env;
  fetch?: Fetch;
  secrets?: SecretsApi;
  now?: () => number;
  lock?: (path: string, timeoutMs: number) => Promise<FileLock>;
  refreshLocked?: LockedRefresh;
  /**
   * The store a caller already chose (the refresh helper is told its caller's): used as is, with no
   * second keychain probe that could time out or answer differently and pick another store.
   */
  chosen?: CredentialStore["kind"];
}

export interface ProfileToken extends ValidToken {
  store: CredentialStore;
  /** Set when the keychain was asked for and did not answer: the caller says so on stderr. */
  fallback?: { reason: string };
}

/** The protocol refresh for a profile, loading oauth4webapi on first use. */
export function profileRefresher(profile: Profile, fetchImpl?: Fetch): RefreshFn {
  return async (refreshToken, signal) => {
    const { resolveServer, refresher } = await import("./protocol.ts");
    const server = await resolveServer(profile, { need: "token", signal, fetch: fetchImpl });
    return refresher(server)(refreshToken, signal);
  };
}

/** Return a token valid for `minValidMs` from the store, refreshing under its lock when needed. */
export async function tokenFor(o: TokenForOptions): Promise<ProfileToken> {
  const spec = o.chosen === "file" && o.profile.storeSpec.type === "keychain" ? ({ type: "file" } as const) : o.profile.storeSpec;
  const known = o.chosen === "keychain" ? { preferKeychain: true, probe: async () => undefined } : {};
  const { store, fallback } = await chooseStore({ spec, profile: o.profile.name, env: o.env, secrets: o.secrets, ...known });
  const result = await getValidToken({
    store,
    minValidMs: o.minValidMs,
    marginMs: o.marginMs,
    timeoutMs: o.timeoutMs,
    profile: o.profile.name,
    refresh: profileRefresher(o.profile, o.fetch),
    now: o.now,
    lock: o.lock,
    refreshLocked: o.refreshLocked,
  });
  return { ...result, store, ...(fallback ? { fallback } : {}) };
}

export interface ObtainOptions extends TokenForOptions {
  /**
   * Ask a running daemon first, at this socket (undefined: the default one). `false` when flags
   * redefine the profile: the daemon knows profiles only by their config.json name.
   */
  daemon: { socket?: string; tokenFile?: string } | false;
  /**
   * Run the refresh in a detached helper started with this command (see detached.ts), so a killed
   * caller never loses a rotated grant. Undefined: refresh in this process (the daemon, libraries).
   */
  detached?: { command: string[] };
}

export interface ObtainedToken {
  accessToken: string;
  expiresAt: number;
  scopes: string[];
  source: TokenSource | "daemon";
  /** The store used when no daemon answered (for the fallback message). */
  store?: CredentialStore;
  fallback?: { reason: string };
  warning?: string;
}

/** A token valid for `minValidMs`: from the daemon when one answers, else through the locked refresh here. */
export async function obtainToken(o: ObtainOptions): Promise<ObtainedToken> {
  if (o.daemon) {
    const { tokenFromDaemon } = await import("./daemon-client.ts");
    const viaDaemon = await tokenFromDaemon({ profile: o.profile.name, minValidMs: o.minValidMs, timeoutMs: o.timeoutMs, socket: o.daemon.socket, tokenFile: o.daemon.tokenFile });
    if (viaDaemon) return { ...viaDaemon, scopes: o.profile.scopes, source: "daemon" };
  }
  const detached = o.detached;
  const got = await tokenFor({
    ...o,
    ...(detached
      ? {
          refreshLocked: async (ctx) => {
            const { detachedRefresh } = await import("./detached.ts");
            return detachedRefresh({ command: detached.command, profile: o.profile, minValidMs: o.minValidMs, marginMs: o.marginMs, timeoutMs: o.timeoutMs })(ctx);
          },
        }
      : {}),
  });
  return {
    accessToken: got.record.accessToken,
    expiresAt: got.record.expiresAt,
    scopes: got.record.scopes,
    source: got.source,
    store: got.store,
    ...(got.fallback ? { fallback: got.fallback } : {}),
    ...(got.warning ? { warning: got.warning } : {}),
  };
}
