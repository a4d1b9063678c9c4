/** `tokenctl daemon`, `call` and `subscribe` through the compiled binary, as shell scripts use them. */
import { afterEach, describe, expect, it } from "bun:test";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BIN, childEnv, runBin, spawnDaemon } from "../support/bin.ts";
import { randomBytes } from "node:crypto";
import { authedPeer, rawConnect, type RawPeer } from "../support/peer.ts";
import { tempDir } from "../support/tmp.ts";


type Proc = ReturnType<typeof Bun.spawn>;
const procs: Proc[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) {
    p.kill("SIGKILL");
    await p.exited;
  }
});

interface Daemon {
  proc: Proc;
  socket: string;
  tokenFile: string;
  env: Record<string, string>;
  stderr: () => Promise<string>;
}

/** Start `tokenctl daemon --json` and wait for its ready line. */
async function daemon(extra: string[] = [], env: Record<string, string> = { XDG_RUNTIME_DIR: tempDir() }): Promise<Daemon> {
  const { proc, ready } = await spawnDaemon(extra, env);
  procs.push(proc);
  return { proc, socket: ready.socket, tokenFile: ready.tokenFile, env, stderr: () => new Response(proc.stderr as ReadableStream).text() };
}

describe("tokenctl daemon", () => {
  it("serves call ping/status over a 0600 socket in a 0700 dir, with a 64-hex token", async () => {
    const runtime = tempDir();
    const d = await daemon([], { XDG_RUNTIME_DIR: runtime });
    expect(d.socket).toBe(join(runtime, "tokenctl", "tokenctl.sock"));
    expect(d.tokenFile).toBe(join(runtime, "tokenctl", "daemon.token"));
    expect(statSync(join(runtime, "tokenctl")).mode & 0o777).toBe(0o700);
    expect(statSync(d.socket).mode & 0o777).toBe(0o600);
    expect(readFileSync(d.tokenFile, "utf8").trim()).toMatch(/^[0-9a-f]{64}$/);

    const ping = await runBin(["call", "ping"], { env: d.env });
    expect(ping.code).toBe(0);
    expect(JSON.parse(ping.stdout)).toEqual({ type: "pong", id: 1 });
    const status = await runBin(["call", "status"], { env: d.env });
    expect(JSON.parse(status.stdout)).toMatchObject({ type: "status", pid: d.proc.pid, version: expect.any(String) });
    const unknown = await runBin(["call", "frob", "--data", '{"x":1}'], { env: d.env });
    expect(unknown.code).toBe(1);
    expect(JSON.parse(unknown.stdout)).toEqual({ type: "error", id: 1, message: "Unknown message type: frob" });
    const badData = await runBin(["call", "ping", "--data", "[1]"], { env: d.env });
    expect(badData.code).toBe(2);
  });

  it("speaks the wire protocol to a raw peer, and refuses a wrong token", async () => {
    const d = await daemon(["--auth-timeout", "300ms"]);
    const token = readFileSync(d.tokenFile, "utf8").trim();
    const ok = await authedPeer(d.socket, token);
    ok.send({ type: "ping", id: "x" });
    expect(await ok.next()).toEqual({ type: "pong", id: "x" });
    ok.end();
    const bad = await rawConnect(d.socket);
    bad.send({ type: "auth", token: "f".repeat(64) });
    expect(await bad.next()).toEqual({ type: "auth_result", ok: false, error: "Invalid token" });
    await bad.closed;
    const idle = await rawConnect(d.socket);
    expect(await idle.next(3000)).toEqual({ type: "error", message: "Authentication timeout" });
    d.proc.kill("SIGTERM");
    expect(await d.proc.exited).toBe(0);
    const log = await d.stderr();
    expect(log).toContain("authentication refused");
    expect(log).not.toContain(token);
  });

  it.each(["SIGTERM", "SIGINT"] as const)("on %s closes connections, removes socket and token file, exits 0", async (sig) => {
    const d = await daemon();
    const peer = await authedPeer(d.socket, readFileSync(d.tokenFile, "utf8").trim());
    d.proc.kill(sig);
    expect(await d.proc.exited).toBe(0);
    await peer.closed;
    expect(existsSync(d.socket)).toBe(false);
    expect(existsSync(d.tokenFile)).toBe(false);
  });

  it("refuses a second daemon on the same socket and leaves the first serving", async () => {
    const d = await daemon();
    const token = readFileSync(d.tokenFile, "utf8");
    const second = await runBin(["daemon"], { env: d.env });
    expect(second.code).not.toBe(0);
    expect(second.stderr).toContain("already running");
    expect(readFileSync(d.tokenFile, "utf8")).toBe(token);
    expect((await runBin(["call", "ping"], { env: d.env })).code).toBe(0);
  });

  it("replaces the stale socket a killed daemon left behind", async () => {
    const first = await daemon();
    first.proc.kill("SIGKILL");
    await first.proc.exited;
    expect(existsSync(first.socket)).toBe(true);
    const second = await daemon([], first.env);
    expect(second.socket).toBe(first.socket);
    expect((await runBin(["call", "ping"], { env: first.env })).code).toBe(0);
  });

  it("refuses a socket dir open to others, naming the chmod", async () => {
    const dir = join(tempDir(), "open");
    mkdirSync(dir, { mode: 0o755 });
    const r = await runBin(["daemon", "--socket", join(dir, "s.sock")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`chmod 700 ${dir}`);
  });

  it("turns away connections over --max-connections", async () => {
    const d = await daemon(["--max-connections", "1"]);
    const held = await authedPeer(d.socket, readFileSync(d.tokenFile, "utf8").trim());
    const extra = await rawConnect(d.socket);
    expect(await extra.next()).toEqual({ type: "error", message: "Too many connections" });
    held.end();
  });
});

describe("tokenctl call", () => {
  it("exits 5 when no daemon answers", async () => {
    const r = await runBin(["call", "ping"], { env: { XDG_RUNTIME_DIR: tempDir() } });
    expect(r.code).toBe(5);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("No tokenctl daemon answers");
  });

  it("exits 4 when the daemon refuses the token", async () => {
    const d = await daemon();
    const dir = tempDir();
    writeFileSync(join(dir, "tok"), "0".repeat(64), { mode: 0o600 });
    const r = await runBin(["call", "ping", "--token-file", join(dir, "tok")], { env: d.env });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("Invalid token");
  });

  it("with a forwarded TOKENCTL_SOCKET and no local token file, still connects and reports the daemon's answer", async () => {
    const d = await daemon();
    const r = await runBin(["call", "ping"], { env: { TOKENCTL_SOCKET: d.socket, TOKENCTL_DAEMON_TOKEN_FILE: join(tempDir(), "absent.token") } });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('answered "Invalid token"');
    expect(r.stderr).toContain("does not exist here");
    // The daemon keeps serving clients that do have the token.
    expect((await runBin(["call", "ping"], { env: d.env })).code).toBe(0);
  });
});

describe("tokenctl subscribe", () => {
  it("prints events for its topic as JSON lines until interrupted", async () => {
    const d = await daemon();
    const sub = Bun.spawn([BIN, "subscribe", "--topic", "a"], { env: childEnv(d.env), stdout: "pipe", stderr: "pipe" });
    procs.push(sub);
    // Wait for its "Subscribed" log line on stderr, then publish one event on each topic.
    const errReader = (sub.stderr as ReadableStream<Uint8Array>).getReader();
    let err = "";
    while (!err.includes("Subscribed")) {
      const { value, done } = await errReader.read();
      if (done) throw new Error(`subscribe exited early: ${err}`);
      err += new TextDecoder().decode(value);
    }
    errReader.releaseLock();
    expect((await runBin(["call", "publish", "--data", '{"topic":"b","data":0}'], { env: d.env })).code).toBe(0);
    expect((await runBin(["call", "publish", "--data", '{"topic":"a","data":{"n":1}}'], { env: d.env })).code).toBe(0);
    const reader = (sub.stdout as ReadableStream<Uint8Array>).getReader();
    let out = "";
    while (!out.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    const first = JSON.parse(out.split("\n")[0]!);
    expect(first).toEqual({ type: "event", topic: "a", data: { n: 1 } });
    expect(out).not.toContain('"topic":"b"');
    reader.releaseLock();
    sub.kill("SIGINT");
    expect(await sub.exited).toBe(0);
  });
});

/** Authenticate a raw peer with a session token. */
async function sessionPeer(socket: string, token: string): Promise<RawPeer> {
  const p = await rawConnect(socket);
  p.send({ type: "auth", session: token });
  const r = await p.next();
  if (r.type !== "auth_result" || r.ok !== true) throw new Error(`session auth failed: ${JSON.stringify(r)}`);
  return p;
}

/** `session mint` with the daemon token: a session of the test process in `scope`. */
async function mint(d: Daemon, scope: string): Promise<{ id: string; tokenFile: string; token: string }> {
  const r = await runBin(["session", "mint", "--json", "--scope", scope, "--dir", tempDir()], { env: d.env });
  expect(r.code).toBe(0);
  const out = JSON.parse(r.stdout);
  return { ...out, token: readFileSync(out.tokenFile, "utf8").trim() };
}

/** A runtime dir and a state dir of its own, so no other test's sessions are loaded. */
const isolated = () => ({ XDG_RUNTIME_DIR: tempDir(), XDG_STATE_HOME: tempDir() });

describe("a hostile session or peer of the same user", () => {
  it("a session probing another scope is refused with exit 4: list, mint and revoke", async () => {
    const d = await daemon([], isolated());
    const a = await mint(d, "a");
    const b = await mint(d, "b");
    const asA = { ...d.env, TOKENCTL_SESSION_TOKEN_FILE: a.tokenFile };
    for (const args of [["session", "list", "--scope", "b"], ["session", "mint", "--scope", "b", "--dir", tempDir()], ["session", "revoke", b.id]]) {
      const r = await runBin(args, { env: asA });
      expect({ args, code: r.code }).toEqual({ args, code: 4 });
      expect(r.stderr).toContain("Not allowed: a session may act only in its own scope");
      expect(r.stdout).toBe("");
    }
    const own = await runBin(["session", "list"], { env: asA });
    expect(own.code).toBe(0);
    expect(own.stdout).toContain(a.id);
    expect(own.stdout).not.toContain(b.id);
    // The code travels in the frame, for programs that speak the protocol.
    const raw = await sessionPeer(d.socket, a.token);
    raw.send({ type: "session.list", id: 1, scope: "b" });
    expect(await raw.next()).toMatchObject({ type: "error", id: 1, code: "session.not_allowed" });
    raw.end();
    // The daemon token still names any scope.
    expect((await runBin(["session", "list", "--scope", "b"], { env: d.env })).stdout).toContain(b.id);
  });

  it("a session registering 2,000 times gets 64 live children, then a clear refusal (exit 4)", async () => {
    const d = await daemon([], isolated());
    const parent = await mint(d, "p");
    const raw = await sessionPeer(d.socket, parent.token);
    let batch = "";
    for (let i = 1; i <= 2000; i++) batch += `${JSON.stringify({ type: "session.register", id: i, token: randomBytes(32).toString("hex"), pid: process.pid })}\n`;
    raw.write(batch);
    const codes = new Map<string, number>();
    for (let i = 0; i < 2000; i++) {
      const m = await raw.next(10_000);
      const key = m.type === "error" ? String(m.code) : String(m.type);
      codes.set(key, (codes.get(key) ?? 0) + 1);
    }
    expect(Object.fromEntries(codes)).toEqual({ "session.register.result": 64, "session.limit": 1936 });
    raw.end();
    const more = await runBin(["session", "mint", "--dir", tempDir()], { env: { ...d.env, TOKENCTL_SESSION_TOKEN_FILE: parent.tokenFile } });
    expect(more.code).toBe(4);
    expect(more.stderr).toContain("Not allowed: a session may hold at most 64 live sessions it registered");
    const status = JSON.parse((await runBin(["call", "status"], { env: d.env })).stdout);
    expect(status.session.sessions).toBe(65);
  });

  it("registering pid 1, or a pid that is gone, is refused (exit 2)", async () => {
    const d = await daemon([], isolated());
    const one = await runBin(["session", "mint", "--pid", "1", "--dir", tempDir()], { env: d.env });
    expect(one.code).toBe(2);
    expect(one.stderr).toContain("Expected pid to be a live process of this user (not pid 1), found 1");
    const gone = Bun.spawn(["true"]);
    await gone.exited;
    expect((await runBin(["session", "mint", "--pid", String(gone.pid), "--dir", tempDir()], { env: d.env })).code).toBe(2);
    const status = JSON.parse((await runBin(["call", "status"], { env: d.env })).stdout);
    expect(status.session.sessions).toBe(0);
  });

  it("1,100 idle unauthenticated connections do not lock the owner out: call ping answers within a second", async () => {
    const d = await daemon(["--auth-timeout", "60s"], isolated());
    const idle: RawPeer[] = [];
    for (let i = 0; i < 1100; i++) idle.push(await rawConnect(d.socket));
    try {
      const token = readFileSync(d.tokenFile, "utf8").trim();
      const started = performance.now();
      const owner = await authedPeer(d.socket, token);
      owner.send({ type: "ping", id: 1 });
      expect(await owner.next()).toEqual({ type: "pong", id: 1 });
      expect(performance.now() - started).toBeLessThan(1000);
      owner.end();
      const ping = await runBin(["call", "ping"], { env: d.env });
      expect(ping.code).toBe(0);
      expect(JSON.parse(ping.stdout)).toEqual({ type: "pong", id: 1 });
      // The oldest were closed to make room, with a reason; the newest still wait.
      expect(await idle[0]!.next()).toEqual({ type: "error", message: "Too many unauthenticated connections: closed the oldest" });
      expect(idle.at(-1)!.isClosed()).toBe(false);
    } finally {
      for (const p of idle) p.socket.destroy();
    }
  });

  it("a message type with a newline does not forge a log line", async () => {
    const d = await daemon([], isolated());
    const p = await rawConnect(d.socket);
    p.write(`${JSON.stringify({ type: "ping\nFORGED Daemon listening on /tmp/evil.sock\r\u001b[2K" })}\n`);
    await p.closed;
    d.proc.kill("SIGTERM");
    await d.proc.exited;
    const log = await d.stderr();
    expect(log).toContain("not auth");
    expect(log.split("\n").filter((l) => l.startsWith("FORGED"))).toEqual([]);
    expect(log).not.toContain("\u001b[2K");
    expect(log).not.toContain("\r");
  });

  it("a client pipelining 1,000 requests without reading is slowed, not disconnected", async () => {
    const d = await daemon([], isolated());
    const token = readFileSync(d.tokenFile, "utf8").trim();
    // 60 sessions make each list answer about 12 KB: 1,000 answers are far over the 1 MiB queue cap.
    const admin = await authedPeer(d.socket, token);
    for (let i = 1; i <= 60; i++) admin.send({ type: "session.register", id: i, token: randomBytes(32).toString("hex"), pid: process.pid, name: "x".repeat(100) });
    for (let i = 1; i <= 60; i++) expect((await admin.next()).type).toBe("session.register.result");
    admin.end();
    const greedy = await authedPeer(d.socket, token);
    greedy.socket.pause();
    let batch = "";
    for (let i = 1; i <= 1000; i++) batch += `{"type":"session.list","id":${i}}\n`;
    greedy.write(batch);
    // Let the daemon fill its queue for this peer while the peer reads nothing.
    await Bun.sleep(300);
    expect(greedy.isClosed()).toBe(false);
    greedy.socket.resume();
    for (let i = 1; i <= 1000; i++) {
      const m = await greedy.next(10_000);
      expect(m.id).toBe(i);
      expect((m.sessions as unknown[]).length).toBe(60);
    }
    expect(greedy.isClosed()).toBe(false);
    greedy.end();
  });
});

describe("the open-file limit", () => {
  /** `tokenctl daemon` under `ulimit -n n`, set in its own shell only. */
  async function limitedDaemon(n: number): Promise<{ proc: Proc; socket: string; tokenFile: string; stderr: () => Promise<string> } | { code: number; stderr: string }> {
    const env = childEnv(isolated());
    const proc = Bun.spawn(["sh", "-c", `ulimit -n ${n} && exec "$0" daemon --json`, BIN], { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    procs.push(proc);
    const text = await new Response(proc.stdout as ReadableStream).body!.getReader().read();
    // No ready line: it exited (with --json, an error may be printed on stdout as {"error":…}).
    const ready = text.done ? undefined : JSON.parse(new TextDecoder().decode(text.value).trim().split("\n")[0]!);
    if (!ready?.socket) return { code: await proc.exited, stderr: await new Response(proc.stderr as ReadableStream).text() };
    return { proc, socket: ready.socket, tokenFile: ready.tokenFile, stderr: () => new Response(proc.stderr as ReadableStream).text() };
  }

  function cpuSeconds(pid: number): number {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 10 ms
  }

  it.if(process.platform === "linux")("stays within a low limit: connections over it are refused, and the daemon does not spin", async () => {
    const d = await limitedDaemon(128);
    if (!("proc" in d)) throw new Error(`daemon did not start: ${d.stderr}`);
    const token = readFileSync(d.tokenFile, "utf8").trim();
    const held: RawPeer[] = [];
    let refused = 0;
    try {
      for (let i = 0; i < 150; i++) {
        // A refused peer hears "Too many connections"; a few see the close first (ECONNRESET).
        try {
          const p = await rawConnect(d.socket);
          held.push(p);
          p.send({ type: "auth", token });
          const r = await p.next();
          if (r.type === "error" && r.message === "Too many connections") refused++;
          else expect(r).toEqual({ type: "auth_result", ok: true });
        } catch (e) {
          if (!/ECONNRESET|closed with no further line/.test(String(e))) {
            d.proc.kill();
            throw new Error(`connection ${i}: ${String(e)}; the daemon said:\n${await d.stderr()}`);
          }
          refused++;
        }
      }
      expect(refused).toBeGreaterThan(0);
      const before = cpuSeconds(d.proc.pid);
      await Bun.sleep(2000);
      expect(cpuSeconds(d.proc.pid) - before).toBeLessThan(0.3);
    } finally {
      for (const p of held) p.socket.destroy();
    }
    const ping = await runBin(["call", "ping", "--socket", d.socket, "--token-file", d.tokenFile]);
    expect(ping.code).toBe(0);
  });

  it("refuses to start when the limit leaves almost no room (exit 2, naming ulimit)", async () => {
    const d = await limitedDaemon(40);
    if ("proc" in d) throw new Error("the daemon started under ulimit -n 40");
    expect(d.code).toBe(2);
    expect(d.stderr).toContain("ulimit -n");
  });
});
