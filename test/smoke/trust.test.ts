/**
 * The local trust boundary through the compiled binary: a fake daemon run by another real user
 * (uid 65534) gets no token and nothing it answers is used; hostile token values, fds and kernel
 * files are refused with exit 2.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, linkSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BIN, runBin, type BinResult } from "../support/bin.ts";
import { tempDir } from "../support/tmp.ts";
import { announceSkip, attackerDir, FAKE_TOKEN, startFakeDaemon, twoUserSkipReason, type FakeDaemon } from "../support/two-users.ts";

const SECRET = "tok-TRUST-4b7e19c2";
const SESSION = "5".repeat(64);
const stderrs: string[] = [];
const fakes: FakeDaemon[] = [];
afterEach(() => {
  for (const f of fakes.splice(0)) f.stop();
});
afterAll(() => {
  for (const s of stderrs) expect(s).not.toContain(SECRET);
});

async function tokenctl(args: string[], opts: Parameters<typeof runBin>[1] = {}): Promise<BinResult> {
  const r = await runBin(args, opts);
  stderrs.push(r.stderr);
  return r;
}

announceSkip("test/smoke/trust.test.ts (two users)");

describe.if(twoUserSkipReason() === undefined)("a fake daemon run by uid 65534", () => {
  async function fakeIn(dir: string) {
    const fake = await startFakeDaemon(join(dir, "tokenctl.sock"), dir);
    fakes.push(fake);
    return fake;
  }

  /** Our own daemon token file, so a client that trusted the fake would send it. */
  function ourTokenFile(): string {
    const dir = join(tempDir(), "run");
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(dir, "daemon.token"), SECRET, { mode: 0o600 });
    return join(dir, "daemon.token");
  }

  test("behind TOKENCTL_SOCKET, in a dir it owns: call ping, session whoami and oauth token send nothing and use nothing", async () => {
    const evil = attackerDir(tempDir());
    const fake = await fakeIn(evil);
    const env = { TOKENCTL_SOCKET: fake.socketPath, TOKENCTL_DAEMON_TOKEN_FILE: ourTokenFile() };

    const ping = await tokenctl(["call", "ping"], { env });
    expect(ping.code).toBe(2);
    expect(ping.stdout).toBe("");
    expect(ping.stderr).toContain(`directory ${evil} is owned by uid 65534`);

    const whoami = await tokenctl(["session", "whoami"], { env: { ...env, TOKENCTL_SESSION_TOKEN: SESSION } });
    expect(whoami.code).toBe(2);
    expect(whoami.stdout).not.toContain("s-fake");

    const oauth = await tokenctl(["oauth", "token"], { env: { ...env, XDG_CONFIG_HOME: tempDir(), XDG_STATE_HOME: tempDir() } });
    expect(oauth.stdout).not.toContain(FAKE_TOKEN);
    expect(oauth.code).not.toBe(0);

    expect(fake.received()).toBe("");
  });

  test("its socket hard-linked into our own dir and chowned to us: the peer uid gives it away", async () => {
    const parent = tempDir();
    const evil = attackerDir(parent);
    const fake = await fakeIn(evil);
    const run = join(parent, "run");
    mkdirSync(run, { mode: 0o700 });
    linkSync(fake.socketPath, join(run, "tokenctl.sock"));
    chownSync(join(run, "tokenctl.sock"), 0, 0);
    writeFileSync(join(run, "daemon.token"), SECRET, { mode: 0o600 });
    const env = { TOKENCTL_SOCKET: join(run, "tokenctl.sock") };
    const ping = await tokenctl(["call", "ping"], { env });
    expect(ping.code).toBe(2);
    expect(ping.stderr).toContain("the process serving it runs as uid 65534");
    const whoami = await tokenctl(["session", "whoami"], { env: { ...env, TOKENCTL_SESSION_TOKEN: SESSION } });
    expect(whoami.code).toBe(2);
    await Bun.sleep(100);
    expect(fake.received()).toBe("");
  });

  test("in an XDG_RUNTIME_DIR it owns: not used; the client warns and looks in the state dir", async () => {
    const parent = tempDir();
    const rt = attackerDir(parent, "rt", 0o700);
    const inner = join(rt, "tokenctl");
    // The attacker prepares tokenctl/ inside its runtime dir (as uid 65534 would).
    mkdirSync(inner);
    chownSync(inner, 65534, 65534);
    chmodSync(rt, 0o755);
    const fake = await fakeIn(inner);
    chmodSync(rt, 0o700);
    const state = tempDir();
    const ping = await tokenctl(["call", "ping"], { env: { XDG_RUNTIME_DIR: rt, XDG_STATE_HOME: state } });
    expect(ping.code).toBe(5);
    expect(ping.stderr).toContain(`XDG_RUNTIME_DIR=${rt} is owned by uid 65534`);
    expect(ping.stderr).toContain(join(state, "tokenctl", "run", "tokenctl.sock"));
    expect(fake.received()).toBe("");
  });
});

describe("careless paths and hostile values (any user)", () => {
  test("a world-writable XDG_RUNTIME_DIR is not used: warning, then the state dir", async () => {
    const rt = join(tempDir(), "rt");
    mkdirSync(rt);
    chmodSync(rt, 0o777);
    const state = tempDir();
    const r = await tokenctl(["call", "ping"], { env: { XDG_RUNTIME_DIR: rt, XDG_STATE_HOME: state } });
    expect(r.code).toBe(5);
    expect(r.stderr).toContain(`XDG_RUNTIME_DIR=${rt} has mode 0777, not the 0700 the XDG spec requires`);
  });

  test.each([
    ["env", (v: string) => ({ env: { TOKENCTL_TOKEN: v } }), "env TOKENCTL_TOKEN contains"],
    ["file", (v: string) => {
      const f = join(tempDir(), "token");
      writeFileSync(f, v, { mode: 0o600 });
      return { env: { TOKENCTL_TOKEN_FILE: f } };
    }, "(TOKENCTL_TOKEN_FILE)"],
  ] as const)("a CR/LF token from %s: token headers refuses it, exit 2, value not echoed", async (_n, setup, where) => {
    const r = await tokenctl(["token", "headers"], setup(`${SECRET}\r\nX-Injected: yes`));
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(where);
    expect(r.stderr).toContain("contains a line break");
  });

  test("a CR/LF token from an fd: exit 2, and it is not persisted", async () => {
    const state = tempDir();
    const proc = Bun.spawn(["sh", "-c", `printf '%s\\r\\nX-Injected: yes' "$T" | "$BIN" token headers 3<&0 0</dev/null`], {
      env: { T: SECRET, BIN, TOKENCTL_TOKEN_FD: "3", XDG_STATE_HOME: state, PATH: process.env.PATH!, NO_COLOR: "1" },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    stderrs.push(err);
    expect(code).toBe(2);
    expect(out).toBe("");
    expect(err).toContain("The token from fd TOKENCTL_TOKEN_FD=3 contains a line break");
    expect(Bun.file(join(state, "tokenctl", "token")).size).toBe(0);
  });

  test("a FIFO on the fd whose writer never writes: exit 2 at the deadline, not a hang", async () => {
    const fifo = join(tempDir(), "fifo");
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    const proc = Bun.spawn(["sh", "-c", `exec 3<>"$F"; exec "$BIN" token get --fd-timeout 300ms`], {
      env: { F: fifo, BIN, TOKENCTL_TOKEN_FD: "3", XDG_STATE_HOME: tempDir(), PATH: process.env.PATH!, NO_COLOR: "1" },
      stdout: "pipe",
      stderr: "pipe",
      timeout: 15_000,
    });
    const [err, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
    expect(code).toBe(2);
    expect(err).toContain("fd 3 (a pipe) gave no end of input within 300 ms");
  });

  test("a directory on the fd: exit 2 naming the type", async () => {
    const proc = Bun.spawn(["sh", "-c", `exec 3<"$D"; exec "$BIN" token get`], {
      env: { D: tempDir(), BIN, TOKENCTL_TOKEN_FD: "3", XDG_STATE_HOME: tempDir(), PATH: process.env.PATH!, NO_COLOR: "1" },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [err, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
    expect(code).toBe(2);
    expect(err).toContain("fd 3 is a directory");
  });

  test.each(["/proc/self/environ", "/dev/stdin", "/sys/kernel/mm/transparent_hugepage/enabled"])("--file %s is refused, exit 2", async (p) => {
    const r = await tokenctl(["token", "get", "--file", p], { env: { T: SECRET } });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/under \/(proc|dev|sys)/);
  });
});
