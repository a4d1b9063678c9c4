/**
 * OAuth benchmark, against a real oidc-provider on 127.0.0.1 (refresh token rotation on):
 *
 * 1. Refresh storm: 64 concurrent `dist/tokenctl oauth token` processes on one expired credential in
 *    one file store. Counts refresh requests at the server (must be 1), failures (must be 0) and
 *    distinct tokens printed (must be 1).
 * 2. The lock-free shape beside it, on the same server: 64 processes that each read the file,
 *    refresh and write back, as the clients in the issue do (persisting `refresh_token ?? ""`).
 * 3. Fast path: `oauth token` on a fresh credential vs `cat` of the same file (and `--version`,
 *    the binary's own start-up floor), medians over interleaved runs.
 * 4. Refresh requests per hour for 5-minute tokens (Keycloak's default), an hour on a fake clock:
 *    the daemon's timer, and `oauth token` called once a second. Beside it, the same scenarios
 *    with the previous version's code (BASELINE_SRC: its src/ directory).
 * 5. Through the binaries: 20-second tokens, `oauth token` once a second for 20 s, this binary and
 *    the previous one (BASELINE_BIN) side by side on the same server; and the storm with BASELINE_BIN.
 *
 * Run: ./node_modules/.bin/bun scripts/build.ts && BASELINE_SRC=../prev/src BASELINE_BIN=../prev/dist/tokenctl \
 *      ./node_modules/.bin/bun scripts/bench/oauth.ts
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLIENT_ID, loginGrant, startOidc } from "../../test/support/oidc.ts";
import { resolveProfile } from "../../src/oauth/config.ts";
import { refreshesPerHour } from "./oauth-hour.ts";

const BIN = join(import.meta.dir, "..", "..", "dist", "tokenctl");
const N = Number(process.env.BENCH_PROCS ?? 64);
const BASELINE_BIN = process.env.BASELINE_BIN;
const BASELINE_SRC = process.env.BASELINE_SRC;
const RUNS = Number(process.env.BENCH_RUNS ?? 40);

const oidc = await startOidc({ accessTokenTtl: 3600 });
const dir = mkdtempSync(join(tmpdir(), "tokenctl-bench-"));
const env = { PATH: process.env.PATH ?? "", HOME: dir, XDG_CONFIG_HOME: join(dir, "config"), XDG_STATE_HOME: join(dir, "state"), NO_COLOR: "1" };

/** A fresh grant at the server (login through the dev interactions). */
async function grant() {
  const profile = resolveProfile({ issuer: oidc.issuer, clientId: CLIENT_ID, scope: "openid offline_access", store: "file" }, {}, () => ({}));
  return (await loginGrant(oidc, profile)).grant;
}

function writeStore(path: string, accessToken: string, refreshToken: string, expiresAt: number) {
  const doc = { otherTool: { keep: true }, agent: { accessToken, refreshToken, expiresAt, scopes: ["openid"] } };
  writeFileSync(path, JSON.stringify(doc, null, 2), { mode: 0o600 });
}

async function spawnAll(cmds: string[][]) {
  return Promise.all(
    cmds.map(async (cmd) => {
      const p = Bun.spawn(cmd, { env, stdout: "pipe", stderr: "pipe" });
      const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
      return { stdout, stderr, code };
    }),
  );
}

// 1. The storm, through tokenctl.
const lockedFile = join(dir, "locked.json");
const g1 = await grant();
writeStore(lockedFile, g1.accessToken, g1.refreshToken!, Date.now() - 1000);
const args = ["oauth", "token", "--issuer", oidc.issuer, "--client-id", CLIENT_ID, "--store", `file:${lockedFile}#agent`];
let before = { ...oidc.counts };
let t0 = performance.now();
const locked = await spawnAll(Array.from({ length: N }, () => [BIN, ...args]));
const lockedMs = performance.now() - t0;
const lockedRefreshes = oidc.counts.refresh - before.refresh;
const lockedFailures = locked.filter((r) => r.code !== 0).length;
const lockedTokens = new Set(locked.filter((r) => r.code === 0).map((r) => r.stdout.trim()));
const lockedEnd = JSON.parse(readFileSync(lockedFile, "utf8")).agent;

// 1b. The same storm with the previous binary, on the same server.
let baseStorm: { refreshes: number; failures: number; ms: number } | undefined;
if (BASELINE_BIN) {
  const file = join(dir, "baseline-storm.json");
  const g = await grant();
  writeStore(file, g.accessToken, g.refreshToken!, Date.now() - 1000);
  const b = { ...oidc.counts };
  const t = performance.now();
  const runs = await spawnAll(Array.from({ length: N }, () => [BASELINE_BIN, "oauth", "token", "--issuer", oidc.issuer, "--client-id", CLIENT_ID, "--store", `file:${file}#agent`]));
  baseStorm = { refreshes: oidc.counts.refresh - b.refresh, failures: runs.filter((r) => r.code !== 0).length, ms: performance.now() - t };
}

// 2. The lock-free shape: read, refresh, write, no lock; losers persist `refresh_token ?? ""`.
const freeFile = join(dir, "lockfree.json");
const g2 = await grant();
writeStore(freeFile, g2.accessToken, g2.refreshToken!, Date.now() - 1000);
const lockFree = join(dir, "lockfree-refresher.ts");
writeFileSync(
  lockFree,
  `import { readFileSync, writeFileSync } from "node:fs";
const [file, tokenEndpoint, clientId] = process.argv.slice(2);
const doc = JSON.parse(readFileSync(file, "utf8"));
const r = await fetch(tokenEndpoint, { method: "POST", body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: doc.agent.refreshToken, client_id: clientId }) });
const body = await r.json();
doc.agent = { accessToken: body.access_token ?? "", refreshToken: body.refresh_token ?? "", expiresAt: Date.now() + (body.expires_in ?? 0) * 1000, scopes: doc.agent.scopes };
writeFileSync(file, JSON.stringify(doc, null, 2));
console.log(r.ok ? "ok" : body.error);
`,
);
before = { ...oidc.counts };
t0 = performance.now();
const free = await spawnAll(Array.from({ length: N }, () => [process.execPath, lockFree, freeFile, `${oidc.issuer}/token`, CLIENT_ID]));
const freeMs = performance.now() - t0;
const outcomes = new Map<string, number>();
for (const r of free) outcomes.set(r.stdout.trim() || `exit ${r.code}`, (outcomes.get(r.stdout.trim() || `exit ${r.code}`) ?? 0) + 1);
const freeEnd = JSON.parse(readFileSync(freeFile, "utf8")).agent;
const freeRefreshes = oidc.counts.refresh - before.refresh;
const emptyWrites = free.filter((r) => r.code === 0 && r.stdout.trim() !== "ok").length;
// Is whatever the lock-free run left behind still usable?
const probe = freeEnd.refreshToken
  ? await fetch(`${oidc.issuer}/token`, { method: "POST", body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: freeEnd.refreshToken, client_id: CLIENT_ID }) })
  : undefined;

// 3. Fast path on a fresh credential.
const freshFile = join(dir, "fresh.json");
writeStore(freshFile, "fresh-access-token", "rt", Date.now() + 3_600_000);
const fastArgs = ["oauth", "token", "--store", `file:${freshFile}#agent`];
const time = (cmd: string[]) => {
  const s = performance.now();
  const r = Bun.spawnSync(cmd, { env, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed: ${r.stderr.toString()}`);
  return performance.now() - s;
};
const samples = { token: [] as number[], cat: [] as number[], version: [] as number[] };
for (let i = 0; i < 3; i++) time([BIN, ...fastArgs]); // warm the page cache
for (let i = 0; i < RUNS; i++) {
  samples.token.push(time([BIN, ...fastArgs]));
  samples.cat.push(time(["cat", freshFile]));
  samples.version.push(time([BIN, "--version"]));
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const m = { token: median(samples.token), cat: median(samples.cat), version: median(samples.version) };

// 4. An hour of 5-minute tokens on a fake clock.
const hour = await refreshesPerHour(BASELINE_SRC);

// 5. 20-second tokens, oauth token once a second for 20 s, through both binaries at once.
const short = await startOidc({ accessTokenTtl: 20 });
async function perSecond(bin: string | undefined, name: string): Promise<number | undefined> {
  if (!bin) return undefined;
  const file = join(dir, `${name}.json`);
  const profile = resolveProfile({ issuer: short.issuer, clientId: CLIENT_ID, scope: "openid offline_access", store: "file" }, {}, () => ({}));
  const g = (await loginGrant(short, profile)).grant;
  const doc = { agent: { accessToken: g.accessToken, refreshToken: g.refreshToken, expiresAt: Date.now() + 20_000, lifetimeMs: 20_000, scopes: ["openid"] } };
  writeFileSync(file, JSON.stringify(doc), { mode: 0o600 });
  let refreshed = 0;
  for (let i = 0; i < 20; i++) {
    const next = Date.now() + 1000;
    const [r] = await spawnAll([[bin, "oauth", "token", "--json", "--issuer", short.issuer, "--client-id", CLIENT_ID, "--store", `file:${file}#agent`]]);
    if (r!.code !== 0) throw new Error(`${name}: oauth token failed: ${r!.stderr}`);
    if (JSON.parse(r!.stdout).source === "refreshed") refreshed++;
    await Bun.sleep(Math.max(0, next - Date.now()));
  }
  return refreshed;
}
const [perSecondNew, perSecondOld] = await Promise.all([perSecond(BIN, "per-second-new"), perSecond(BASELINE_BIN, "per-second-old")]);
await short.close();

await oidc.close();
rmSync(dir, { recursive: true, force: true });

const f = (x: number) => x.toFixed(1);
console.log(`OAuth refresh storm: ${N} concurrent processes, one expired credential in one file store, oidc-provider with rotation`);
console.log(``);
console.log(`tokenctl oauth token (flock, decision under the lock):`);
console.log(`  refresh requests at the server: ${lockedRefreshes}   (must be 1)`);
console.log(`  failed processes:               ${lockedFailures}   (must be 0)`);
console.log(`  distinct tokens printed:        ${lockedTokens.size}   (must be 1; equals the stored one: ${lockedTokens.has(lockedEnd.accessToken)})`);
console.log(`  refresh token left in the file: ${lockedEnd.refreshToken ? "present" : "EMPTY"}`);
console.log(`  wall time for all ${N}:          ${f(lockedMs)} ms`);
if (baseStorm) console.log(`previous binary, same storm:       ${baseStorm.refreshes} refresh request(s), ${baseStorm.failures} failed, ${f(baseStorm.ms)} ms`);
console.log(``);
console.log(`lock-free read/refresh/write (the shape from the issue), same server:`);
console.log(`  refresh requests at the server: ${freeRefreshes}`);
console.log(`  outcomes:                       ${[...outcomes].map(([k, v]) => `${k} ${v}`).join(", ")}`);
console.log(`  writes of an EMPTY refresh token: ${emptyWrites}`);
console.log(`  refresh token left in the file: ${freeEnd.refreshToken ? "present" : "EMPTY"}${probe ? ` (usable afterwards: ${probe.ok ? "yes" : `no, ${((await probe.json()) as { error: string }).error}`})` : ""}`);
console.log(`  wall time for all ${N}:          ${f(freeMs)} ms`);
console.log(``);
console.log(`fast path, fresh credential, median of ${RUNS} interleaved runs:`);
console.log(`  tokenctl oauth token:  ${f(m.token)} ms   (target <= 10 ms)`);
console.log(`  cat <same file>:       ${f(m.cat)} ms   ratio ${f(m.token / m.cat)}x`);
console.log(`  tokenctl --version:    ${f(m.version)} ms   (the binary's start-up floor; oauth token costs ${f(m.token - m.version)} ms over it)`);
console.log(``);
const cell = (n: number | undefined) => (n === undefined ? "—" : String(n));
console.log(`refresh requests per hour, 5-minute tokens (an hour on a fake clock): this version / previous (ratio)`);
console.log(`  daemon holding the profile:      ${hour.daemon} / ${cell(hour.baseline?.daemon)}${hour.baseline ? `   (${f(hour.baseline.daemon / hour.daemon)}x fewer)` : ""}`);
console.log(`  oauth token once a second:       ${hour.perSecond} / ${cell(hour.baseline?.perSecond)}${hour.baseline ? `   (${f(hour.baseline.perSecond / hour.perSecond)}x fewer)` : ""}`);
console.log(`20-second tokens, oauth token once a second for 20 s, real binaries: ${cell(perSecondNew)} refresh(es) / previous binary ${cell(perSecondOld)}`);
const ok = lockedRefreshes === 1 && lockedFailures === 0 && lockedTokens.size === 1;
process.exit(ok ? 0 : 1);
