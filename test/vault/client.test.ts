import { afterEach, describe, expect, it } from "bun:test";
import { AuthRefusedError, TokenctlError, UnavailableError } from "../../src/errors.ts";
import { CasConflictError, kvDataPath, VaultClient } from "../../src/vault/client.ts";
import { startVaultServer, type VaultServer } from "../support/vault-server.ts";

const TOKEN = "hvs.MARKER-VAULT-TOKEN-c1";
let server: VaultServer;
afterEach(() => server?.stop());

function start(): VaultServer {
  server = startVaultServer({
    tokens: { [TOKEN]: { displayName: "token-alice", policies: ["default", "claude-alice"], identityPolicies: ["idp"], paths: ["secret/data/claude/alice"] } },
  });
  return server;
}
const client = (timeoutMs = 2000, token = TOKEN) => new VaultClient({ addr: server.url, token, timeoutMs });

async function caught(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a rejection");
}

describe("VaultClient against the Vault API test server", () => {
  it("reads the token's identity and renews it with the X-Vault-Token header", async () => {
    start();
    const c = client();
    expect(await c.lookupSelf()).toEqual({ displayName: "token-alice", policies: ["default", "claude-alice"], identityPolicies: ["idp"], ttl: 2764800, renewable: true });
    await c.renewSelf();
    expect(server.requests.map((r) => `${r.method} ${r.path} ${r.token}`)).toEqual([
      `GET /v1/auth/token/lookup-self ${TOKEN}`,
      `POST /v1/auth/token/renew-self ${TOKEN}`,
    ]);
    expect(c.requests).toBe(2);
  });

  it("reads a missing secret as version 0, creates it with cas 0, then reads it back", async () => {
    start();
    const c = client();
    expect(await c.readKv("secret", "claude/alice")).toEqual({ version: 0, data: {} });
    expect(await c.writeKv("secret", "claude/alice", { a: "1" }, 0)).toBe(1);
    expect(await c.readKv("secret", "claude/alice")).toEqual({ version: 1, data: { a: "1" } });
    expect(JSON.parse(server.requests[1]!.body)).toEqual({ options: { cas: 0 }, data: { a: "1" } });
  });

  it("reads a soft-deleted latest version with its version, so a cas write over it succeeds", async () => {
    start();
    server.put("secret", "claude/alice", { a: "1" });
    server.softDelete("secret", "claude/alice");
    const c = client();
    expect(await c.readKv("secret", "claude/alice")).toEqual({ version: 1, data: {} });
    expect(await c.writeKv("secret", "claude/alice", { a: "2" }, 1)).toBe(2);
  });

  it("turns a cas mismatch into CasConflictError", async () => {
    start();
    server.put("secret", "claude/alice", { a: "1" });
    const e = await caught(client().writeKv("secret", "claude/alice", { a: "2" }, 0));
    expect(e).toBeInstanceOf(CasConflictError);
    expect(e.message).toContain("check-and-set parameter did not match the current version");
    expect(server.get("secret", "claude/alice")?.data).toEqual({ a: "1" });
  });

  it("maps 403 outside the token's paths to AuthRefusedError (exit 4)", async () => {
    start();
    const e = await caught(client().readKv("secret", "claude/bob"));
    expect(e).toBeInstanceOf(AuthRefusedError);
    expect((e as TokenctlError).exitCode).toBe(4);
    expect(e.message).toContain("permission denied");
  });

  it("maps an unknown token to AuthRefusedError without naming the token", async () => {
    start();
    const e = await caught(client(2000, "hvs.MARKER-WRONG-TOKEN").lookupSelf());
    expect(e).toBeInstanceOf(AuthRefusedError);
    expect(e.message).not.toContain("MARKER");
  });

  it("maps a sealed Vault (503) to UnavailableError (exit 5)", async () => {
    start();
    server.sealed = true;
    const e = await caught(client().lookupSelf());
    expect(e).toBeInstanceOf(UnavailableError);
    expect((e as TokenctlError).exitCode).toBe(5);
    expect(e.message).toContain("sealed");
  });

  it("gives up on a slow Vault after the per-request timeout", async () => {
    start();
    server.delayMs = 1000;
    const t0 = performance.now();
    const e = await caught(client(150).lookupSelf());
    expect(performance.now() - t0).toBeLessThan(900);
    expect(e).toBeInstanceOf(UnavailableError);
    expect(e.message).toContain("did not answer GET /v1/auth/token/lookup-self within 0.15 s");
  });

  it("maps a refused connection to UnavailableError", async () => {
    start();
    server.stop();
    const e = await caught(client().lookupSelf());
    expect(e).toBeInstanceOf(UnavailableError);
    expect(e.message).toContain("unreachable");
  });

  it("withholds an error body that is not one of Vault's fixed texts (it may echo secrets)", async () => {
    start();
    server.failNext = { match: (m) => m === "POST", status: 400, body: { errors: [`bad input: {"refreshToken":"MARKER-RT"} token ${TOKEN}`] } };
    const e = await caught(client().writeKv("secret", "claude/alice", { refreshToken: "MARKER-RT" }, 0));
    expect(e.message).toContain("HTTP 400");
    expect(e.message).toContain("withheld");
    expect(e.message).not.toContain("MARKER");
    expect(String((e as Error & { cause?: unknown }).cause ?? "")).not.toContain("MARKER");
  });

  it("says so when the mount is not KV version 2", async () => {
    start();
    server.failNext = { match: (m) => m === "GET", status: 200, body: { data: { a: "1" } } };
    const e = await caught(client().readKv("secret", "claude/alice"));
    expect(e.message).toContain("KV version 2");
  });

  it("does not follow a redirect (the token would go along) and names the node instead", async () => {
    start();
    const other = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(null, { status: 307, headers: { Location: `${server.url}/v1/auth/token/lookup-self` } }) });
    try {
      const e = await caught(new VaultClient({ addr: `http://127.0.0.1:${other.port}`, token: TOKEN, timeoutMs: 2000 }).lookupSelf());
      expect(e).toBeInstanceOf(UnavailableError);
      expect(e.message).toContain(`to ${server.url}/v1/auth/token/lookup-self (HTTP 307)`);
      expect(server.requests.length).toBe(0);
    } finally {
      other.stop(true);
    }
  });

  it("escapes path segments", () => {
    expect(kvDataPath("secret", "/team a/alice/")).toBe("/v1/secret/data/team%20a/alice");
  });
});
