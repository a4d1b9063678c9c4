/** A dummy extension proves the daemon's extension contract (src/daemon/extension.ts). */
import { afterEach, expect, it } from "bun:test";
import { join } from "node:path";
import type { ConnectionInfo, DaemonApi, DaemonExtension, Message } from "../../src/daemon/extension.ts";
import { startDaemon, type DaemonHandle } from "../../src/daemon/server.ts";
import { authedPeer, rawConnect, type RawPeer } from "../support/peer.ts";
import { tempDir } from "../support/tmp.ts";

const SESSION = "5e".repeat(32);
const running: DaemonHandle[] = [];
const peers: RawPeer[] = [];
afterEach(async () => {
  for (const p of peers.splice(0)) p.socket.destroy();
  for (const d of running.splice(0)) await d.stop();
});

function dummy() {
  const calls: string[] = [];
  const seen: ConnectionInfo[] = [];
  let api: DaemonApi | undefined;
  const ext: DaemonExtension = {
    name: "session",
    handlers: {
      "session.whoami": (_m, conn) => {
        seen.push(structuredClone(conn));
        return { admin: conn.admin, identity: conn.identity ?? null };
      },
      "session.echo": async (m) => ({ type: "session.echoed", value: m.value }),
      "session.fail": () => {
        throw new Error("No such session");
      },
      "session.announce": (m) => {
        api!.publish("session", { announced: m.value });
        return {};
      },
    },
    async authenticate(m: Message) {
      calls.push("authenticate");
      await Bun.sleep(20); // asynchronous, like a store lookup
      return m.session === SESSION ? { id: "s1", scopes: ["read"] } : undefined;
    },
    status: () => ({ active: 1 }),
    start(a) {
      api = a;
      calls.push("start");
    },
    stop() {
      calls.push("stop");
    },
  };
  return { ext, calls, seen };
}

async function start(ext: DaemonExtension) {
  const dir = join(tempDir(), "run");
  const d = await startDaemon({ socketPath: join(dir, "s.sock"), tokenFile: join(dir, "t"), extensions: [ext] });
  running.push(d);
  return d;
}

it("calls start at start-up and stop at shutdown", async () => {
  const { ext, calls } = dummy();
  const d = await start(ext);
  expect(calls).toEqual(["start"]);
  await d.stop();
  expect(calls).toEqual(["start", "stop"]);
});

it("accepts another credential through authenticate(): identity in auth_result, admin false", async () => {
  const { ext, seen } = dummy();
  const d = await start(ext);
  const p = await rawConnect(d.socketPath);
  peers.push(p);
  p.send({ type: "auth", session: SESSION });
  // Sent before auth_result arrives: held until authenticate() resolves, then served in order.
  p.send({ type: "session.whoami", id: 1 });
  expect(await p.next()).toEqual({ type: "auth_result", ok: true, session: { id: "s1", scopes: ["read"] } });
  expect(await p.next()).toEqual({ type: "session.whoami.result", id: 1, admin: false, identity: { id: "s1", scopes: ["read"] } });
  expect(seen[0]).toMatchObject({ admin: false, identity: { id: "s1", scopes: ["read"] } });
  // Token-only requests stay closed to a session-authenticated connection.
  p.send({ type: "status", id: 2 });
  expect(await p.next()).toMatchObject({ type: "error", id: 2 });
  p.send({ type: "ping", id: 3 });
  expect(await p.next()).toEqual({ type: "pong", id: 3 });
});

it("refuses a credential no extension accepts with Invalid token", async () => {
  const { ext, calls } = dummy();
  const d = await start(ext);
  const p = await rawConnect(d.socketPath);
  p.send({ type: "auth", session: "00".repeat(32) });
  expect(await p.next()).toEqual({ type: "auth_result", ok: false, error: "Invalid token" });
  await p.closed;
  expect(calls).toContain("authenticate");
});

it("never offers a token auth to extensions", async () => {
  const { ext, calls } = dummy();
  const d = await start(ext);
  const p = await rawConnect(d.socketPath);
  p.send({ type: "auth", token: "wrong", session: SESSION });
  expect(await p.next()).toEqual({ type: "auth_result", ok: false, error: "Invalid token" });
  expect(calls).not.toContain("authenticate");
});

it("routes handler types for token connections (admin true), defaults the type, maps throws to errors", async () => {
  const { ext } = dummy();
  const d = await start(ext);
  const p = await authedPeer(d.socketPath, d.token);
  peers.push(p);
  p.send({ type: "session.whoami", id: 1 });
  expect(await p.next()).toEqual({ type: "session.whoami.result", id: 1, admin: true, identity: null });
  p.send({ type: "session.echo", id: 2, value: "v" });
  expect(await p.next()).toEqual({ type: "session.echoed", id: 2, value: "v" });
  p.send({ type: "session.fail", id: 3 });
  expect(await p.next()).toEqual({ type: "error", id: 3, message: "No such session" });
  p.send({ type: "ping", id: 4 });
  expect(await p.next()).toEqual({ type: "pong", id: 4 });
});

it("merges status() under the extension name and publishes through api.publish", async () => {
  const { ext } = dummy();
  const d = await start(ext);
  const p = await authedPeer(d.socketPath, d.token);
  const sub = await authedPeer(d.socketPath, d.token);
  peers.push(p, sub);
  p.send({ type: "status", id: 1 });
  expect(await p.next()).toMatchObject({ type: "status", id: 1, session: { active: 1 } });
  sub.send({ type: "subscribe", id: 1, topics: ["session"] });
  await sub.next();
  p.send({ type: "session.announce", id: 2, value: 5 });
  expect(await p.next()).toEqual({ type: "session.announce.result", id: 2 });
  expect(await sub.next()).toEqual({ type: "event", topic: "session", data: { announced: 5 } });
});

it("refuses an extension that registers a built-in type", async () => {
  const dir = join(tempDir(), "run");
  const err = await startDaemon({
    socketPath: join(dir, "s.sock"),
    tokenFile: join(dir, "t"),
    extensions: [{ name: "bad", handlers: { ping: () => ({}) } }],
  }).catch((e) => e);
  expect(String(err.message)).toContain("built-in");
});
