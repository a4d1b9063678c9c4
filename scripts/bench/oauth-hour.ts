/**
 * An hour of 5-minute access tokens on a fake clock, counting refresh requests: the daemon's
 * extension holding one profile, and `oauth token` (getValidToken with the default rule) called
 * once a second. With `baselineSrc` (the previous version's src/), the same scenarios run its code.
 */
import { join } from "node:path";
import { FakeClock } from "../../test/support/fake-clock.ts";

const LIFETIME_S = 300;
const HOUR = 3600_000;

interface Rec {
  accessToken: string;
  refreshToken?: string;
  expiresAt: number;
  lifetimeMs?: number;
  scopes: string[];
}

function memory(clock: FakeClock) {
  let record: Rec = { accessToken: "at-0", refreshToken: "rt-0", expiresAt: clock.t + LIFETIME_S * 1000, lifetimeMs: LIFETIME_S * 1000, scopes: [] };
  let refreshes = 0;
  const store = {
    kind: "file" as const,
    description: "memory",
    lockPath: "/nonexistent/lock",
    read: async () => record,
    write: async (r: Rec) => void (record = r),
    remove: async () => true,
  };
  const refresh = async () => ({ accessToken: `at-${++refreshes}`, refreshToken: `rt-${refreshes}`, expiresIn: LIFETIME_S });
  const lock = async (path: string) => ({ path, fd: -1, release() {} });
  return { store, refresh, lock, count: () => refreshes };
}

type Mods = { getValidToken: (o: any) => Promise<any>; oauthExtension: (o: any) => any };

async function load(src: string): Promise<Mods> {
  const { getValidToken } = await import(join(src, "oauth", "refresh.ts"));
  const { oauthExtension } = await import(join(src, "oauth", "extension.ts"));
  return { getValidToken, oauthExtension };
}

const quiet = { publish() {}, log: { info() {}, warn() {}, error() {}, debug() {} } };

async function daemonHour(m: Mods, oldDefaults: boolean): Promise<number> {
  const clock = new FakeClock();
  const mem = memory(clock);
  // The previous extension takes no timer functions: give it the fake clock's through the globals.
  const g = globalThis as unknown as Record<string, unknown>;
  const saved = { setTimeout: g.setTimeout, clearTimeout: g.clearTimeout };
  if (oldDefaults) {
    g.setTimeout = (fn: () => void, ms: number) => ({ id: clock.setTimeout(fn, ms), unref() {} });
    g.clearTimeout = (h: { id: number } | undefined) => h && clock.clearTimeout(h.id);
  }
  try {
    const ext = m.oauthExtension({
      env: {},
      now: clock.now,
      timers: clock,
      profiles: () => ["p"],
      resolve: (name: string) => ({ name, scopes: [], store: "file", storeSpec: { type: "file" } }),
      tokenFor: async (t: { minValidMs?: number; marginMs?: number }) => ({
        store: mem.store,
        ...(await m.getValidToken({ store: mem.store, minValidMs: t.minValidMs, marginMs: t.marginMs, timeoutMs: 1000, profile: "p", now: clock.now, lock: mem.lock, refresh: mem.refresh })),
      }),
    });
    await ext.start(quiet);
    await clock.advance(HOUR);
    ext.stop();
  } finally {
    Object.assign(g, saved);
  }
  return mem.count();
}

async function perSecondHour(m: Mods, minValidMs: number | undefined): Promise<number> {
  const clock = new FakeClock();
  const mem = memory(clock);
  for (let s = 0; s < 3600; s++) {
    await m.getValidToken({ store: mem.store, minValidMs, timeoutMs: 1000, profile: "p", now: clock.now, lock: mem.lock, refresh: mem.refresh });
    clock.t += 1000;
  }
  return mem.count();
}

export async function refreshesPerHour(baselineSrc?: string) {
  const ours = await load(join(import.meta.dir, "..", "..", "src"));
  const result = { daemon: await daemonHour(ours, false), perSecond: await perSecondHour(ours, undefined) };
  if (!baselineSrc) return { ...result, baseline: undefined };
  const prev = await load(baselineSrc);
  // The previous `oauth token` default was --min-valid 5m.
  return { ...result, baseline: { daemon: await daemonHour(prev, true), perSecond: await perSecondHour(prev, 5 * 60_000) } };
}
