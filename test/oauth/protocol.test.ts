import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startOidc, CLIENT_ID, loginGrant, type OidcServer } from "../support/oidc.ts";
import { resolveProfile } from "../../src/oauth/config.ts";
import { createServer, type Server as NetServer } from "node:net";
import { ExitCode, UnavailableError } from "../../src/errors.ts";
import { OAuthServerError, TransientError } from "../../src/oauth/errors.ts";
import { authorizationRequest, exchangeCode, refresher, resolveServer, revoke } from "../../src/oauth/protocol.ts";
import { deviceLogin } from "../../src/oauth/device.ts";

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

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

  // Issue 13: a server that does not answer is exit 5 ("a needed service did not answer"), not 1.
  describe("no answer: UnavailableError (exit 5) naming the server, never a secret, with a hint", () => {
    const check = (e: unknown, url: string, login: string) => {
      expect(e).toBeInstanceOf(UnavailableError);
      const err = e as UnavailableError;
      expect({ code: err.exitCode, kind: err.kind }).toEqual({ code: ExitCode.unavailable, kind: "unavailable" });
      expect(err.message).toContain(url);
      expect(err.hint).toContain(login);
      expect(`${err.message} ${err.hint}`).not.toMatch(/SECRET|hunter2/);
    };

    test.each([
      ["refused", async () => `http://127.0.0.1:${await closedPort()}`],
      ["refused, with a password in the issuer", async () => `http://me:hunter2@127.0.0.1:${await closedPort()}/realm`],
    ])("discovery, %s", async (_, issuerOf) => {
      const issuer = await issuerOf();
      const shown = issuer.replace("me:hunter2@", "");
      const e = await resolveServer(resolveProfile({ profile: "work", issuer, clientId: "x" }, {}, () => ({})), { need: "authorize" }).catch((e) => e);
      check(e, shown, "tokenctl oauth login --profile work");
      expect((e as UnavailableError).hint).toContain(`curl -sS ${shown.replace(/\/$/, "")}/.well-known/openid-configuration`);
    });

    test("discovery, a name that does not resolve (.invalid, RFC 6761)", async () => {
      // With a resolver that hangs instead, the 5 s limit makes it a timeout: exit 5 all the same.
      const e = await resolveServer(resolveProfile({ issuer: "https://tokenctl-test.invalid", clientId: "x" }, {}, () => ({})), { need: "token", signal: AbortSignal.timeout(5000) }).catch((e) => e);
      check(e, "https://tokenctl-test.invalid/", "tokenctl oauth login again");
    });

    test("discovery, timed out (a server that accepts and never answers)", async () => {
      const sockets: import("node:net").Socket[] = [];
      const mute: NetServer = createServer((s) => void sockets.push(s));
      await new Promise<void>((r) => mute.listen(0, "127.0.0.1", r));
      const issuer = `http://127.0.0.1:${(mute.address() as { port: number }).port}/`;
      try {
        const e = await resolveServer(resolveProfile({ issuer, clientId: "x" }, {}, () => ({})), { need: "token", signal: AbortSignal.timeout(300) }).catch((e) => e);
        check(e, issuer, "tokenctl oauth login again");
        expect((e as Error).message).toContain("timed out");
      } finally {
        for (const s of sockets) s.destroy();
        mute.close();
      }
    });

    test("token endpoint at the code exchange, and the device endpoint", async () => {
      const port = await closedPort();
      const dead = await resolveServer(resolveProfile({ profile: "work", tokenEndpoint: `http://127.0.0.1:${port}/token`, clientId: "x" }, {}, () => ({})), { need: "token" });
      const server = { ...dead, as: { ...dead.as, authorization_endpoint: `http://127.0.0.1:${port}/auth` } };
      const req = await authorizationRequest(server, "http://127.0.0.1:1/callback", []);
      const code = "SECRET-code";
      const e = await exchangeCode(server, req, new URL(`http://127.0.0.1:1/callback?code=${code}&state=${req.state}`)).catch((e) => e);
      check(e, "The code exchange failed", "tokenctl oauth login --profile work again");
      const d = await deviceLogin({ server: dead, endpoint: `http://127.0.0.1:${port}/device`, scopes: [], timeoutMs: 5000, show: () => {} }).catch((e) => e);
      check(d, "The device authorization request failed", "tokenctl oauth login --profile work --device again");
    });
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
