/**
 * A Vault API test server (Bun.serve on 127.0.0.1, port 0) for the endpoints tokenctl uses,
 * following Vault's documented behaviour:
 *  - https://developer.hashicorp.com/vault/api-docs/auth/token (lookup-self, renew-self)
 *  - https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2 (read / create-update with cas)
 * Responses use Vault's envelope {request_id, lease_id, renewable, lease_duration, data, wrap_info,
 * warnings, auth}; errors are {"errors":[...]}: 403 "permission denied" without a valid token or
 * outside the token's paths, 404 {"errors":[]} for a missing secret, 400 for a cas mismatch,
 * 503 "Vault is sealed" when sealed. A KV v2 write replaces the whole data (no merge): keeping
 * sibling fields is the client's job. Hooks: a delay, a concurrent writer, a forced failure.
 */
import { randomUUID } from "node:crypto";

export interface TokenSpec {
  displayName: string;
  policies: string[];
  identityPolicies?: string[];
  /** Path patterns (Vault ACL style, `*` suffix = prefix) this token may read and write, e.g. "secret/data/claude/*". */
  paths: string[];
  ttl?: number;
  renewable?: boolean;
}

interface Version {
  data: Record<string, unknown> | null;
  created_time: string;
  deletion_time: string;
  destroyed: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  token: string | null;
  body: string;
}

export interface VaultServer {
  url: string;
  port: number;
  requests: RecordedRequest[];
  sealed: boolean;
  /** Milliseconds to wait before answering each request. */
  delayMs: number;
  tokens: Map<string, TokenSpec>;
  /** Run once before the next KV write is handled (e.g. a concurrent writer bumping the version). */
  beforeNextWrite?: () => void;
  /** Answer the next request matching `match` with this status and body instead. */
  failNext?: { match: (method: string, path: string) => boolean; status: number; body: unknown };
  /** Write a new version directly (as another machine would); returns its version. */
  put(mount: string, path: string, data: Record<string, unknown>): number;
  /** Soft-delete the latest version, as `vault kv delete` does. */
  softDelete(mount: string, path: string): void;
  /** The latest version's data, or undefined. */
  get(mount: string, path: string): { version: number; data: Record<string, unknown> | null } | undefined;
  stop(): void;
}

export interface VaultServerOptions {
  tokens?: Record<string, TokenSpec>;
  /** KV v2 mounts, default ["secret"]. */
  mounts?: string[];
}

const now = () => new Date().toISOString();

function envelope(fields: { data?: unknown; auth?: unknown; warnings?: string[] | null }): Record<string, unknown> {
  return {
    request_id: randomUUID(),
    lease_id: "",
    renewable: false,
    lease_duration: 0,
    data: fields.data ?? null,
    wrap_info: null,
    warnings: fields.warnings ?? null,
    auth: fields.auth ?? null,
  };
}

const json = (status: number, body: unknown) => Response.json(body, { status, headers: { "Cache-Control": "no-store" } });
const errors = (status: number, ...messages: string[]) => json(status, { errors: messages });

/** Vault ACL-ish match: exact path, or a pattern ending in `*` matching any suffix. */
function allowed(patterns: string[], path: string): boolean {
  return patterns.some((p) => (p.endsWith("*") ? path.startsWith(p.slice(0, -1)) : p === path));
}

export function startVaultServer(options: VaultServerOptions = {}): VaultServer {
  const mounts = new Set(options.mounts ?? ["secret"]);
  const store = new Map<string, Version[]>();
  const accessors = new Map<string, string>();
  const created = Math.floor(Date.now() / 1000);

  const writeVersion = (key: string, data: Record<string, unknown>): number => {
    const versions = store.get(key) ?? [];
    versions.push({ data, created_time: now(), deletion_time: "", destroyed: false });
    store.set(key, versions);
    return versions.length;
  };
  const metadataOf = (v: Version, version: number) => ({
    created_time: v.created_time,
    custom_metadata: null,
    deletion_time: v.deletion_time,
    destroyed: v.destroyed,
    version,
  });

  const server: VaultServer = {
    url: "",
    port: 0,
    requests: [],
    sealed: false,
    delayMs: 0,
    tokens: new Map(Object.entries(options.tokens ?? {})),
    put: (mount, path, data) => writeVersion(`${mount}/${path}`, data),
    softDelete(mount, path) {
      const latest = store.get(`${mount}/${path}`)?.at(-1);
      if (latest) Object.assign(latest, { data: null, deletion_time: now() });
    },
    get(mount, path) {
      const versions = store.get(`${mount}/${path}`);
      return versions?.length ? { version: versions.length, data: versions[versions.length - 1]!.data } : undefined;
    },
    stop: () => bun.stop(true),
  };

  async function handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const method = req.method;
    const body = method === "GET" ? "" : await req.text();
    const token = req.headers.get("X-Vault-Token");
    server.requests.push({ method, path: url.pathname, token, body });
    if (server.delayMs > 0) await Bun.sleep(server.delayMs);
    const forced = server.failNext;
    if (forced && forced.match(method, url.pathname)) {
      server.failNext = undefined;
      return json(forced.status, forced.body);
    }
    if (!url.pathname.startsWith("/v1/")) return errors(404);
    if (server.sealed) return errors(503, "Vault is sealed");
    const spec = token ? server.tokens.get(token) : undefined;
    if (!token || !spec) return errors(403, "permission denied");
    const path = url.pathname.slice("/v1/".length);

    if (path === "auth/token/lookup-self") {
      if (method !== "GET" && method !== "POST") return errors(405);
      if (!accessors.has(token)) accessors.set(token, randomUUID().replaceAll("-", "").slice(0, 24));
      const ttl = spec.ttl ?? 2764800;
      return json(
        200,
        envelope({
          data: {
            accessor: accessors.get(token),
            creation_time: created,
            creation_ttl: ttl,
            display_name: spec.displayName,
            entity_id: "",
            expire_time: ttl ? new Date(Date.now() + ttl * 1000).toISOString() : null,
            explicit_max_ttl: 0,
            id: token,
            identity_policies: spec.identityPolicies ?? [],
            issue_time: new Date(created * 1000).toISOString(),
            meta: null,
            num_uses: 0,
            orphan: false,
            path: "auth/token/create",
            policies: spec.policies,
            renewable: spec.renewable ?? true,
            ttl,
            type: "service",
          },
        }),
      );
    }
    if (path === "auth/token/renew-self") {
      if (method !== "POST" && method !== "PUT") return errors(405);
      if (spec.renewable === false) return errors(400, "lease is not renewable");
      return json(
        200,
        envelope({
          auth: {
            client_token: token,
            accessor: accessors.get(token) ?? "",
            policies: spec.policies,
            token_policies: spec.policies,
            identity_policies: spec.identityPolicies ?? [],
            metadata: null,
            lease_duration: spec.ttl ?? 2764800,
            renewable: true,
            entity_id: "",
            token_type: "service",
            orphan: false,
            mfa_requirement: null,
            num_uses: 0,
          },
        }),
      );
    }

    const m = /^([^/]+)\/data\/(.+)$/.exec(path);
    if (!m || !mounts.has(m[1]!)) return errors(404, `1 error occurred:\n\t* unsupported path\n\n`);
    if (!allowed(spec.paths, path)) return errors(403, "permission denied");
    const key = `${m[1]}/${decodeURIComponent(m[2]!)}`;
    const versions = store.get(key) ?? [];

    if (method === "GET") {
      const latest = versions[versions.length - 1];
      if (!latest) return errors(404);
      const meta = metadataOf(latest, versions.length);
      // A deleted or destroyed latest version reads as 404 with data null and its metadata.
      if (latest.data === null) return json(404, envelope({ data: { data: null, metadata: meta } }));
      return json(200, envelope({ data: { data: latest.data, metadata: meta } }));
    }
    if (method === "POST" || method === "PUT") {
      server.beforeNextWrite?.();
      server.beforeNextWrite = undefined;
      let parsed: unknown;
      try {
        parsed = JSON.parse(body);
      } catch {
        return errors(400, "failed to parse JSON input: invalid character");
      }
      const input = typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : {};
      const data = input.data;
      if (typeof data !== "object" || data === null || Array.isArray(data)) return errors(400, "no data provided");
      const current = (store.get(key) ?? []).length;
      const opts = input.options as Record<string, unknown> | undefined;
      if (opts && opts.cas !== undefined && opts.cas !== null && Number(opts.cas) !== current)
        return errors(400, "check-and-set parameter did not match the current version");
      const version = writeVersion(key, data as Record<string, unknown>);
      const v = store.get(key)![version - 1]!;
      return json(200, envelope({ data: metadataOf(v, version) }));
    }
    return errors(405);
  }

  const bun = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: handle });
  server.port = bun.port!;
  server.url = `http://127.0.0.1:${bun.port}`;
  return server;
}
