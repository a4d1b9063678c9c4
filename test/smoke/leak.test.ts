/**
 * Secrets never leak: the suite's main scenarios through the compiled binary under the leak guard
 * (test/support/leak.ts), with marker secrets, recorders first on PATH for every child process
 * tokenctl starts (logger, the Vault probe, the browser opener, exec'd commands), and the
 * daemon's /proc/<pid>/cmdline, status and session.list.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "bun:test";
import { mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnDaemon } from "../support/bin.ts";
import { hexMarker, LeakGuard, marker, scan } from "../support/leak.ts";
import { loginWithBinary } from "../support/login.ts";
import { CLIENT_ID, startOidc, type OidcServer } from "../support/oidc.ts";
import { rawConnect } from "../support/peer.ts";
import { tempDir } from "../support/tmp.ts";
import { startVaultServer, type VaultServer } from "../support/vault-server.ts";


type Proc = ReturnType<typeof Bun.spawn>;
const procs: Proc[] = [];
let vault: VaultServer | undefined;
afterEach(async () => {
  for (const p of procs.splice(0)) {
    p.kill("SIGKILL");
    await p.exited;
  }
  vault?.stop();
  vault = undefined;
});

function workspace() {
  const home = tempDir("tokenctl-leak-");
  const g = new LeakGuard(home);
  const env = { HOME: home, XDG_CONFIG_HOME: join(home, "config"), XDG_STATE_HOME: join(home, "state"), XDG_RUNTIME_DIR: join(home, "run") };
  mkdirSync(env.XDG_RUNTIME_DIR, { mode: 0o700 });
  return { home, g, env };
}

/** Write a file holding a secret (0600 in a 0700 dir) and allow it to hold it. */
function secretFile(g: LeakGuard, path: string, content: string, why: string): string {
  mkdirSync(join(path, ".."), { recursive: true, mode: 0o700 });
  writeFileSync(path, content, { mode: 0o600 });
  g.holds(path, why);
  return path;
}

interface Daemon {
  proc: Proc;
  socket: string;
  tokenFile: string;
  /** Stop it (SIGTERM) and add its stderr to the scan. */
  stop(): Promise<void>;
}

/** `tokenctl daemon --json` under the guard: its token becomes a secret; its cmdline and stderr are scanned. */
async function startDaemon(g: LeakGuard, env: Record<string, string>): Promise<Daemon> {
  const { proc, line: text, ready } = await spawnDaemon([], { PATH: g.path(), ...env });
  procs.push(proc);
  g.record("stdout of tokenctl daemon --json", text);
  g.secret("daemon-token", readFileSync(ready.tokenFile, "utf8").trim());
  g.holds(ready.tokenFile, "the daemon token file: its job is to hold the daemon token");
  g.recordCmdline(proc.pid);
  return {
    proc,
    socket: ready.socket,
    tokenFile: ready.tokenFile,
    async stop() {
      proc.kill("SIGTERM");
      expect(await proc.exited).toBe(0);
      g.record("stderr of the daemon", await new Response(proc.stderr as ReadableStream).text());
    },
  };
}

describe("the leak guard itself", () => {
  it("finds a planted marker by kind and place: stdout, a state file, a recorder's argv, base64, a re-prefixed copy", async () => {
    const { home, g, env } = workspace();
    const token = g.secret("session");
    // token get prints the token: declared as not printing one, its stdout must be caught.
    const r = await g.run(["token", "get"], { env: { ...env, TOKENCTL_TOKEN: token } });
    expect(r.code).toBe(0);
    writeFileSync(join(home, "state.json"), JSON.stringify({ t: Buffer.from(token).toString("base64") }));
    g.recorder("logger");
    Bun.spawnSync([join(g.binDir, "logger"), "-t", "x", token.replace("LEAKMARK", "MASKED")]);
    const leaks = g.leaks();
    expect(leaks).toContainEqual({ kind: "session", place: "stdout of tokenctl token get (exit 0)", form: "value" });
    expect(leaks).toContainEqual({ kind: "session", place: `file state.json (under ${home})`, form: "base64" });
    expect(leaks).toContainEqual({ kind: "session", place: `file leak-record/logger.argv (under ${home})`, form: "core" });
    expect(() => g.assertClean()).toThrow(/session \(value\) in stdout of tokenctl token get/);
  });

  it("allows a file only when declared as holding the secret, and refuses to pass with no secrets", () => {
    const { home, g } = workspace();
    expect(() => g.assertClean()).toThrow(/no secrets registered/);
    const s = g.secret("x");
    writeFileSync(join(home, "held"), s);
    expect(g.leaks().map((l) => l.place)).toEqual([`file held (under ${home})`]);
    g.holds(join(home, "held"), "test");
    expect(g.leaks()).toEqual([]);
    expect(scan([{ kind: "k", value: "abc" }], [{ place: "p", text: "xxabcxx" }])).toEqual([{ kind: "k", place: "p", form: "value" }]);
  });
});

describe("token get / headers / set", () => {
  it("failures and --explain never show the token", async () => {
    const { home, g, env } = workspace();
    const file = join(home, "state", "tokenctl", "token");
    const tok = g.secret("token-file");
    // Group-readable file: refused (exit 2) without quoting it.
    secretFile(g, file, `${tok}\n`, "the well-known token file: holds the session token");
    Bun.spawnSync(["chmod", "644", file]);
    for (const sub of ["get", "headers"]) expect((await g.run(["token", sub, "--verbose"], { env })).code).toBe(2);
    Bun.spawnSync(["chmod", "600", file]);
    // A symlink to it: refused.
    const link = join(home, "link");
    symlinkSync(file, link);
    expect((await g.run(["token", "get", "--file", link, "--verbose"], { env })).code).toBe(2);
    // Oversized file full of the marker.
    const big = secretFile(g, join(home, "big", "token"), `${tok} `.repeat(3000), "an oversized token file the reader must refuse");
    expect((await g.run(["token", "headers", "--file", big, "--verbose"], { env })).code).toBe(2);
    // An env token next to an invalid fd variable.
    const envTok = g.secret("token-env");
    expect((await g.run(["token", "get", "--verbose"], { env: { ...env, TOKENCTL_TOKEN_FD: "nope", TOKENCTL_TOKEN: "" } })).code).not.toBe(0);
    // Success with --explain: the token on stdout (its job), never on stderr.
    const ok = await g.run(["token", "get", "--explain"], { env: { ...env, TOKENCTL_TOKEN: envTok }, printsSecret: true });
    expect(ok.stdout).toBe(`${envTok}\n`);
    const h = await g.run(["token", "headers", "--explain", "--json"], { env, printsSecret: true });
    expect(h.code).toBe(0);
    expect(h.stdout).toContain(tok);
    // Sessions keys give a Cookie header; the organization is not a secret.
    const sk = g.secret("session-key", `sk-ant-sid01-${marker("sk")}`);
    expect((await g.run(["token", "headers", "--explain"], { env: { ...env, TOKENCTL_TOKEN: sk, TOKENCTL_ORGANIZATION_UUID: "org" }, printsSecret: true })).code).toBe(0);
    g.assertClean();
  });

  it("token set: stdin only; refused input is not echoed; --json names the file only", async () => {
    const { home, g, env } = workspace();
    const file = join(home, "state", "tokenctl", "token");
    g.holds(file, "the well-known token file: token set writes the session token there");
    const tok = g.secret("token-set");
    expect((await g.run(["token", "set", "--json", "--verbose"], { env, stdin: tok })).code).toBe(0);
    expect(readFileSync(file, "utf8").trim()).toBe(tok);
    const bad = g.secret("token-set-bad");
    for (const input of [`${bad} with spaces`, `${bad}\nsecond-line`, `${bad}\x07`]) {
      const r = await g.run(["token", "set", "--verbose"], { env, stdin: input });
      expect(r.code).toBe(2);
    }
    expect(readFileSync(file, "utf8").trim()).toBe(tok);
    g.assertClean();
  });
});

describe("daemon, call, subscribe", () => {
  it("wrong tokens, bad --data on stdin, status: nothing shows a token; daemon log and cmdline clean", async () => {
    const { home, g, env } = workspace();
    const d = await startDaemon(g, env);
    expect((await g.run(["call", "ping"], { env })).code).toBe(0);
    const status = await g.run(["call", "status"], { env });
    expect(JSON.parse(status.stdout)).toMatchObject({ type: "status" });
    // A wrong daemon token (right shape) in a file, for call and subscribe: exit 4.
    const wrong = secretFile(g, join(home, "wrong", "daemon.token"), `${g.secret("wrong-daemon-token", hexMarker())}\n`, "a wrong daemon token file the test hands to call");
    expect((await g.run(["call", "status", "--token-file", wrong, "--verbose"], { env })).code).toBe(4);
    expect((await g.run(["subscribe", "--token-file", wrong, "--verbose"], { env })).code).toBe(4);
    // A wrong token of the wrong shape, and one sent raw on the socket.
    const odd = secretFile(g, join(home, "wrong", "odd.token"), g.secret("odd-daemon-token"), "a malformed daemon token file the test hands to call");
    expect((await g.run(["call", "ping", "--token-file", odd, "--verbose"], { env })).code).toBe(4);
    const raw = await rawConnect(d.socket);
    raw.send({ type: "auth", token: g.secret("raw-auth-token") });
    g.record("the daemon's answer to a wrong raw auth", JSON.stringify(await raw.next()));
    await raw.closed;
    // --data from stdin that is not JSON: refused without echoing it.
    const data = g.secret("call-data");
    expect((await g.run(["call", "ping", "--data", "-", "--verbose"], { env, stdin: `{"password": ${data}` })).code).toBe(2);
    await d.stop();
    g.assertClean();
  });
});

describe("oauth against oidc-provider", () => {
  let oidc: OidcServer;
  beforeAll(async () => {
    oidc = await startOidc({ accessTokenTtl: 3600 });
  });
  afterAll(() => oidc.close());

  /** The tokens now in the store, registered as secrets. */
  function discover(g: LeakGuard, file: string, tag: string) {
    const rec = JSON.parse(readFileSync(file, "utf8")).agent;
    g.secret(`oauth-access-${tag}`, rec.accessToken);
    g.secret(`oauth-refresh-${tag}`, rec.refreshToken);
    return rec as { accessToken: string; refreshToken: string; expiresAt: number };
  }

  it("login (browser opener recorded), token, refresh, status, daemon, exec, failures, logout", async () => {
    const { home, g, env } = workspace();
    const file = join(home, "shared", "credentials.json");
    mkdirSync(join(home, "shared"), { mode: 0o700 });
    g.holds(file, "the OAuth credential store (file:PATH#agent): holds access and refresh tokens");
    const flags = ["--issuer", oidc.issuer, "--client-id", CLIENT_ID, "--scope", "openid offline_access", "--store", `file:${file}#agent`];
    g.recorder("xdg-open");
    const login = await loginWithBinary(oidc, flags, { PATH: g.path(), ...env }, undefined, true);
    expect(login.code).toBe(0);
    g.record("stderr of oauth login", login.stderr);
    g.record("stdout of oauth login", login.stdout);
    g.record("the login page shown to the browser", login.page);
    const first = discover(g, file, "login");
    expect(readFileSync(join(g.recordDir, "xdg-open.argv"), "utf8")).toContain("/auth?");

    expect((await g.run(["oauth", "token", ...flags], { env, printsSecret: true })).stdout).toBe(`${first.accessToken}\n`);
    for (const extra of [[], ["--json"]]) expect((await g.run(["oauth", "status", ...extra, ...flags], { env })).code).toBe(0);
    // A refresh (expired access token): the new pair is secret too.
    const doc = JSON.parse(readFileSync(file, "utf8"));
    doc.agent.expiresAt = Date.now() - 1000;
    writeFileSync(file, JSON.stringify(doc));
    expect((await g.run(["oauth", "token", "--json", "--verbose", ...flags], { env, printsSecret: true })).code).toBe(0);
    discover(g, file, "refreshed");

    // The daemon's OAuth extension: a config.json profile, status, oauth token through the daemon.
    // config.json holds no secret, so it is scanned like any other file.
    mkdirSync(join(env.XDG_CONFIG_HOME, "tokenctl"), { recursive: true, mode: 0o700 });
    writeFileSync(join(env.XDG_CONFIG_HOME, "tokenctl", "config.json"), JSON.stringify({ oauth: { profiles: { default: { issuer: oidc.issuer, clientId: CLIENT_ID, scopes: ["openid", "offline_access"], store: `file:${file}#agent` } } } }), { mode: 0o600 });
    const d = await startDaemon(g, env);
    const viaDaemon = await g.run(["oauth", "token", "--json"], { env, printsSecret: true });
    expect(JSON.parse(viaDaemon.stdout).source).toBe("daemon");
    expect((await g.run(["call", "status"], { env })).code).toBe(0);
    // exec: the token goes to the child's env (its job), never its argv.
    g.recorder("agent-tool");
    expect((await g.run(["exec", "--oauth", "default", "--", "agent-tool", "--flag", "x"], { env })).code).toBe(0);
    expect(readFileSync(join(g.recordDir, "agent-tool.argv"), "utf8")).toContain("--flag");
    await d.stop();

    // Failures with --verbose: a refresh token the server refuses, a store that is not JSON.
    const planted = { accessToken: g.secret("oauth-access-planted"), refreshToken: g.secret("oauth-refresh-planted"), expiresAt: Date.now() - 1000, scopes: ["openid"] };
    const bad = join(home, "bad", "credentials.json");
    secretFile(g, bad, JSON.stringify({ agent: planted }), "a credential store holding planted tokens");
    const badFlags = flags.map((f) => f.replace(file, bad));
    expect((await g.run(["oauth", "token", "--verbose", ...badFlags], { env, printsSecret: true })).code).toBe(4);
    const broken = join(home, "broken", "credentials.json");
    secretFile(g, broken, `{"agent": {"accessToken": "${g.secret("oauth-access-broken")}", `, "a truncated credential store");
    const brokenFlags = flags.map((f) => f.replace(file, broken));
    for (const sub of ["token", "status", "logout"]) expect((await g.run(["oauth", sub, "--verbose", ...brokenFlags], { env })).code).toBe(2);
    // Server down during refresh: exit 5.
    const downFlags = ["--token-endpoint", "http://127.0.0.1:9/token", "--client-id", CLIENT_ID, "--store", `file:${bad}#agent`, "--timeout", "500ms"];
    expect((await g.run(["oauth", "token", "--verbose", ...downFlags], { env })).code).toBe(5);

    expect((await g.run(["oauth", "logout", "--json", "--verbose", ...flags], { env })).code).toBe(0);
    g.assertClean();
  }, 60_000);
});

describe("vault sync against the Vault API server", () => {
  it("sync, status, backup, restore, probe and failures: no secret in output, sync.log, logger or the probe's argv/env", async () => {
    const { home, g, env } = workspace();
    const vaultToken = g.secret("vault-token", `hvs.${marker("vault")}`);
    const setup = g.secret("setup-token", `sk-ant-oat01-${marker("setup")}`);
    vault = startVaultServer({ tokens: { [vaultToken]: { displayName: "token-alice", policies: ["claude-alice"], paths: ["secret/data/claude/alice"] } } });
    const tokenFile = secretFile(g, join(home, "vault", "token"), `${vaultToken}\n`, "the Vault token file (VAULT_TOKEN_FILE)");
    const creds = join(home, ".claude", ".credentials.json");
    g.holds(creds, "the rotating credential file vault restore writes");
    g.holds(join(env.XDG_CONFIG_HOME, "tokenctl", "oauth.env"), "the env file whose job is to hold the setup token");
    g.holds(join(env.XDG_STATE_HOME, "tokenctl", "vault-sync", "credentials.before-restore.json"), "the credentials file as it was before a restore (0600, docs/vault.md)");
    g.recorder("logger", { stdin: true });
    g.recorder("claude", { env: true, then: `grep -q "${"LEAKMARK-access-backup"}" '${creds}'` });
    const venv = { ...env, VAULT_ADDR: vault.url, VAULT_TOKEN_FILE: tokenFile };
    const v = (cmd: string, args: string[] = [], e: Record<string, string | undefined> = venv) => g.run(["vault", cmd, "--path", "claude/alice", "--expect-policy", "claude-alice", ...args], { env: e });

    vault.put("secret", "claude/alice", { setup_token: setup });
    expect((await v("sync")).code).toBe(0);
    expect((await v("sync", ["--json", "--verbose"])).code).toBe(0);
    expect((await v("status", ["--json"])).code).toBe(0);
    expect((await v("status")).code).toBe(0);

    // Rotating-credential mode: a probe (the `claude` recorder) that fails until the backup is restored.
    const cred = (tag: string, exp: number) => ({ accessToken: g.secret(`access-${tag}`, `LEAKMARK-access-${tag}-${marker("x").slice(-24)}`), refreshToken: g.secret(`refresh-${tag}`), expiresAt: exp, scopes: ["user:inference"] });
    const backup = cred("backup", Date.now() + 3_600_000);
    const local = cred("local", Date.now() - 1000);
    vault.put("secret", "claude/alice", { claude_ai_oauth_json: JSON.stringify(backup) });
    secretFile(g, creds, JSON.stringify({ claudeAiOauth: local, other: 1 }), "credentials");
    // VAULT_TOKEN in env this time: the probe must not inherit it.
    const tokenEnv = { ...venv, VAULT_TOKEN_FILE: undefined, VAULT_TOKEN: vaultToken };
    expect((await v("sync", ["--probe", "claude -p ping", "--verbose"], tokenEnv)).code).toBe(0);
    expect(readFileSync(join(g.recordDir, "claude.argv"), "utf8")).toContain("ping");
    expect((await v("backup", ["--force", "--verbose"])).code).toBe(0);
    expect((await v("restore", ["--force", "--json"])).code).toBe(0);
    expect((await v("status", ["--json"])).code).toBe(0);
    // Failures: a foreign token, a sealed Vault, a token without access.
    expect((await v("sync", ["--expect-display-name", "token-bob", "--verbose"])).code).toBe(4);
    const other = secretFile(g, join(home, "vault", "other"), g.secret("vault-token-unknown", `hvs.${marker("unknown")}`), "a Vault token file Vault does not know");
    expect((await v("sync", ["--verbose"], { ...venv, VAULT_TOKEN_FILE: other })).code).toBe(4);
    vault.sealed = true;
    expect((await v("sync", ["--verbose"])).code).toBe(5);
    expect((await v("status", ["--verbose"])).code).toBe(5);
    const logFile = join(env.XDG_STATE_HOME, "tokenctl", "vault-sync", "sync.log");
    expect(readFileSync(logFile, "utf8")).toContain("OK");
    expect(readFileSync(join(g.recordDir, "logger.stdin"), "utf8")).toContain("OK");
    g.assertClean();
  }, 60_000);
});

describe("sessions", () => {
  it("mint, exec, whoami, list, revoke, session.list and a wrong session token", async () => {
    const { home, g, env } = workspace();
    const d = await startDaemon(g, env);
    const mint = await g.run(["session", "mint", "--json", "--name", "job", "--pid", String(d.proc.pid)], { env });
    expect(mint.code).toBe(0);
    const minted = JSON.parse(mint.stdout);
    g.secret("session-token", readFileSync(minted.tokenFile, "utf8").trim());
    g.holds(minted.tokenFile, "a session token file: its job is to hold the session token");
    const text = await g.run(["session", "mint", "--pid", String(d.proc.pid)], { env });
    const textFile = /TOKENCTL_SESSION_TOKEN_FILE='?([^'\n]+)/.exec(text.stdout)![1]!;
    g.secret("session-token-2", readFileSync(textFile, "utf8").trim());
    g.holds(textFile, "a session token file");
    const asSession = { ...env, TOKENCTL_SESSION_TOKEN_FILE: minted.tokenFile };
    expect((await g.run(["session", "whoami", "--json"], { env: asSession })).code).toBe(0);
    expect((await g.run(["session", "list", "--json"], { env })).code).toBe(0);
    expect((await g.run(["session", "list"], { env: asSession })).code).toBe(0);
    expect((await g.run(["call", "session.list"], { env })).code).toBe(0);
    expect((await g.run(["call", "status"], { env })).code).toBe(0);
    // exec: the child learns a file's path, never the token; the recorder keeps argv and env.
    g.recorder("worker", { env: true, then: 'cp "$TOKENCTL_SESSION_TOKEN_FILE" "$0.token-copy" 2>/dev/null; exit 0' });
    expect((await g.run(["session", "exec", "--name", "w", "--verbose", "--", "worker", "arg"], { env })).code).toBe(0);
    const copied = join(g.binDir, "worker.token-copy");
    g.secret("session-token-exec", readFileSync(copied, "utf8").trim());
    expect(readFileSync(join(g.recordDir, "worker.env"), "utf8")).toContain("TOKENCTL_SESSION_TOKEN_FILE=");
    // A wrong session token (right shape, and wrong shape) for whoami: refused without quoting it.
    const wrong = secretFile(g, join(home, "wrong", "session-token"), g.secret("wrong-session-token", hexMarker()), "a wrong session token file");
    expect((await g.run(["session", "whoami", "--verbose"], { env: { ...env, TOKENCTL_SESSION_TOKEN_FILE: wrong } })).code).toBe(4);
    const odd = secretFile(g, join(home, "wrong", "odd-token"), g.secret("odd-session-token"), "a malformed session token file");
    expect((await g.run(["session", "whoami", "--verbose"], { env: { ...env, TOKENCTL_SESSION_TOKEN_FILE: odd } })).code).toBe(3);
    expect((await g.run(["session", "whoami", "--verbose"], { env: { ...env, TOKENCTL_SESSION_TOKEN: g.secret("env-session-token", hexMarker()) } })).code).toBe(4);
    expect((await g.run(["session", "revoke", minted.id, "--json"], { env })).code).toBe(0);
    await d.stop();
    const sessions = join(env.XDG_STATE_HOME, "tokenctl", "sessions.json");
    // The registry persists hashes only; it is scanned with the other files.
    expect(readdirSync(join(env.XDG_STATE_HOME, "tokenctl"))).toContain("sessions.json");
    expect(readFileSync(sessions, "utf8")).toContain('"hash"');
    g.assertClean();
  }, 30_000);
});
