/** `tokenctl session …` through the compiled binary, against a real `tokenctl daemon`. */
import { afterEach, describe, expect, it } from "bun:test";
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { BIN, type BinResult, childEnv, runBin, spawnDaemon } from "../support/bin.ts";
import { tempDir } from "../support/tmp.ts";


type Proc = ReturnType<typeof Bun.spawn>;
const procs: Proc[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) {
    p.kill("SIGKILL");
    await p.exited;
  }
});

/** Every output any command printed in this test file: checked for raw tokens at the end of each test. */
const outputs: string[] = [];
async function run(args: string[], env: Record<string, string>, opts: { stdin?: string } = {}): Promise<BinResult> {
  const r = await runBin(args, { env, ...opts });
  outputs.push(r.stdout, r.stderr);
  return r;
}
function expectNoToken(tokens: string[]) {
  const all = outputs.splice(0).join("\n");
  for (const t of tokens) expect(all).not.toContain(t);
}

interface Daemon {
  proc: Proc;
  env: Record<string, string>;
  state: string;
  stop(): Promise<string>;
}

/** Start `tokenctl daemon --json` in private XDG dirs and wait for its ready line. */
async function daemon(extra: string[] = [], dirs?: { runtime: string; state: string }): Promise<Daemon> {
  const runtime = dirs?.runtime ?? tempDir();
  const state = dirs?.state ?? tempDir();
  const env = { XDG_RUNTIME_DIR: runtime, XDG_STATE_HOME: state };
  const { proc } = await spawnDaemon(extra, env);
  procs.push(proc);
  return {
    proc,
    env,
    state,
    async stop() {
      proc.kill("SIGTERM");
      await proc.exited;
      const err = await new Response(proc.stderr as ReadableStream).text();
      outputs.push(err);
      return err;
    },
  };
}

const tokenOf = (file: string) => readFileSync(file, "utf8").trim();
const mode = (p: string) => statSync(p).mode & 0o777;

async function mint(d: Daemon, args: string[] = []) {
  const r = await run(["session", "mint", "--json", "--pid", String(process.pid), ...args], d.env);
  expect(r.code).toBe(0);
  const out = JSON.parse(r.stdout) as { id: string; tokenFile: string; name: string; scope: string };
  return { ...out, token: tokenOf(out.tokenFile), env: { ...d.env, TOKENCTL_SESSION_TOKEN_FILE: out.tokenFile } };
}

describe("session mint and whoami", () => {
  it("mints a 0600 token file in a fresh 0700 dir and prints only its path", async () => {
    const d = await daemon();
    const m = await mint(d, ["--name", "agent-1", "--scope", "ci"]);
    expect(m).toMatchObject({ name: "agent-1", scope: "ci", id: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(m.token).toMatch(/^[0-9a-f]{64}$/);
    expect(mode(m.tokenFile)).toBe(0o600);
    expect(mode(dirname(m.tokenFile))).toBe(0o700);
    expect(dirname(dirname(m.tokenFile))).toBe(join(d.env.XDG_RUNTIME_DIR!, "tokenctl"));

    const who = await run(["session", "whoami", "--json"], m.env);
    expect(who.code).toBe(0);
    expect(JSON.parse(who.stdout)).toMatchObject({ id: m.id, name: "agent-1", scope: "ci", pid: process.pid });
    const text = await run(["session", "whoami"], m.env);
    expect(text.stdout.split("\t").slice(0, 4)).toEqual([m.id, "ci", String(process.pid), "agent-1"]);

    // The shell form: eval the export line, then ask who we are.
    const dir = tempDir();
    const sh = await run(["session", "mint", "--dir", dir], d.env);
    expect(sh.stdout).toMatch(/^export TOKENCTL_SESSION_TOKEN_FILE='.+'\n$/);
    const viaShell = Bun.spawnSync(["sh", "-c", `eval "$(cat)"; exec "${BIN}" session whoami --json`], { env: childEnv(d.env), stdin: new Blob([sh.stdout]) });
    const who2 = JSON.parse(viaShell.stdout.toString());
    expect(readdirSync(dir)).toHaveLength(1);
    expect(who2.scope).toBe("default");
    expectNoToken([m.token, tokenOf(join(dir, readdirSync(dir)[0]!, "session-token"))]);
  });

  it.each([
    ["too short", "abc\n", 0o600],
    ["not hex", `${"z".repeat(64)}\n`, 0o600],
    ["empty", "", 0o600],
    ["readable by others", `${"a".repeat(64)}\n`, 0o644],
  ])("a token file that is %s is no session: exit 3, the reason under --verbose", async (_what, content, fileMode) => {
    const d = await daemon();
    const file = join(tempDir(), "session-token");
    writeFileSync(file, content, { mode: fileMode });
    const env = { ...d.env, TOKENCTL_SESSION_TOKEN_FILE: file };
    const r = await run(["session", "whoami", "--verbose"], env);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("no usable session token");
    expect(r.stderr).toContain(file);
    if (content.trim()) expect(r.stderr).not.toContain(content.trim());
    // Callers without a usable session token behave as before: the daemon token sees every scope.
    expect((await run(["session", "list"], env)).code).toBe(0);
  });

  it("a well-formed token the daemon does not know: exit 4", async () => {
    const d = await daemon();
    const token = "ab".repeat(32);
    const r = await run(["session", "whoami"], { ...d.env, TOKENCTL_SESSION_TOKEN: token });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("does not know this session");
    expectNoToken([token]);
  });

  it("no daemon: mint and whoami exit 5", async () => {
    const env = { XDG_RUNTIME_DIR: tempDir() };
    expect((await run(["session", "mint"], env)).code).toBe(5);
    expect((await run(["session", "whoami"], { ...env, TOKENCTL_SESSION_TOKEN: "cd".repeat(32) })).code).toBe(5);
  });
});

describe("session exec", () => {
  it("the command sees a path, not the token, is registered by its own pid, and everything is gone after", async () => {
    const d = await daemon();
    const out = join(tempDir(), "out");
    const script = `echo "pid=$$"; echo "file=$TOKENCTL_SESSION_TOKEN_FILE"; cp "$TOKENCTL_SESSION_TOKEN_FILE" ${out}.token; "${BIN}" session whoami --json > ${out}.who; env > ${out}.env; exit 7`;
    const r = await run(["session", "exec", "--name", "job", "--scope", "ci", "--", "sh", "-c", script], d.env);
    expect(r.code).toBe(7);
    const pid = /pid=(\d+)/.exec(r.stdout)![1]!;
    const file = /file=(.+)/.exec(r.stdout)![1]!;
    const token = tokenOf(`${out}.token`);
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    const who = JSON.parse(readFileSync(`${out}.who`, "utf8"));
    expect(who).toMatchObject({ name: "job", scope: "ci", pid: Number(pid) });
    const env = readFileSync(`${out}.env`, "utf8");
    expect(env).toContain(`TOKENCTL_SESSION_TOKEN_FILE=${file}`);
    expect(env).not.toContain(token);
    // Cleaned up: directory removed, session revoked.
    expect(existsSync(dirname(file))).toBe(false);
    const list = await run(["session", "list", "--json"], d.env);
    expect(JSON.parse(list.stdout).sessions).toEqual([]);
    expectNoToken([token]);
  });

  it.each([
    ["SIGTERM", 42, "trap 'echo got-TERM; exit 42' TERM"],
    ["SIGINT", 43, "trap 'echo got-INT; exit 43' INT"],
    ["SIGHUP", 129, ":"],
  ] as const)("forwards %s to the command (exit %d)", async (signal, code, trap) => {
    const d = await daemon();
    const proc = Bun.spawn([BIN, "session", "exec", "--", "sh", "-c", `${trap}; echo ready; while :; do sleep 0.05; done`], {
      env: childEnv(d.env),
      stdout: "pipe",
      stderr: "pipe",
    });
    procs.push(proc);
    const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
    let text = "";
    while (!text.includes("ready")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`exec ended before the command was ready: ${await new Response(proc.stderr as ReadableStream).text()}`);
      text += new TextDecoder().decode(value);
    }
    proc.kill(signal);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    expect(await proc.exited).toBe(code);
    if (trap !== ":") expect(text).toContain(`got-${signal.slice(3)}`);
    expect(JSON.parse((await run(["session", "list", "--json"], d.env)).stdout).sessions).toEqual([]);
  });

  it("without a daemon: runs the command, warns once; --require-daemon exits 5 without running it", async () => {
    const env = { XDG_RUNTIME_DIR: tempDir() };
    const r = await run(["session", "exec", "--", "sh", "-c", 'test -s "$TOKENCTL_SESSION_TOKEN_FILE" && echo has-file'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("has-file\n");
    expect(r.stderr.match(/\[warn\]/g)).toHaveLength(1);
    const marker = join(tempDir(), "ran");
    const strict = await run(["session", "exec", "--require-daemon", "--", "touch", marker], env);
    expect(strict.code).toBe(5);
    expect(existsSync(marker)).toBe(false);
    expect(readdirSync(join(env.XDG_RUNTIME_DIR, "tokenctl")).filter((f) => f.startsWith("session-"))).toEqual([]);
  });

  it("usage: no command is exit 2", async () => {
    const r = await run(["session", "exec", "--name", "x"], { XDG_RUNTIME_DIR: tempDir() });
    expect(r.code).toBe(2);
  });
});

describe("scoping, list and revoke", () => {
  it("own scope by default, another scope refused (exit 4), the daemon token sees all", async () => {
    const d = await daemon();
    const a1 = await mint(d, ["--scope", "a"]);
    const a2 = await mint(d, ["--scope", "a"]);
    const b = await mint(d, ["--scope", "b"]);
    const ids = async (env: Record<string, string>, extra: string[] = []) => {
      const r = await run(["session", "list", "--json", ...extra], env);
      expect(r.code).toBe(0);
      return (JSON.parse(r.stdout).sessions as { id: string }[]).map((s) => s.id).sort();
    };
    expect(await ids(a1.env)).toEqual([a1.id, a2.id].sort());
    expect(await ids(a1.env, ["--scope", "a"])).toEqual([a1.id, a2.id].sort());
    expect((await run(["session", "list", "--scope", "b"], a1.env)).code).toBe(4);
    expect(await ids(d.env)).toEqual([a1.id, a2.id, b.id].sort());
    const text = await run(["session", "list"], d.env);
    expect(text.stdout.trim().split("\n")).toHaveLength(3);

    expect((await run(["session", "revoke", b.id], a1.env)).code).toBe(4);
    const ok = await run(["session", "revoke", a2.id], a1.env);
    expect(ok).toMatchObject({ code: 0, stdout: `${a2.id}\n` });
    expect((await run(["session", "revoke", b.id], d.env)).code).toBe(0);
    expect((await run(["session", "revoke", b.id], d.env)).code).toBe(3);
    expect((await run(["session", "whoami"], b.env)).code).toBe(4);
    expect((await run(["session", "list", "--scope", "bad scope"], d.env)).code).toBe(2);
    expectNoToken([a1.token, a2.token, b.token]);
  });
});

describe("reaper and persistence", () => {
  it("drops a session whose process died, with a short --reap-interval", async () => {
    const d = await daemon(["--reap-interval", "100ms"]);
    const child = Bun.spawn(["sleep", "30"]);
    procs.push(child);
    const r = await run(["session", "mint", "--json", "--pid", String(child.pid)], d.env);
    const { id, tokenFile } = JSON.parse(r.stdout);
    const env = { ...d.env, TOKENCTL_SESSION_TOKEN_FILE: tokenFile };
    expect((await run(["session", "whoami"], env)).code).toBe(0);
    child.kill("SIGKILL");
    await child.exited;
    await Bun.sleep(400);
    expect((await run(["session", "whoami"], env)).code).toBe(4);
    expect(JSON.parse((await run(["session", "list", "--json"], d.env)).stdout).sessions.map((s: { id: string }) => s.id)).not.toContain(id);
  });

  it("a restarted daemon still knows live sessions; the state file holds no token", async () => {
    const first = await daemon();
    const live = await mint(first, ["--name", "survivor"]);
    // Registered while its process lives (a gone pid is refused), then the process ends.
    const deadChild = Bun.spawn(["sleep", "30"]);
    procs.push(deadChild);
    const dead = await run(["session", "mint", "--json", "--pid", String(deadChild.pid)], first.env);
    const deadToken = tokenOf(JSON.parse(dead.stdout).tokenFile);
    deadChild.kill("SIGKILL");
    await deadChild.exited;
    await first.stop();

    const stateFile = join(first.state, "tokenctl", "sessions.json");
    expect(mode(stateFile)).toBe(0o600);
    const saved = readFileSync(stateFile, "utf8");
    expect(saved).toContain(live.id);
    expect(saved).not.toContain(live.token);
    expect(saved).not.toContain(deadToken);

    const second = await daemon([], { runtime: first.env.XDG_RUNTIME_DIR!, state: first.state });
    const who = await run(["session", "whoami", "--json"], { ...second.env, TOKENCTL_SESSION_TOKEN_FILE: live.tokenFile });
    expect(who.code).toBe(0);
    expect(JSON.parse(who.stdout)).toMatchObject({ id: live.id, name: "survivor" });
    // The reaper pruned the dead one on start.
    expect((await run(["session", "whoami"], { ...second.env, TOKENCTL_SESSION_TOKEN: deadToken })).code).toBe(4);
    await second.stop();
    expectNoToken([live.token, deadToken]);
  });
});
