/**
 * A real authorization server for tests: oidc-provider on 127.0.0.1 (port 0) with one public
 * client, PKCE, refresh token rotation (its default for public clients: reusing a rotated refresh
 * token gets invalid_grant and revokes the grant), a configurable access token TTL, and counters on
 * the token endpoint. `driveLogin` plays the user through the development interactions.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";

export const CLIENT_ID = "tokenctl-test";

export interface OidcOptions {
  /** Access token lifetime in seconds (default 3600). */
  accessTokenTtl?: number;
}

export interface TokenCounts {
  /** POSTs to the token endpoint received (counted on arrival, before any delay). */
  arrived: number;
  /** Refresh requests received. */
  refresh: number;
  refreshOk: number;
  /** Refresh requests answered with an error (invalid_grant …). */
  refreshFailed: number;
  code: number;
  revocation: number;
}

export interface OidcServer {
  issuer: string;
  port: number;
  counts: TokenCounts;
  /** Make the token endpoint wait this long before answering (to kill a refresher mid-request). */
  tokenDelayMs: number;
  /** Answer token requests with this HTTP status instead of processing them (e.g. 503). */
  failTokenWith?: number;
  provider: Provider;
  /** Play the user: follow the authorization URL through login and consent to our redirect. */
  driveLogin(authorizationUrl: string): Promise<Response>;
  close(): Promise<void>;
}

export async function startOidc(o: OidcOptions = {}): Promise<OidcServer> {
  const http: Server = createServer();
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const port = (http.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        token_endpoint_auth_method: "none",
        application_type: "native",
        // Native clients may use any port on a loopback redirect (RFC 8252 §7.3).
        redirect_uris: ["http://127.0.0.1/callback"],
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
      },
    ],
    cookies: { keys: ["tokenctl-test-cookie-key"] },
    ttl: { AccessToken: () => o.accessTokenTtl ?? 3600, RefreshToken: () => 86_400, Grant: () => 86_400, Session: () => 86_400, Interaction: () => 600, IdToken: () => 3600 },
    // Issue refresh tokens without offline_access + prompt=consent, as most OAuth providers do.
    issueRefreshToken: async () => true,
    features: { devInteractions: { enabled: true }, revocation: { enabled: true } },
    findAccount: async (_ctx: unknown, sub: string) => ({ accountId: sub, claims: async () => ({ sub }) }),
  });
  const counts: TokenCounts = { arrived: 0, refresh: 0, refreshOk: 0, refreshFailed: 0, code: 0, revocation: 0 };
  const server: OidcServer = {
    issuer,
    port,
    counts,
    tokenDelayMs: 0,
    provider,
    driveLogin: (url) => driveLogin(issuer, url),
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections?.();
        http.close(() => resolve());
      }),
  };
  provider.use(async (ctx, next) => {
    if (ctx.path === "/token/revocation" && ctx.method === "POST") counts.revocation++;
    if (ctx.path !== "/token" || ctx.method !== "POST") return next();
    counts.arrived++;
    if (server.tokenDelayMs) await Bun.sleep(server.tokenDelayMs);
    if (server.failTokenWith) {
      ctx.status = server.failTokenWith;
      ctx.body = "unavailable";
      return;
    }
    await next();
    const grantType = (ctx as unknown as { oidc?: { params?: { grant_type?: string } } }).oidc?.params?.grant_type;
    if (grantType === "refresh_token") {
      counts.refresh++;
      if (ctx.status === 200) counts.refreshOk++;
      else counts.refreshFailed++;
    } else if (grantType === "authorization_code") counts.code++;
  });
  http.on("request", provider.callback());
  return server;
}

/** Follow redirects with a cookie jar, posting the login and consent forms on the way. */
async function driveLogin(issuer: string, start: string): Promise<Response> {
  const jar = new Map<string, string>();
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
  const remember = (r: Response) => {
    for (const c of r.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const eq = pair!.indexOf("=");
      jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
  };
  let url = start;
  let init: RequestInit = {};
  for (let hops = 0; hops < 20; hops++) {
    if (!url.startsWith(issuer)) return fetch(url); // the redirect to our loopback listener
    const r = await fetch(url, { ...init, redirect: "manual", headers: { ...(init.headers ?? {}), cookie: cookie() } });
    remember(r);
    init = {};
    if (r.status >= 300 && r.status < 400) {
      url = new URL(r.headers.get("location")!, url).href;
      continue;
    }
    const html = await r.text();
    const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1];
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    if (r.status !== 200 || !prompt || !action) throw new Error(`driveLogin: unexpected page (HTTP ${r.status}) at ${url}: ${html.slice(0, 300)}`);
    const form = new URLSearchParams({ prompt, ...(prompt === "login" ? { login: "alice", password: "pw" } : {}) });
    url = new URL(action, url).href;
    init = { method: "POST", body: form, headers: { "content-type": "application/x-www-form-urlencoded" } };
  }
  throw new Error("driveLogin: too many redirects");
}

/**
 * A fresh grant for `profile`: authorization request, the login and consent forms driven through
 * the dev interactions, our own one-shot listener catching the redirect, then the code exchange.
 */
export async function loginGrant(oidc: OidcServer, profile: import("../../src/oauth/config.ts").Profile) {
  const { authorizationRequest, exchangeCode, resolveServer } = await import("../../src/oauth/protocol.ts");
  const server = await resolveServer(profile, { need: "authorize" });
  let caught!: (u: URL) => void;
  const redirected = new Promise<URL>((r) => (caught = r));
  const listener = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => (caught(new URL(req.url)), new Response("ok")) });
  try {
    const request = await authorizationRequest(server, `http://127.0.0.1:${listener.port}/callback`, ["openid"]);
    await oidc.driveLogin(request.url.href);
    return { server, request, grant: await exchangeCode(server, request, await redirected) };
  } finally {
    listener.stop(true);
  }
}
