/**
 * The daemon's OAuth extension: it holds each configured profile, refreshes it on a timer once
 * less than min(5 min, half the token's lifetime) is left (so about once per half-life for short
 * tokens, never in a loop), and answers `{"type":"oauth.token","profile":…}`. Every refresh goes
 * through the same locked getValidToken as the CLI, so the daemon and any number of
 * `tokenctl oauth token` processes still refresh exactly once between them.
 */
import type { DaemonApi, DaemonExtension, Message } from "../daemon/extension.ts";
import { AuthRefusedError, InsecureFileError, NotFoundError, UsageError } from "../errors.ts";
import type { Env } from "../fs/paths.ts";
import { configPath, readProfiles, resolveProfile, type Profile } from "./config.ts";
import { DEFAULT_MARGIN_MS, validityNeeded, type OAuthRecord } from "./record.ts";
import { tokenFor as defaultTokenFor, type ProfileToken, type TokenForOptions } from "./token.ts";

/** The daemon refreshes this long before expiry at most (the same margin `oauth token` uses). */
export const REFRESH_MARGIN_MS = DEFAULT_MARGIN_MS;
/** After a failed timer refresh (network, server down), try again this soon. */
export const RETRY_AFTER_MS = 30_000;
/** The daemon never refreshes one profile twice within this, whatever the token's lifetime. */
export const MIN_REFRESH_INTERVAL_MS = 5000;
/** setTimeout cannot wait longer than 2^31-1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The timer functions the extension uses; tests pass a fake clock's. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: Timers = {
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export interface OAuthExtensionOptions {
  env?: Env;
  now?: () => number;
  timers?: Timers;
  marginMs?: number;
  retryMs?: number;
  /** The per-profile guard against refresh loops (default 5 s). */
  minIntervalMs?: number;
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
  /** Where the record really sits (the keychain, or the file a fallback uses). */
  store?: string;
  timer?: unknown;
  lastRefresh?: number;
  lastError?: string;
  /** The refresh in flight, so concurrent requests share it. */
  pending?: Promise<OAuthRecord>;
}

const finalError = (e: unknown) => e instanceof NotFoundError || e instanceof AuthRefusedError || e instanceof UsageError || e instanceof InsecureFileError;

/** Build the extension; pass it to startDaemon (src/cli/daemon.ts assembles the daemon's extensions). */
export function oauthExtension(o: OAuthExtensionOptions = {}): DaemonExtension {
  const env = o.env ?? process.env;
  const now = o.now ?? Date.now;
  const timers = o.timers ?? realTimers;
  const margin = o.marginMs ?? REFRESH_MARGIN_MS;
  const minInterval = o.minIntervalMs ?? MIN_REFRESH_INTERVAL_MS;
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

  /** Drop what is held for `name` (record and timer); whether anything was. */
  const forget = (name: string): boolean => {
    const h = held.get(name);
    if (h?.timer !== undefined) timers.clearTimeout(h.timer);
    return held.delete(name);
  };

  /** The profile a request names (default "default"); only the daemon token may ask. */
  const profileOf = (type: string, message: Message, conn: { admin: boolean }): string => {
    if (!conn.admin) throw new Error(`${type} needs a connection authenticated with the daemon token`);
    const name = message.profile ?? "default";
    if (typeof name !== "string") throw new Error(`${type}: expected "profile" to be a string, found ${typeof name}`);
    return name;
  };

  /** When the last refresh was under minInterval ago: the guard holds the next one back. */
  const guarded = (h: Held) => h.lastRefresh !== undefined && now() - h.lastRefresh < minInterval;

  /**
   * Read the store (every request: a logout or a new login elsewhere is seen at once) and refresh
   * through the locked refresh when less than `minValidMs` (default: the margin rule) is left.
   * Inside the guard interval only an expired token is refreshed.
   */
  const renew = (h: Held, minValidMs: number | undefined): Promise<OAuthRecord> => {
    h.pending ??= (async () => {
      const guard = guarded(h);
      try {
        const got = await tokenFor({ profile: h.profile, minValidMs: guard ? 0 : minValidMs, marginMs: margin, timeoutMs: o.timeoutMs ?? 30_000, env, now });
        if (got.source === "refreshed") {
          h.lastRefresh = now();
          api?.publish("oauth", { profile: h.profile.name, expiresAt: got.record.expiresAt });
        }
        if (guard && got.record.expiresAt - now() < validityNeeded(got.record, minValidMs, margin))
          api?.log.warn(`oauth: profile ${h.profile.name}: refresh held back (the last one was under ${minInterval / 1000} s ago)`);
        h.record = got.record;
        h.store = got.store.description;
        h.lastError = undefined;
        schedule(h);
        return got.record;
      } catch (e) {
        h.lastError = e instanceof Error ? e.message : String(e);
        api?.log.warn(`oauth: profile ${h.profile.name}: ${h.lastError}`);
        // Auth refused or nothing stored: wait for a new login; anything else: try again soon.
        if (finalError(e)) h.record = undefined;
        else arm(h, o.retryMs ?? RETRY_AFTER_MS);
        throw e;
      } finally {
        h.pending = undefined;
      }
    })();
    return h.pending;
  };

  /** Arm the timer for the moment the held record needs a refresh, but never inside the guard. */
  const schedule = (h: Held) => {
    if (!h.record) return;
    const due = h.record.expiresAt - validityNeeded(h.record, undefined, margin);
    const earliest = h.lastRefresh === undefined ? due : h.lastRefresh + minInterval;
    if (due < earliest)
      api?.log.warn(
        `oauth: profile ${h.profile.name}: the token lives ${Math.round((h.record.lifetimeMs ?? h.record.expiresAt - now()) / 1000)} s; refreshing no more than once per ${minInterval / 1000} s`,
      );
    // 1 ms past the moment: at `due` itself the token is still exactly fresh enough.
    arm(h, Math.max(due, earliest) - now() + 1);
  };

  const arm = (h: Held, inMs: number) => {
    // A profile forgotten while its refresh was in flight gets no timer.
    if (stopped || held.get(h.profile.name) !== h) return;
    if (h.timer !== undefined) timers.clearTimeout(h.timer);
    h.timer = timers.setTimeout(() => void renew(h, undefined).catch(() => {}), Math.min(Math.max(inMs, 1000), MAX_TIMER_MS));
  };

  return {
    name: "oauth",
    handlers: {
      async "oauth.token"(message: Message, conn) {
        // Access tokens are for the user's own tools: the daemon token, not a session, may ask.
        const name = profileOf("oauth.token", message, conn);
        const minValid = message.minValidMs;
        if (minValid !== undefined && (typeof minValid !== "number" || !Number.isFinite(minValid) || minValid < 0))
          throw new Error(`oauth.token: expected "minValidMs" to be a non-negative number of milliseconds`);
        const record = await renew(hold(name), minValid);
        return { profile: name, accessToken: record.accessToken, expiresAt: record.expiresAt };
      },
      /** After a logout: drop the profile's record and timer; the next request re-reads the store. */
      "oauth.forget"(message: Message, conn) {
        const name = profileOf("oauth.forget", message, conn);
        const forgotten = forget(name);
        api?.log.info(`oauth: profile ${name}: forgotten (logged out)`);
        return { profile: name, forgotten };
      },
      /**
       * After a login: hold the profile afresh, its settings re-read from config.json (the login may
       * have saved new ones) and its record from the store, with a timer to keep it fresh.
       */
      "oauth.reload"(message: Message, conn) {
        const name = profileOf("oauth.reload", message, conn);
        const prev = held.get(name);
        forget(name);
        const h = hold(name);
        // The refresh guard outlives the reload (reloads in a loop must not become refreshes in a
        // loop), including a refresh still in flight for what was held.
        h.lastRefresh = prev?.lastRefresh;
        void (async () => {
          await prev?.pending?.catch(() => {});
          if (prev?.lastRefresh !== undefined) h.lastRefresh = Math.max(h.lastRefresh ?? 0, prev.lastRefresh);
          await renew(h, undefined);
        })().catch(() => {});
        api?.log.info(`oauth: profile ${name}: holding the new login`);
        return { profile: name, reloaded: true };
      },
    },
    status() {
      const profiles: Message = {};
      for (const [name, h] of held)
        profiles[name] = {
          store: h.store ?? h.profile.store,
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
          void renew(hold(name), undefined).catch(() => {});
        } catch (e) {
          daemonApi.log.error(`oauth: profile ${name}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    },
    /**
     * On shutdown (SIGTERM, Ctrl-C) a refresh in flight is finished first: the server may already
     * have rotated the refresh token, and the new one exists only in its answer.
     */
    async stop() {
      stopped = true;
      for (const h of held.values()) if (h.timer !== undefined) timers.clearTimeout(h.timer);
      await Promise.allSettled([...held.values()].map((h) => h.pending));
    },
  };
}
