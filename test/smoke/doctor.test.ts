/**
 * `tokenctl doctor` through the compiled binary, on temp XDG layouts: a broken one (0644 token
 * file, 0755 state dir), a healthy one with a file-store OAuth profile, a daemon running in this
 * process, a Vault API server, and the keychain (real gnome-keyring under dbus-run-session when
 * there is one). Every run is scanned for the marker secrets the layout holds.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { startDaemon, type DaemonHandle } from "../../src/daemon/server.ts";
import { BIN, childEnv, runBin, type BinResult } from "../support/bin.ts";
import { keychainUnavailableReason } from "../support/keychain.ts";
import { tempDir } from "../support/tmp.ts";
import { startVaultServer, type VaultServer } from "../support/vault-server.ts";


const MARKERS = { access: "MARKER-DOCTOR-ACCESS-1a2b", refresh: "MARKER-DOCTOR-REFRESH-3c4d", token: "MARKER-DOCTOR-TOKEN-5e6f", vault: "hvs.MARKER-DOCTOR-VAULT-7a8b" };

const running: DaemonHandle[] = [];
let vault: VaultServer | undefined;
afterEach(async () => {
  for (const d of running.splice(0)) await d.stop();
  vault?.stop();
  vault = undefined;
});

type Row = { name: string; status: string; detail: string; fix?: string };

/** A healthy layout: private dirs, a 0600 token file, a file-store profile with a refreshable record. */
function layout() {
  const home = tempDir();
  const cfg = join(home, "config", "tokenctl");
  const state = join(home, "state", "tokenctl");
  mkdirSync(cfg, { recursive: true, mode: 0o700 });
  mkdirSync(state, { recursive: true, mode: 0o700 });
  mkdirSync(join(home, "run"), { mode: 0o700 });
  writeFileSync(join(state, "token"), `${MARKERS.token}\n`, { mode: 0o600 });
  writeFileSync(
    join(cfg, "config.json"),
    JSON.stringify({ oauth: { profiles: { work: { clientId: "tokenctl", tokenEndpoint: "http://127.0.0.1:9/token", store: "file" } } } }),
    { mode: 0o600 },
  );
  writeFileSync(
    join(cfg, "credentials.json"),
    JSON.stringify({ work: { accessToken: MARKERS.access, refreshToken: MARKERS.refresh, expiresAt: Date.now() + 3_600_000, scopes: ["openid"] }, other: { keep: 1 } }),
    { mode: 0o600 },
  );
  const env: Record<string, string> = {
    HOME: home,
    XDG_CONFIG_HOME: join(home, "config"),
    XDG_STATE_HOME: join(home, "state"),
    XDG_RUNTIME_DIR: join(home, "run"),
    // No session bus: the keychain row is a warning (the file fallback works), not a failure.
    DBUS_SESSION_BUS_ADDRESS: "unix:path=/nonexistent/bus",
  };
  return { home, cfg, state, env };
}

function noSecrets(...results: BinResult[]) {
  for (const r of results) for (const m of Object.values(MARKERS)) expect(`${r.stdout}${r.stderr}`).not.toContain(m);
}

/** The rows: the whole of stdout, or its `result` when a failing row made it a --json error object. */
const rowsOf = (r: BinResult): Row[] => {
  const out = JSON.parse(r.stdout);
  return Array.isArray(out) ? out : out.result;
};
const row = (rows: Row[], name: string) => rows.find((x) => x.name === name)!;

describe("tokenctl doctor", () => {
  test("a 0644 token file and a 0755 state dir: exit 1, each with its chmod", async () => {
    const l = layout();
    chmodSync(join(l.state, "token"), 0o644);
    chmodSync(l.state, 0o755);
    const r = await runBin(["doctor"], { env: l.env });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`fix: chmod 700 ${l.state}\n`);
    expect(r.stdout).toContain(`fix: chmod 600 ${join(l.state, "token")}\n`);
    expect(r.stdout).toMatch(/FAIL\s+state dir\s+.*mode 0755/);
    expect(r.stdout).toMatch(/FAIL\s+token file\s+.*mode 0644/);
    expect(r.stderr).toContain("2 problems");
    const j = await runBin(["doctor", "--json"], { env: l.env });
    expect(j.code).toBe(1);
    expect(row(rowsOf(j), "token file")).toMatchObject({ status: "fail", fix: `chmod 600 ${join(l.state, "token")}` });
    // Apply the printed fixes: doctor is then happy.
    for (const c of rowsOf(j).filter((x) => x.status === "fail")) expect(Bun.spawnSync(["sh", "-c", c.fix!]).exitCode).toBe(0);
    const after = await runBin(["doctor"], { env: l.env });
    expect(after.code).toBe(0);
    noSecrets(r, j, after);
  });

  test("a healthy layout: exit 0; the profile's expiry and refreshability, never a token", async () => {
    const l = layout();
    const r = await runBin(["doctor", "--json"], { env: l.env });
    expect(r.code).toBe(0);
    const rows = rowsOf(r);
    expect(rows.filter((x) => x.status === "fail")).toEqual([]);
    expect(row(rows, "state dir")).toMatchObject({ status: "ok", detail: `${l.state}: 0700, yours` });
    expect(row(rows, "token file").status).toBe("ok");
    expect(row(rows, "oauth work")).toMatchObject({ status: "ok" });
    expect(row(rows, "oauth work").detail).toMatch(/valid for (59m|1h 0m); refreshable \(refresh token present, token endpoint http:\/\/127\.0\.0\.1:9\/token\)/);
    expect(row(rows, "daemon").status).toBe("skip");
    expect(row(rows, "vault").status).toBe("skip");
    expect(row(rows, "keychain")).toMatchObject({ status: "warn" });
    expect(row(rows, "keychain").detail).toMatch(/D-Bus session bus does not answer/);
    const table = await runBin(["doctor"], { env: l.env });
    expect(table.code).toBe(0);
    expect(table.stdout.split("\n")[0]).toMatch(/^STATUS\s+CHECK\s+DETAIL$/);
    noSecrets(r, table);
  });

  test("finds a running daemon and its version", async () => {
    const l = layout();
    const runDir = join(l.env.XDG_RUNTIME_DIR!, "tokenctl");
    const quiet = { info() {}, warn() {}, error() {}, debug() {} };
    const d = await startDaemon({ socketPath: join(runDir, "tokenctl.sock"), tokenFile: join(runDir, "daemon.token"), log: quiet });
    running.push(d);
    const r = await runBin(["doctor", "--json"], { env: l.env });
    expect(r.code).toBe(0);
    const rows = rowsOf(r);
    expect(row(rows, "daemon")).toMatchObject({ status: "ok" });
    expect(row(rows, "daemon").detail).toContain(`version ${pkg.version}, pid ${process.pid}`);
    expect(row(rows, "daemon socket")).toMatchObject({ status: "ok" });
    expect(row(rows, "daemon token file")).toMatchObject({ status: "ok" });
    expect(`${r.stdout}${r.stderr}`).not.toContain(d.token);
    noSecrets(r);

    // The daemon's token file loosened: the client refuses to read it, doctor says how to fix it.
    chmodSync(d.tokenFile, 0o644);
    const bad = await runBin(["doctor", "--json"], { env: l.env });
    expect(bad.code).toBe(1);
    expect(row(rowsOf(bad), "daemon token file")).toMatchObject({ status: "fail", fix: `chmod 600 ${d.tokenFile}` });
    expect(row(rowsOf(bad), "daemon").status).toBe("fail");
    expect(`${bad.stdout}${bad.stderr}`).not.toContain(d.token);
  });

  test("a stale socket (nothing answers) is a warning with the command that replaces it", async () => {
    const l = layout();
    const runDir = join(l.env.XDG_RUNTIME_DIR!, "tokenctl");
    mkdirSync(runDir, { mode: 0o700 });
    const sockPath = join(runDir, "tokenctl.sock");
    // A listener SIGKILLed leaves its socket file behind, as a crashed daemon does.
    const child = Bun.spawn(["sh", "-c", 'umask 177; exec "$0" -e "$1"', process.execPath, `Bun.listen({ unix: ${JSON.stringify(sockPath)}, socket: { data() {} } }); console.log("up"); setInterval(() => {}, 1e6);`], { stdout: "pipe" });
    const reader = child.stdout.getReader();
    await reader.read();
    child.kill("SIGKILL");
    await child.exited;
    expect(existsSync(sockPath)).toBe(true);
    const r = await runBin(["doctor", "--json"], { env: l.env });
    expect(rowsOf(r).filter((x) => x.status === "fail")).toEqual([]);
    expect(r.code).toBe(0);
    expect(row(rowsOf(r), "daemon")).toMatchObject({ status: "warn", fix: `tokenctl daemon --socket ${sockPath}   # replaces a stale socket` });
  });

  test("Vault configured by env: token valid through lookup-self; a refused token fails with the fix", async () => {
    const l = layout();
    vault = startVaultServer({ tokens: { [MARKERS.vault]: { displayName: "token-alice", policies: ["p"], paths: ["secret/data/claude/alice"] } } });
    const tokenFile = join(l.cfg, "vault.token");
    writeFileSync(tokenFile, `${MARKERS.vault}\n`, { mode: 0o600 });
    const env = { ...l.env, VAULT_ADDR: vault.url, VAULT_TOKEN_FILE: tokenFile };
    const r = await runBin(["doctor", "--json"], { env });
    expect(r.code).toBe(0);
    expect(row(rowsOf(r), "vault")).toMatchObject({ status: "ok" });
    expect(row(rowsOf(r), "vault").detail).toContain("token-alice");
    expect(row(rowsOf(r), "vault token file")).toMatchObject({ status: "ok" });
    expect(vault.requests.map((q) => `${q.method} ${q.path}`)).toEqual(["GET /v1/auth/token/lookup-self"]);

    vault.tokens.delete(MARKERS.vault);
    const refused = await runBin(["doctor", "--json"], { env });
    expect(refused.code).toBe(1);
    expect(row(rowsOf(refused), "vault")).toMatchObject({ status: "fail", fix: `( umask 077; cat > ${tokenFile} )   # paste a valid Vault token, then Ctrl-D` });
    noSecrets(r, refused);
  });

  test("an invalid config.json and a too-open credentials file are failing rows, not a crash", async () => {
    const l = layout();
    writeFileSync(join(l.cfg, "config.json"), "{ not json");
    chmodSync(join(l.cfg, "credentials.json"), 0o640);
    const r = await runBin(["doctor", "--json"], { env: l.env });
    expect(r.code).toBe(1);
    const rows = rowsOf(r);
    expect(row(rows, "config.json")).toMatchObject({ status: "fail" });
    expect(row(rows, "oauth file store")).toMatchObject({ status: "fail", fix: `chmod 600 ${join(l.cfg, "credentials.json")}` });
    noSecrets(r);
  });

  test("unknown flags are refused (exit 2)", async () => {
    const r = await runBin(["doctor", "--bogus"], { env: layout().env });
    expect(r.code).toBe(2);
  });
});

// The keychain row against a real Secret Service: the test's own session bus when it works, else a
// private one started with dbus-run-session and an unlocked gnome-keyring; skipped visibly without.
const ownBus = process.env.DBUS_SESSION_BUS_ADDRESS && !(await keychainUnavailableReason()) ? process.env.DBUS_SESSION_BUS_ADDRESS : undefined;
const canStart = Boolean(Bun.which("dbus-run-session") && Bun.which("gnome-keyring-daemon"));
const keychainSkip = !ownBus && !canStart;
if (keychainSkip)
  console.warn("[test/smoke/doctor.test.ts] SKIPPING the real-keychain doctor test: no working Secret Service and no dbus-run-session + gnome-keyring-daemon (apt-get install dbus gnome-keyring libsecret-1-0)");

test.skipIf(keychainSkip)(`doctor sees a working keychain${keychainSkip ? " [SKIPPED: no Secret Service here]" : ""}`, async () => {
  const l = layout();
  let r: BinResult;
  if (ownBus) r = await runBin(["doctor", "--json"], { env: { ...l.env, DBUS_SESSION_BUS_ADDRESS: ownBus } });
  else {
    const env = childEnv({ ...l.env, DBUS_SESSION_BUS_ADDRESS: undefined, XDG_DATA_HOME: join(l.home, "data") });
    // The keyring password goes on stdin, never in argv.
    const script = `printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1; exec "$0" doctor --json`;
    const proc = Bun.spawn(["dbus-run-session", "--", "sh", "-c", script, BIN], { env, stdout: "pipe", stderr: "pipe", timeout: 30_000 });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    r = { stdout, stderr, code };
  }
  expect(r.code).toBe(0);
  expect(row(rowsOf(r), "keychain")).toMatchObject({ status: "ok" });
  noSecrets(r);
}, 40_000);
