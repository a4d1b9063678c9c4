import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startOidc, CLIENT_ID, loginGrant, type OidcServer } from "../support/oidc.ts";
import { resolveProfile } from "../../src/oauth/config.ts";
import { OAuthServerError, TransientError } from "../../src/oauth/errors.ts";
import { authorizationRequest, exchangeCode, refresher, resolveServer, revoke } from "../../src/oauth/protocol.ts";

let oidc: OidcServer;
beforeAll(async () => {
  oidc = await startOidc({ accessTokenTtl: 60 });
});
afterAll(() => oidc.close());

const profile = () => resolveProfile({ issuer: oidc.issuer, clientId: CLIENT_ID, scope: "openid offline_access", store: "file" }, {}, () => ({}));

/** Run a login by hand: our own tiny redirect catcher stands in for the CLI's listener. */
async function login() {
  const { server, request, grant } = await loginGrant(oidc, profile());
  expect(request.url.searchParams.get("code_challenge_method")).toBe("S256");
  return { server, grant };
}

describe("protocol against oidc-provider", () => {
  test("discovery, PKCE code exchange, rotation on refresh, invalid_grant on reuse", async () => {
    const { server, grant } = await login();
    expect(grant.accessToken.length).toBeGreaterThan(10);
    expect(grant.refreshToken).toBeString();
    expect(grant.expiresIn).toBe(60);
    const refresh = refresher(server);
    const next = await refresh(grant.refreshToken!, AbortSignal.timeout(5000));
    expect(next.refreshToken).not.toBe(grant.refreshToken); // rotated
    const reuse = await refresh(grant.refreshToken!, AbortSignal.timeout(5000)).catch((e) => e);
    expect(reuse).toBeInstanceOf(OAuthServerError);
    expect(reuse.error).toBe("invalid_grant");
    // Reuse detection revoked the whole grant: even the newest token is now dead.
    const after = await refresh(next.refreshToken!, AbortSignal.timeout(5000)).catch((e) => e);
    expect(after).toBeInstanceOf(OAuthServerError);
  });

  test("5xx and unreachable servers are transient", async () => {
    const { server, grant } = await login();
    oidc.failTokenWith = 503;
    try {
      expect(await refresher(server)(grant.refreshToken!, AbortSignal.timeout(5000)).catch((e) => e)).toBeInstanceOf(TransientError);
    } finally {
      oidc.failTokenWith = undefined;
    }
    const dead = await resolveServer(resolveProfile({ tokenEndpoint: "http://127.0.0.1:9/token", clientId: "x" }, {}, () => ({})), { need: "token" });
    expect(await refresher(dead)("rt", AbortSignal.timeout(5000)).catch((e) => e)).toBeInstanceOf(TransientError);
  });

  test("state mismatch and denial are refused with clear errors", async () => {
    const server = await resolveServer(profile(), { need: "authorize" });
    const req = await authorizationRequest(server, "http://127.0.0.1:1/callback", []);
    const wrong = new URL(`http://127.0.0.1:1/callback?code=abc&state=nope&iss=${encodeURIComponent(oidc.issuer)}`);
    await expect(exchangeCode(server, req, wrong)).rejects.toThrow("state does not match");
    const denied = new URL(`http://127.0.0.1:1/callback?error=access_denied&state=${req.state}&iss=${encodeURIComponent(oidc.issuer)}`);
    await expect(exchangeCode(server, req, denied)).rejects.toThrow("refused the login: access_denied");
  });

  test("revocation", async () => {
    const { server, grant } = await login();
    const before = oidc.counts.revocation;
    expect(await revoke(server, grant.refreshToken!, "refresh_token")).toBe(true);
    expect(oidc.counts.revocation).toBe(before + 1);
    expect(await refresher(server)(grant.refreshToken!, AbortSignal.timeout(5000)).catch((e) => e)).toBeInstanceOf(OAuthServerError);
  });

  test("plain http is refused for non-loopback issuers", () => {
    expect(() => resolveProfile({ issuer: "http://auth.example.com" }, {}, () => ({}))).toThrow("only allowed for loopback");
  });
});
