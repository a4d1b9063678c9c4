/**
 * The compiled binary against a real oidc-provider on 127.0.0.1: login end to end, the refresh
 * storm, failures that must leave the store untouched, SIGKILL mid-refresh, exec, logout.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BIN, childEnv, runBin, spawnDaemon } from "../support/bin.ts";
import { loginWithBinary } from "../support/login.ts";
import { CLIENT_ID, startOidc, type OidcServer } from "../support/oidc.ts";
import { tempDir } from "../support/tmp.ts";
import { tryLock } from "../../src/fs/lock.ts";


let oidc: OidcServer;
beforeAll(async () => {
  oidc = await startOidc({ accessTokenTtl: 3600 });
});
afterAll(() => oidc.close());

function workspace() {
  const dir = tempDir();
  const file = join(dir, "shared", "credentials.json");
  mkdirSync(join(dir, "shared"), { mode: 0o700 });
  const env = { HOME: dir, XDG_CONFIG_HOME: join(dir, "config"), XDG_STATE_HOME: join(dir, "state") };
  const args = ["--issuer", oidc.issuer, "--client-id", CLIENT_ID, "--scope", "openid offline_access", "--store", `file:${file}#agent`];
  const json = () => JSON.parse(readFileSync(file, "utf8"));
  return { dir, file, env, args, json, text: () => readFileSync(file, "utf8") };
}

/** A logged-in workspace whose shared file also holds another program's key. */
async function loggedIn() {
  const w = workspace();
  writeFileSync(w.file, `{\n  "other": {"keep": "me", "n": 1.50}\n}\n`, { mode: 0o600 });
  const run = await loginWithBinary(oidc, w.args, w.env);
  expect(run.stderr).toContain("Logged in");
  expect(run.code).toBe(0);
  return w;
}

/** Make the stored access token look expired (the refresh token stays valid at the server). */
function expire(w: ReturnType<typeof workspace>) {
  const doc = w.json();
  doc.agent.expiresAt = Date.now() - 1000;
  writeFileSync(w.file, JSON.stringify(doc, null, 2));
}

describe("oauth login", () => {
  test("end to end through the browser pages: PKCE, state, loopback redirect, file store shared with other keys", async () => {
    const w = await loggedIn();
    const doc = w.json();
    expect(w.text()).toContain(`"other": {"keep": "me", "n": 1.50}`);
    expect(doc.agent.accessToken).toBeString();
    expect(doc.agent.refreshToken).toBeString();
    expect(doc.agent.expiresAt).toBeGreaterThan(Date.now() + 3_000_000);
    expect(doc.agent.scopes).toEqual(["openid", "offline_access"]);
    const tok = await runBin(["oauth", "token", ...w.args], { env: w.env });
    expect(tok).toMatchObject({ code: 0, stdout: `${doc.agent.accessToken}\n` });
    const st = await runBin(["oauth", "status", "--json", ...w.args], { env: w.env });
    expect(st.code).toBe(0);
    expect(st.stdout).not.toContain(doc.agent.accessToken);
    expect(st.stdout).not.toContain(doc.agent.refreshToken);
    expect(JSON.parse(st.stdout)).toMatchObject({ profile: "default", loggedIn: true, refreshable: true, expired: false, scopes: ["openid", "offline_access"] });
  });

  test("a redirect with the wrong state gets an error page, and the login waits for its own", async () => {
    const w = workspace();
    let forgedPage = "";
    const run = await loginWithBinary(oidc, w.args, w.env, async (url) => {
      const redirect = new URL(new URL(url).searchParams.get("redirect_uri")!);
      redirect.search = `code=forged&state=wrong&iss=${encodeURIComponent(oidc.issuer)}`;
      const forged = await fetch(redirect);
      expect(forged.status).toBe(400);
      forgedPage = await forged.text();
      return oidc.driveLogin(url);
    });
    expect(forgedPage).toContain("Not this login");
    expect(forgedPage).not.toContain("forged");
    expect(run.stderr).toContain("Ignored a request to the login listener (wrong state)");
    expect(run.code).toBe(0);
    expect(run.page).toContain("Logged in");
    expect(w.json().agent.refreshToken).toBeString();
  });

  test("a denied login says so (exit 4)", async () => {
    const w = workspace();
    const run = await loginWithBinary(oidc, w.args, w.env, async (url) => {
      const u = new URL(url);
      const redirect = new URL(u.searchParams.get("redirect_uri")!);
      redirect.search = `error=access_denied&state=${u.searchParams.get("state")}&iss=${encodeURIComponent(oidc.issuer)}`;
      return fetch(redirect);
    });
    expect(run.code).toBe(4);
    expect(run.stderr).toContain("refused the login: access_denied");
  });

  test("no redirect within --timeout: a clear error", async () => {
    const w = workspace();
    const r = await runBin(["oauth", "login", "--no-browser", "--timeout", "300ms", ...w.args], { env: w.env });
    expect(r.code).toBe(5);
    expect(r.stderr).toContain("No login redirect arrived");
  });
});

describe("oauth token", () => {
  test("refreshes an expired token once, rotating the refresh token, other keys untouched", async () => {
    const w = await loggedIn();
    const before = w.json().agent;
    expire(w);
    const start = oidc.counts.refresh;
    const r = await runBin(["oauth", "token", "--json", ...w.args], { env: w.env });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.source).toBe("refreshed");
    const after = w.json().agent;
    expect(out.accessToken).toBe(after.accessToken);
    expect(after.accessToken).not.toBe(before.accessToken);
    expect(after.refreshToken).not.toBe(before.refreshToken);
    expect(after.refreshToken).toBeString();
    expect(oidc.counts.refresh - start).toBe(1);
    expect(w.json().other).toEqual({ keep: "me", n: 1.5 });
  });

  test("the storm: 16 concurrent processes on one expired store, exactly 1 refresh, one token", async () => {
    const w = await loggedIn();
    expire(w);
    const start = { ...oidc.counts };
    const runs = await Promise.all(Array.from({ length: 16 }, () => runBin(["oauth", "token", ...w.args], { env: w.env })));
    expect(runs.map((r) => r.code)).toEqual(Array(16).fill(0));
    const tokens = new Set(runs.map((r) => r.stdout));
    expect(tokens.size).toBe(1);
    expect([...tokens][0]).toBe(`${w.json().agent.accessToken}\n`);
    expect(oidc.counts.refresh - start.refresh).toBe(1);
    expect(oidc.counts.refreshFailed - start.refreshFailed).toBe(0);
  }, 20_000);

  test("server down: exit 5 after retrying within --timeout, store byte for byte untouched", async () => {
    const w = await loggedIn();
    expire(w);
    const before = w.text();
    const args = w.args.map((a) => (a === oidc.issuer ? "http://127.0.0.1:9" : a));
    const r = await runBin(["oauth", "token", "--timeout", "1s", "--token-endpoint", "http://127.0.0.1:9/token", ...args], { env: w.env });
    expect(r.code).toBe(5);
    expect(r.stderr).toContain("Could not refresh");
    expect(w.text()).toBe(before);
  });

  test("a 503 from the token endpoint: exit 5, store untouched", async () => {
    const w = await loggedIn();
    expire(w);
    const before = w.text();
    oidc.failTokenWith = 503;
    try {
      const r = await runBin(["oauth", "token", "--timeout", "1s", ...w.args], { env: w.env });
      expect(r.code).toBe(5);
    } finally {
      oidc.failTokenWith = undefined;
    }
    expect(w.text()).toBe(before);
  });

  test("invalid_grant with nothing valid stored: exit 4 naming oauth login, store untouched", async () => {
    const w = await loggedIn();
    expire(w);
    // Spend the stored refresh token elsewhere, without writing the result back (a lost rotation).
    const rt = w.json().agent.refreshToken;
    const spent = await fetch(`${oidc.issuer}/token`, { method: "POST", body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: rt, client_id: CLIENT_ID }) });
    expect(spent.status).toBe(200);
    const before = w.text();
    const r = await runBin(["oauth", "token", ...w.args], { env: w.env });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("invalid_grant");
    expect(r.stderr).toContain("tokenctl oauth login");
    expect(w.text()).toBe(before);
  });

  test("SIGKILL in the middle of a refresh: the detached helper finishes it, then frees the lock", async () => {
    const w = await loggedIn();
    expire(w);
    const before = w.json();
    oidc.tokenDelayMs = 1500;
    try {
      const arrived = oidc.counts.arrived;
      const proc = Bun.spawn([BIN, "oauth", "token", ...w.args], { env: childEnv(w.env), stdout: "pipe", stderr: "pipe" });
      const deadline = Date.now() + 10_000;
      while (oidc.counts.arrived === arrived && Date.now() < deadline) await Bun.sleep(10);
      expect(oidc.counts.arrived).toBe(arrived + 1); // the refresh request is in flight, the lock held
      proc.kill("SIGKILL");
      expect(await proc.exited).not.toBe(0);
      expect(tryLock(`${w.file}.lock`)).toBeUndefined(); // the helper still holds it
      let lock = tryLock(`${w.file}.lock`);
      while (!lock && Date.now() < deadline) {
        await Bun.sleep(20);
        lock = tryLock(`${w.file}.lock`);
      }
      expect(lock).toBeDefined();
      lock!.release();
    } finally {
      oidc.tokenDelayMs = 0;
    }
    const after = w.json();
    expect(after.other).toEqual(before.other);
    expect(after.agent.refreshToken).not.toBe(before.agent.refreshToken); // the rotation reached the disk
    const refreshes = oidc.counts.refresh;
    const r = await runBin(["oauth", "token", ...w.args], { env: w.env });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${after.agent.accessToken}\n`);
    expect(oidc.counts.refresh).toBe(refreshes);
  });

  test("no credential: exit 3 with the login hint; garbage store: exit 2", async () => {
    const w = workspace();
    const r = await runBin(["oauth", "token", ...w.args], { env: w.env });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("tokenctl oauth login");
    writeFileSync(w.file, "{garbage", { mode: 0o600 });
    const g = await runBin(["oauth", "token", ...w.args], { env: w.env });
    expect(g.code).toBe(2);
    expect(g.stderr).toContain("not valid JSON");
    expect(readFileSync(w.file, "utf8")).toBe("{garbage");
  });

  // Issue 13 item 5: the Fix line names the profile in use, so pasting it fixes that profile.
  test("profile work: the Fix line names --profile work, with nothing stored (exit 3) and with garbage (exit 2)", async () => {
    const w = workspace();
    const r = await runBin(["oauth", "token", "--profile", "work", "--store", "file"], { env: w.env });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("Fix: tokenctl oauth login --profile work\n");
    const args = ["oauth", "token", "--profile", "work", ...w.args];
    writeFileSync(w.file, "{garbage", { mode: 0o600 });
    const g = await runBin(args, { env: w.env });
    expect(g.code).toBe(2);
    expect(g.stderr).toContain("Fix: Fix or move the file, then log in again: tokenctl oauth login --profile work\n");
    writeFileSync(w.file, JSON.stringify({ agent: { accessToken: "LEAKMARK-at", expiresAt: "soon" } }), { mode: 0o600 });
    const bad = await runBin(args, { env: w.env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("Fix: Log in again to replace it: tokenctl oauth login --profile work\n");
    expect(bad.stderr).not.toContain("LEAKMARK");
  });

  test("bad flags are usage errors before any side effect", async () => {
    const w = workspace();
    for (const extra of [["--min-valid", "soon"], ["--store", "vault"], ["--issuer", "http://auth.example.com"]]) {
      const r = await runBin(["oauth", "token", ...w.args, ...extra], { env: w.env });
      expect(r.code).toBe(2);
    }
  });
});

describe("exec and logout", () => {
  test("exec passes a fresh token in the env and exits as the command did", async () => {
    const w = await loggedIn();
    const r = await runBin(["exec", "--oauth", "default", ...w.args, "--env", "MY_TOKEN", "--", "sh", "-c", 'printf %s "$MY_TOKEN"; exit 7'], { env: w.env });
    expect(r.code).toBe(7);
    expect(r.stdout).toBe(w.json().agent.accessToken);
    const none = await runBin(["exec", "--oauth", "default", ...w.args], { env: w.env });
    expect(none.code).toBe(2);
  });

  test("logout revokes at the server, then deletes only our key", async () => {
    const w = await loggedIn();
    const rt = w.json().agent.refreshToken;
    const revocations = oidc.counts.revocation;
    const r = await runBin(["oauth", "logout", "--json", ...w.args], { env: w.env });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ revoked: true, deleted: true });
    expect(oidc.counts.revocation).toBe(revocations + 1);
    expect(w.text()).toBe(`{\n  "other": {"keep": "me", "n": 1.50}\n}\n`);
    const spent = await fetch(`${oidc.issuer}/token`, { method: "POST", body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: rt, client_id: CLIENT_ID }) });
    expect(spent.status).toBe(400);
    const st = await runBin(["oauth", "status", ...w.args], { env: w.env });
    expect(st.code).toBe(3);
    expect(st.stdout).toContain("not logged in");
  });
});

describe("with the daemon", () => {
  test("oauth token asks a running daemon first; the daemon holds the config.json profile", async () => {
    const w = workspace();
    const runtime = tempDir();
    const env = { ...w.env, XDG_RUNTIME_DIR: runtime };
    mkdirSync(join(w.dir, "config", "tokenctl"), { recursive: true });
    writeFileSync(
      join(w.dir, "config", "tokenctl", "config.json"),
      JSON.stringify({ oauth: { profiles: { work: { issuer: oidc.issuer, clientId: CLIENT_ID, scopes: "openid offline_access", store: `file:${w.file}#work` } } } }),
    );
    const login = await loginWithBinary(oidc, ["--profile", "work"], env);
    expect(login.code).toBe(0);
    const { proc } = await spawnDaemon([], env);
    try {
      const r = await runBin(["oauth", "token", "--json", "--profile", "work"], { env });
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.source).toBe("daemon");
      expect(out.accessToken).toBe(w.json().work.accessToken);
      const status = await runBin(["call", "status"], { env });
      expect(JSON.parse(status.stdout).oauth.profiles.work).toMatchObject({ refreshable: true });
      expect(status.stdout).not.toContain(out.accessToken);
      // A profile redefined by flags is not the daemon's: done locally.
      const local = await runBin(["oauth", "token", "--json", ...w.args.slice(0, -2), "--store", `file:${w.file}#work`], { env });
      expect(JSON.parse(local.stdout).source).toBe("store");
    } finally {
      proc.kill("SIGTERM");
      await proc.exited;
    }
  });
});
