/**
 * The few Vault HTTP API calls sync needs (https://developer.hashicorp.com/vault/api-docs):
 * token lookup-self / renew-self and KV v2 read / check-and-set write, through ofetch (base URL,
 * retries, hooks) over a fetch that bounds each attempt, answer body included, by --timeout.
 *
 * - Retries: the idempotent GETs (lookup-self, the KV read) are retried after a network error or
 *   a 5xx, RETRIES times, backing off RETRY_DELAYS_MS. POSTs (renew-self, the check-and-set write)
 *   never are. A timed-out attempt is not retried, so --timeout bounds what a hung Vault costs.
 * - Redirects are not followed: fetch would carry X-Vault-Token to whatever host the redirect names.
 * - Failures are our error classes: no answer, a timeout or 5xx → UnavailableError (exit 5);
 *   401/403 → AuthRefusedError (exit 4). Vault's `{"errors":[…]}` texts are untrusted: escaped,
 *   capped, the token and anything token-like masked, and withheld entirely for the KV write,
 *   whose body (the credential) Vault's parse errors can echo in fragments.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { FetchError, ofetch, type FetchContext } from "ofetch";
import { AuthRefusedError, TokenctlError, UnavailableError } from "../errors.ts";

/** A KV v2 write lost a check-and-set race: someone wrote a newer version since we read. */
export class CasConflictError extends TokenctlError {
  override name = "CasConflictError";
}

/** Vault's own fixed error texts: quoted even for the KV write. */
const QUOTABLE = new Set([
  "permission denied",
  "Vault is sealed",
  "check-and-set parameter did not match the current version",
  "missing client token",
  "invalid token",
  "no data provided",
  "check-and-set parameter required for this call",
]);

/** How often an idempotent request is retried after a network error or 5xx, and the waits before each retry. */
export const RETRIES = 2;
export const RETRY_DELAYS_MS = [250, 500] as const;
const RETRY_STATUS = [500, 502, 503, 504];
/** Longest error text quoted from Vault, per text; at most MAX_ERRORS texts. */
export const MAX_ERROR_CHARS = 200;
const MAX_ERRORS = 3;

export interface TokenInfo {
  displayName: string;
  policies: string[];
  identityPolicies: string[];
  /** Seconds left, 0 for a token that does not expire. */
  ttl: number;
  renewable: boolean;
}

/** A KV v2 secret's latest version; version 0 and empty data when it does not exist. */
export interface KvSecret {
  version: number;
  data: Record<string, unknown>;
}

/** What sync needs from Vault; the real one is VaultClient, tests may pass their own. */
export interface VaultApi {
  lookupSelf(): Promise<TokenInfo>;
  renewSelf(): Promise<void>;
  readKv(mount: string, path: string): Promise<KvSecret>;
  /** Write `data` as the new version if the current version is `cas`; returns the new version. */
  writeKv(mount: string, path: string, data: Record<string, unknown>, cas: number): Promise<number>;
}

export interface VaultClientOptions {
  /** Vault's address, e.g. https://vault.example:8200. */
  addr: string;
  token: string;
  /** Per-request limit in milliseconds. */
  timeoutMs: number;
  fetch?: typeof globalThis.fetch;
  /** The wait before a retry; tests pass one that records instead of sleeping. */
  sleep?: (ms: number) => Promise<void>;
  /** The deadline of one attempt; tests pass a signal they control. */
  deadline?: (ms: number) => AbortSignal;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s): s is string => typeof s === "string") : []);

/**
 * Vault's error texts as we show them: the token and any long token-like run masked (Vault can
 * echo what it was sent), control characters escaped, each text capped, at most three.
 */
export function quoteVaultErrors(errors: string[], token: string): string {
  const one = (text: string) => {
    const masked = (token ? text.split(token).join("[redacted]") : text)
      .replace(/[A-Za-z0-9_+=.-]{24,}/g, "[redacted]")
      .replace(/[\t\r\n][\t\r\n ]*/g, " ")
      .replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)
      .trim();
    return masked.length > MAX_ERROR_CHARS ? `${masked.slice(0, MAX_ERROR_CHARS)}…` : masked;
  };
  const shown = errors.slice(0, MAX_ERRORS).map(one).filter(Boolean);
  return errors.length > MAX_ERRORS ? `${shown.join("; ")}; …` : shown.join("; ");
}

/** A timed-out attempt. Named AbortError so ofetch does not retry it (an abort is final for ofetch). */
class AttemptTimeout extends Error {
  override name = "AbortError";
}

/** Statuses whose answers have no body (a Response refuses one). */
const NULL_BODY = new Set([101, 204, 205, 304]);

/**
 * fetch with one deadline per attempt covering the answer's body too (ofetch's own timeout stops
 * at the headers, so a Vault that stalls mid-body would hang the timer job).
 */
function fetchWithDeadline(fetchImpl: typeof globalThis.fetch, timeoutMs: number, deadline: (ms: number) => AbortSignal): typeof globalThis.fetch {
  return (async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    const signal = deadline(timeoutMs);
    try {
      const res = await fetchImpl(input, { ...init, signal });
      const body = NULL_BODY.has(res.status) ? null : await res.arrayBuffer();
      return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
    } catch (e) {
      if (signal.aborted) throw new AttemptTimeout("attempt timed out", { cause: e });
      throw e;
    }
  }) as typeof globalThis.fetch;
}

/** `/v1/<mount>/data/<path>` with each segment escaped. */
export function kvDataPath(mount: string, path: string): string {
  const enc = (p: string) => p.split("/").filter(Boolean).map(encodeURIComponent).join("/");
  return `/v1/${enc(mount)}/data/${enc(path)}`;
}

/** Vault's address without user info, query or trailing slash: safe to show. */
export function displayAddr(addr: string): string {
  try {
    const u = new URL(addr);
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, "")}`;
  } catch {
    return "(invalid address)";
  }
}

/** The Vault HTTP API client; counts requests (retries included) so tests and the benchmark can report them. */
export class VaultClient implements VaultApi {
  requests = 0;
  readonly #base: string;
  readonly #token: string;
  readonly #timeoutMs: number;
  readonly #fetch: typeof ofetch;

  constructor(options: VaultClientOptions) {
    this.#base = displayAddr(options.addr);
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs;
    const wait = options.sleep ?? ((ms: number) => sleep(ms));
    this.#fetch = ofetch.create(
      {
        baseURL: this.#base,
        headers: { "X-Vault-Token": this.#token, "X-Vault-Request": "true" },
        redirect: "manual",
        responseType: "text",
        retryStatusCodes: RETRY_STATUS,
        retryDelay: 0,
        onRequest: async (ctx: FetchContext) => {
          this.requests++;
          // ofetch counts `retry` down on each retry: fewer left than granted means this is one.
          const left = typeof ctx.options.retry === "number" ? ctx.options.retry : 0;
          if (left < RETRIES && ctx.options.method === "GET") await wait(RETRY_DELAYS_MS[RETRIES - left - 1] ?? RETRY_DELAYS_MS.at(-1)!);
        },
      },
      { fetch: fetchWithDeadline(options.fetch ?? globalThis.fetch, options.timeoutMs, options.deadline ?? ((ms) => AbortSignal.timeout(ms))) },
    );
  }

  async lookupSelf(): Promise<TokenInfo> {
    const { body } = await this.#call("GET", "/v1/auth/token/lookup-self");
    const data = isObject(body) && isObject(body.data) ? body.data : undefined;
    if (!data) throw this.#shapeError("GET /v1/auth/token/lookup-self", "no data object");
    return {
      displayName: typeof data.display_name === "string" ? data.display_name : "",
      policies: strings(data.policies),
      identityPolicies: strings(data.identity_policies),
      ttl: typeof data.ttl === "number" ? data.ttl : 0,
      renewable: data.renewable === true,
    };
  }

  async renewSelf(): Promise<void> {
    const { body } = await this.#call("POST", "/v1/auth/token/renew-self", {});
    if (!isObject(body) || !isObject(body.auth)) throw this.#shapeError("POST /v1/auth/token/renew-self", "no auth object");
  }

  async readKv(mount: string, path: string): Promise<KvSecret> {
    const url = kvDataPath(mount, path);
    const { status, body } = await this.#call("GET", url, undefined, [404]);
    const outer = isObject(body) && isObject(body.data) ? body.data : undefined;
    const meta = outer && isObject(outer.metadata) ? outer.metadata : undefined;
    // 404 is a missing secret ({"errors":[]}), or a deleted latest version (data null, metadata
    // present): writing over that one needs its version as cas, not 0.
    if (status === 404) return { version: meta && typeof meta.version === "number" ? meta.version : 0, data: {} };
    if (!outer || !meta || typeof meta.version !== "number") throw this.#shapeError(`GET ${url}`, "no data.metadata.version; is the mount a KV version 2 engine?");
    // A deleted latest version reads as data: null; writing over it needs its version as cas.
    return { version: meta.version, data: isObject(outer.data) ? outer.data : {} };
  }

  async writeKv(mount: string, path: string, data: Record<string, unknown>, cas: number): Promise<number> {
    const url = kvDataPath(mount, path);
    const { body } = await this.#call("POST", url, { options: { cas }, data });
    const out = isObject(body) && isObject(body.data) ? body.data : undefined;
    if (!out || typeof out.version !== "number") throw this.#shapeError(`POST ${url}`, "no data.version");
    return out.version;
  }

  #shapeError(what: string, found: string): TokenctlError {
    return new TokenctlError(`Vault at ${this.#base} answered ${what} with an unexpected shape (${found})`);
  }

  async #call(method: "GET" | "POST", path: string, json?: unknown, okStatuses: number[] = []): Promise<{ status: number; body: unknown }> {
    const what = `${method} ${path}`;
    let status: number;
    let text: string;
    let location: string | null = null;
    try {
      const res = await this.#fetch.raw<string, "text">(path, {
        method,
        body: json === undefined ? undefined : JSON.stringify(json),
        headers: json === undefined ? undefined : { "Content-Type": "application/json" },
        retry: method === "GET" ? RETRIES : 0,
      });
      status = res.status;
      text = typeof res._data === "string" ? res._data : "";
      location = res.headers.get("Location");
    } catch (e) {
      if (!(e instanceof FetchError) || !e.response) throw this.#noAnswer(what, e instanceof FetchError ? e.cause : e);
      status = e.response.status;
      text = typeof e.data === "string" ? e.data : "";
    }
    if (status >= 300 && status < 400) {
      const to = displayAddr(new URL(location ?? "/", this.#base).href);
      throw new UnavailableError(`Vault at ${this.#base} redirected ${what} to ${to} (HTTP ${status}); tokenctl does not follow redirects with the token`, {
        hint: `Point --addr at the node it names: --addr ${new URL(to).origin}`,
      });
    }
    let body: unknown;
    try {
      body = text === "" ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    const ok = status >= 200 && status < 300;
    if (ok || okStatuses.includes(status)) {
      if (ok && body === undefined && text !== "") throw this.#shapeError(what, "a body that is not JSON");
      return { status, body };
    }
    const errors = isObject(body) ? strings(body.errors) : [];
    // The KV write sent the credential: only Vault's fixed texts are quoted for it.
    const shown = method === "POST" && json !== undefined && path.includes("/data/") ? errors.filter((e) => QUOTABLE.has(e)) : errors;
    const quoted = quoteVaultErrors(shown, this.#token);
    const said = quoted ? `: ${quoted}` : errors.length > 0 ? " (Vault's error text withheld: it may echo the credential sent)" : "";
    const where = `HTTP ${status}${said}`;
    if (status === 503)
      throw new UnavailableError(`Vault at ${this.#base} is sealed or not active (${where}) for ${what}`, { hint: `Check its state: curl -sS ${this.#base}/v1/sys/health` });
    if (status === 502 || status === 504) throw new UnavailableError(`Vault at ${this.#base} could not be reached through its proxy (${where}) for ${what}`);
    if (status === 401 || status === 403)
      throw new AuthRefusedError(`Vault refused the token for ${what} (${where})`, {
        hint: `Check the token's policy allows this path: vault token capabilities ${path.replace(/^\/v1\//, "")}`,
      });
    if (status === 400 && errors.includes("check-and-set parameter did not match the current version"))
      throw new CasConflictError(`Vault's secret changed since it was read (${where}) for ${what}`);
    throw new TokenctlError(`Vault answered ${what} with ${where}`);
  }

  /** No answer at all: the attempt's deadline passed, or the connection failed (after the retries a GET gets). */
  #noAnswer(what: string, cause: unknown): UnavailableError {
    if (cause instanceof AttemptTimeout)
      return new UnavailableError(`Vault at ${this.#base} did not answer ${what} within ${this.#timeoutMs / 1000} s`, {
        hint: "Check Vault is up, or allow longer with --timeout SECONDS",
      });
    // Bun puts the code on the error (ConnectionRefused), Node's fetch on its cause (ECONNREFUSED).
    const codeOf = (e: unknown) => (typeof e === "object" && e !== null && "code" in e && typeof e.code === "string" ? e.code : undefined);
    const code = codeOf(cause) ?? codeOf(cause instanceof Error ? cause.cause : undefined) ?? (cause instanceof Error ? cause.name : "network error");
    return new UnavailableError(`Vault at ${this.#base} is unreachable (${code})`, { hint: `Check the address: curl -sS ${this.#base}/v1/sys/health` });
  }
}
