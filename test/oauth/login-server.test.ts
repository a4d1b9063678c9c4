/**
 * The test authorization server (test/support/oidc.ts) behaves like production by default:
 * offline_access only with prompt=consent, rotation with reuse revocation, the device flow; and
 * its options do what they say. The other OAuth tests rely on this.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { setTimeout as sleep } from "node:timers/promises";
import * as oauth from "oauth4webapi";
import { CLIENT_ID, loginGrant, startOidc, type OidcServer } from "../support/oidc.ts";
import { playDevice } from "../support/login.ts";
import { resolveProfile } from "../../src/oauth/config.ts";
import { refresher, resolveServer } from "../../src/oauth/protocol.ts";

let oidc: OidcServer;
beforeAll(async () => {
  oidc = await startOidc({ accessTokenTtl: 60, deviceInterval: 1 });
});
afterAll(() => oidc.close());

const profile = (scope: string) => resolveProfile({ issuer: oidc.issuer, clientId: CLIENT_ID, scope, store: "file" }, {}, () => ({}));

test("discovery lists offline_access and the device endpoint", async () => {
  const server = await resolveServer(profile("openid"), { need: "authorize" });
  expect(server.as.scopes_supported).toContain("offline_access");
  expect(server.as.device_authorization_endpoint).toBe(`${oidc.issuer}/device/auth`);
});

test("offline_access without prompt=consent is dropped silently: no refresh token; with it, one", async () => {
  const plain = await loginWithoutPrompt();
  expect(plain.refreshToken).toBeUndefined();
  expect(plain.scope?.split(" ") ?? []).not.toContain("offline_access");
  const { grant } = await loginGrant(oidc, profile("openid offline_access")); // sends prompt=consent
  expect(grant.refreshToken).toBeString();
  expect(grant.scope?.split(" ")).toContain("offline_access");
});

async function loginWithoutPrompt() {
  const { createServer } = await import("node:http");
  const { authorizationRequest, exchangeCode } = await import("../../src/oauth/protocol.ts");
  const server = await resolveServer(profile("openid offline_access"), { need: "authorize" });
  let caught!: (u: URL) => void;
  const redirected = new Promise<URL>((r) => (caught = r));
  const listener = createServer((req, res) => (caught(new URL(req.url!, "http://127.0.0.1")), res.end("ok")));
  await new Promise<void>((r) => listener.listen(0, "127.0.0.1", r));
  try {
    const port = (listener.address() as { port: number }).port;
    const request = await authorizationRequest(server, `http://127.0.0.1:${port}/callback`, ["openid", "offline_access"]);
    await oidc.driveLogin(request.url.href);
    return await exchangeCode(server, request, await redirected);
  } finally {
    listener.close();
  }
}

test("a rotated refresh token presented again: invalid_grant, and the whole grant is revoked", async () => {
  const { server, grant } = await loginGrant(oidc, profile("openid offline_access"));
  const refresh = refresher(server);
  const signal = () => AbortSignal.timeout(5000);
  const first = await refresh(grant.refreshToken!, signal());
  expect(first.refreshToken).toBeString();
  expect(first.refreshToken).not.toBe(grant.refreshToken);
  const before = oidc.counts.invalidGrant;
  await expect(refresh(grant.refreshToken!, signal())).rejects.toMatchObject({ error: "invalid_grant" });
  // Reuse revoked the grant: the token from the legitimate rotation is dead too.
  await expect(refresh(first.refreshToken!, signal())).rejects.toMatchObject({ error: "invalid_grant" });
  expect(oidc.counts.invalidGrant - before).toBe(2);
});

test("answerDelayAfterRotationMs delays the answer after the rotation is committed", async () => {
  const { server, grant } = await loginGrant(oidc, profile("openid offline_access"));
  oidc.answerDelayAfterRotationMs = 400;
  try {
    const rotations = oidc.counts.rotations;
    const t0 = performance.now();
    // Give up before the answer: the server has rotated, we never see the new token.
    await expect(refresher(server)(grant.refreshToken!, AbortSignal.timeout(150))).rejects.toThrow();
    await sleep(400);
    expect(oidc.counts.rotations - rotations).toBe(1);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(400);
    await expect(refresher(server)(grant.refreshToken!, AbortSignal.timeout(5000))).rejects.toMatchObject({ error: "invalid_grant" });
  } finally {
    oidc.answerDelayAfterRotationMs = 0;
  }
});

test("echoErrors puts the request body into error_description (the raw answer, before any client)", async () => {
  oidc.echoErrors = true;
  try {
    const res = await fetch(`${oidc.issuer}/token`, {
      method: "POST",
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: "ECHO-ME-refresh-token", client_id: CLIENT_ID }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error_description: string }).error_description).toContain("refresh_token=ECHO-ME-refresh-token");
    // Through our protocol layer the refresh token is cut out of it (src/oauth/redact.ts).
    const server = await resolveServer(profile("openid"), { need: "token" });
    const err = await refresher(server)("ECHO-ME-refresh-token", AbortSignal.timeout(5000)).catch((e: unknown) => e);
    expect(String((err as Error).message)).toContain("invalid request: refresh_token=[redacted]");
  } finally {
    oidc.echoErrors = false;
  }
});

async function deviceStart() {
  const server = await resolveServer(profile("openid offline_access"), { need: "token" });
  const res = await oauth.deviceAuthorizationRequest(server.as, server.client, oauth.None(), new URLSearchParams({ scope: "openid offline_access" }), server.http());
  return { server, device: await oauth.processDeviceAuthorizationResponse(server.as, server.client, res) };
}

async function poll(server: Awaited<ReturnType<typeof deviceStart>>["server"], deviceCode: string) {
  const res = await oauth.deviceCodeGrantRequest(server.as, server.client, oauth.None(), deviceCode, server.http());
  return oauth.processDeviceCodeResponse(server.as, server.client, res).catch((e: unknown) => e as oauth.ResponseBodyError);
}

test("device flow: pending, approved through the pages (with offline_access), then tokens", async () => {
  const { server, device } = await deviceStart();
  expect(device.interval).toBe(1);
  expect(device.verification_uri_complete).toContain(device.user_code);
  expect(await poll(server, device.device_code)).toMatchObject({ error: "authorization_pending" });
  expect(await playDevice(oidc, device.verification_uri_complete!)).toContain("Device signed in");
  const tokens = (await poll(server, device.device_code)) as oauth.TokenEndpointResponse;
  expect(tokens.access_token).toBeString();
  expect(tokens.refresh_token).toBeString();
});

test("device flow: the user code typed on the plain verification page, and denial", async () => {
  const { server, device } = await deviceStart();
  const page = await playDevice(oidc, device.verification_uri, { userCode: device.user_code, deny: true });
  expect(page).not.toContain("Device signed in");
  expect(await poll(server, device.device_code)).toMatchObject({ error: "access_denied" });
});

test("device flow: an expired device code", async () => {
  const short = await startOidc({ deviceCodeTtl: 1 });
  try {
    const server = await resolveServer(resolveProfile({ issuer: short.issuer, clientId: CLIENT_ID, store: "file" }, {}, () => ({})), { need: "token" });
    const res = await oauth.deviceAuthorizationRequest(server.as, server.client, oauth.None(), new URLSearchParams(), server.http());
    const device = await oauth.processDeviceAuthorizationResponse(server.as, server.client, res);
    expect(device.expires_in).toBe(1);
    await sleep(1100);
    expect(await poll(server, device.device_code)).toMatchObject({ error: "expired_token" });
  } finally {
    await short.close();
  }
});
