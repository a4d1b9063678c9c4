/**
 * The few Vault HTTP API calls sync needs (https://developer.hashicorp.com/vault/api-docs):
 * token lookup-self / renew-self and KV v2 read / check-and-set write.
 *
 * Failures are mapped to our error classes: no answer, a timeout or 503 (sealed, standby) →
 * UnavailableError (exit 5); 401/403 → AuthRefusedError (exit 4). Neither the Vault token nor
 * Vault's error body reaches a message: the body can echo what we sent, which is secret. Only
 * Vault's own fixed error texts that we know carry nothing secret are quoted.
 */
import { AuthRefusedError, TokenctlError, UnavailableError } from "../errors.ts";

/** A KV v2 write lost a check-and-set race: someone wrote a newer version since we read. */
export class CasConflictError extends TokenctlError {
  override name = "CasConflictError";
}

/** Vault's own error texts that we may quote; anything else is withheld. */
const QUOTABLE = [
  "permission denied",
  "Vault is sealed",
  "check-and-set parameter did not match the current version",
  "missing client token",
  "invalid token",
  "no data provided",
  "check-and-set parameter required for this call",
];

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
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s): s is string => typeof s === "string") : []);

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

/** The Vault HTTP API client; counts requests so the benchmark can report them. */
export class VaultClient implements VaultApi {
  requests = 0;
  readonly #base: string;
  readonly #token: string;
  readonly #timeoutMs: number;
  readonly #fetch: typeof globalThis.fetch;

  constructor(options: VaultClientOptions) {
    this.#base = displayAddr(options.addr);
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs;
    this.#fetch = options.fetch ?? globalThis.fetch;
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

  async #call(method: string, path: string, json?: unknown, okStatuses: number[] = []): Promise<{ status: number; body: unknown }> {
    const what = `${method} ${path}`;
    this.requests++;
    let res: Response;
    try {
      res = await this.#fetch(`${this.#base}${path}`, {
        method,
        headers: { "X-Vault-Token": this.#token, ...(json === undefined ? {} : { "Content-Type": "application/json" }), "X-Vault-Request": "true" },
        body: json === undefined ? undefined : JSON.stringify(json),
        signal: AbortSignal.timeout(this.#timeoutMs),
        // Not followed: fetch would carry X-Vault-Token to whatever host the redirect names.
        redirect: "manual",
      });
    } catch (e) {
      const name = e instanceof Error ? e.name : "";
      if (name === "TimeoutError" || name === "AbortError")
        throw new UnavailableError(`Vault at ${this.#base} did not answer ${what} within ${this.#timeoutMs / 1000} s`, {
          hint: "Check Vault is up, or allow longer with --timeout SECONDS",
        });
      const code = typeof e === "object" && e !== null && "code" in e ? String(e.code) : name || "network error";
      throw new UnavailableError(`Vault at ${this.#base} is unreachable (${code})`, { hint: `Check the address: curl -sS ${this.#base}/v1/sys/health` });
    }
    if (res.status >= 300 && res.status < 400) {
      const to = displayAddr(new URL(res.headers.get("Location") ?? "/", this.#base).href);
      throw new UnavailableError(`Vault at ${this.#base} redirected ${what} to ${to} (HTTP ${res.status}); tokenctl does not follow redirects with the token`, {
        hint: `Point --addr at the node it names: --addr ${new URL(to).origin}`,
      });
    }
    let text: string;
    try {
      text = await res.text();
    } catch (e) {
      const name = e instanceof Error ? e.name : "";
      throw new UnavailableError(
        name === "TimeoutError" || name === "AbortError"
          ? `Vault at ${this.#base} did not finish answering ${what} within ${this.#timeoutMs / 1000} s`
          : `Vault at ${this.#base} broke off its answer to ${what}`,
        { hint: "Check Vault is up, or allow longer with --timeout SECONDS" },
      );
    }
    let body: unknown;
    try {
      body = text === "" ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (res.ok || okStatuses.includes(res.status)) {
      if (res.ok && body === undefined && text !== "") throw this.#shapeError(what, "a body that is not JSON");
      return { status: res.status, body };
    }
    const errors = isObject(body) ? strings(body.errors) : [];
    const quoted = errors.filter((e) => QUOTABLE.includes(e));
    const said = quoted.length > 0 ? `: ${quoted.join("; ")}` : errors.length > 0 ? " (Vault's error text withheld: it may echo secret data)" : "";
    const status = `HTTP ${res.status}${said}`;
    if (res.status === 503)
      throw new UnavailableError(`Vault at ${this.#base} is sealed or not active (${status}) for ${what}`, { hint: `Check its state: curl -sS ${this.#base}/v1/sys/health` });
    if (res.status === 502 || res.status === 504)
      throw new UnavailableError(`Vault at ${this.#base} could not be reached through its proxy (${status}) for ${what}`);
    if (res.status === 401 || res.status === 403)
      throw new AuthRefusedError(`Vault refused the token for ${what} (${status})`, {
        hint: `Check the token's policy allows this path: vault token capabilities ${path.replace(/^\/v1\//, "")}`,
      });
    if (res.status === 400 && errors.includes("check-and-set parameter did not match the current version"))
      throw new CasConflictError(`Vault's secret changed since it was read (${status}) for ${what}`);
    throw new TokenctlError(`Vault answered ${what} with ${status}`);
  }
}
