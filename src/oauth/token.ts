/**
 * A valid access token for a profile: open its store, then the locked refresh. Used by
 * `oauth token`, `exec --oauth` and the daemon extension alike. oauth4webapi is imported only
 * when a refresh is really needed, so a fresh token costs one store read.
 */
import type { Env } from "../fs/paths.ts";
import type { Profile } from "./config.ts";
import { getValidToken, type RefreshFn, type ValidToken } from "./refresh.ts";
import { openStore, type CredentialStore, type SecretsApi } from "./store.ts";
import type { Fetch } from "./protocol.ts";

export interface TokenForOptions {
  profile: Profile;
  minValidMs: number;
  timeoutMs: number;
  env?: Env;
  fetch?: Fetch;
  secrets?: SecretsApi;
  now?: () => number;
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

/** Return a token valid for `minValidMs`, refreshing under the store's lock when needed. */
export async function tokenFor(o: TokenForOptions): Promise<ProfileToken> {
  const { store, fallback } = await openStore({ spec: o.profile.storeSpec, profile: o.profile.name, env: o.env, secrets: o.secrets });
  const result = await getValidToken({
    store,
    minValidMs: o.minValidMs,
    timeoutMs: o.timeoutMs,
    profile: o.profile.name,
    refresh: profileRefresher(o.profile, o.fetch),
    now: o.now,
  });
  return { ...result, store, ...(fallback ? { fallback } : {}) };
}
