/**
 * A real authorization server for tests: oidc-provider on 127.0.0.1 (port 0) with its production
 * defaults, and counters on the token endpoint.
 *
 * Defaults kept as oidc-provider ships them (and as production OpenID providers behave):
 * - `offline_access` is granted only when the authorization request carries `prompt=consent`
 *   (OIDC Core §11), and a refresh token is issued only with `offline_access`;
 * - refresh tokens of public clients rotate, and presenting a rotated one again gets
 *   `invalid_grant` and revokes the whole grant (`rotateRefreshToken` default + reuse detection);
 * - access tokens live 1 h, device codes 10 min, and the device authorization response carries no
 *   `interval` (so clients poll every 5 s, RFC 8628 §3.2).
 *
 * It stays quiet: its own signing key, an in-memory adapter and its own interaction, device and
 * error pages (no development-only warnings), and the "Unsupported runtime" notice oidc-provider
 * prints under Bun is filtered at import. `test/support/login.ts` plays the user through the pages.
 */
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { stringify } from "node:querystring";
import { setTimeout as sleep } from "node:timers/promises";
import type Provider from "oidc-provider";
import type { KoaContext } from "oidc-provider";
import { driveLogin } from "./login.ts";

export const CLIENT_ID = "tokenctl-test";
export const DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";

export interface OidcOptions {
  /** Access token lifetime in seconds (oidc-provider's default 3600; Keycloak's default is 300). */
  accessTokenTtl?: number;
  /** Device code lifetime in seconds (default 600). */
  deviceCodeTtl?: number;
  /**
   * `interval` to put in the device authorization response, in seconds (default: none, so 5 s).
   * Keycloak sends its realm's "OAuth 2.0 Device Polling Interval"; GitHub and Entra ID send 5.
   */
  deviceInterval?: number;
  /** Answer the first N device-code polls with `slow_down`, as GitHub does when polled too fast. */
  slowDownPolls?: number;
  /** Answer device-code polling errors with HTTP 200 and the error body, as GitHub does. */
  deviceErrorsAs200?: boolean;
  /** Delay the token endpoint's answer this long after a refresh token rotation is committed. */
  answerDelayAfterRotationMs?: number;
  /** Put the request body into `error_description` of error answers (servers that echo input). */
  echoErrors?: boolean;
}

export interface TokenCounts {
  /** POSTs to the token endpoint received (counted on arrival, before any delay). */
  arrived: number;
  /** Refresh requests received. */
  refresh: number;
  refreshOk: number;
  /** Refresh requests answered with an error (invalid_grant …). */
  refreshFailed: number;
  /** Answers of any grant with `invalid_grant`. */
  invalidGrant: number;
  /** Refresh requests that rotated the refresh token. */
  rotations: number;
  code: number;
  /** Device-code polls (token requests with the device_code grant). */
  devicePolls: number;
  revocation: number;
}

export interface OidcServer {
  issuer: string;
  port: number;
  counts: TokenCounts;
  /** Make the token endpoint wait this long before answering (to kill a refresher mid-request). */
  tokenDelayMs: number;
  /** Delay the answer after a committed rotation (the new refresh token exists only in the answer). */
  answerDelayAfterRotationMs: number;
  /** Answer token requests with this HTTP status instead of processing them (e.g. 503). */
  failTokenWith?: number;
  echoErrors: boolean;
  provider: Provider;
  /** Play the user: follow the authorization URL through login and consent to our redirect. */
  driveLogin(authorizationUrl: string): Promise<Response>;
  close(): Promise<void>;
}

let imported: Promise<typeof import("oidc-provider")> | undefined;

/** Import oidc-provider once, without its "Unsupported runtime" notice (it prints that under Bun). */
function loadProvider(): Promise<typeof import("oidc-provider")> {
  return (imported ??= (async () => {
    const warn = console.warn;
    console.warn = (...args: unknown[]) => {
      if (!String(args[0]).includes("Unsupported runtime")) warn(...args);
    };
    try {
      return await import("oidc-provider");
    } finally {
      console.warn = warn;
    }
  })());
}

const html = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title: string, body: string) => `<!doctype html><meta charset="utf-8"><title>${html(title)}</title><h1>${html(title)}</h1>${body}`;

/**
 * oidc-provider's storage interface, kept in memory for one server. Expired rows stay a minute, so
 * a poll with an expired device code gets `expired_token` (RFC 8628 §3.5, as Keycloak, Okta and
 * Entra ID answer) rather than "not found".
 */
function memoryAdapter() {
  const rows = new Map<string, { payload: Record<string, unknown>; expiresAt?: number }>();
  const byUserCode = new Map<string, string>();
  const byUid = new Map<string, string>();
  return class MemoryAdapter {
    constructor(private readonly model: string) {}
    private key = (id: string) => `${this.model}:${id}`;
    async upsert(id: string, payload: Record<string, unknown>, expiresIn?: number) {
      rows.set(this.key(id), { payload, ...(expiresIn ? { expiresAt: Date.now() + expiresIn * 1000 } : {}) });
      if (typeof payload.userCode === "string") byUserCode.set(payload.userCode, id);
      if (typeof payload.uid === "string") byUid.set(payload.uid, id);
    }
    async find(id: string) {
      const row = rows.get(this.key(id));
      if (!row) return undefined;
      if (row.expiresAt !== undefined && row.expiresAt + 60_000 <= Date.now()) {
        rows.delete(this.key(id));
        return undefined;
      }
      return row.payload;
    }
    async findByUserCode(userCode: string) {
      const id = byUserCode.get(userCode);
      return id ? this.find(id) : undefined;
    }
    async findByUid(uid: string) {
      const id = byUid.get(uid);
      return id ? this.find(id) : undefined;
    }
    async consume(id: string) {
      const row = rows.get(this.key(id));
      if (row) row.payload.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id: string) {
      rows.delete(this.key(id));
    }
    async revokeByGrantId(grantId: string) {
      for (const [k, row] of rows) if (row.payload.grantId === grantId) rows.delete(k);
    }
  };
}

export async function startOidc(o: OidcOptions = {}): Promise<OidcServer> {
  const { default: ProviderClass } = await loadProvider();
  const http: Server = createServer();
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const port = (http.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;
  const key = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" });
  // oidc-provider's default TTLs, given as numbers so it does not print "you SHOULD change" notices.
  const day = 24 * 3600;
  const provider = new ProviderClass(issuer, {
    adapter: memoryAdapter(),
    jwks: { keys: [{ ...key, kid: randomUUID(), use: "sig", alg: "RS256" }] },
    clients: [
      {
        client_id: CLIENT_ID,
        token_endpoint_auth_method: "none",
        application_type: "native",
        // Native clients may use any port on a loopback redirect (RFC 8252 §7.3).
        redirect_uris: ["http://127.0.0.1/callback"],
        grant_types: ["authorization_code", "refresh_token", DEVICE_GRANT],
        response_types: ["code"],
      },
    ],
    // No cookie keys: unsigned cookies are enough on loopback, and keygrip's compare uses the
    // deprecated crypto.pseudoRandomBytes, which prints a DeprecationWarning.
    ttl: {
      AccessToken: o.accessTokenTtl ?? 3600,
      AuthorizationCode: 60,
      DeviceCode: o.deviceCodeTtl ?? 600,
      IdToken: 3600,
      RefreshToken: 14 * day,
      Interaction: 3600,
      Session: 14 * day,
      Grant: 14 * day,
    },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    renderError: async (ctx: KoaContext, out: Record<string, unknown>) => {
      ctx.type = "html";
      ctx.body = page("Error", `<p class="error">${html(out.error)}: ${html(out.error_description ?? "")}</p>`);
    },
    features: {
      devInteractions: { enabled: false },
      revocation: {
        enabled: true,
        // oidc-provider's default policy, given so it does not print a notice.
        allowedPolicy: async (_ctx: unknown, client: { clientId: string }, token: { clientId: string }) => token.clientId === client.clientId,
      },
      deviceFlow: {
        enabled: true,
        userCodeInputSource: async (ctx: KoaContext, form: string, _out: unknown, err?: { name?: string; userCode?: string }) => {
          const msg = err ? `<p class="error">${html(err.name ?? "error")}</p>` : "<p>Enter the code displayed on your device</p>";
          ctx.body = page("Device sign-in", `${msg}${form.replace("<form", '<form data-choice="approve"')}`);
        },
        userCodeConfirmSource: async (ctx: KoaContext, form: string, _client: unknown, _info: unknown, userCode: string) => {
          const deny = form.replace('name="confirm" value="yes"', 'name="abort" value="yes"').replace("<form", '<form data-choice="deny"');
          ctx.body = page("Confirm device", `<p>Code <code>${html(userCode)}</code></p>${form.replace("<form", '<form data-choice="approve"')}${deny}`);
        },
        successSource: async (ctx: KoaContext) => {
          ctx.body = page("Device signed in", '<p class="done">You can close this page.</p>');
        },
      },
    },
    findAccount: async (_ctx: unknown, sub: string) => ({ accountId: sub, claims: async () => ({ sub }) }),
  });

  const counts: TokenCounts = { arrived: 0, refresh: 0, refreshOk: 0, refreshFailed: 0, invalidGrant: 0, rotations: 0, code: 0, devicePolls: 0, revocation: 0 };
  const slowDown = { left: o.slowDownPolls ?? 0 };
  const server: OidcServer = {
    issuer,
    port,
    counts,
    tokenDelayMs: 0,
    answerDelayAfterRotationMs: o.answerDelayAfterRotationMs ?? 0,
    echoErrors: o.echoErrors ?? false,
    provider,
    driveLogin: (url) => driveLogin(url, { issuer }),
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections?.();
        http.close(() => resolve());
      }),
  };

  type Ctx = KoaContext & { oidc?: { params?: Record<string, unknown>; body?: Record<string, unknown>; entities?: Record<string, unknown> } };
  provider.use(async (raw, next) => {
    const ctx = raw as Ctx;
    const isToken = ctx.path === "/token" && ctx.method === "POST";
    const isRevocation = ctx.path === "/token/revocation" && ctx.method === "POST";
    if (isRevocation) counts.revocation++;
    if (isToken) {
      counts.arrived++;
      if (server.tokenDelayMs) await sleep(server.tokenDelayMs);
      // The caller died during the delay: nothing left to read or answer.
      if (!ctx.req.readable) return;
      if (server.failTokenWith) {
        ctx.status = server.failTokenWith;
        ctx.body = "unavailable";
        return;
      }
    }
    await next();
    if (ctx.path === "/device/auth" && ctx.method === "POST" && o.deviceInterval && ctx.status === 200 && isObject(ctx.body))
      ctx.body = { ...ctx.body, interval: o.deviceInterval };
    if (isToken) {
      const grantType = ctx.oidc?.params?.grant_type;
      const body = ctx.body;
      if (isObject(body) && body.error === "invalid_grant") counts.invalidGrant++;
      if (grantType === "refresh_token") {
        counts.refresh++;
        if (ctx.status === 200) counts.refreshOk++;
        else counts.refreshFailed++;
        if (ctx.status === 200 && ctx.oidc?.entities?.RotatedRefreshToken) {
          counts.rotations++;
          if (server.answerDelayAfterRotationMs) await sleep(server.answerDelayAfterRotationMs);
        }
      } else if (grantType === "authorization_code") counts.code++;
      else if (grantType === DEVICE_GRANT) {
        counts.devicePolls++;
        if (slowDown.left > 0 && isObject(body) && body.error === "authorization_pending") {
          slowDown.left--;
          ctx.body = { error: "slow_down", error_description: "you are polling too quickly and should back off at a reasonable rate" };
        }
        if (o.deviceErrorsAs200 && isObject(ctx.body) && typeof ctx.body.error === "string") ctx.status = 200;
      }
    }
    const isDevice = ctx.path === "/device/auth" && ctx.method === "POST";
    if ((isToken || isRevocation || isDevice) && server.echoErrors && ctx.status >= 400 && isObject(ctx.body) && typeof ctx.body.error === "string")
      ctx.body = { ...ctx.body, error_description: `invalid request: ${stringify((ctx.oidc?.body ?? {}) as Record<string, string>)}` };
  });

  // Koa logs every error; a client that gave up (the killed-caller tests) is not one.
  provider.on("error", (e: unknown) => {
    const code = (e as { code?: string }).code;
    if (code !== "ECONNRESET" && code !== "EPIPE" && code !== "ECONNABORTED") console.error(e);
  });
  const interactions = interactionHandler(provider);
  http.on("request", (req: IncomingMessage, res: ServerResponse) => {
    if (req.url?.startsWith("/interaction/")) {
      interactions(req, res).catch((e: unknown) => {
        res.statusCode = 500;
        res.end(page("Interaction failed", `<p class="error">${html(e instanceof Error ? e.message : e)}</p>`));
      });
      return;
    }
    provider.callback()(req, res);
  });
  return server;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

async function formBody(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

/**
 * Our own login and consent pages at /interaction/<uid>: a login form (any user name), a consent
 * form granting what the request asked for, and a deny form on each (access_denied).
 */
function interactionHandler(provider: Provider) {
  return async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url!, "http://x");
    const [, , uid, action] = url.pathname.split("/");
    const details = await provider.interactionDetails(req, res);
    if (req.method === "GET") {
      const name = details.prompt.name;
      const fields = name === "login" ? '<input name="login" value=""><input name="password" type="password" value="">' : "";
      res.setHeader("content-type", "text/html; charset=utf-8");
      res.end(
        page(
          name === "login" ? "Sign-in" : "Authorize",
          `<p>Scopes: ${html(details.params.scope ?? "")}</p>` +
            `<form data-choice="approve" method="post" action="/interaction/${html(uid)}/${html(name)}"><input type="hidden" name="prompt" value="${html(name)}">${fields}</form>` +
            `<form data-choice="deny" method="post" action="/interaction/${html(uid)}/abort"></form>`,
        ),
      );
      return;
    }
    const body = await formBody(req);
    if (action === "abort") {
      await provider.interactionFinished(req, res, { error: "access_denied", error_description: "End-User aborted interaction" }, { mergeWithLastSubmission: false });
      return;
    }
    if (action === "login") {
      await provider.interactionFinished(req, res, { login: { accountId: body.get("login") || "alice" } }, { mergeWithLastSubmission: false });
      return;
    }
    // Consent: grant what is missing, as oidc-provider's own example does.
    const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session!.accountId, clientId: String(details.params.client_id) });
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(" "));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(" "));
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: details.grantId ? {} : { grantId } }, { mergeWithLastSubmission: true });
  };
}

/**
 * A fresh grant for `profile`: authorization request (with `prompt=consent` when it asks for
 * offline_access, so a refresh token comes back), the pages played through, our own listener
 * catching the redirect, then the code exchange. Scopes default to `openid offline_access`.
 */
export async function loginGrant(oidc: OidcServer, profile: import("../../src/oauth/config.ts").Profile, scopes = profile.scopes.length ? profile.scopes : ["openid", "offline_access"]) {
  const { authorizationRequest, exchangeCode, resolveServer } = await import("../../src/oauth/protocol.ts");
  const server = await resolveServer(profile, { need: "authorize" });
  let caught!: (u: URL) => void;
  const redirected = new Promise<URL>((r) => (caught = r));
  const listener = createServer((req, res) => {
    caught(new URL(req.url!, "http://127.0.0.1"));
    res.end("ok");
  });
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  try {
    const redirect = `http://127.0.0.1:${(listener.address() as AddressInfo).port}/callback`;
    const request = await authorizationRequest(server, redirect, scopes, scopes.includes("offline_access") ? { prompt: "consent" } : {});
    await oidc.driveLogin(request.url.href);
    return { server, request, grant: await exchangeCode(server, request, await redirected) };
  } finally {
    listener.closeAllConnections();
    listener.close();
  }
}
