/** `tokenctl daemon`, `call` and `subscribe` through the compiled binary, as shell scripts use them. */
import { afterEach, describe, expect, it } from "bun:test";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BIN, childEnv, runBin, spawnDaemon } from "../support/bin.ts";
import { authedPeer, rawConnect } from "../support/peer.ts";
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
