/**
 * Authorization code + PKCE login with a loopback redirect (RFC 8252 §7.3): a one-shot listener on
 * 127.0.0.1 at a random port receives the redirect, the state is checked, the code exchanged.
 */
import { UnavailableError } from "../errors.ts";
import { lock as flock } from "../fs/lock.ts";
import { dirname } from "node:path";
import { ensurePrivateDir } from "../fs/secure.ts";
import { DEFAULT_EXPIRES_IN_S } from "./refresh.ts";
import type { OAuthRecord } from "./record.ts";
import type { CredentialStore } from "./store.ts";
import { authorizationRequest, exchangeCode, type Server } from "./protocol.ts";

export interface LoginOptions {
  server: Server;
  scopes: string[];
  /** Show the URL to the user (print it, open a browser); tests drive the login from here. */
  openUrl: (url: string) => void | Promise<void>;
  /** How long to wait for the redirect. */
  timeoutMs: number;
  now?: () => number;
}

const page = (title: string, body: string) =>
  new Response(`<!doctype html><meta charset="utf-8"><title>${title}</title><h1>${title}</h1><p>${body}</p>`, {
    headers: { "content-type": "text/html; charset=utf-8" },
  });

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Run the browser login; resolves with the record to store. */
export async function login(o: LoginOptions): Promise<OAuthRecord> {
  const now = o.now ?? Date.now;
  let settle!: { resolve: (r: OAuthRecord) => void; reject: (e: unknown) => void };
  const done = new Promise<OAuthRecord>((resolve, reject) => (settle = { resolve, reject }));
  let handled = false;
  let request: Awaited<ReturnType<typeof authorizationRequest>> | undefined;
  const listener = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      if (url.pathname !== "/callback" || handled || !request) return new Response("Not found", { status: 404 });
      handled = true;
      try {
        const grant = await exchangeCode(o.server, request, url, AbortSignal.timeout(Math.max(1000, o.timeoutMs)));
        const record: OAuthRecord = {
          accessToken: grant.accessToken,
          ...(grant.refreshToken ? { refreshToken: grant.refreshToken } : {}),
          expiresAt: now() + (grant.expiresIn ?? DEFAULT_EXPIRES_IN_S) * 1000,
          scopes: grant.scope ? grant.scope.split(" ").filter(Boolean) : o.scopes,
        };
        settle.resolve(record);
        return page("Logged in", "tokenctl has the credential. You can close this window.");
      } catch (e) {
        settle.reject(e);
        return page("Login failed", escape(e instanceof Error ? e.message : String(e)));
      }
    },
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    // OIDC Core §11: providers grant offline_access (a refresh token) only with prompt=consent.
    const extra: Record<string, string> = o.scopes.includes("offline_access") ? { prompt: "consent" } : {};
    request = await authorizationRequest(o.server, `http://127.0.0.1:${listener.port}/callback`, o.scopes, extra);
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new UnavailableError(`No login redirect arrived within ${Math.round(o.timeoutMs / 1000)} s`, {
              hint: "Run tokenctl oauth login again (--timeout to wait longer), and finish the login in the browser",
            }),
          ),
        o.timeoutMs,
      );
    });
    await o.openUrl(request.url.href);
    return await Promise.race([done, timeout]);
  } finally {
    clearTimeout(timer);
    // Let the browser receive its page before the listener goes.
    await Promise.race([listener.stop(false), Bun.sleep(1000)]);
  }
}

/** Write a record under the store's refresh lock, so a login never interleaves with a refresh. */
export async function saveLocked(store: CredentialStore, record: OAuthRecord, timeoutMs: number): Promise<void> {
  ensurePrivateDir(dirname(store.lockPath));
  const held = await flock(store.lockPath, timeoutMs);
  try {
    await store.write(record);
  } finally {
    held.release();
  }
}

/** Delete a record under the store's refresh lock; false when there was none. */
export async function removeLocked(store: CredentialStore, timeoutMs: number): Promise<boolean> {
  ensurePrivateDir(dirname(store.lockPath));
  const held = await flock(store.lockPath, timeoutMs);
  try {
    return await store.remove();
  } finally {
    held.release();
  }
}
