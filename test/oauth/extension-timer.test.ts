/**
 * The daemon's refresh timer on an injected clock: about one refresh per half-life for short
 * tokens, the 5-minute margin for long ones, and the per-profile guard against refresh loops.
 */
import { describe, expect, test } from "bun:test";
import type { DaemonApi } from "../../src/daemon/extension.ts";
import type { FileLock } from "../../src/fs/lock.ts";
import { resolveProfile } from "../../src/oauth/config.ts";
import { oauthExtension } from "../../src/oauth/extension.ts";
import type { OAuthRecord } from "../../src/oauth/record.ts";
import { getValidToken } from "../../src/oauth/refresh.ts";
import type { CredentialStore } from "../../src/oauth/store.ts";
import { FakeClock } from "../support/fake-clock.ts";

function harness(lifetimeS: number, configured: string[] = ["work"]) {
  const clock = new FakeClock();
  const resolved: string[] = [];
  let record: OAuthRecord | undefined = { accessToken: "at-0", refreshToken: "rt-0", expiresAt: clock.t + lifetimeS * 1000, lifetimeMs: lifetimeS * 1000, scopes: [] };
  const refreshes: number[] = [];
  const warnings: string[] = [];
  const control = { gate: async () => {} };
  const store: CredentialStore = {
    kind: "file",
    description: "memory",
    lockPath: "/nonexistent/lock",
    read: async () => record,
    write: async (r) => void (record = r),
    remove: async () => ((record = undefined), true),
  };
  const noLock = async (path: string): Promise<FileLock> => ({ path, fd: -1, release() {} });
  const api: DaemonApi = { publish() {}, log: { info() {}, warn: (m: unknown) => void warnings.push(String(m)), error() {}, debug() {} } };
  const ext = oauthExtension({
    env: {},
    now: clock.now,
    timers: clock,
    profiles: () => configured,
    resolve: (name) => (resolved.push(name), resolveProfile({ profile: name, issuer: "https://as.example", clientId: "c" }, {})),
    tokenFor: async (t) => ({
      store,
      ...(await getValidToken({
        store,
        minValidMs: t.minValidMs,
        marginMs: t.marginMs,
        timeoutMs: 1000,
        profile: "work",
        now: clock.now,
        lock: noLock,
        refresh: async () => {
          refreshes.push(clock.t);
          await control.gate();
          return { accessToken: `at-${refreshes.length}`, refreshToken: `rt-${refreshes.length}`, expiresIn: lifetimeS };
        },
      })),
    }),
  });
  return {
    clock,
    ext,
    api,
    refreshes,
    warnings,
    resolved,
    stored: () => record,
    set gate(g: () => Promise<void>) {
      control.gate = g;
    },
    token: (minValidMs?: number) => ext.handlers!["oauth.token"]!({ type: "oauth.token", profile: "work", ...(minValidMs === undefined ? {} : { minValidMs }) }, { id: 1, admin: true }),
  };
}

describe("the daemon's refresh timer (fake clock)", () => {
  test("20-second tokens held for a minute: one refresh per half-life (10 s), none in between", async () => {
    const h = harness(20);
    await h.ext.start!(h.api);
    await h.clock.advance(60_000);
    const gaps = h.refreshes.map((t, i) => t - (i ? h.refreshes[i - 1]! : h.refreshes[0]! - 10_000));
    expect(h.refreshes.length).toBeGreaterThanOrEqual(5);
    expect(h.refreshes.length).toBeLessThanOrEqual(6);
    for (const g of gaps) expect(g).toBeGreaterThanOrEqual(10_000);
    expect(h.warnings).toEqual([]);
    h.ext.stop!();
  });

  test("5-minute tokens: 24 refreshes an hour, and calls in between are answered from the store", async () => {
    const h = harness(300);
    await h.ext.start!(h.api);
    for (let s = 0; s < 3600; s += 60) {
      await h.token();
      await h.clock.advance(60_000);
    }
    expect(h.refreshes.length).toBeGreaterThanOrEqual(23);
    expect(h.refreshes.length).toBeLessThanOrEqual(24);
    h.ext.stop!();
  });

  test("1-hour tokens: refreshed 5 minutes before expiry, once an hour", async () => {
    const h = harness(3600);
    await h.ext.start!(h.api);
    await h.clock.advance(3 * 3600_000);
    expect(h.refreshes.length).toBe(3);
    expect(h.refreshes[0]! - (h.clock.t - 3 * 3600_000)).toBeWithin(55 * 60_000, 55 * 60_000 + 10);
    h.ext.stop!();
  });

  test("2-second tokens: the guard holds refreshes to one per 5 s and says so", async () => {
    const h = harness(2);
    await h.ext.start!(h.api);
    await h.clock.advance(60_000);
    expect(h.refreshes.length).toBeGreaterThanOrEqual(11);
    expect(h.refreshes.length).toBeLessThanOrEqual(12);
    for (let i = 1; i < h.refreshes.length; i++) expect(h.refreshes[i]! - h.refreshes[i - 1]!).toBeGreaterThanOrEqual(5000);
    expect(h.warnings.some((w) => w.includes("refreshing no more than once per 5 s"))).toBe(true);
    h.ext.stop!();
  });

  test("a request asking more validity than the token has, just after a refresh, does not refresh again", async () => {
    const h = harness(20);
    await h.ext.start!(h.api);
    await h.clock.advance(10_001);
    expect(h.refreshes.length).toBe(1);
    await h.token(60_000); // more than any 20 s token can give
    expect(h.refreshes.length).toBe(1);
    expect(h.warnings.some((w) => w.includes("refresh held back"))).toBe(true);
    await h.clock.advance(5000);
    await h.token(60_000);
    expect(h.refreshes.length).toBe(2);
    h.ext.stop!();
  });

  test("stop() waits for a refresh in flight to be written (the daemon's shutdown)", async () => {
    const h = harness(20);
    let answer!: () => void;
    const slow = new Promise<void>((r) => (answer = r));
    h.gate = () => slow;
    await h.ext.start!(h.api);
    await h.clock.advance(10_001); // the timer fires, the refresh waits for the server
    expect(h.refreshes.length).toBe(1);
    let stopped = false;
    const stopping = Promise.resolve(h.ext.stop!()).then(() => (stopped = true));
    await new Promise((r) => setImmediate(r));
    expect(stopped).toBe(false);
    answer();
    await stopping;
    expect(h.stored()?.accessToken).toBe("at-1");
  });

  test("a login while the daemon runs (oauth.reload): the profile is held afresh, settings re-read, with its timer", async () => {
    const h = harness(20, []); // config.json named no profile when the daemon started
    await h.ext.start!(h.api);
    await h.clock.advance(60_000);
    expect(h.refreshes).toEqual([]);
    const reload = (admin: boolean) => h.ext.handlers!["oauth.reload"]!({ type: "oauth.reload", profile: "work" }, { id: 2, admin });
    expect(() => reload(false)).toThrow("oauth.reload needs a connection authenticated with the daemon token");
    expect(await reload(true)).toEqual({ profile: "work", reloaded: true });
    await h.clock.advance(60_000);
    expect(h.refreshes.length).toBeGreaterThanOrEqual(5);
    expect((h.ext.status!() as { profiles: Record<string, unknown> }).profiles.work).toMatchObject({ refreshable: true });
    // A second login re-reads the profile's settings rather than keep the ones held.
    await reload(true);
    expect(h.resolved).toEqual(["work", "work"]);
    h.ext.stop!();
  });

  test("oauth.reload keeps the refresh guard: reloads in a loop cannot refresh more than once per 5 s", async () => {
    const h = harness(2);
    await h.ext.start!(h.api);
    await h.clock.advance(1_100); // the first refresh, at half the 2 s lifetime
    expect(h.refreshes.length).toBe(1);
    await h.clock.advance(1_000); // due again, but inside the guard
    for (let i = 0; i < 5; i++) await h.ext.handlers!["oauth.reload"]!({ type: "oauth.reload", profile: "work" }, { id: 3, admin: true });
    await h.clock.advance(10);
    expect(h.refreshes.length).toBe(1);
    h.ext.stop!();
  });
});
