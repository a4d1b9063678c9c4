/**
 * The daemon's wire protocol, checked from a raw Unix socket (test/support/peer.ts), never
 * through the project's client: each case of issue 3 in turn.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DaemonRunningError, MAX_LINGERING, startDaemon, type DaemonHandle, type DaemonOptions } from "../../src/daemon/server.ts";
import { authedPeer, rawConnect, waitFor, type RawPeer } from "../support/peer.ts";
import { FakeScheduler } from "../support/scheduler.ts";
import { tempDir } from "../support/tmp.ts";

const running: DaemonHandle[] = [];
const peers: RawPeer[] = [];
afterEach(async () => {
  for (const p of peers.splice(0)) p.socket.destroy();
  for (const d of running.splice(0)) await d.stop();
});

interface Captured {
  lines: string[];
}
function capture(): DaemonOptions["log"] & Captured {
  const lines: string[] = [];
  const push = (...a: unknown[]) => void lines.push(a.map(String).join(" "));
  return { lines, info: push, warn: push, error: push, debug: push };
}

async function start(opts: Partial<DaemonOptions> = {}) {
  const dir = join(tempDir(), "run");
  const log = capture();
  const d = await startDaemon({ socketPath: join(dir, "tokenctl.sock"), tokenFile: join(dir, "daemon.token"), log, ...opts });
  running.push(d);
  return { d, log };
}

/** Read until `line` arrives; returns how many lines came, in order. */
async function waitForLine(p: RawPeer, line: string): Promise<number> {
  let count = 0;
  for (;;) {
    const m = await p.next(5000);
    count++;
    if (JSON.stringify(m) === line) return count;
  }
}

async function peer(path: string): Promise<RawPeer> {
  const p = await rawConnect(path);
  peers.push(p);
  return p;
}

describe("start-up", () => {
  it("creates a 0700 dir, a 0600 socket, and a fresh 64-hex token file", async () => {
    const { d } = await start();
    expect(statSync(join(d.socketPath, "..")).mode & 0o777).toBe(0o700);
    expect(statSync(d.socketPath).isSocket()).toBe(true);
    expect(statSync(d.socketPath).mode & 0o777).toBe(0o600);
    expect(statSync(d.tokenFile).mode & 0o777).toBe(0o600);
    const token = readFileSync(d.tokenFile, "utf8").trim();
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(token).toBe(d.token);
  });

  it("writes a new token at every start", async () => {
    const { d } = await start();
    const first = d.token;
    await d.stop();
    const again = await startDaemon({ socketPath: d.socketPath, tokenFile: d.tokenFile });
    running.push(again);
    expect(again.token).not.toBe(first);
    expect(readFileSync(d.tokenFile, "utf8").trim()).toBe(again.token);
  });

  it.each([0o750, 0o705, 0o777])("refuses an existing socket dir with mode %o and names the chmod", async (mode) => {
    const dir = join(tempDir(), "run");
    mkdirSync(dir, { mode: 0o700 });
    chmodSync(dir, mode);
    const err = await startDaemon({ socketPath: join(dir, "s.sock"), tokenFile: join(dir, "t") }).catch((e) => e);
    expect(err.name).toBe("InsecureFileError");
    expect(err.hint).toBe(`chmod 700 ${dir}`);
    expect(existsSync(join(dir, "s.sock"))).toBe(false);
  });

  it("refuses a second daemon on the same socket and leaves the first serving", async () => {
    const { d } = await start();
    const err = await startDaemon({ socketPath: d.socketPath, tokenFile: d.tokenFile }).catch((e) => e);
    expect(err).toBeInstanceOf(DaemonRunningError);
    expect(readFileSync(d.tokenFile, "utf8").trim()).toBe(d.token);
    const p = await peer(d.socketPath);
    p.send({ type: "auth", token: d.token });
    expect(await p.next()).toEqual({ type: "auth_result", ok: true });
  });

  it("refuses when something else answers on the socket even without the lock", async () => {
    const dir = join(tempDir(), "run");
    mkdirSync(dir, { mode: 0o700 });
    const other = Bun.listen({ unix: join(dir, "s.sock"), socket: { data() {} } });
    try {
      const err = await startDaemon({ socketPath: join(dir, "s.sock"), tokenFile: join(dir, "t") }).catch((e) => e);
      expect(err).toBeInstanceOf(DaemonRunningError);
      expect(existsSync(join(dir, "t"))).toBe(false);
    } finally {
      other.stop(true);
    }
  });

  it("replaces a stale socket file nobody answers on", async () => {
    const dir = join(tempDir(), "run");
    mkdirSync(dir, { mode: 0o700 });
    const path = join(dir, "s.sock");
    // A socket file left behind by a killed daemon: bound, never listening, never removed.
    const py = Bun.spawnSync(["python3", "-c", `import socket; s=socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(path)})`]);
    expect(py.exitCode).toBe(0);
    expect(statSync(path).isSocket()).toBe(true);
    const log = capture();
    const d = await startDaemon({ socketPath: path, tokenFile: join(dir, "t"), log });
    running.push(d);
    expect(log.lines.some((l) => l.includes("Removed stale socket"))).toBe(true);
    await authedPeer(path, d.token).then((p) => peers.push(p));
  });

  it("refuses to replace a path that is not a socket", async () => {
    const dir = join(tempDir(), "run");
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(dir, "s.sock"), "keep me");
    const err = await startDaemon({ socketPath: join(dir, "s.sock"), tokenFile: join(dir, "t") }).catch((e) => e);
    expect(err.name).toBe("UsageError");
    expect(readFileSync(join(dir, "s.sock"), "utf8")).toBe("keep me");
  });

  it("stop() removes the socket and the token file", async () => {
    const { d } = await start();
    const p = await authedPeer(d.socketPath, d.token);
    await d.stop();
    await p.closed;
    expect(existsSync(d.socketPath)).toBe(false);
    expect(existsSync(d.tokenFile)).toBe(false);
  });
});

describe("handshake", () => {
  it("accepts the right token and then answers ping with the id echoed", async () => {
    const { d } = await start();
    const p = await peer(d.socketPath);
    p.send({ type: "auth", token: d.token });
    expect(await p.next()).toEqual({ type: "auth_result", ok: true });
    p.send({ type: "ping", id: 7 });
    expect(await p.next()).toEqual({ type: "pong", id: 7 });
    p.send({ type: "ping", id: "abc" });
    expect(await p.next()).toEqual({ type: "pong", id: "abc" });
  });

  const wrong: [string, (t: string) => unknown][] = [
    ["equal length", (t) => `${t.slice(0, 63)}${t[63] === "0" ? "1" : "0"}`],
    ["shorter", (t) => t.slice(0, 10)],
    ["longer", (t) => `${t}ff`],
    ["a number", () => 12345],
    ["an object", (t) => ({ token: t })],
    ["null", () => null],
  ];
  it.each(wrong)("refuses a wrong token (%s) and closes, logging no token", async (_n, make) => {
    const { d, log } = await start();
    const p = await peer(d.socketPath);
    const offered = make(d.token);
    p.send({ type: "auth", token: offered });
    expect(await p.next()).toEqual({ type: "auth_result", ok: false, error: "Invalid token" });
    await p.closed;
    expect(log.lines.some((l) => l.includes("authentication refused"))).toBe(true);
    const all = log.lines.join("\n");
    expect(all).not.toContain(d.token);
    if (typeof offered === "string") expect(all).not.toContain(offered);
  });

  it("refuses a non-auth first message without executing it", async () => {
    const { d } = await start();
    const sub = await authedPeer(d.socketPath, d.token);
    peers.push(sub);
    sub.send({ type: "subscribe", id: 1 });
    await sub.next();
    const p = await peer(d.socketPath);
    p.send({ type: "publish", topic: "x", data: 1 });
    expect(await p.next()).toEqual({ type: "error", message: "Authentication required" });
    await p.closed;
    await Bun.sleep(50);
    expect(sub.received).toEqual([]);
  });

  it("closes on invalid JSON before auth", async () => {
    const { d } = await start();
    const p = await peer(d.socketPath);
    p.write("{nope\n");
    expect(await p.next()).toEqual({ type: "error", message: "Invalid JSON" });
    await p.closed;
  });

  it("keeps the connection on invalid JSON after auth", async () => {
    const { d } = await start();
    const p = await authedPeer(d.socketPath, d.token);
    peers.push(p);
    p.write("{nope\n");
    expect(await p.next()).toEqual({ type: "error", message: "Invalid JSON" });
    p.send({ type: "ping", id: 1 });
    expect(await p.next()).toEqual({ type: "pong", id: 1 });
  });

  it("closes a connection that does not authenticate within --auth-timeout", async () => {
    const clock = new FakeScheduler();
    const { d, log } = await start({ authTimeoutMs: 150, scheduler: clock });
    const p = await peer(d.socketPath);
    await waitFor(() => d.stats().unauthenticated === 1);
    clock.advance(149);
    expect(p.received).toEqual([]);
    clock.advance(1);
    expect(await p.next(2000)).toEqual({ type: "error", message: "Authentication timeout" });
    clock.advance(0);
    await p.closed;
    expect(log.lines.some((l) => l.includes("no authentication within 150 ms"))).toBe(true);
  });

  it("does not time out an authenticated connection", async () => {
    const clock = new FakeScheduler();
    const { d } = await start({ authTimeoutMs: 100, scheduler: clock });
    const p = await authedPeer(d.socketPath, d.token);
    peers.push(p);
    clock.advance(60_000);
    p.send({ type: "ping", id: 1 });
    expect(await p.next()).toEqual({ type: "pong", id: 1 });
  });

  it.each([
    ["before auth, in one line", false, true],
    ["before auth, with no newline at all", false, false],
    ["after auth", true, true],
  ])("closes on a frame over --max-frame (%s)", async (_n, auth, newline) => {
    const { d } = await start({ maxFrame: 1024 });
    const p = auth ? await authedPeer(d.socketPath, d.token) : await peer(d.socketPath);
    peers.push(p);
    p.write(`{"type":"ping","pad":"${"x".repeat(2000)}"}${newline ? "\n" : ""}`);
    expect(await p.next()).toEqual({ type: "error", message: "Frame too large" });
    await p.closed;
  });

  it("accepts a frame of exactly --max-frame bytes", async () => {
    const { d } = await start({ maxFrame: 1024 });
    const p = await authedPeer(d.socketPath, d.token);
    peers.push(p);
    const head = '{"type":"ping","id":1,"pad":"';
    p.write(`${head}${"x".repeat(1024 - head.length - 2)}"}\n`);
    expect(await p.next()).toEqual({ type: "pong", id: 1 });
  });
});

describe("requests", () => {
  it("answers an unknown type with an error carrying the id, and stays", async () => {
    const { d } = await start();
    const p = await authedPeer(d.socketPath, d.token);
    peers.push(p);
    p.send({ type: "frobnicate", id: 9 });
    expect(await p.next()).toEqual({ type: "error", id: 9, message: "Unknown message type: frobnicate" });
    p.send({ type: "ping", id: 10 });
    expect(await p.next()).toEqual({ type: "pong", id: 10 });
  });

  it("reports status: pid, version, uptime, connection counts", async () => {
    const { d } = await start();
    const p = await authedPeer(d.socketPath, d.token);
    peers.push(p);
    const waiting = await peer(d.socketPath);
    await waitFor(() => d.stats().open === 2);
    p.send({ type: "status", id: 1 });
    const s = await p.next();
    const pkg = await Bun.file(join(import.meta.dir, "../../package.json")).json();
    expect(s).toMatchObject({ type: "status", id: 1, pid: process.pid, version: pkg.version, connections: { open: 2, authenticated: 1, subscribers: 0, max: 1024 } });
    expect(typeof s.uptime).toBe("number");
    waiting.end();
  });

  it("delivers published events to subscribers of the topic only", async () => {
    const { d } = await start();
    const all = await authedPeer(d.socketPath, d.token);
    const onlyA = await authedPeer(d.socketPath, d.token);
    const pub = await authedPeer(d.socketPath, d.token);
    peers.push(all, onlyA, pub);
    all.send({ type: "subscribe", id: 1 });
    expect(await all.next()).toEqual({ type: "subscribed", id: 1, topics: "*" });
    onlyA.send({ type: "subscribe", id: 2, topics: ["a"] });
    expect(await onlyA.next()).toEqual({ type: "subscribed", id: 2, topics: ["a"] });
    pub.send({ type: "publish", id: 3, topic: "b", data: { n: 1 } });
    expect(await pub.next()).toEqual({ type: "published", id: 3, delivered: 1 });
    pub.send({ type: "publish", id: 4, topic: "a", data: { n: 2 } });
    expect(await pub.next()).toEqual({ type: "published", id: 4, delivered: 2 });
    expect(await all.next()).toEqual({ type: "event", topic: "b", data: { n: 1 } });
    expect(await all.next()).toEqual({ type: "event", topic: "a", data: { n: 2 } });
    expect(await onlyA.next()).toEqual({ type: "event", topic: "a", data: { n: 2 } });
    expect(pub.received).toEqual([]);
  });

  it("never sends a broadcast to a socket still in its auth window", async () => {
    const { d } = await start();
    const sub = await authedPeer(d.socketPath, d.token);
    peers.push(sub);
    sub.send({ type: "subscribe", id: 1 });
    await sub.next();
    const lurker = await peer(d.socketPath);
    // A would-be subscriber that never authenticates; its subscribe must not count either.
    const sneaky = await peer(d.socketPath);
    sneaky.write('{"type":"subscribe","id":1}\n');
    await waitFor(() => d.stats().open >= 3);
    expect(d.publish("t", "secret-ish")).toBe(1);
    expect(await sub.next()).toEqual({ type: "event", topic: "t", data: "secret-ish" });
    await Bun.sleep(50);
    expect(lurker.received).toEqual([]);
    expect(await sneaky.next()).toEqual({ type: "error", message: "Authentication required" });
    expect(sneaky.received).toEqual([]);
  });

  it("refuses a connection over --max-connections with an error when every connection is authenticated", async () => {
    const { d } = await start({ maxConnections: 2 });
    const a = await authedPeer(d.socketPath, d.token);
    const b = await authedPeer(d.socketPath, d.token);
    peers.push(a, b);
    await waitFor(() => d.stats().authenticated === 2);
    const c = await peer(d.socketPath);
    expect(await c.next()).toEqual({ type: "error", message: "Too many connections" });
    await c.closed;
    b.end();
    await waitFor(() => d.stats().open === 1);
    const e = await authedPeer(d.socketPath, d.token);
    peers.push(e);
  });

  it("closes the oldest idle unauthenticated connection to make room for a new one", async () => {
    const { d, log } = await start({ maxConnections: 10, maxUnauthenticated: 3, idleAfterMs: 0 });
    const idle: RawPeer[] = [];
    for (let i = 0; i < 3; i++) {
      idle.push(await peer(d.socketPath));
      await waitFor(() => d.stats().unauthenticated === i + 1);
    }
    const owner = await authedPeer(d.socketPath, d.token);
    peers.push(owner);
    expect(await idle[0]!.next()).toEqual({ type: "error", message: "Too many unauthenticated connections: closed the oldest" });
    await idle[0]!.closed;
    expect(idle[1]!.isClosed()).toBe(false);
    owner.send({ type: "ping", id: 1 });
    expect(await owner.next()).toEqual({ type: "pong", id: 1 });
    expect(d.stats()).toMatchObject({ authenticated: 1, unauthenticated: 2 });
    expect(log.lines.some((l) => l.includes("the oldest of 3 unauthenticated connections"))).toBe(true);
  });

  it("admits a burst of new connections past the pool; only one idle for idleAfterMs makes room", async () => {
    const clock = new FakeScheduler();
    const { d } = await start({ maxConnections: 10, maxUnauthenticated: 3, idleAfterMs: 250, scheduler: clock, authTimeoutMs: 60_000 });
    const burst: RawPeer[] = [];
    for (let i = 0; i < 5; i++) {
      burst.push(await peer(d.socketPath));
      await waitFor(() => d.stats().unauthenticated === i + 1);
    }
    expect(burst.some((p) => p.received.length > 0 || p.isClosed())).toBe(false);
    clock.advance(250);
    await peer(d.socketPath);
    expect(await burst[0]!.next()).toEqual({ type: "error", message: "Too many unauthenticated connections: closed the oldest" });
    expect(burst[1]!.received).toEqual([]);
  });

  it("when every connection is taken, the oldest waiting one makes room whatever its age", async () => {
    const clock = new FakeScheduler();
    const { d } = await start({ maxConnections: 4, maxUnauthenticated: 2, idleAfterMs: 250, scheduler: clock, authTimeoutMs: 60_000 });
    const young: RawPeer[] = [];
    for (let i = 0; i < 4; i++) {
      young.push(await peer(d.socketPath));
      await waitFor(() => d.stats().unauthenticated === i + 1);
    }
    const owner = await authedPeer(d.socketPath, d.token);
    peers.push(owner);
    expect(await young[0]!.next()).toEqual({ type: "error", message: "Too many unauthenticated connections: closed the oldest" });
    expect(d.stats().authenticated).toBe(1);
  });

  it("stops reading from a client that pipelines requests without reading the answers, and never disconnects it", async () => {
    const { d } = await start({ maxQueuedBytes: 4096 });
    const p = await authedPeer(d.socketPath, d.token);
    peers.push(p);
    p.socket.pause();
    const n = 20_000;
    let batch = "";
    for (let i = 1; i <= n; i++) batch += `{"type":"ping","id":${i}}\n`;
    p.write(batch);
    await Bun.sleep(100);
    expect(p.isClosed()).toBe(false);
    expect(d.stats().authenticated).toBe(1);
    p.socket.resume();
    const last = await waitForLine(p, `{"type":"pong","id":${n}}`);
    expect(last).toBe(n);
  });
  it("keeps within the open-file budget: refuses over it, and beyond 8 refused peers waiting to close, closes refusals at once", async () => {
    const clock = new FakeScheduler(); // its timers never run: a silent refused peer waits until clock.advance()
    // 60 fds, 10 in use: 60 - 10 - 32 spare = room for 18 connections.
    const { d, log } = await start({ files: { limit: 60, open: 10 }, scheduler: clock, authTimeoutMs: 60_000 });
    expect(d.stats().max).toBe(18);
    for (let i = 0; i < 18; i++) peers.push(await authedPeer(d.socketPath, d.token));
    const waiting: RawPeer[] = [];
    for (let i = 0; i < MAX_LINGERING; i++) {
      const p = await peer(d.socketPath);
      expect(await p.next()).toEqual({ type: "error", message: "Too many connections" });
      waiting.push(p);
    }
    // The next ones hear the refusal too, and are closed without waiting for the clock.
    for (let i = 0; i < 24; i++) {
      const p = await peer(d.socketPath);
      expect(await p.next()).toEqual({ type: "error", message: "Too many connections" });
      await p.closed;
    }
    expect(waiting.some((p) => p.isClosed())).toBe(false);
    clock.advance(0);
    await Promise.all(waiting.map((p) => p.closed));
    expect(log.lines.filter((l) => l.includes("Not accepting"))).toEqual([]);
    peers.shift()!.end();
    await waitFor(() => d.stats().open === 17);
    peers.push(await authedPeer(d.socketPath, d.token));
  });

  it("failed auths wait to close like refusals, 8 at most: the rest close at once", async () => {
    const clock = new FakeScheduler(); // its timers never run: a silent peer after a failed auth waits
    const { d } = await start({ scheduler: clock });
    const waiting: RawPeer[] = [];
    for (let i = 0; i < MAX_LINGERING + 16; i++) {
      const p = await peer(d.socketPath);
      p.send({ type: "auth", token: "wrong" });
      expect(await p.next()).toMatchObject({ type: "auth_result", ok: false });
      if (i < MAX_LINGERING) waiting.push(p);
      else await p.closed;
    }
    expect(waiting.some((p) => p.isClosed())).toBe(false);
    clock.advance(0);
    await Promise.all(waiting.map((p) => p.closed));
  });

  it("refused peers that speak (as clients do, auth first) close on their bytes: a burst of them never stops accepting", async () => {
    const clock = new FakeScheduler(); // its timers never run: only the peers' bytes close them
    const { d, log } = await start({ files: { limit: 60, open: 10 }, scheduler: clock, authTimeoutMs: 60_000 });
    for (let i = 0; i < 18; i++) peers.push(await authedPeer(d.socketPath, d.token));
    for (let i = 0; i < 64; i++) {
      const p = await peer(d.socketPath);
      p.send({ type: "auth", token: d.token });
      expect(await p.next()).toEqual({ type: "error", message: "Too many connections" });
      await p.closed;
    }
    expect(log.lines.filter((l) => l.includes("Not accepting"))).toEqual([]);
    expect(d.stats().open).toBe(18);
  });

  it("refuses to start when the open-file limit leaves almost no room", async () => {
    await expect(start({ files: { limit: 50, open: 12 } })).rejects.toMatchObject({
      message: "The open-file limit (50, 12 in use) leaves room for 6 connections",
      hint: "Raise it before starting the daemon: ulimit -n 4096",
    });
  });

  it("disconnects a subscriber that does not read once 1 MiB is queued, and keeps serving others", async () => {
    const { d, log } = await start();
    const slow = await authedPeer(d.socketPath, d.token);
    const fast = await authedPeer(d.socketPath, d.token);
    peers.push(slow, fast);
    slow.send({ type: "subscribe", id: 1 });
    await slow.next();
    slow.socket.pause();
    const chunk = "z".repeat(16 * 1024);
    for (let i = 0; i < 400 && d.stats().subscribers > 0; i++) {
      d.publish("big", chunk);
      await Bun.sleep(0);
    }
    await waitFor(() => d.stats().subscribers === 0, 3000, "slow subscriber dropped");
    expect(log.lines.some((l) => l.includes("bytes queued and not read"))).toBe(true);
    fast.send({ type: "ping", id: 1 });
    expect(await fast.next()).toEqual({ type: "pong", id: 1 });
    slow.socket.resume();
    await slow.closed;
  });
});
