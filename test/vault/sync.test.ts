import { afterEach, describe, expect, it } from "bun:test";
import { existsSync, lstatSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { AuthRefusedError, TokenctlError, UnavailableError } from "../../src/errors.ts";
import { writeSecretFile } from "../../src/fs/secure.ts";
import { CasConflictError, VaultClient, type VaultApi } from "../../src/vault/client.ts";
import { realFiles } from "../../src/vault/files.ts";
import { fileLog } from "../../src/vault/log.ts";
import { dryRunSync } from "../../src/vault/dry-run.ts";
import { ForeignTokenError, LoginRequiredError, runBackup, runRestore, runStatus, runSync, type SyncOptions } from "../../src/vault/sync.ts";
import type { OAuthCredential } from "../../src/vault/record.ts";
import { startVaultServer, type VaultServer } from "../support/vault-server.ts";
import { tempDir } from "../support/tmp.ts";

// Marker secrets: none of them may show up in a log line, syslog line, result or error.
const VAULT_TOKEN = "hvs.MARKER-VAULT-TOKEN-s1";
const FOREIGN_TOKEN = "hvs.MARKER-FOREIGN-TOKEN-s2";
const SETUP = "sk-ant-oat01-MARKER-SETUP-s3";
const NOW = Date.parse("2026-03-01T12:00:00Z");
const cred = (tag: string, expiresAt: number): OAuthCredential => ({
  accessToken: `sk-ant-oat01-MARKER-AT-${tag}`,
  refreshToken: `sk-ant-ort01-MARKER-RT-${tag}`,
  expiresAt,
  scopes: ["user:inference", "user:profile"],
  subscriptionType: "max",
});
const LOCAL = cred("local", NOW + 3_600_000);
const OLD_BACKUP = cred("backup", NOW + 600_000);
const NEW_BACKUP = cred("newer", NOW + 7_200_000);

let server: VaultServer | undefined;
afterEach(() => {
  server?.stop();
  server = undefined;
});

function fixture(over: { token?: string; probe?: boolean[]; timeoutMs?: number; deadline?: (ms: number) => AbortSignal; expect?: Partial<SyncOptions> } = {}) {
  const dir = tempDir();
  const srv = startVaultServer({
    tokens: {
      [VAULT_TOKEN]: { displayName: "token-alice-sync", policies: ["default"], identityPolicies: ["claude-alice"], paths: ["secret/data/claude/alice"] },
      [FOREIGN_TOKEN]: { displayName: "token-bob-sync", policies: ["default", "claude-bob"], paths: ["secret/data/claude/*"] },
    },
  });
  server = srv;
  const options: SyncOptions = {
    mount: "secret",
    path: "claude/alice",
    credentials: join(dir, "home", ".claude", ".credentials.json"),
    key: "claudeAiOauth",
    envFile: join(dir, "config", "oauth.env"),
    stateDir: join(dir, "state"),
    settings: { setupTokenPrefix: "sk-ant-oat01-", envName: "CLAUDE_CODE_OAUTH_TOKEN" },
    expectDisplayName: "token-alice-sync",
    expectPolicy: "claude-alice",
    ...over.expect,
    flags: over.expect?.flags ?? ["--path", "claude/alice", "--credentials", join(dir, "home dir", ".credentials.json"), "--expect-policy", "claude-alice"],
  };
  const syslog: string[] = [];
  const log = fileLog({ file: join(options.stateDir, "sync.log"), now: () => NOW, syslog: async (level, line) => void syslog.push(`${level}|${line}`) });
  const token = over.token ?? VAULT_TOKEN;
  log.addSecret(token);
  const probeAnswers = over.probe ? [...over.probe] : undefined;
  let probes = 0;
  const deps = {
    // Retries back off on no clock: the waits are not what these tests are about (client.test.ts counts them).
    vault: new VaultClient({ addr: srv.url, token, timeoutMs: over.timeoutMs ?? 2000, sleep: async () => {}, deadline: over.deadline }),
    files: realFiles(options),
    log,
    now: () => NOW,
    probe: probeAnswers
      ? async () => {
          probes++;
          const a = probeAnswers.shift();
          if (a === undefined) throw new Error("probe asked more often than the test expected");
          return a;
        }
      : undefined,
  };
  const readLog = () => (existsSync(join(options.stateDir, "sync.log")) ? readFileSync(join(options.stateDir, "sync.log"), "utf8") : "");
  const readCreds = () => JSON.parse(readFileSync(options.credentials, "utf8")) as Record<string, unknown>;
  const writeCreds = (value: unknown) => writeSecretFile(options.credentials, JSON.stringify(value));
  /** Every file outside the state dir with its content, mode and inode: "untouched" means equal. */
  const snapshot = () => {
    const out: Record<string, string> = {};
    const walk = (d: string) => {
      for (const name of readdirSync(d)) {
        const p = join(d, name);
        if (p === options.stateDir) continue;
        const st = lstatSync(p);
        if (st.isDirectory()) walk(p);
        else out[p] = `${(st.mode & 0o777).toString(8)} ${st.ino} ${readFileSync(p, "utf8")}`;
      }
    };
    walk(dir);
    return out;
  };
  /** Nothing secret anywhere we print or log. */
  const assertNoSecrets = (...extra: unknown[]) => {
    const texts = [readLog(), ...syslog, ...extra.map((e) => (e instanceof Error ? `${e.message} ${(e as TokenctlError).hint ?? ""} ${String(e.cause ?? "")}` : JSON.stringify(e)))];
    for (const t of texts) expect(t).not.toContain("MARKER");
  };
  return { dir, srv, options, deps, syslog, readLog, readCreds, writeCreds, snapshot, assertNoSecrets, probes: () => probes };
}

async function caught(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a rejection");
}

const paths = (srv: VaultServer) => srv.requests.map((r) => `${r.method} ${r.path}`);

describe("vault sync: setup token", () => {
  it("materializes NAME=token 0600, then leaves an identical file alone, in 3 requests", async () => {
    const f = fixture();
    f.srv.put("secret", "claude/alice", { setup_token: SETUP, note: "x" });
    const first = await runSync(f.options, f.deps);
    expect(first).toMatchObject({ mode: "setup-token", level: "OK" });
    expect(readFileSync(f.options.envFile, "utf8")).toBe(`CLAUDE_CODE_OAUTH_TOKEN=${SETUP}\n`);
    expect(statSync(f.options.envFile).mode & 0o777).toBe(0o600);
    expect(paths(f.srv)).toEqual(["GET /v1/auth/token/lookup-self", "POST /v1/auth/token/renew-self", "GET /v1/secret/data/claude/alice"]);
    const ino = statSync(f.options.envFile).ino;
    f.srv.requests.length = 0;
    const second = await runSync(f.options, f.deps);
    expect(second.message).toContain("unchanged");
    expect(statSync(f.options.envFile).ino).toBe(ino);
    expect(f.srv.requests.length).toBe(3);
    expect(existsSync(f.options.credentials)).toBe(false);
    expect(f.readLog()).toMatch(/^2026-03-01T12:00:00.000Z OK setup token from Vault secret\/claude\/alice materialized to .*\n2026-03-01T12:00:00.000Z OK setup token unchanged/);
    f.assertNoSecrets(first, second);
  });

  it("rewrites the env file when the setup token in Vault was rotated", async () => {
    const f = fixture();
    writeSecretFile(f.options.envFile, "CLAUDE_CODE_OAUTH_TOKEN=sk-ant-oat01-MARKER-OLD\n");
    f.srv.put("secret", "claude/alice", { setup_token: SETUP });
    await runSync(f.options, f.deps);
    expect(readFileSync(f.options.envFile, "utf8")).toBe(`CLAUDE_CODE_OAUTH_TOKEN=${SETUP}\n`);
    f.assertNoSecrets();
  });

  it("removes a stale env file when Vault has no setup token, logs it, and goes on", async () => {
    const f = fixture({ probe: [true] });
    writeSecretFile(f.options.envFile, `CLAUDE_CODE_OAUTH_TOKEN=${SETUP}\n`);
    f.writeCreds({ claudeAiOauth: LOCAL });
    f.srv.put("secret", "claude/alice", { claude_ai_oauth_json: JSON.stringify(LOCAL) });
    const r = await runSync(f.options, f.deps);
    expect(existsSync(f.options.envFile)).toBe(false);
    expect(f.readLog()).toContain(`WARN removed stale ${f.options.envFile}: Vault secret/claude/alice holds no setup token`);
    expect(r).toMatchObject({ mode: "rotating", level: "OK" });
    f.assertNoSecrets(r);
  });
});

describe("vault sync: rotating credential", () => {
  it("probe ok → backs up with cas 0 when the secret does not exist", async () => {
    const f = fixture({ probe: [true] });
    f.writeCreds({ claudeAiOauth: LOCAL, otherTool: { token: "MARKER-OTHER" } });
    const r = await runSync(f.options, f.deps);
    expect(r.level).toBe("OK");
    expect(r.message).toContain("version 1");
    const stored = f.srv.get("secret", "claude/alice")!.data!;
    expect(JSON.parse(stored.claude_ai_oauth_json as string)).toEqual(LOCAL);
    expect(stored.credential_expires_at_ms).toBe(String(LOCAL.expiresAt));
    expect(stored.backed_up_at).toBe("2026-03-01T12:00:00.000Z");
    const write = f.srv.requests.find((q) => q.method === "POST" && q.path.includes("/data/"))!;
    expect(JSON.parse(write.body).options).toEqual({ cas: 0 });
    f.assertNoSecrets(r);
  });

  it("keeps every sibling field of the secret and writes with cas = version read", async () => {
    const f = fixture({ probe: [true] });
    f.writeCreds({ claudeAiOauth: LOCAL });
    f.srv.put("secret", "claude/alice", { claude_ai_oauth_json: JSON.stringify(OLD_BACKUP), github_pat: "MARKER-SIBLING", owner: "alice" });
    f.srv.put("secret", "claude/alice", { claude_ai_oauth_json: JSON.stringify(OLD_BACKUP), github_pat: "MARKER-SIBLING", owner: "alice" });
    await runSync(f.options, f.deps);
    const latest = f.srv.get("secret", "claude/alice")!;
    expect(latest.version).toBe(3);
    expect(latest.data).toMatchObject({ github_pat: "MARKER-SIBLING", owner: "alice" });
    expect(JSON.parse(f.srv.requests.at(-1)!.body).options).toEqual({ cas: 2 });
  });

  it("rides out a cas conflict from a concurrent writer: re-reads, keeps its fields, retries", async () => {
    const f = fixture({ probe: [true] });
    f.writeCreds({ claudeAiOauth: LOCAL });
    f.srv.put("secret", "claude/alice", { claude_ai_oauth_json: JSON.stringify(OLD_BACKUP) });
    f.srv.beforeNextWrite = () => void f.srv.put("secret", "claude/alice", { claude_ai_oauth_json: JSON.stringify(OLD_BACKUP), written_by: "laptop-2" });
    const r = await runSync(f.options, f.deps);
    expect(r.level).toBe("OK");
    const latest = f.srv.get("secret", "claude/alice")!;
    expect(latest.version).toBe(3);
    expect(latest.data).toMatchObject({ written_by: "laptop-2" });
    expect(JSON.parse(latest.data!.claude_ai_oauth_json as string)).toEqual(LOCAL);
    expect(f.readLog()).toContain("check-and-set conflict");
    expect(paths(f.srv).filter((p) => p.startsWith("POST /v1/secret")).length).toBe(2);
    f.assertNoSecrets(r);
  });

  it.each(["sync", "backup"] as const)("%s gives up after casRetries conflicts in a row: each logged, then FAIL (exit 1)", async (which) => {
    const f = fixture({ probe: [true] });
    f.writeCreds({ claudeAiOauth: LOCAL });
    f.srv.put("secret", "claude/alice", { claude_ai_oauth_json: JSON.stringify(OLD_BACKUP) });
    // Another machine writes just before each of our writes, for ever.
    const c = f.deps.vault;
    const vault: VaultApi = {
      lookupSelf: () => c.lookupSelf(),
      renewSelf: () => c.renewSelf(),
      readKv: (m, p) => c.readKv(m, p),
      writeKv: (m, p, data, cas) => {
        f.srv.put("secret", "claude/alice", { claude_ai_oauth_json: JSON.stringify(OLD_BACKUP) });
        return c.writeKv(m, p, data, cas);
      },
    };
    const deps = { ...f.deps, vault, casRetries: 2 };
    const e = await caught(which === "sync" ? runSync(f.options, deps) : runBackup(f.options, deps));
    expect(e).toBeInstanceOf(CasConflictError);
    expect((e as TokenctlError).exitCode).toBe(1);
    expect(paths(f.srv).filter((p) => p.startsWith("POST /v1/secret"))).toHaveLength(3);
    expect(f.readLog().match(/WARN Vault secret\/claude\/alice changed since it was read/g)).toHaveLength(2);
    expect(f.readLog()).toMatch(/FAIL Vault's secret changed since it was read[^\n]*\n$/);
  });

  it("keeps a concurrent writer's newer backup instead of overwriting it", async () => {
    const f = fixture({ probe: [true] });
    f.writeCreds({ claudeAiOauth: LOCAL });
    f.srv.beforeNextWrite = () => void f.srv.put("secret", "claude/alice", { claude_ai_oauth_json: JSON.stringify(NEW_BACKUP) });
    const r = await runSync(f.options, f.deps);
    expect(r.message).toContain("Vault backup expires later, kept");
    expect(JSON.parse(f.srv.get("secret", "claude/alice")!.data!.claude_ai_oauth_json as string)).toEqual(NEW_BACKUP);
  });

  it("never replaces a backup that expires later than the local credential", async () => {
    const f = fixture({ probe: [true] });
    f.writeCreds({ claudeAiOauth: LOCAL });
    f.srv.put("secret", "claude/alice", { claude_ai_oauth_json: JSON.stringify(NEW_BACKUP) });
    const r = await runSync(f.options, f.deps);
    expect(r.message).toContain("kept");
    expect(f.srv.get("secret", "claude/alice")!.version).toBe(1);
    expect(paths(f.srv).some((p) => p.startsWith("POST /v1/secret"))).toBe(false);
  });

  it("probe fails → restores the backup into --key keeping other keys, probes again, logs RECOVERED", async () => {
    const f = fixture({ probe: [false, true] });
    f.writeCreds({ claudeAiOauth: cred("broken", NOW - 1000), otherTool: { token: "MARKER-OTHER" }, mcpOAuth: { x: 1 } });
    f.srv.put("secret", "claude/alice", { claude_ai_oauth_json: JSON.stringify(OLD_BACKUP) });
    const r = await runSync(f.options, f.deps);
    expect(r.level).toBe("RECOVERED");
    expect(f.probes()).toBe(2);
    const creds = f.readCreds();
    expect(creds.claudeAiOauth).toEqual(OLD_BACKUP);
    expect(creds.otherTool).toEqual({ token: "MARKER-OTHER" });
    expect(creds.mcpOAuth).toEqual({ x: 1 });
    expect(statSync(f.options.credentials).mode & 0o777).toBe(0o600);
    // The credential it replaced is kept, privately, in the state dir.
    const before = JSON.parse(readFileSync(join(f.options.stateDir, "credentials.before-restore.json"), "utf8"));
    expect(before.claudeAiOauth.accessToken).toContain("broken");
    expect(f.readLog()).toMatch(/WARN local credential does not work; restored the Vault backup \(version 1\)[^\n]*\n[^\n]*RECOVERED restored credential works/);
    f.assertNoSecrets(r);
  });

  it("probe fails again after the restore → FAIL interactive login required (exit 4)", async () => {
    const f = fixture({ probe: [false, false] });
    f.writeCreds({ claudeAiOauth: cred("older", NOW + 60_000) });
    f.srv.put("secret", "claude/alice", { claude_ai_oauth_json: JSON.stringify(OLD_BACKUP) });
    const e = await caught(runSync(f.options, f.deps));
    expect(e).toBeInstanceOf(LoginRequiredError);
    expect((e as TokenctlError).exitCode).toBe(4);
    expect(f.readLog()).toContain("FAIL local credential still does not work after restoring the Vault backup; interactive login required");
    expect(f.syslog.at(-1)).toStartWith("FAIL|FAIL ");
    // The hint repeats this run's flags, quoted, so it works as pasted.
    expect((e as TokenctlError).hint).toBe(
      `Log in again interactively (claude /login), then run: tokenctl vault backup --path claude/alice --credentials '${join(f.dir, "home dir", ".credentials.json")}' --expect-policy claude-alice`,
    );
    f.assertNoSecrets(e);
  });

  it("without --probe: an expired local credential is replaced by a valid backup", async () => {
    const f = fixture();
    f.writeCreds({ claudeAiOauth: cred("expired", NOW - 1) });
    f.srv.put("secret", "claude/alice", { claude_ai_oauth_json: JSON.stringify(OLD_BACKUP) });
    const r = await runSync(f.options, f.deps);
    expect(r.level).toBe("RECOVERED");
    expect(f.readCreds().claudeAiOauth).toEqual(OLD_BACKUP);
  });

  it("without --probe: a missing credentials file is created from the backup", async () => {
    const f = fixture();
    f.srv.put("secret", "claude/alice", { claude_ai_oauth_json: JSON.stringify(OLD_BACKUP) });
    const r = await runSync(f.options, f.deps);
    expect(r.level).toBe("RECOVERED");
    expect(f.readCreds()).toEqual({ claudeAiOauth: OLD_BACKUP });
  });
});

describe("vault sync: refusals and failures", () => {
  it("refuses a foreign token: FAIL logged, exit 4, only lookup-self asked, nothing read or written", async () => {
    const f = fixture({ token: FOREIGN_TOKEN, probe: [true] });
    f.writeCreds({ claudeAiOauth: LOCAL });
    writeSecretFile(f.options.envFile, "CLAUDE_CODE_OAUTH_TOKEN=stale\n");
    f.srv.put("secret", "claude/alice", { claude_ai_oauth_json: JSON.stringify(OLD_BACKUP) });
    const before = f.snapshot();
    const e = await caught(runSync(f.options, f.deps));
    expect(e).toBeInstanceOf(ForeignTokenError);
    expect((e as TokenctlError).exitCode).toBe(4);
    expect(paths(f.srv)).toEqual(["GET /v1/auth/token/lookup-self"]);
    expect(f.snapshot()).toEqual(before);
    expect(f.srv.get("secret", "claude/alice")!.version).toBe(1);
    expect(f.probes()).toBe(0);
    expect(f.readLog()).toContain("FAIL scoped Vault token drift detected; refusing foreign token");
    f.assertNoSecrets(e);
  });

  it("accepts the expected policy from identity_policies", async () => {
    const f = fixture({ expect: { expectDisplayName: undefined } });
    f.srv.put("secret", "claude/alice", { setup_token: SETUP });
    expect((await runSync(f.options, f.deps)).mode).toBe("setup-token");
  });

  it("logs SKIP and does nothing while flock(1) holds the lock", async () => {
    const f = fixture({ probe: [true] });
    f.srv.put("secret", "claude/alice", { setup_token: SETUP });
    const { mkdirSync } = await import("node:fs");
    mkdirSync(f.options.stateDir, { recursive: true, mode: 0o700 });
    // The shell form a sync script uses; `exec sleep` keeps the locked fd in this one process, so killing it releases the lock.
    const holder = Bun.spawn(["sh", "-c", 'exec 9>"$0" && flock -n 9 && echo held && exec sleep 10', join(f.options.stateDir, "lock")], { stdout: "pipe" });
    try {
      const reader = holder.stdout.getReader();
      const { value } = await reader.read();
      expect(new TextDecoder().decode(value)).toContain("held");
      const r = await runSync(f.options, f.deps);
      expect(r).toEqual({ mode: "skipped", level: "SKIP", message: "another sync is already running" });
      expect(f.srv.requests.length).toBe(0);
      expect(existsSync(f.options.envFile)).toBe(false);
      expect(f.readLog()).toContain("SKIP another sync is already running");
    } finally {
      holder.kill();
      await holder.exited;
    }
    // Once flock(1) is gone the lock is ours again.
    expect((await runSync(f.options, f.deps)).mode).toBe("setup-token");
  });

  it("a sealed Vault → UnavailableError (exit 5), FAIL logged, local files untouched", async () => {
    const f = fixture({ probe: [false, true] });
    f.writeCreds({ claudeAiOauth: LOCAL, other: 1 });
    writeSecretFile(f.options.envFile, "CLAUDE_CODE_OAUTH_TOKEN=stale\n");
    f.srv.sealed = true;
    const before = f.snapshot();
    const e = await caught(runSync(f.options, f.deps));
    expect(e).toBeInstanceOf(UnavailableError);
    expect((e as TokenctlError).exitCode).toBe(5);
    expect(e.message).toContain("sealed");
    expect(f.snapshot()).toEqual(before);
    expect(f.readLog()).toMatch(/FAIL Vault at http:\/\/127\.0\.0\.1:\d+ is sealed/);
    f.assertNoSecrets(e);
  });

  it("Vault sealed between read and write → exit 5, credentials untouched", async () => {
    const f = fixture({ probe: [true] });
    f.writeCreds({ claudeAiOauth: LOCAL });
    const before = f.snapshot();
    f.srv.failNext = { match: (m, p) => m === "POST" && p.includes("/data/"), status: 503, body: { errors: ["Vault is sealed"] } };
    const e = await caught(runSync(f.options, f.deps));
    expect(e).toBeInstanceOf(UnavailableError);
    expect(f.snapshot()).toEqual(before);
  });

  it("a Vault that does not answer within --timeout → exit 5, local files untouched", async () => {
    // The deadline passes at the first request, on no clock; the compiled-binary test waits for a real one.
    const f = fixture({ probe: [true], timeoutMs: 100, deadline: () => AbortSignal.abort(new DOMException("deadline", "TimeoutError")) });
    f.writeCreds({ claudeAiOauth: LOCAL });
    const before = f.snapshot();
    const e = await caught(runSync(f.options, f.deps));
    expect(e).toBeInstanceOf(UnavailableError);
    expect(e.message).toContain("within 0.1 s");
    expect(f.snapshot()).toEqual(before);
    expect(f.readLog()).toContain("FAIL Vault at");
    f.assertNoSecrets(e);
  });

  it("a token without access to the path → exit 4, nothing written", async () => {
    const f = fixture({ probe: [true], expect: { path: "claude/bob", expectDisplayName: undefined, expectPolicy: undefined } });
    f.writeCreds({ claudeAiOauth: LOCAL });
    const before = f.snapshot();
    const e = await caught(runSync(f.options, f.deps));
    expect(e).toBeInstanceOf(AuthRefusedError);
    expect(e.message).toContain("permission denied");
    expect(f.snapshot()).toEqual(before);
  });

  it("a malformed backup with a failing probe → FAIL, the local file is not touched", async () => {
    const f = fixture({ probe: [false] });
    f.writeCreds({ claudeAiOauth: LOCAL });
    f.srv.put("secret", "claude/alice", { claude_ai_oauth_json: '{"accessToken":"MARKER-HALF' });
    const before = f.snapshot();
    const e = await caught(runSync(f.options, f.deps));
    expect(e).toBeInstanceOf(LoginRequiredError);
    expect(e.message).toContain("the Vault backup is not valid JSON");
    expect(f.snapshot()).toEqual(before);
    f.assertNoSecrets(e);
  });

  it("a malformed backup with a working local credential → WARN and replaced", async () => {
    const f = fixture({ probe: [true] });
    f.writeCreds({ claudeAiOauth: LOCAL });
    f.srv.put("secret", "claude/alice", { claude_ai_oauth_json: JSON.stringify({ accessToken: "MARKER-X", refreshToken: "", expiresAt: "soon" }), keep: "me" });
    const r = await runSync(f.options, f.deps);
    expect(r.level).toBe("OK");
    expect(f.readLog()).toContain("WARN Vault backup has no non-empty string refreshToken; replacing it");
    expect(f.srv.get("secret", "claude/alice")!.data).toMatchObject({ keep: "me" });
    f.assertNoSecrets(r);
  });

  it("a credentials file that is not JSON is never overwritten by a restore", async () => {
    const f = fixture({ probe: [false] });
    writeSecretFile(f.options.credentials, "{ half a file");
    f.srv.put("secret", "claude/alice", { claude_ai_oauth_json: JSON.stringify(OLD_BACKUP) });
    const e = await caught(runSync(f.options, f.deps));
    expect(e).toBeInstanceOf(LoginRequiredError);
    expect(readFileSync(f.options.credentials, "utf8")).toBe("{ half a file");
  });
});

describe("vault backup / restore / status", () => {
  it("backup writes the local credential; a later-expiring backup needs --force", async () => {
    const f = fixture();
    f.writeCreds({ claudeAiOauth: LOCAL });
    f.srv.put("secret", "claude/alice", { claude_ai_oauth_json: JSON.stringify(NEW_BACKUP), sib: 1 });
    expect((await runBackup(f.options, f.deps)).message).toContain("kept");
    expect(f.srv.get("secret", "claude/alice")!.version).toBe(1);
    const forced = await runBackup(f.options, { ...f.deps, force: true });
    expect(forced.message).toContain("version 2");
    expect(f.srv.get("secret", "claude/alice")!.data).toMatchObject({ sib: 1 });
    f.assertNoSecrets(forced);
  });

  it("restore refuses to replace a later-expiring local credential without --force", async () => {
    const f = fixture();
    f.writeCreds({ claudeAiOauth: LOCAL, keep: true });
    f.srv.put("secret", "claude/alice", { claude_ai_oauth_json: JSON.stringify(OLD_BACKUP) });
    const e = await caught(runRestore(f.options, f.deps));
    expect((e as TokenctlError).exitCode).toBe(2);
    expect((e as TokenctlError).hint).toBe(`Replace it anyway: tokenctl vault restore --path claude/alice --credentials '${join(f.dir, "home dir", ".credentials.json")}' --expect-policy claude-alice --force`);
    f.assertNoSecrets(e);
    expect(f.readCreds().claudeAiOauth).toEqual(LOCAL);
    const r = await runRestore(f.options, { ...f.deps, force: true });
    expect(r.level).toBe("RECOVERED");
    expect(f.readCreds()).toEqual({ claudeAiOauth: OLD_BACKUP, keep: true });
  });

  it("restore with no backup in Vault: exit 3, the hint backs up with this run's flags", async () => {
    const f = fixture({ expect: { mount: "kv", flags: ["--mount", "kv", "--path", "claude/alice"] } });
    f.writeCreds({ claudeAiOauth: LOCAL });
    const e = await caught(runRestore(f.options, f.deps));
    expect((e as TokenctlError).exitCode).toBe(3);
    expect((e as TokenctlError).hint).toBe("Back up first: tokenctl vault backup --mount kv --path claude/alice");
  });

  it("status reports mode, last result and both expiries without secrets", async () => {
    const f = fixture({ probe: [true] });
    f.writeCreds({ claudeAiOauth: LOCAL });
    f.srv.put("secret", "claude/alice", { claude_ai_oauth_json: JSON.stringify(OLD_BACKUP) });
    await runSync(f.options, f.deps);
    const s = await runStatus(f.options, f.deps);
    expect(s.mode).toBe("rotating");
    expect(s.local.expiresAt).toBe(new Date(LOCAL.expiresAt).toISOString());
    expect(s.vault.backupExpiresAt).toBe(new Date(LOCAL.expiresAt).toISOString());
    expect(s.lastResult?.level).toBe("OK");
    f.srv.sealed = true;
    const sealed = await runStatus(f.options, f.deps);
    expect(sealed.vault.error).toBeInstanceOf(UnavailableError);
    f.assertNoSecrets(s, { ...sealed, vault: { error: sealed.vault.error?.message } });
  });
});

describe("vault sync --dry-run", () => {
  /** The dry run's deps: the real client and files; no log, no lock, no probe. */
  const dry = (f: ReturnType<typeof fixture>, probeConfigured = false) => ({ vault: f.deps.vault, files: f.deps.files, now: f.deps.now, probeConfigured });
  const writes = (srv: VaultServer) => srv.requests.filter((r) => r.method !== "GET");

  it("setup token: plans the env file, writes nothing, asks Vault only with GET", async () => {
    const f = fixture();
    f.srv.put("secret", "claude/alice", { setup_token: SETUP });
    const before = f.snapshot();
    const plan = await dryRunSync(f.options, dry(f));
    expect(plan).toEqual({
      dryRun: true,
      mode: "setup-token",
      steps: [
        { do: "renew", detail: "renew the Vault token" },
        { do: "write-env", detail: `write ${f.options.envFile} (CLAUDE_CODE_OAUTH_TOKEN=the setup token from Vault)` },
      ],
      outcome: { level: "OK", message: `setup token from Vault secret/claude/alice materialized to ${f.options.envFile}`, exitCode: 0 },
    });
    expect(paths(f.srv)).toEqual(["GET /v1/auth/token/lookup-self", "GET /v1/secret/data/claude/alice"]);
    expect(f.snapshot()).toEqual(before);
    expect(existsSync(f.options.envFile)).toBe(false);
    expect(existsSync(f.options.stateDir)).toBe(false);
    f.assertNoSecrets(plan);
  });

  it("expired local credential: plans the restore and the probe after it; no write request, no local write", async () => {
    const f = fixture();
    f.writeCreds({ claudeAiOauth: cred("expired", NOW - 1), other: 1 });
    writeSecretFile(f.options.envFile, "CLAUDE_CODE_OAUTH_TOKEN=stale\n");
    f.srv.put("secret", "claude/alice", { claude_ai_oauth_json: JSON.stringify(NEW_BACKUP), sibling: "x" });
    const before = f.snapshot();
    const plan = await dryRunSync(f.options, dry(f, true));
    expect(plan.steps.map((s) => s.do)).toEqual(["renew", "remove-env", "probe", "restore", "probe"]);
    expect(plan.steps[2]!.detail).toBe("judge the local credential by shape and expiry (a dry run does not run --probe): does not work");
    expect(plan.steps[3]!.detail).toBe(
      `put the Vault backup (version 1) into ${f.options.credentials} at claudeAiOauth, keeping the file it replaces as ${join(f.options.stateDir, "credentials.before-restore.json")}`,
    );
    expect(plan.steps[4]!.detail).toEndWith(": works");
    expect(plan.outcome).toEqual({ level: "RECOVERED", message: "restored credential works; Vault backup already current", exitCode: 0 });
    expect(writes(f.srv)).toEqual([]);
    expect(f.srv.get("secret", "claude/alice")!.version).toBe(1);
    expect(f.snapshot()).toEqual(before);
    expect(existsSync(f.options.stateDir)).toBe(false);
    f.assertNoSecrets(plan);
  });

  it("working local credential, older backup: plans the check-and-set write, sends none", async () => {
    const f = fixture();
    f.writeCreds({ claudeAiOauth: LOCAL });
    f.srv.put("secret", "claude/alice", { claude_ai_oauth_json: '{"broken' });
    f.srv.put("secret", "claude/alice", { claude_ai_oauth_json: JSON.stringify(OLD_BACKUP) });
    const before = f.snapshot();
    const plan = await dryRunSync(f.options, dry(f));
    expect(plan.steps.slice(1)).toEqual([
      { do: "probe", detail: "judge the local credential by shape and expiry: works" },
      { do: "backup", detail: "write the local credential to Vault secret/claude/alice as version 3 (check-and-set 2; other fields kept)" },
    ]);
    expect(plan.outcome.message).toBe("local credential works; backed up to Vault secret/claude/alice version 3");
    expect(writes(f.srv)).toEqual([]);
    expect(f.srv.get("secret", "claude/alice")!.version).toBe(2);
    expect(f.snapshot()).toEqual(before);
    f.assertNoSecrets(plan);
  });

  it("a sync that would fail: the plan ends in FAIL with its exit code, and nothing is logged", async () => {
    const f = fixture();
    f.writeCreds({ claudeAiOauth: cred("expired", NOW - 1) });
    const plan = await dryRunSync(f.options, dry(f));
    expect(plan.outcome).toEqual({ level: "FAIL", message: "local credential does not work and Vault holds no backup; interactive login required", exitCode: 4 });
    expect(writes(f.srv)).toEqual([]);
    expect(f.readLog()).toBe("");
  });

  it("a foreign token or a sealed Vault fails the dry run itself", async () => {
    const f = fixture({ token: FOREIGN_TOKEN });
    expect(await caught(dryRunSync(f.options, dry(f)))).toBeInstanceOf(ForeignTokenError);
    f.srv.sealed = true;
    expect(await caught(dryRunSync(f.options, dry(f)))).toBeInstanceOf(UnavailableError);
    expect(writes(f.srv)).toEqual([]);
  });
});
