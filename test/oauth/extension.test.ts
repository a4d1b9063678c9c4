/** The daemon's OAuth extension, through direct handler calls, against oidc-provider. */
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DaemonApi, DaemonExtension } from "../../src/daemon/extension.ts";
import { resolveProfile } from "../../src/oauth/config.ts";
import { oauthExtension } from "../../src/oauth/extension.ts";
import { CLIENT_ID, loginGrant, startOidc, type OidcServer } from "../support/oidc.ts";
import { tempDir } from "../support/tmp.ts";

let oidc: OidcServer;
beforeAll(async () => {
  oidc = await startOidc({ accessTokenTtl: 4 });
});
afterAll(() => oidc.close());

const running: DaemonExtension[] = [];
afterEach(async () => {
  for (const e of running.splice(0)) await e.stop?.();
});

const admin = { id: 1, admin: true };
const events: { topic: string; data: unknown }[] = [];
const api: DaemonApi = { publish: (topic, data) => void events.push({ topic, data }), log: { info() {}, warn() {}, error() {}, debug() {} } };

/** A config.json with profile "work" whose store is a file holding a fresh login. */
async function configured() {
  const dir = tempDir();
  const env = { HOME: dir, XDG_CONFIG_HOME: join(dir, "config"), XDG_STATE_HOME: join(dir, "state") };
  const store = join(dir, "creds.json");
  mkdirSync(join(dir, "config", "tokenctl"), { recursive: true });
  writeFileSync(
    join(dir, "config", "tokenctl", "config.json"),
    JSON.stringify({ oauth: { profiles: { work: { issuer: oidc.issuer, clientId: CLIENT_ID, scopes: ["openid", "offline_access"], store: `file:${store}#work` } } } }),
  );
  const profile = resolveProfile({ profile: "work" }, env);
  const { grant: g } = await loginGrant(oidc, profile);
  writeFileSync(store, JSON.stringify({ work: { accessToken: g.accessToken, refreshToken: g.refreshToken, expiresAt: Date.now() + 4000, scopes: ["openid"] } }), { mode: 0o600 });
  return { env, store, stored: () => JSON.parse(readFileSync(store, "utf8")).work };
}

test("holds configured profiles, answers oauth.token from memory, refuses non-admin connections", async () => {
  const c = await configured();
  const ext = oauthExtension({ env: c.env, marginMs: 1000 });
  running.push(ext);
  await ext.start!(api);
  const handler = ext.handlers!["oauth.token"]!;
  const start = oidc.counts.refresh;
  const a = await handler({ type: "oauth.token", profile: "work", minValidMs: 1000 }, admin);
  expect(a).toEqual({ profile: "work", accessToken: c.stored().accessToken, expiresAt: c.stored().expiresAt });
  const b = await handler({ type: "oauth.token", profile: "work", minValidMs: 1000 }, admin);
  expect(b.accessToken).toBe(a.accessToken);
  expect(oidc.counts.refresh).toBe(start);
  await expect(handler({ type: "oauth.token", profile: "work" }, { id: 2, admin: false })).rejects.toThrow("daemon token");
  await expect(handler({ type: "oauth.token", profile: 5 }, admin)).rejects.toThrow('"profile" to be a string');
  expect(ext.status!()).toMatchObject({ profiles: { work: { refreshable: true } } });
});

test("refreshes on a timer before expiry, through the locked refresh, and publishes it", async () => {
  const c = await configured();
  const before = c.stored();
  const start = oidc.counts.refresh;
  const ext = oauthExtension({ env: c.env, marginMs: 2500 });
  running.push(ext);
  await ext.start!(api);
  // 4 s token, 2.5 s margin: the timer fires about 1.5 s in.
  const deadline = Date.now() + 6000;
  while (oidc.counts.refresh === start && Date.now() < deadline) await Bun.sleep(50);
  expect(oidc.counts.refresh - start).toBe(1);
  await Bun.sleep(100);
  const after = c.stored();
  expect(after.refreshToken).not.toBe(before.refreshToken);
  const got = await ext.handlers!["oauth.token"]!({ type: "oauth.token", profile: "work", minValidMs: 1000 }, admin);
  expect(got.accessToken).toBe(after.accessToken);
  expect(events.some((e) => e.topic === "oauth" && (e.data as { profile: string }).profile === "work")).toBe(true);
});

test("concurrent requests for a stale profile share one refresh", async () => {
  const c = await configured();
  const ext = oauthExtension({ env: c.env, profiles: () => [] });
  running.push(ext);
  await ext.start!(api);
  const start = oidc.counts.refresh;
  const all = await Promise.all(Array.from({ length: 10 }, () => ext.handlers!["oauth.token"]!({ type: "oauth.token", profile: "work", minValidMs: 60_000 }, admin)));
  expect(oidc.counts.refresh - start).toBe(1);
  expect(new Set(all.map((r) => r.accessToken)).size).toBe(1);
});

test("an unknown profile is a clear error", async () => {
  const c = await configured();
  const ext = oauthExtension({ env: c.env, profiles: () => [] });
  running.push(ext);
  await ext.start!(api);
  await expect(ext.handlers!["oauth.token"]!({ type: "oauth.token", profile: "nope" }, admin)).rejects.toThrow("No OAuth credential");
});
