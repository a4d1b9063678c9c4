/** `tokenctl vault …` through the compiled binary, against the Vault API test server. */
import { afterEach, describe, expect, it } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runBin, type BinResult } from "../support/bin.ts";
import { tempDir } from "../support/tmp.ts";
import { startVaultServer, type VaultServer } from "../support/vault-server.ts";

const VAULT_TOKEN = "hvs.MARKER-SMOKE-VAULT";
const SETUP = "sk-ant-oat01-MARKER-SMOKE-SETUP";
const cred = (tag: string, expiresAt: number) => ({ accessToken: `MARKER-AT-${tag}`, refreshToken: `MARKER-RT-${tag}`, expiresAt, scopes: ["user:inference"] });

let server: VaultServer | undefined;
afterEach(() => {
  server?.stop();
  server = undefined;
});

function fixture() {
  const home = tempDir();
  server = startVaultServer({ tokens: { [VAULT_TOKEN]: { displayName: "token-alice", policies: ["claude-alice"], paths: ["secret/data/claude/alice"] } } });
  const tokenFile = join(home, "vault.token");
  writeFileSync(tokenFile, `${VAULT_TOKEN}\n`, { mode: 0o600 });
  // A logger(1) stand-in first on PATH: records its argv and stdin so syslog can be scanned too.
  mkdirSync(join(home, "bin"));
  writeFileSync(join(home, "bin", "logger"), `#!/bin/sh\nprintf '%s\\n' "$@" >> "${home}/syslog.argv"\ncat >> "${home}/syslog.stdin"\n`);
  chmodSync(join(home, "bin", "logger"), 0o700);
  const syslog = () => (existsSync(join(home, "syslog.stdin")) ? readFileSync(join(home, "syslog.stdin"), "utf8") : "");
  const env = { PATH: `${join(home, "bin")}:${process.env.PATH}`, HOME: home, XDG_CONFIG_HOME: join(home, ".config"), XDG_STATE_HOME: join(home, ".state"), VAULT_ADDR: server.url, VAULT_TOKEN_FILE: tokenFile };
  const credentials = join(home, ".claude", ".credentials.json");
  const envFile = join(home, ".config", "tokenctl", "oauth.env");
  const logFile = join(home, ".state", "tokenctl", "vault-sync", "sync.log");
  const run = (cmd: string, ...args: string[]) => runBin(["vault", cmd, "--path", "claude/alice", "--expect-policy", "claude-alice", ...args], { env });
  const writeCreds = (v: unknown) => {
    mkdirSync(join(home, ".claude"), { recursive: true, mode: 0o700 });
    writeFileSync(credentials, JSON.stringify(v), { mode: 0o600 });
  };
  const noSecrets = (...results: BinResult[]) => {
    for (const r of results) expect(`${r.stdout}${r.stderr}`).not.toContain("MARKER");
    if (existsSync(logFile)) expect(readFileSync(logFile, "utf8")).not.toContain("MARKER");
    expect(syslog()).not.toContain("MARKER");
    if (existsSync(join(home, "syslog.argv"))) expect(readFileSync(join(home, "syslog.argv"), "utf8")).toMatch(/^(-t\ntokenctl-vault-sync\n-p\nuser\.(info|warning|err)\n)+$/);
  };
  return { home, syslog, srv: server, env, run, credentials, envFile, logFile, writeCreds, noSecrets };
}

describe("tokenctl vault (compiled)", () => {
  it("sync materializes the setup token; a second run changes nothing; status says so", async () => {
    const f = fixture();
    f.srv.put("secret", "claude/alice", { setup_token: SETUP });
    const a = await f.run("sync");
    expect(a.code).toBe(0);
    expect(a.stdout).toContain("OK setup token from Vault secret/claude/alice materialized");
    expect(readFileSync(f.envFile, "utf8")).toBe(`CLAUDE_CODE_OAUTH_TOKEN=${SETUP}\n`);
    const b = await f.run("sync", "--json", "--verbose");
    expect(b.code).toBe(0);
    expect(JSON.parse(b.stdout)).toMatchObject({ mode: "setup-token", level: "OK" });
    expect(b.stderr).toContain("OK setup token unchanged");
    const s = await f.run("status", "--json");
    expect(s.code).toBe(0);
    expect(JSON.parse(s.stdout)).toMatchObject({ mode: "setup-token", envFile: { present: true }, lastResult: { level: "OK" } });
    expect(f.syslog()).toContain("OK setup token unchanged");
    f.noSecrets(a, b, s);
  });

  it("sync --dry-run prints the plan on stdout and changes nothing (no Vault write, no file, no log)", async () => {
    const f = fixture();
    f.srv.put("secret", "claude/alice", { setup_token: SETUP });
    const text = await f.run("sync", "--dry-run");
    expect(text.code).toBe(0);
    expect(text.stdout).toBe(
      [
        "dry run, nothing changed; vault sync would:",
        "  renew      renew the Vault token",
        `  write-env  write ${f.envFile} (CLAUDE_CODE_OAUTH_TOKEN=the setup token from Vault)`,
        `and end with: OK setup token from Vault secret/claude/alice materialized to ${f.envFile}`,
        "",
      ].join("\n"),
    );
    const json = await f.run("sync", "--dry-run", "--json");
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ dryRun: true, mode: "setup-token", steps: [{ do: "renew" }, { do: "write-env" }], outcome: { level: "OK", exitCode: 0 } });
    expect(f.srv.requests.filter((q) => q.method !== "GET")).toEqual([]);
    expect(existsSync(f.envFile)).toBe(false);
    expect(existsSync(join(f.home, ".state"))).toBe(false);
    f.noSecrets(text, json);
  });

  it("sync --dry-run of a sync that would fail: the plan ends in FAIL with its exit code; the dry run exits 0", async () => {
    const f = fixture();
    f.writeCreds({ claudeAiOauth: cred("expired", Date.now() - 1000) });
    const before = readFileSync(f.credentials, "utf8");
    const r = await f.run("sync", "--dry-run", "--probe", `touch ${join(f.home, "probe-ran")}`);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("  probe  judge the local credential by shape and expiry (a dry run does not run --probe): does not work\n");
    expect(r.stdout).toEndWith("and end with: FAIL local credential does not work and Vault holds no backup; interactive login required (exit 4)\n");
    expect(readFileSync(f.credentials, "utf8")).toBe(before);
    expect(existsSync(join(f.home, ".state"))).toBe(false);
    expect(existsSync(join(f.home, "probe-ran"))).toBe(false);
    f.noSecrets(r);
  });

  it("sync with a failing probe restores the backup, then backs up (exit 0, RECOVERED)", async () => {
    const f = fixture();
    const backup = cred("backup", Date.now() + 3_600_000);
    f.writeCreds({ claudeAiOauth: cred("broken", Date.now() - 1000), other: { keep: true } });
    f.srv.put("secret", "claude/alice", { claude_ai_oauth_json: JSON.stringify(backup), sibling: "x" });
    // The probe passes once the restored credential is in place: it greps for the backup's marker.
    const probe = `grep -q MARKER-AT-backup ${f.credentials}`;
    const r = await f.run("sync", "--probe", probe);
    expect(r.code).toBe(0);
    expect(r.stdout).toStartWith("RECOVERED ");
    const creds = JSON.parse(readFileSync(f.credentials, "utf8"));
    expect(creds).toEqual({ claudeAiOauth: backup, other: { keep: true } });
    f.noSecrets(r);
  });

  it("sync with a probe that keeps failing → exit 4 and an interactive-login message", async () => {
    const f = fixture();
    f.writeCreds({ claudeAiOauth: cred("local", Date.now() + 1000) });
    f.srv.put("secret", "claude/alice", { claude_ai_oauth_json: JSON.stringify(cred("backup", Date.now() + 2000)) });
    const r = await f.run("sync", "--probe", "exit 1");
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("interactive login required");
    // The Fix line repeats the flags that pick the secret (not --probe), so it backs up the same one.
    expect(r.stderr).toContain("then run: tokenctl vault backup --path claude/alice --expect-policy claude-alice\n");
    expect(readFileSync(f.logFile, "utf8")).toContain(" FAIL local credential still does not work");
    f.noSecrets(r);
  });

  it("sealed Vault → exit 5, clear message, files untouched", async () => {
    const f = fixture();
    f.writeCreds({ claudeAiOauth: cred("local", Date.now() + 1000) });
    const before = readFileSync(f.credentials, "utf8");
    f.srv.sealed = true;
    const r = await f.run("sync", "--verbose");
    expect(r.code).toBe(5);
    expect(r.stderr).toContain("sealed");
    expect(readFileSync(f.credentials, "utf8")).toBe(before);
    f.noSecrets(r);
  });

  it("status against a sealed Vault: the report on stdout, the failure on stderr, exit 5; --json keeps stdout one JSON value", async () => {
    const f = fixture();
    f.srv.sealed = true;
    const text = await f.run("status");
    expect(text.code).toBe(5);
    expect(text.stdout).toContain("mode: rotating\n");
    expect(text.stdout).toMatch(/Vault backup: unknown \(Vault at http:\/\/127\.0\.0\.1:\d+ is sealed/);
    expect(text.stderr).toContain("is sealed or not active");
    const json = await f.run("status", "--json");
    expect(json.code).toBe(5);
    expect(json.stderr).toContain("is sealed or not active");
    // The error object is printed by the one --json failure rule (src/main.ts); the partial report rides on it as `result`.
    if (json.stdout !== "") expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: 5 } });
    expect(existsSync(join(f.home, ".state"))).toBe(false);
    f.noSecrets(text, json);
  });

  it("status and sync without an address: exit 2 and a fix line for the command that was run", async () => {
    const f = fixture();
    const env = { ...f.env, VAULT_ADDR: undefined };
    for (const cmd of ["status", "sync"]) {
      const r = await runBin(["vault", cmd, "--path", "claude/alice"], { env });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("No Vault address");
      expect(r.stderr).toContain(`tokenctl vault ${cmd} --addr https://vault.example:8200 --path claude/alice`);
    }
  });

  it("sync --json against an unreachable Vault: exit 5, the reason on stderr", async () => {
    const f = fixture();
    f.srv.stop();
    const r = await f.run("sync", "--json");
    expect(r.code).toBe(5);
    expect(r.stderr).toContain("is unreachable");
    if (r.stdout !== "") expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: 5, kind: "unavailable" } });
    f.noSecrets(r);
  });

  it("slow Vault with --timeout 0.2 → exit 5", async () => {
    const f = fixture();
    f.srv.delayMs = 2000;
    const r = await f.run("sync", "--timeout", "0.2");
    expect(r.code).toBe(5);
    expect(r.stderr).toContain("within 0.2 s");
  });

  it("foreign token → exit 4, only lookup-self asked", async () => {
    const f = fixture();
    f.srv.put("secret", "claude/alice", { setup_token: SETUP });
    const r = await f.run("sync", "--expect-display-name", "token-bob", "--verbose");
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("scoped Vault token drift detected; refusing foreign token");
    expect(f.srv.requests.map((q) => q.path)).toEqual(["/v1/auth/token/lookup-self"]);
    expect(existsSync(f.envFile)).toBe(false);
    f.noSecrets(r);
  });

  it("lock held by flock(1) → SKIP, exit 0, no request", async () => {
    const f = fixture();
    const stateDir = join(f.home, ".state", "tokenctl", "vault-sync");
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const holder = Bun.spawn(["sh", "-c", 'exec 9>"$0" && flock -n 9 && echo held && exec sleep 10', join(stateDir, "lock")], { stdout: "pipe" });
    try {
      const { value } = await holder.stdout.getReader().read();
      expect(new TextDecoder().decode(value)).toContain("held");
      const r = await f.run("sync");
      expect(r.code).toBe(0);
      expect(r.stdout).toBe("SKIP another sync is already running\n");
      expect(f.srv.requests.length).toBe(0);
    } finally {
      holder.kill();
      await holder.exited;
    }
  });

  it("VAULT_TOKEN works as a fallback; missing flags are usage errors (exit 2)", async () => {
    const f = fixture();
    f.srv.put("secret", "claude/alice", { setup_token: SETUP });
    const env = { ...f.env, VAULT_TOKEN_FILE: undefined, VAULT_TOKEN: VAULT_TOKEN };
    const ok = await runBin(["vault", "sync", "--path", "claude/alice"], { env });
    expect(ok.code).toBe(0);
    const noPath = await runBin(["vault", "sync"], { env });
    expect(noPath.code).toBe(2);
    expect(noPath.stderr).toContain("--path");
    const typo = await runBin(["vault", "sync", "--path", "x", "--mout", "kv"], { env });
    expect(typo.code).toBe(2);
    f.noSecrets(ok, noPath, typo);
  });

  it("backup then restore round-trip keeps sibling fields and other keys", async () => {
    const f = fixture();
    const local = cred("local", Date.now() + 3_600_000);
    f.writeCreds({ claudeAiOauth: local, other: 1 });
    f.srv.put("secret", "claude/alice", { sibling: "keep" });
    const b = await f.run("backup");
    expect(b.code).toBe(0);
    expect(f.srv.get("secret", "claude/alice")!.data).toMatchObject({ sibling: "keep" });
    f.writeCreds({ other: 1 });
    const r = await f.run("restore");
    expect(r.code).toBe(0);
    expect(JSON.parse(readFileSync(f.credentials, "utf8"))).toEqual({ other: 1, claudeAiOauth: local });
    f.noSecrets(b, r);
  });

  it("restore with a later-expiring local credential: exit 2, and the Fix line, pasted, replaces it", async () => {
    const f = fixture();
    const backup = cred("backup", Date.now() + 60_000);
    f.writeCreds({ claudeAiOauth: cred("local", Date.now() + 3_600_000) });
    f.srv.put("secret", "claude/alice", { claude_ai_oauth_json: JSON.stringify(backup) });
    const r = await f.run("restore", "--credentials", f.credentials, "--key", "claudeAiOauth");
    expect(r.code).toBe(2);
    const fix = /Fix: Replace it anyway: (tokenctl vault restore .*)\n/.exec(r.stderr)?.[1];
    expect(fix).toBe(`tokenctl vault restore --path claude/alice --credentials ${f.credentials} --key claudeAiOauth --expect-policy claude-alice --force`);
    // Run it as a shell would: same environment, the words split by sh.
    const words = (await Bun.$`sh -c ${`for w in ${fix!.replace(/^tokenctl /, "")}; do printf '%s\\0' "$w"; done`}`.text()).split("\0").filter(Boolean);
    const again = await runBin(words, { env: f.env });
    expect(again.code).toBe(0);
    expect(JSON.parse(readFileSync(f.credentials, "utf8")).claudeAiOauth).toEqual(backup);
    f.noSecrets(r, again);
  });
});
