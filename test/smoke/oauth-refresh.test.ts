/**
 * Refresh against a rotating server, through the compiled binary: callers SIGKILLed while the
 * server's answer is on its way never lose the grant (the detached helper finishes it), and short
 * tokens are refreshed about once per half-life, by `oauth token` and by the daemon.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tryLock } from "../../src/fs/lock.ts";
import { parseRecord } from "../../src/oauth/record.ts";
import { BIN, childEnv, runBin, spawnDaemon } from "../support/bin.ts";
import { loginWithBinary } from "../support/login.ts";
import { CLIENT_ID, startOidc, type OidcServer } from "../support/oidc.ts";
import { tempDir } from "../support/tmp.ts";

/**
 * oidc-provider rotates the refresh token on every refresh and revokes the grant when an old one
 * is reused. Here it answers each refresh 800 ms after the rotation is committed: in that window the
 * old refresh token is dead and the new one exists only in the answer on its way.
 */
const ANSWER_DELAY_MS = 800;

function workspace(oidc: OidcServer) {
  const dir = tempDir();
  mkdirSync(join(dir, "shared"), { mode: 0o700 });
  const file = join(dir, "shared", "credentials.json");
  writeFileSync(file, `{\n  "other": {"keep": "me", "n": 1.50}\n}\n`, { mode: 0o600 });
  const env = { HOME: dir, XDG_CONFIG_HOME: join(dir, "config"), XDG_STATE_HOME: join(dir, "state"), XDG_RUNTIME_DIR: join(dir, "run") };
  mkdirSync(env.XDG_RUNTIME_DIR, { mode: 0o700 });
  const args = ["--issuer", oidc.issuer, "--client-id", CLIENT_ID, "--scope", "openid offline_access", "--store", `file:${file}#agent`];
  return { dir, file, env, args, text: () => readFileSync(file, "utf8"), json: () => JSON.parse(readFileSync(file, "utf8")) };
}

/** config.json names profile "work" (in the workspace's file), and it is logged in. */
async function loginWork(oidc: OidcServer, w: ReturnType<typeof workspace>) {
  mkdirSync(join(w.dir, "config", "tokenctl"), { recursive: true });
  writeFileSync(
    join(w.dir, "config", "tokenctl", "config.json"),
    JSON.stringify({ oauth: { profiles: { work: { issuer: oidc.issuer, clientId: CLIENT_ID, scopes: ["openid", "offline_access"], store: `file:${w.file}#work` } } } }),
  );
  expect((await loginWithBinary(oidc, ["--profile", "work"], w.env)).code).toBe(0);
}

async function until(what: string, cond: () => boolean, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}

async function lockFreesWithin(path: string, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const l = tryLock(path);
    if (l) {
      l.release();
      return true;
    }
    if (Date.now() > deadline) return false;
    await Bun.sleep(10);
  }
}

describe("callers killed inside the server's delayed answer", () => {
  let oidc: OidcServer;
  beforeAll(async () => {
    oidc = await startOidc({ accessTokenTtl: 3600, answerDelayAfterRotationMs: ANSWER_DELAY_MS });
  });
  afterAll(() => oidc.close());

  test("20 callers SIGKILLed after the server rotated: 0 invalid_grant, the grant survives, other keys intact", async () => {
    const w = workspace(oidc);
    expect((await loginWithBinary(oidc, w.args, w.env)).code).toBe(0);
    const failedBefore = oidc.counts.invalidGrant;
    let killedAfterRotation = 0;
    // Four rounds of five concurrent callers on an expired token: one refreshes, four queue on the lock.
    for (let round = 0; round < 4; round++) {
      const doc = w.json();
      doc.agent.expiresAt = Date.now() - 1000;
      writeFileSync(w.file, JSON.stringify(doc, null, 2));
      const before = w.json().agent;
      const rotated = oidc.counts.rotations;
      const procs = Array.from({ length: 5 }, () => Bun.spawn([BIN, "oauth", "token", ...w.args], { env: childEnv(w.env), stdout: "ignore", stderr: "ignore" }));
      await until("the server to rotate", () => oidc.counts.rotations > rotated, 15_000);
      await Bun.sleep(ANSWER_DELAY_MS / 4); // inside the 800 ms before the answer
      for (const p of procs) p.kill("SIGKILL");
      for (const p of procs) {
        await p.exited;
        if (p.signalCode === "SIGKILL") killedAfterRotation++;
      }
      // The helper still holds the lock; it frees once the rotated token is on disk.
      expect(await lockFreesWithin(`${w.file}.lock`, 10_000)).toBe(true);
      const after = w.json();
      expect(after.other).toEqual({ keep: "me", n: 1.5 });
      const record = parseRecord(after.agent, "agent");
      expect(record.refreshToken).not.toBe(before.refreshToken);
      expect(record.expiresAt).toBeGreaterThan(Date.now());
    }
    expect(killedAfterRotation).toBe(20);
    expect(oidc.counts.invalidGrant - failedBefore).toBe(0);
    expect(w.text()).toContain(`"other": {`);

    // And the next call succeeds: with the stored token, or by refreshing with the stored refresh token.
    const doc = w.json();
    doc.agent.expiresAt = Date.now() - 1000;
    writeFileSync(w.file, JSON.stringify(doc, null, 2));
    const next = await runBin(["oauth", "token", "--json", ...w.args], { env: w.env });
    expect({ code: next.code, stderr: next.stderr }).toMatchObject({ code: 0 });
    expect(JSON.parse(next.stdout).source).toBe("refreshed");
    expect(oidc.counts.invalidGrant - failedBefore).toBe(0);
  }, 40_000);
});

describe("short tokens", () => {
  let oidc: OidcServer;
  beforeAll(async () => {
    oidc = await startOidc({ accessTokenTtl: 20 });
  });
  afterAll(() => oidc.close());

  test("10 oauth token calls with 20-second tokens make at most 1 refresh", async () => {
    const w = workspace(oidc);
    expect((await loginWithBinary(oidc, w.args, w.env)).code).toBe(0);
    const start = oidc.counts.refresh;
    expect(w.json().agent.lifetimeMs).toBe(20_000);
    for (let i = 0; i < 10; i++) expect((await runBin(["oauth", "token", ...w.args], { env: w.env })).code).toBe(0);
    expect(oidc.counts.refresh - start).toBeLessThanOrEqual(1);
  }, 30_000);

  test("a daemon holding 20-second tokens for 25 s refreshes once per half-life (2 or 3 times), never in a loop", async () => {
    const w = workspace(oidc);
    await loginWork(oidc, w);
    const start = oidc.counts.refresh;
    const { proc } = await spawnDaemon([], w.env);
    try {
      await Bun.sleep(25_000);
      const refreshes = oidc.counts.refresh - start;
      expect(refreshes).toBeGreaterThanOrEqual(2);
      expect(refreshes).toBeLessThanOrEqual(3);
      const r = await runBin(["oauth", "token", "--json", "--profile", "work"], { env: w.env });
      expect(JSON.parse(r.stdout)).toMatchObject({ source: "daemon", accessToken: w.json().work.accessToken });
    } finally {
      proc.kill("SIGTERM");
      await proc.exited;
    }
  }, 40_000);
});

describe("a server that echoes the request in its error text", () => {
  let oidc: OidcServer;
  beforeAll(async () => {
    oidc = await startOidc({ echoErrors: true });
  });
  afterAll(() => oidc.close());

  test("the echoed refresh token appears in no output, --verbose, daemon log, status or doctor", async () => {
    const w = workspace(oidc);
    await loginWork(oidc, w);
    // Spend the stored refresh token elsewhere: our next refresh sends a dead one and is refused, with an echo.
    const rt: string = w.json().work.refreshToken;
    const spent = await fetch(`${oidc.issuer}/token`, { method: "POST", body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: rt, client_id: CLIENT_ID }) });
    expect(spent.status).toBe(200);
    const doc = w.json();
    doc.work.expiresAt = Date.now() - 1000;
    writeFileSync(w.file, JSON.stringify(doc, null, 2));
    const forms = [rt, encodeURIComponent(rt), new URLSearchParams({ r: rt }).toString().slice(2)];
    const clean = (where: string, text: string) => {
      for (const f of forms) expect({ where, leaked: text.includes(f) }).toEqual({ where, leaked: false });
    };

    const echoed = oidc.counts.invalidGrant;
    for (const extra of [[], ["--verbose"], ["--json"]]) {
      const r = await runBin(["oauth", "token", "--profile", "work", ...extra], { env: w.env });
      expect(r.code).toBe(4);
      expect(r.stderr).toContain("invalid_grant");
      if (extra[0] === "--verbose") expect(r.stderr).toContain("[redacted]"); // the echo arrived, and was cut
      clean(`oauth token ${extra.join(" ")} stdout`, r.stdout);
      clean(`oauth token ${extra.join(" ")} stderr`, r.stderr);
    }
    expect(oidc.counts.invalidGrant).toBeGreaterThan(echoed);

    const daemon = await spawnDaemon([], w.env);
    try {
      const deadline = Date.now() + 10_000;
      let status = "";
      while (Date.now() < deadline) {
        status = (await runBin(["call", "status"], { env: w.env })).stdout;
        if (status.includes("lastError")) break;
        await Bun.sleep(100);
      }
      expect(status).toContain("invalid_grant");
      clean("daemon status", status);
      const token = await runBin(["oauth", "token", "--profile", "work", "--verbose"], { env: w.env });
      expect(token.code).toBe(4);
      clean("oauth token via the daemon", token.stdout + token.stderr);
      const doctor = await runBin(["doctor"], { env: w.env });
      clean("doctor", doctor.stdout + doctor.stderr);
      const logout = await runBin(["oauth", "logout", "--profile", "work", "--verbose"], { env: w.env });
      clean("oauth logout", logout.stdout + logout.stderr);
    } finally {
      daemon.proc.kill("SIGTERM");
      await daemon.proc.exited;
    }
    clean("daemon log", await new Response(daemon.proc.stderr).text());
  }, 40_000);
});

describe("logout and a replaced credential with a daemon running", () => {
  let oidc: OidcServer;
  beforeAll(async () => {
    oidc = await startOidc();
  });
  afterAll(() => oidc.close());

  test("a login while the daemon runs: the daemon holds the new profile at once, in the store the login chose", async () => {
    const w = workspace(oidc);
    const { proc } = await spawnDaemon([], w.env); // config.json names no profile yet
    try {
      const before = JSON.parse((await runBin(["call", "status"], { env: w.env })).stdout);
      expect(before.oauth.profiles).toEqual({});
      const login = await loginWithBinary(oidc, [...w.args, "--json"], w.env);
      expect(login.code).toBe(0);
      expect(JSON.parse(login.stdout)).toMatchObject({ profile: "default", daemonReloaded: true });
      // The daemon reads the store in the background after the login's message: ask until it has.
      let held: Record<string, unknown> | undefined;
      for (let i = 0; i < 50 && !held?.expiresAt; i++) {
        if (i) await Bun.sleep(100);
        held = JSON.parse((await runBin(["call", "status"], { env: w.env })).stdout).oauth.profiles.default;
      }
      expect(held).toMatchObject({ store: `file ${w.file}#agent`, refreshable: true });
      const got = JSON.parse((await runBin(["oauth", "token", "--json"], { env: w.env })).stdout);
      expect(got).toMatchObject({ source: "daemon", accessToken: w.json().agent.accessToken });
    } finally {
      proc.kill("SIGTERM");
      await proc.exited;
    }
  }, 30_000);

  test("logout makes the daemon forget the profile; a record replaced behind its back is served at once", async () => {
    const w = workspace(oidc);
    await loginWork(oidc, w);
    const { proc } = await spawnDaemon([], w.env);
    try {
      const first = JSON.parse((await runBin(["oauth", "token", "--json", "--profile", "work"], { env: w.env })).stdout);
      expect(first).toMatchObject({ source: "daemon", accessToken: w.json().work.accessToken });
      const status = JSON.parse((await runBin(["call", "status"], { env: w.env })).stdout);
      expect(status.oauth.profiles.work.store).toBe(`file ${w.file}#work`);

      // Another login (or tool) replaces the record: the daemon serves the new one on the next request.
      const doc = w.json();
      doc.work = { ...doc.work, accessToken: "replaced-access-token", expiresAt: Date.now() + 3_600_000 };
      writeFileSync(w.file, JSON.stringify(doc, null, 2));
      const second = JSON.parse((await runBin(["oauth", "token", "--json", "--profile", "work"], { env: w.env })).stdout);
      expect(second).toMatchObject({ source: "daemon", accessToken: "replaced-access-token" });

      const out = await runBin(["oauth", "logout", "--json", "--profile", "work"], { env: w.env });
      expect(out.code).toBe(0);
      expect(JSON.parse(out.stdout)).toMatchObject({ profile: "work", deleted: true, daemonForgot: true });
      const after = JSON.parse((await runBin(["call", "status"], { env: w.env })).stdout);
      expect(after.oauth.profiles.work).toBeUndefined();
      const gone = await runBin(["oauth", "token", "--profile", "work"], { env: w.env });
      expect(gone.code).toBe(3);
      expect(gone.stdout).toBe("");
    } finally {
      proc.kill("SIGTERM");
      await proc.exited;
    }
  }, 30_000);
});
