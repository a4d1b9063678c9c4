/** getValidToken with the real protocol against oidc-provider (rotation, reuse detection). */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { readFileSync, writeFileSync } from "node:fs";
import { CLIENT_ID, loginGrant, startOidc, type OidcServer } from "../support/oidc.ts";
import { tempDir } from "../support/tmp.ts";
import { resolveProfile } from "../../src/oauth/config.ts";
import { refresher } from "../../src/oauth/protocol.ts";
import { getValidToken } from "../../src/oauth/refresh.ts";
import { fileStore } from "../../src/oauth/store.ts";
import { profileRefresher } from "../../src/oauth/token.ts";

let oidc: OidcServer;
beforeAll(async () => {
  oidc = await startOidc({ accessTokenTtl: 120 });
});
afterAll(() => oidc.close());

const profile = () => resolveProfile({ issuer: oidc.issuer, clientId: CLIENT_ID, scope: "openid offline_access", store: "file" }, {}, () => ({}));

async function loggedInStore() {
  const { server, grant } = await loginGrant(oidc, profile());
  const path = join(tempDir(), "c.json");
  writeFileSync(path, JSON.stringify({ x: 1, p: { accessToken: grant.accessToken, refreshToken: grant.refreshToken, expiresAt: Date.now() + 120_000, scopes: [] } }), { mode: 0o600 });
  return { server, store: fileStore(path, "p", "p"), path };
}

test("refresh with a 2 min TTL token and a 5 min margin: refreshed, rotated, other keys kept", async () => {
  const { store, path } = await loggedInStore();
  const before = await store.read();
  const got = await getValidToken({ store, minValidMs: 300_000, timeoutMs: 5000, profile: "p", refresh: profileRefresher(profile()) });
  expect(got.source).toBe("refreshed");
  expect(got.record.refreshToken).not.toBe(before!.refreshToken);
  expect(JSON.parse(readFileSync(path, "utf8")).x).toBe(1);
});

test("invalid_grant after the store was rotated outside the lock: the rotated record is used", async () => {
  const { server, store } = await loggedInStore();
  const stale = (await store.read())!;
  await store.write({ ...stale, expiresAt: Date.now() - 1 });
  const counts = { ...oidc.counts };
  // Our refresh: just before our request, the agent (no lock) rotates with the same token and saves.
  const real = refresher(server);
  const refresh = async (rt: string, signal: AbortSignal) => {
    const agent = await real(rt, signal);
    await store.write({ accessToken: agent.accessToken, refreshToken: agent.refreshToken, expiresAt: Date.now() + 3_600_000, scopes: [] });
    return real(rt, signal); // reuse of the rotated token: invalid_grant at the server
  };
  const got = await getValidToken({ store, minValidMs: 60_000, timeoutMs: 5000, profile: "p", refresh });
  expect(got.source).toBe("rotated-outside-lock");
  expect(got.record).toEqual((await store.read())!);
  expect(oidc.counts.refreshOk - counts.refreshOk).toBe(1);
  expect(oidc.counts.refreshFailed - counts.refreshFailed).toBe(1);
});
