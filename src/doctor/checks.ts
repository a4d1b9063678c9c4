/**
 * `tokenctl doctor`: every check is a function over injected side effects (stat, the keychain
 * probe, the daemon client, OAuth store reads, Vault lookup-self) returning rows of
 * {name, status, detail, fix?}. Nothing here refreshes a token, writes a file, or puts a secret in
 * a row: records and tokens are read only to judge them (expiry, refresh token present).
 * The checks live by area: files.ts, store.ts (keychain, OAuth), daemon.ts, vault.ts; this file
 * runs them in report order.
 */
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { TokenctlError } from "../errors.ts";
import { configDir, expandHome, stateDir, type Env } from "../fs/paths.ts";
import { resolveDaemonPaths } from "../daemon/paths.ts";
import { configPath, readProfiles, resolveProfile, DEFAULT_PROFILE, type Profile, type ProfileSettings } from "../oauth/config.ts";
import { daemonCheckAndStatus, daemonRefreshErrors } from "./daemon.ts";
import { messageOf, type DoctorDeps, type DoctorOptions } from "./deps.ts";
import { checkPaths, checkPathTrust, checkRuntimeDir, realDirTrust, runtimeJudge, statPath } from "./files.ts";
import { knownPaths, shq, type Check, type Status } from "./paths.ts";
import { loginHint } from "../oauth/errors.ts";
import { checkKeychain, checkOAuthProfile, openForReading } from "./store.ts";
import { checkVault } from "./vault.ts";

export type { Check, Status } from "./paths.ts";
export type { DoctorDeps, DoctorOptions } from "./deps.ts";

/** Run every check, in report order: files, keychain, daemon, OAuth profiles, Vault. */
export async function runDoctor(options: DoctorOptions, deps: DoctorDeps): Promise<Check[]> {
  const env = deps.env;
  const timeoutMs = options.timeoutMs ?? 5000;
  const checks: Check[] = [];
  const judge = runtimeJudge(deps);
  const daemon = resolveDaemonPaths({ socket: options.socket, tokenFile: options.tokenFile }, env, judge);

  // Profiles first: their stores add paths. An invalid config.json is a row of its own.
  let settings: Record<string, ProfileSettings> = {};
  let configCheck: Check | undefined;
  try {
    settings = deps.readProfiles(configPath(env));
  } catch (e) {
    configCheck = { name: "config.json", status: "fail", detail: messageOf(e), fix: `$EDITOR ${shq(configPath(env))}` };
  }
  const profiles: { profile: Profile; implicit: boolean }[] = [];
  for (const name of Object.keys(settings).sort()) {
    try {
      profiles.push({ profile: resolveProfile({ profile: name }, env, () => settings), implicit: false });
    } catch (e) {
      checks.push({ name: `oauth ${name}`, status: "fail", detail: messageOf(e), fix: `$EDITOR ${shq(configPath(env))}` });
    }
  }
  if (!(DEFAULT_PROFILE in settings)) profiles.push({ profile: resolveProfile({}, env, () => ({})), implicit: true });

  const vaultAddr = options.vaultAddr || env.VAULT_ADDR;
  const vaultTokenFile = options.vaultTokenFile || env.VAULT_TOKEN_FILE;
  const specs = knownPaths({
    env,
    daemon,
    keychainProfiles: profiles.filter((p) => p.profile.storeSpec.type === "keychain").map((p) => p.profile.name),
    fileStores: profiles.flatMap(({ profile: { storeSpec: s } }) => (s.type === "file" && s.path !== undefined ? [expandHome(s.path, env)] : [])),
    vaultTokenFile: vaultTokenFile ? expandHome(vaultTokenFile, env) : undefined,
    vaultCredentials: vaultAddr ? expandHome("~/.claude/.credentials.json", env) : undefined,
  });
  const pathChecks = checkPaths(specs, deps);
  if (configCheck) {
    const i = pathChecks.findIndex((c) => c.name === "config.json");
    if (i >= 0 && pathChecks[i]!.status !== "fail") pathChecks[i] = configCheck;
    else pathChecks.push(configCheck);
  }
  checks.unshift(...pathChecks);
  checks.push(checkRuntimeDir(env, judge, join(stateDir(env), "run")));
  const tokenFile = env.TOKENCTL_TOKEN_FILE ? expandHome(env.TOKENCTL_TOKEN_FILE, env) : join(stateDir(env), "token");
  checks.push(
    ...checkPathTrust(
      [
        { label: "daemon socket", dir: dirname(daemon.socketPath) },
        { label: "daemon token file", dir: dirname(daemon.tokenFile) },
        { label: "token file", dir: dirname(tokenFile) },
        { label: "config dir", dir: configDir(env) },
      ].filter((d, i, all) => all.findIndex((o) => o.dir === d.dir) === i),
      deps.checkDirTrust ?? realDirTrust,
    ),
  );

  const keychain = await checkKeychain(deps).catch((e: unknown) => ({ check: { name: "keychain", status: "fail" as Status, detail: messageOf(e) }, usable: false }));
  checks.push(keychain.check);
  const { check: daemonRow, status } = await daemonCheckAndStatus(daemon, deps, timeoutMs);
  checks.push(daemonRow);
  const refreshErrors = daemonRefreshErrors(status);
  for (const { profile, implicit } of profiles) {
    const row = await checkOAuthProfile(profile, keychain.usable, deps, implicit);
    const err = refreshErrors[profile.name];
    // The daemon's own refresh failing is worth knowing even when the stored record still looks fine.
    if (err && row.status !== "fail")
      checks.push({ ...row, status: "warn", detail: `${row.detail}; the daemon's last refresh failed: ${err}`, fix: row.fix ?? loginHint(profile.name) });
    else checks.push(err ? { ...row, detail: `${row.detail}; the daemon's last refresh failed: ${err}` } : row);
  }
  checks.push(await checkVault({ addr: vaultAddr, tokenFile: vaultTokenFile, timeoutMs }, deps));
  return checks;
}

/** Doctor found problems: the report is printed; this only carries exit 1 and the summary line. */
export class DoctorProblemsError extends TokenctlError {
  override name = "DoctorProblemsError";
}

/** True when a row says something is wrong (warn and skip are allowed). */
export function hasFailures(checks: Check[]): boolean {
  return checks.some((c) => c.status === "fail");
}

/** The real side effects. */
export function realDeps(env: Env = process.env): DoctorDeps {
  return {
    env,
    platform: process.platform,
    uid: typeof process.getuid === "function" ? process.getuid() : -1,
    now: Date.now,
    stat: statPath,
    readdir: (p) => readdirSync(p),
    probeKeychain: async () => (await import("../oauth/store.ts")).probeKeychain(),
    openStore: (profile, usable) => openForReading(profile, usable, { env }),
    connectDaemon: async (o) => (await import("../daemon/client.ts")).connectDaemon(o),
    readProfiles,
    vaultLookupSelf: async (o) => {
      const { VaultClient } = await import("../vault/client.ts");
      return new VaultClient(o).lookupSelf();
    },
    version: pkg.version,
  };
}
