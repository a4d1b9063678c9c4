/**
 * The daemon's OAuth extension: it holds each configured profile's record in memory, refreshes it
 * 5 minutes before expiry on a timer, and answers `{"type":"oauth.token","profile":…}`. Every
 * refresh goes through the same locked getValidToken as the CLI, so the daemon and any number of
 * `tokenctl oauth token` processes still refresh exactly once between them.
 */
import type { DaemonApi, DaemonExtension, Message } from "../daemon/extension.ts";
import { TokenctlError } from "../errors.ts";
import type { Env } from "../fs/paths.ts";
import { configPath, readProfiles, resolveProfile, type Profile } from "./config.ts";
import type { OAuthRecord } from "./record.ts";
import { tokenFor as defaultTokenFor, type ProfileToken, type TokenForOptions } from "./token.ts";

/** The daemon refreshes this long before expiry (the same margin `oauth token` uses). */
export const REFRESH_MARGIN_MS = 5 * 60_000;
/** After a failed timer refresh (network, server down), try again this soon. */
export const RETRY_AFTER_MS = 30_000;
/** setTimeout cannot wait longer than 2^31-1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface OAuthExtensionOptions {
  env?: Env;
  now?: () => number;
  marginMs?: number;
  retryMs?: number;
  timeoutMs?: number;
  /** The profiles to hold from the start; default: every profile in config.json. */
  profiles?: () => string[];
  /** How a profile name becomes settings; default: config.json (no flags). */
  resolve?: (name: string) => Profile;
  tokenFor?: (o: TokenForOptions) => Promise<ProfileToken>;
}

interface Held {
  profile: Profile;
  record?: OAuthRecord;
  timer?: ReturnType<typeof setTimeout>;
  lastRefresh?: number;
  lastError?: string;
  /** The refresh in flight, so concurrent requests share it. */
  pending?: Promise<OAuthRecord>;
}

/** Build the extension; pass it to startDaemon (see src/daemon/extensions.ts). */
export function oauthExtension(o: OAuthExtensionOptions = {}): DaemonExtension {
  const env = o.env ?? process.env;
  const now = o.now ?? Date.now;
  const margin = o.marginMs ?? REFRESH_MARGIN_MS;
  const tokenFor = o.tokenFor ?? defaultTokenFor;
  const resolve = o.resolve ?? ((name: string) => resolveProfile({ profile: name }, env));
  const held = new Map<string, Held>();
  let api: DaemonApi | undefined;
  let stopped = false;

  const hold = (name: string): Held => {
    let h = held.get(name);
    if (!h) {
      h = { profile: resolve(name) };
      held.set(name, h);
    }
    return h;
  };

  /** Get a record valid for `minValidMs` through the locked refresh, and re-arm the timer. */
  const renew = (h: Held, minValidMs: number): Promise<OAuthRecord> => {
    h.pending ??= (async () => {
      try {
        const got = await tokenFor({ profile: h.profile, minValidMs, timeoutMs: o.timeoutMs ?? 30_000, env, now });
        if (got.source === "refreshed") {
          h.lastRefresh = now();
          api?.publish("oauth", { profile: h.profile.name, expiresAt: got.record.expiresAt });
        }
        h.record = got.record;
        h.lastError = undefined;
        schedule(h, got.record.expiresAt - margin - now());
        return got.record;
      } catch (e) {
        h.lastError = e instanceof Error ? e.message : String(e);
        api?.log.warn(`oauth: profile ${h.profile.name}: ${h.lastError}`);
        // Auth refused or nothing stored: wait for a new login; anything else: try again soon.
        const final = e instanceof TokenctlError && (e.exitCode === 3 || e.exitCode === 4 || e.exitCode === 2);
        if (!final) schedule(h, o.retryMs ?? RETRY_AFTER_MS);
        throw e;
      } finally {
        h.pending = undefined;
      }
    })();
    return h.pending;
  };

  const schedule = (h: Held, inMs: number) => {
    if (stopped) return;
    clearTimeout(h.timer);
    h.timer = setTimeout(() => void renew(h, margin).catch(() => {}), Math.min(Math.max(inMs, 1000), MAX_TIMER_MS));
    h.timer.unref?.();
  };

  return {
    name: "oauth",
    handlers: {
      async "oauth.token"(message: Message, conn) {
        // Access tokens are for the user's own tools: the daemon token, not a session, may ask.
        if (!conn.admin) throw new Error("oauth.token needs a connection authenticated with the daemon token");
        const name = message.profile ?? "default";
        if (typeof name !== "string") throw new Error(`oauth.token: expected "profile" to be a string, found ${typeof name}`);
        const minValid = message.minValidMs ?? margin;
        if (typeof minValid !== "number" || !Number.isFinite(minValid) || minValid < 0)
          throw new Error(`oauth.token: expected "minValidMs" to be a non-negative number of milliseconds`);
        const h = hold(name);
        const record = h.record && h.record.expiresAt - now() >= minValid ? h.record : await renew(h, minValid);
        return { profile: name, accessToken: record.accessToken, expiresAt: record.expiresAt };
      },
    },
    status() {
      const profiles: Message = {};
      for (const [name, h] of held)
        profiles[name] = {
          store: h.profile.store,
          ...(h.record ? { expiresAt: new Date(h.record.expiresAt).toISOString(), refreshable: Boolean(h.record.refreshToken) } : {}),
          ...(h.lastRefresh ? { lastRefresh: new Date(h.lastRefresh).toISOString() } : {}),
          ...(h.lastError ? { lastError: h.lastError } : {}),
        };
      return { profiles };
    },
    async start(daemonApi) {
      api = daemonApi;
      let names: string[];
      try {
        names = o.profiles ? o.profiles() : Object.keys(readProfiles(configPath(env)));
      } catch (e) {
        // A broken config.json must not stop the daemon; say why OAuth is idle.
        daemonApi.log.error(`oauth: not holding any profile: ${e instanceof Error ? e.message : String(e)}`);
        return;
      }
      // Load (and refresh if due) in the background: start-up must not wait for the network.
      for (const name of names) {
        try {
          void renew(hold(name), margin).catch(() => {});
        } catch (e) {
          daemonApi.log.error(`oauth: profile ${name}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    },
    stop() {
      stopped = true;
      for (const h of held.values()) clearTimeout(h.timer);
    },
  };
}
