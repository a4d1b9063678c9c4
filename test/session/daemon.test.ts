/** Sessions through a real daemon on a real Unix socket, through the one client. */
import { afterEach, describe, expect, it } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { connectDaemon } from "../../src/daemon/client.ts";
import { type DaemonHandle, startDaemon } from "../../src/daemon/server.ts";
import { AuthRefusedError, NotFoundError } from "../../src/errors.ts";
import { SessionClient, connectAdmin, connectAsCaller, connectSession } from "../../src/session/client.ts";
import { createSessionExtension } from "../../src/session/extension.ts";
import { fileRegistryStore } from "../../src/session/registry.ts";
import { TOKEN_FILE_ENV, mintSessionFile, mintToken } from "../../src/session/token.ts";
import { FakeScheduler } from "../support/scheduler.ts";
import { tempDir } from "../support/tmp.ts";

const running: DaemonHandle[] = [];
const clients: SessionClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const d of running.splice(0)) await d.stop();
});

async function start(opts: { dir?: string; isAlive?: (pid: number) => boolean; reapIntervalMs?: number; scheduler?: FakeScheduler } = {}) {
  const dir = opts.dir ?? tempDir();
  const ext = createSessionExtension({
    store: fileRegistryStore(join(dir, "state", "sessions.json")),
    isAlive: opts.isAlive,
    reapIntervalMs: opts.reapIntervalMs,
    saveDelayMs: 0,
    scheduler: opts.scheduler,
  });
  const d = await startDaemon({ socketPath: join(dir, "run", "s.sock"), tokenFile: join(dir, "run", "t"), extensions: [ext] });
  running.push(d);
  const where = { socketPath: d.socketPath, tokenFile: d.tokenFile };
  const admin = async () => track(await connectAdmin(where));
  return { d, dir, where, admin, ext };
}
const track = (c: SessionClient) => (clients.push(c), c);

describe("sessions through the daemon", () => {
  it("register, then authenticate as the session: auth_result carries the record", async () => {
    const { admin, where } = await start();
    const a = await admin();
    const token = mintToken();
    const rec = await a.register({ token, name: "agent", scope: "ci", pid: process.pid, cwd: "/w" });
    expect(rec).toMatchObject({ name: "agent", scope: "ci", pid: process.pid, cwd: "/w" });
    const me = track(await connectSession(where, token));
    expect(me.identity).toEqual(rec);
    expect(await me.resolve()).toEqual(rec);
    expect(await a.resolve(token)).toEqual(rec);
    expect(await a.resolve(mintToken())).toBeNull();
  });

  it("an unknown session token is refused with exit 4, never crashes the daemon", async () => {
    const { admin, where } = await start();
    const err = await connectSession(where, mintToken()).catch((e) => e);
    expect(err).toBeInstanceOf(AuthRefusedError);
    expect(err.message).toContain("does not know this session");
    expect(await (await admin()).list()).toEqual({ scope: null, sessions: [] });
  });

  it("scoping: a session in its own scope only, the daemon token in any", async () => {
    const { admin, where } = await start();
    const a = await admin();
    const tokens = { a1: mintToken(), a2: mintToken(), b: mintToken() };
    const recs = {
      a1: await a.register({ token: tokens.a1, scope: "a", pid: process.pid, cwd: "/" }),
      a2: await a.register({ token: tokens.a2, scope: "a", pid: process.pid, cwd: "/" }),
      b: await a.register({ token: tokens.b, scope: "b", pid: process.pid, cwd: "/" }),
    };
    const ids = (l: { sessions: { id: string }[] }) => l.sessions.map((s) => s.id).sort();
    const asA = track(await connectSession(where, tokens.a1));
    expect(ids(await asA.list())).toEqual([recs.a1.id, recs.a2.id].sort());
    // Another scope is refused with exit 4, through the code in the error frame.
    expect(await asA.list("b").catch((e) => e)).toBeInstanceOf(AuthRefusedError);
    expect(ids(await a.list())).toEqual([recs.a1.id, recs.a2.id, recs.b.id].sort());
    // A session may revoke within its scope only; the refusal is exit 4.
    expect(await asA.revoke(recs.b.id).catch((e) => e)).toBeInstanceOf(AuthRefusedError);
    expect(await asA.revoke(recs.a2.id)).toEqual(recs.a2);
    expect(await a.revoke(recs.a2.id).catch((e) => e)).toBeInstanceOf(NotFoundError);
  });

  it("connectAsCaller uses the session token file when there is one, else the daemon token", async () => {
    const { admin, where } = await start();
    const a = await admin();
    const minted = mintSessionFile({ dir: tempDir() });
    const rec = await a.register({ token: minted.token, scope: "x", pid: process.pid, cwd: "/" });
    const asMe = track(await connectAsCaller(where, { env: { [TOKEN_FILE_ENV]: minted.file } }));
    expect(asMe.identity).toEqual(rec);
    const notes: string[] = [];
    const asAdmin = track(await connectAsCaller(where, { env: { [TOKEN_FILE_ENV]: join(tempDir(), "missing") }, note: (m) => notes.push(m) }));
    expect(asAdmin.identity).toBeUndefined();
    expect(notes[0]).toContain("does not exist");
  });

  it("publishes session.registered and session.ended to subscribers", async () => {
    const { d, admin } = await start();
    const sub = await connectDaemon({ socketPath: d.socketPath, tokenFile: d.tokenFile });
    const events: { topic: string; data: any }[] = [];
    sub.onEvent((e) => events.push(e as never));
    await sub.subscribe(["session.registered", "session.ended"]);
    const a = await admin();
    const rec = await a.register({ token: mintToken(), pid: process.pid, cwd: "/" });
    await a.revoke(rec.id);
    // A request sent after the events is answered after them: the ping's answer means both arrived.
    await sub.call("ping");
    sub.close();
    expect(events).toEqual([
      { topic: "session.registered", data: { session: rec } },
      { topic: "session.ended", data: { session: rec, reason: "revoked" } },
    ]);
  });

  it("the reaper drops a session whose process died", async () => {
    const clock = new FakeScheduler();
    const { admin } = await start({ reapIntervalMs: 50, scheduler: clock });
    const a = await admin();
    const child = Bun.spawn(["sleep", "30"]);
    const token = mintToken();
    await a.register({ token, pid: child.pid, cwd: "/" });
    clock.advance(50);
    expect(await a.resolve(token)).not.toBeNull();
    child.kill("SIGKILL");
    await child.exited;
    clock.advance(50);
    expect(await a.resolve(token)).toBeNull();
  });

  it("a restarted daemon still knows the live sessions, never saw a raw token", async () => {
    const first = await start();
    const a = await first.admin();
    const token = mintToken();
    const rec = await a.register({ token, name: "keep", pid: process.pid, cwd: "/" });
    a.close();
    await running.pop()!.stop();
    const state = readFileSync(join(first.dir, "state", "sessions.json"), "utf8");
    expect(state).not.toContain(token);
    const second = await start({ dir: first.dir });
    expect(await (await second.admin()).resolve(token)).toEqual(rec);
    const status = await (await second.admin()).daemon.call("status");
    expect(status.session).toMatchObject({ sessions: 1, byScope: { default: 1 } });
  });
});
