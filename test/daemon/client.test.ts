/** The typed client against a real in-process daemon. */
import { afterEach, describe, expect, it } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AuthRefusedError, UnavailableError } from "../../src/errors.ts";
import { connectDaemon, DaemonRequestError, type DaemonClient, type DaemonEvent } from "../../src/daemon/client.ts";
import { startDaemon, type DaemonHandle } from "../../src/daemon/server.ts";
import { tempDir } from "../support/tmp.ts";

const running: DaemonHandle[] = [];
const clients: DaemonClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const d of running.splice(0)) await d.stop();
});

async function start() {
  const dir = join(tempDir(), "run");
  const d = await startDaemon({
    socketPath: join(dir, "s.sock"),
    tokenFile: join(dir, "daemon.token"),
    extensions: [{ name: "demo", handlers: { "demo.slow": async (m) => (await Bun.sleep(Number(m.ms)), { ms: m.ms }) } }],
  });
  running.push(d);
  return d;
}

async function client(...a: Parameters<typeof connectDaemon>) {
  const c = await connectDaemon(...a);
  clients.push(c);
  return c;
}

describe("connectDaemon", () => {
  it("authenticates with the token file and matches responses by id, out of order", async () => {
    const d = await start();
    const c = await client({ socketPath: d.socketPath, tokenFile: d.tokenFile });
    expect(c.authResult).toEqual({ type: "auth_result", ok: true });
    const [slow, fast] = await Promise.all([c.call("demo.slow", { ms: 60 }), c.call("demo.slow", { ms: 1 })]);
    expect(slow).toMatchObject({ type: "demo.slow.result", ms: 60 });
    expect(fast).toMatchObject({ type: "demo.slow.result", ms: 1 });
    expect(await c.call("ping")).toMatchObject({ type: "pong" });
  });

  it("resolves request() with an error response and rejects call() with DaemonRequestError", async () => {
    const d = await start();
    const c = await client({ socketPath: d.socketPath, token: d.token });
    expect(await c.request("nope")).toMatchObject({ type: "error", message: "Unknown message type: nope" });
    const err = await c.call("nope").catch((e) => e);
    expect(err).toBeInstanceOf(DaemonRequestError);
    expect(err.response.message).toBe("Unknown message type: nope");
  });

  it("delivers events after subscribe", async () => {
    const d = await start();
    const c = await client({ socketPath: d.socketPath, token: d.token });
    const got: DaemonEvent[] = [];
    c.onEvent((e) => got.push(e));
    await c.subscribe(["x"]);
    const pub = await client({ socketPath: d.socketPath, token: d.token });
    expect(await pub.call("publish", { topic: "x", data: [1] })).toMatchObject({ type: "published", delivered: 1 });
    for (let i = 0; i < 100 && got.length === 0; i++) await Bun.sleep(5);
    expect(got).toEqual([{ topic: "x", data: [1] }]);
  });

  it("throws UnavailableError (exit 5) when nothing answers", async () => {
    const err = await connectDaemon({ socketPath: join(tempDir(), "none.sock"), token: "x" }).catch((e) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err.exitCode).toBe(5);
  });

  it("throws AuthRefusedError (exit 4) on a wrong token, without the token in the message", async () => {
    const d = await start();
    const wrong = "0".repeat(64);
    const err = await connectDaemon({ socketPath: d.socketPath, token: wrong }).catch((e) => e);
    expect(err).toBeInstanceOf(AuthRefusedError);
    expect(err.exitCode).toBe(4);
    expect(err.message).toContain("Invalid token");
    expect(err.message).not.toContain(wrong);
  });

  it("still connects without a local token file (forwarded socket) and reports the daemon's answer", async () => {
    const d = await start();
    const missing = join(tempDir(), "nowhere", "daemon.token");
    const err = await connectDaemon({ socketPath: d.socketPath, tokenFile: missing }).catch((e) => e);
    expect(err).toBeInstanceOf(AuthRefusedError);
    expect(err.message).toContain('answered "Invalid token"');
    expect(err.message).toContain(missing);
    expect(err.hint).toContain("TOKENCTL_DAEMON_TOKEN_FILE");
  });

  it("refuses an insecure token file rather than sending it", async () => {
    const d = await start();
    const dir = tempDir();
    mkdirSync(join(dir, "t"), { mode: 0o700 });
    writeFileSync(join(dir, "t", "tok"), d.token, { mode: 0o644 });
    const err = await connectDaemon({ socketPath: d.socketPath, tokenFile: join(dir, "t", "tok") }).catch((e) => e);
    expect(err.name).toBe("InsecureFileError");
    expect(d.stats().open).toBe(0);
  });

  it("rejects pending requests when the daemon stops", async () => {
    const d = await start();
    const c = await client({ socketPath: d.socketPath, token: d.token });
    const pending = c.call("demo.slow", { ms: 2000 });
    let closed: unknown = "not yet";
    c.onClose((r) => (closed = r));
    await Bun.sleep(20);
    await d.stop();
    expect(await pending.catch((e) => e)).toBeInstanceOf(UnavailableError);
    expect(closed).toBeUndefined();
    expect(c.closed).toBe(true);
  });
});
