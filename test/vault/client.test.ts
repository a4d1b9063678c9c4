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
/** Waits before retries, recorded instead of slept. */
let waits: number[] = [];
const client = (timeoutMs = 2000, token = TOKEN, deadline?: (ms: number) => AbortSignal) => {
  waits = [];
  return new VaultClient({ addr: server.url, token, timeoutMs, sleep: async (ms) => void waits.push(ms), deadline });
};
/** A deadline that has already passed: the attempt times out at once, whatever the clock says. */
const expired = (asked: number[]) => (ms: number) => {
  asked.push(ms);
  return AbortSignal.abort(new DOMException("deadline", "TimeoutError"));
};

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

  it("gives up on an attempt at its deadline, and does not retry it", async () => {
    start();
    const asked: number[] = [];
    const c = client(150, TOKEN, expired(asked));
    const e = await caught(c.lookupSelf());
    expect(e).toBeInstanceOf(UnavailableError);
    expect(e.message).toBe(`Vault at ${server.url} did not answer GET /v1/auth/token/lookup-self within 0.15 s`);
    expect(asked).toEqual([150]);
    expect(c.requests).toBe(1);
    expect(waits).toEqual([]);
  });

  it("maps a refused connection to UnavailableError after retrying the GET twice, backing off 250 then 500 ms", async () => {
    start();
    server.stop();
    const c = client();
    const e = await caught(c.lookupSelf());
    expect(e).toBeInstanceOf(UnavailableError);
    expect(e.message).toContain("unreachable");
    expect(c.requests).toBe(3);
    expect(waits).toEqual([250, 500]);
  });

  it.each([500, 502, 503, 504])("retries a GET answered %i, and succeeds when the next attempt does", async (status) => {
    start();
    server.put("secret", "claude/alice", { a: "1" });
    server.failNext = { match: (m) => m === "GET", status, body: { errors: ["local node not active but active cluster node not found"] } };
    const c = client();
    expect(await c.readKv("secret", "claude/alice")).toEqual({ version: 1, data: { a: "1" } });
    expect(server.requests.map((r) => r.method)).toEqual(["GET", "GET"]);
    expect(waits).toEqual([250]);
  });

  it.each([
    ["renew-self", (c: VaultClient) => c.renewSelf()],
    ["the check-and-set write", (c: VaultClient) => c.writeKv("secret", "claude/alice", { a: "1" }, 0)],
  ] as const)("never retries a POST (%s), even after a 5xx", async (_name, call) => {
    start();
    server.failNext = { match: (m) => m === "POST", status: 502, body: { errors: [] } };
    const c = client();
    const e = await caught(call(c));
    expect(e).toBeInstanceOf(UnavailableError);
    expect(c.requests).toBe(1);
    expect(server.get("secret", "claude/alice")).toBeUndefined();
  });

  it("does not retry a 4xx", async () => {
    start();
    const c = client();
    await caught(c.readKv("secret", "claude/bob"));
    expect(c.requests).toBe(1);
  });

  it("quotes Vault's error text escaped and capped, with the token and token-like runs masked", async () => {
    start();
    const text = `unsupported \x1b[31mpath\n for ${TOKEN} near sk-ant-ort01-ABCDEFGHIJKLMNOPQRSTUVWXYZ ${"x ".repeat(200)}`;
    server.failNext = { match: (m) => m === "GET", status: 400, body: { errors: [text, "second", "third", "fourth"] } };
    const e = await caught(client().readKv("secret", "claude/alice"));
    expect(e.message).toStartWith("Vault answered GET /v1/secret/data/claude/alice with HTTP 400: unsupported \\u001b[31mpath for [redacted] near [redacted] x x");
    expect(e.message).toContain("…; second; third; …");
    expect(e.message).not.toContain("MARKER");
    expect(e.message).not.toContain("ABCDEFGHIJKLMNOPQRSTUVWXYZ");
    expect(e.message).not.toContain("\x1b");
  });

  it("withholds the error text of the KV write unless it is one of Vault's fixed texts (it may echo the credential)", async () => {
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

  it.each([
    [301, "GET"],
    [302, "GET"],
    [303, "POST"],
    [307, "GET"],
    [308, "POST"],
  ] as const)("does not follow a %i redirect of a %s (the token would go along) and names the node instead", async (status, method) => {
    start();
    const other = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(null, { status, headers: { Location: `${server.url}/v1/auth/token/lookup-self` } }) });
    try {
      const c = new VaultClient({ addr: `http://127.0.0.1:${other.port}`, token: TOKEN, timeoutMs: 2000, sleep: async () => {} });
      const e = await caught(method === "GET" ? c.lookupSelf() : c.writeKv("secret", "claude/alice", { a: "1" }, 0));
      expect(e).toBeInstanceOf(UnavailableError);
      expect(e.message).toContain(`to ${server.url}/v1/auth/token/lookup-self (HTTP ${status})`);
      expect(c.requests).toBe(1);
      expect(server.requests.length).toBe(0);
    } finally {
      other.stop(true);
    }
  });

  it("escapes path segments", () => {
    expect(kvDataPath("secret", "/team a/alice/")).toBe("/v1/secret/data/team%20a/alice");
  });
});
