/**
 * Authorization code + PKCE login with a loopback redirect (RFC 8252 §7.3): a listener on
 * 127.0.0.1 at a random port waits for the redirect carrying this login's state; anything else
 * that reaches it gets an error page and the login keeps waiting. Also what both logins share:
 * the scopes to ask for, the authorization parameters, and the advice when no refresh token came.
 */
import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { UnavailableError } from "../errors.ts";
import type { Profile } from "./config.ts";
import { loginHint } from "./errors.ts";
import { recordFromGrant, type OAuthRecord } from "./record.ts";
import { authorizationRequest, exchangeCode, type AuthorizationRequest, type Server } from "./protocol.ts";

/**
 * The scopes a login asks for: the profile's; when it names none and discovery lists
 * `offline_access`, `openid offline_access` (openid when listed too), so the credential refreshes.
 */
export function loginScopes(profile: Pick<Profile, "scopes">, server: Pick<Server, "as">): string[] {
  if (profile.scopes.length) return profile.scopes;
  const supported = server.as.scopes_supported ?? [];
  if (!supported.includes("offline_access")) return [];
  return [...(supported.includes("openid") ? ["openid"] : []), "offline_access"];
}

/**
 * Extra authorization request parameters: `prompt=consent` when asking for offline_access (OIDC
 * Core §11: providers grant it only then, and drop it silently otherwise), the profile's
 * `authorizationParams`, and its `prompt`, which overrides ours.
 */
export function authorizationParams(profile: Pick<Profile, "authorizationParams" | "prompt">, scopes: string[]): Record<string, string> {
  return {
    ...(scopes.includes("offline_access") ? { prompt: "consent" } : {}),
    ...(profile.authorizationParams ?? {}),
    ...(profile.prompt ? { prompt: profile.prompt } : {}),
  };
}

/**
 * Why a fresh login's credential cannot be refreshed and what to change, or undefined when it can.
 * The commands suggested log in to the server's profile.
 */
export function noRefreshAdvice(record: OAuthRecord, requested: string[], server: Pick<Server, "as" | "profile">): string | undefined {
  if (record.refreshToken) return undefined;
  const expires = new Date(record.expiresAt).toISOString();
  const head = `The server issued no refresh token: this credential cannot be refreshed and stops working at ${expires}.`;
  const login = loginHint(server.profile);
  if (!requested.includes("offline_access")) {
    const listed = (server.as.scopes_supported ?? []).includes("offline_access");
    return `${head} Ask for offline_access${listed ? " (the server supports it)" : ""}: ${login} --scope '${[...requested, "offline_access"].join(" ")}', or add it to the profile's scopes in config.json.`;
  }
  return `${head} It dropped offline_access: some providers need a parameter of their own, set as "authorizationParams" (and "prompt") in the profile in config.json; see docs/oauth-providers.md. Then: ${login}`;
}

export interface LoginOptions {
  server: Server;
  scopes: string[];
  /** Extra authorization request parameters (authorizationParams()). */
  params?: Record<string, string>;
  /** Show the URL to the user (print it, open a browser); tests drive the login from here. */
  openUrl: (url: string) => void | Promise<void>;
  /** Told (without any of the request's content) when a request with a wrong state was turned away. */
  onStray?: (what: "no state" | "wrong state") => void;
  /** How long to wait for the redirect. */
  timeoutMs: number;
  now?: () => number;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function sendPage(res: ServerResponse, status: number, title: string, body: string): Promise<void> {
  const html = `<!doctype html><meta charset="utf-8"><title>${escapeHtml(title)}</title><h1>${escapeHtml(title)}</h1><p>${escapeHtml(body)}</p>`;
  res.writeHead(status, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store", connection: "close" });
  return new Promise((resolve) => res.end(html, () => resolve()));
}

/** Constant-time comparison of the redirect's state with ours. */
function stateMatches(got: string | null, want: string): boolean {
  if (got === null) return false;
  const a = Buffer.from(got);
  const b = Buffer.from(want);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Run the browser login; resolves with the record to store. */
export async function login(o: LoginOptions): Promise<OAuthRecord> {
  const now = o.now ?? Date.now;
  let settle!: { resolve: (r: OAuthRecord) => void; reject: (e: unknown) => void };
  const done = new Promise<OAuthRecord>((resolve, reject) => (settle = { resolve, reject }));
  done.catch(() => {}); // it may settle while openUrl still runs; the race below reports it
  let handled = false;
  let request: AuthorizationRequest | undefined;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    // Not worth a warning: browsers ask for /favicon.ico after showing our page.
    if (url.pathname !== "/callback" || req.method !== "GET" || !request)
      return sendPage(res, 404, "Not found", "This is tokenctl's login listener.");
    if (handled) return sendPage(res, 400, "Login already finished", "This login has already received its answer. You can close this window.");
    const state = url.searchParams.get("state");
    if (!stateMatches(state, request.state)) {
      // Anyone on this machine can reach the port: refuse, say nothing about the request, keep waiting.
      o.onStray?.(state === null ? "no state" : "wrong state");
      return sendPage(res, 400, "Not this login", "This request does not carry the state of the login in progress; it was ignored. The login is still waiting.");
    }
    handled = true;
    try {
      const at = now();
      const grant = await exchangeCode(o.server, request, url, AbortSignal.timeout(Math.max(1000, Math.min(o.timeoutMs, 60_000))));
      const record = recordFromGrant(grant, at, { scopes: o.scopes });
      await sendPage(res, 200, "Logged in", "tokenctl has the credential. You can close this window.");
      settle.resolve(record);
    } catch (e) {
      // exchangeCode's messages carry server text only through redact.ts; the page escapes it too.
      await sendPage(res, 400, "Login failed", e instanceof Error ? e.message : "The login failed");
      settle.reject(e);
    }
  };

  const listener = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => settle.reject(e));
  });
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (listener.address() as AddressInfo).port;
  const timeout = new AbortController();
  try {
    request = await authorizationRequest(o.server, `http://127.0.0.1:${port}/callback`, o.scopes, o.params ?? {});
    const expired = sleep(o.timeoutMs, undefined, { signal: timeout.signal }).then(() => {
      throw new UnavailableError(`No login redirect arrived within ${Math.round(o.timeoutMs / 1000)} s`, {
        hint: `Run ${loginHint(o.server.profile)} again (--timeout to wait longer), and finish it in the browser`,
      });
    });
    expired.catch(() => {}); // aborted when the login ends first
    await o.openUrl(request.url.href);
    return await Promise.race([done, expired]);
  } finally {
    timeout.abort();
    listener.close();
    listener.closeAllConnections();
  }
}
