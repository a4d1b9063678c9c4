/**
 * `tokenctl doctor`: every check is a function over injected side effects (stat, the keychain
 * probe, the daemon client, OAuth store reads, Vault lookup-self) returning rows of
 * {name, status, detail, fix?}. Nothing here refreshes a token, writes a file, or puts a secret in
 * a row: records and tokens are read only to judge them (expiry, refresh token present).
 */
import { lstatSync, readdirSync, statSync, type Stats } from "node:fs";
import { dirname, join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { AuthRefusedError, TokenctlError, UnavailableError, errnoCode } from "../errors.ts";
import { configDir, expandHome, runtimeDirRefusal, stateDir, type Env } from "../fs/paths.ts";
import { checkTrustedDirs, nearestExisting, runtimeDirProblem } from "../fs/trust.ts";
import type { ConnectOptions } from "../daemon/client.ts";
import type { Message } from "../daemon/extension.ts";
import { resolveDaemonPaths } from "../daemon/paths.ts";
import { configPath, readProfiles, resolveProfile, DEFAULT_PROFILE, type Profile, type ProfileSettings } from "../oauth/config.ts";
import type { OAuthRecord } from "../oauth/record.ts";
import type { CredentialStore, KeychainUnavailableError, SecretsApi } from "../oauth/store.ts";
import type { TokenInfo } from "../vault/client.ts";
import { evaluatePath, knownPaths, shq, specForUnknown, type Check, type PathSpec, type PathStat, type Status } from "./paths.ts";

export type { Check, Status } from "./paths.ts";

/** The daemon connection doctor needs: one `status` call. */
export interface DoctorDaemonClient {
  call(type: string, body?: Message): Promise<Message>;
  close(): void;
}

/** Every side effect doctor has, injectable; `realDeps()` gives the real ones. */
export interface DoctorDeps {
  env: Env;
  platform: NodeJS.Platform;
  uid: number;
  now(): number;
  /** lstat (and stat through a symlink); undefined when the path does not exist. */
  stat(path: string): PathStat | undefined;
  readdir(path: string): string[];
  /** The OAuth store's keychain probe, with its timeout; the error says why it failed. */
  probeKeychain(): Promise<KeychainUnavailableError | undefined>;
  /** Open a profile's store for reading only (see openForReading). */
  openStore(profile: Profile, keychainUsable: boolean): Promise<{ store: CredentialStore; note?: string }>;
  connectDaemon(o: ConnectOptions): Promise<DoctorDaemonClient>;
  readProfiles(path: string): Record<string, ProfileSettings>;
  /** Vault's lookup-self for a token; the client maps failures to our error classes. */
  vaultLookupSelf(o: { addr: string; token: string; timeoutMs: number }): Promise<TokenInfo>;
  /** Our version, to compare with the daemon's. */
  version: string;
  /**
   * Path trust (src/fs/trust.ts): throws when a directory from `dir` up to `/` is not ours or
   * root's, or is writable by others. Default: the real check on the nearest existing ancestor.
   */
  checkDirTrust?(dir: string, what: string): void;
}

/** Doctor's flags: where the daemon and Vault are, as the other commands take them. */
export interface DoctorOptions {
  socket?: string;
  tokenFile?: string;
  vaultAddr?: string;
  vaultTokenFile?: string;
  /** Per daemon/Vault request (default 5000 ms). */
  timeoutMs?: number;
}

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** A check that threw unexpectedly is a failed row, not a crashed doctor. */
async function guarded(name: string, run: () => Promise<Check> | Check): Promise<Check> {
  try {
    return await run();
  } catch (e) {
    return { name, status: "fail", detail: messageOf(e), ...(e instanceof TokenctlError && e.hint ? { fix: e.hint } : {}) };
  }
}

/** Human duration: 45s, 12m, 3h 5m, 2d 4h. */
export function formatDuration(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

// ---------------------------------------------------------------------------------------------
// Files and directories

/** Judge every known path, then anything else found in our private dirs (one level down). */
export function checkPaths(specs: PathSpec[], deps: Pick<DoctorDeps, "stat" | "readdir" | "uid">): Check[] {
  const out: Check[] = [];
  const known = new Set(specs.map((s) => s.path));
  const absentDirs = new Set<string>();
  const queue = [...specs.map((s) => ({ spec: s, depth: 0 }))];
  while (queue.length) {
    const { spec, depth } = queue.shift()!;
    let st: PathStat | undefined;
    try {
      st = deps.stat(spec.path);
    } catch (e) {
      out.push({ name: spec.label, status: "fail", detail: `${spec.path}: cannot stat (${errnoCode(e) ?? messageOf(e)})` });
      continue;
    }
    // Locks, logs and the socket come and go, and nothing lives in a dir that is not there:
    // absent, they are not worth a row.
    if (!st && (spec.kind === "private-dir" || spec.kind === "shared-dir")) absentDirs.add(spec.path);
    if (!st && (spec.kind === "lock-file" || spec.kind === "log-file" || spec.kind === "socket" || absentDirs.has(dirname(spec.path)))) continue;
    out.push(evaluatePath(spec, st, deps.uid));
    // Sweep our own private dirs for files no spec names (sessions.json, leftovers): each must be private too.
    if (spec.kind !== "private-dir" || depth > 1 || !st || (st.type !== "dir" && st.targetType !== "dir")) continue;
    let names: string[];
    try {
      names = deps.readdir(spec.path).sort();
    } catch {
      continue; // the dir row above already says what is wrong with it
    }
    for (const name of names) {
      const path = join(spec.path, name);
      if (known.has(path)) continue;
      known.add(path);
      let type: PathStat["type"] = "file";
      try {
        type = deps.stat(path)?.type ?? "file";
      } catch {
        // judged (and reported) when its own spec is evaluated
      }
      queue.push({ spec: specForUnknown(path, type), depth: depth + 1 });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Path trust and the runtime dir

/** Judge $XDG_RUNTIME_DIR with doctor's stat: ours, a directory, mode 0700 (the XDG spec's MUST). */
export function runtimeJudge(deps: Pick<DoctorDeps, "stat" | "uid">): (dir: string) => string | undefined {
  return (dir) =>
    runtimeDirProblem(
      dir,
      (p) => {
        const st = deps.stat(p);
        if (!st) throw Object.assign(new Error("missing"), { code: "ENOENT" });
        const type = st.type === "symlink" ? st.targetType : st.type;
        const mode = st.type === "symlink" ? (st.targetMode ?? 0) : st.mode;
        const uid = st.type === "symlink" ? (st.targetUid ?? -1) : st.uid;
        return { uid, mode, isDirectory: () => type === "dir" };
      },
      deps.uid,
    );
}

/** The XDG_RUNTIME_DIR row: used, or set but refused (and the state dir used instead), or unset. */
export function checkRuntimeDir(env: Env, judge: (dir: string) => string | undefined, fallback: string): Check {
  const name = "runtime dir";
  if (!env.XDG_RUNTIME_DIR) return { name, status: "skip", detail: `XDG_RUNTIME_DIR is not set; the daemon socket lives in ${fallback}` };
  const problem = runtimeDirRefusal(env, judge);
  if (!problem) return { name, status: "ok", detail: `XDG_RUNTIME_DIR=${env.XDG_RUNTIME_DIR}: yours, 0700` };
  return {
    name,
    status: "warn",
    detail: `${problem}; tokenctl uses ${fallback} instead`,
    fix: `unset XDG_RUNTIME_DIR   # or fix it: chown $(id -u) ${shq(env.XDG_RUNTIME_DIR)} && chmod 700 ${shq(env.XDG_RUNTIME_DIR)}`,
  };
}

/** One row per directory tree: every directory from it up to `/` must be ours or root's and not writable by others. */
export function checkPathTrust(dirs: { label: string; dir: string }[], check: (dir: string, what: string) => void): Check[] {
  return dirs.map(({ label, dir }) => {
    const name = `path trust: ${label}`;
    try {
      check(dir, `the ${label} ${dir}`);
      return { name, status: "ok", detail: `${dir}: every directory up to / is yours or root's and not writable by others` };
    } catch (e) {
      return { name, status: "fail", detail: messageOf(e), ...(e instanceof TokenctlError && e.hint ? { fix: e.hint } : {}) };
    }
  });
}

const realDirTrust = (dir: string, what: string) => checkTrustedDirs(nearestExisting(dir), what);

// ---------------------------------------------------------------------------------------------
// Keychain

/** Why the keychain failed, in words a user can act on, with the command that fixes it. Pure. */
export function keychainReason(message: string, env: Env, platform: NodeJS.Platform): { reason: string; fix?: string } {
  if (/did not answer .* within/.test(message))
    return {
      reason: "the keyring did not answer in time: locked, or waiting for an unlock prompt",
      fix: "gnome-keyring-daemon --unlock --components=secrets   # type the keyring password, then Ctrl-D",
    };
  if (/libsecret/i.test(message)) return { reason: "libsecret is not installed", fix: "sudo apt-get install libsecret-1-0 gnome-keyring" };
  if (platform === "linux" && !env.DBUS_SESSION_BUS_ADDRESS)
    return {
      reason: "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset: headless, SSH or CI session)",
      fix: "dbus-run-session -- $SHELL   # then: gnome-keyring-daemon --unlock --components=secrets",
    };
  if (/org\.freedesktop\.secrets|ServiceUnknown|not provided by any/i.test(message))
    return { reason: "no Secret Service on the session bus", fix: "gnome-keyring-daemon --start --components=secrets" };
  if (/D-Bus|dbus|Could not connect/i.test(message))
    return { reason: `the D-Bus session bus does not answer (${message.replace(/^The OS keychain failed a probe: /, "")})`, fix: "dbus-run-session -- $SHELL" };
  return { reason: message.replace(/^The OS keychain failed a probe: /, "") };
}

/** Is the OS keychain usable, and if not, why. A warning, not a failure: tokenctl falls back to a file. */
export async function checkKeychain(deps: Pick<DoctorDeps, "probeKeychain" | "env" | "platform">): Promise<{ check: Check; usable: boolean }> {
  const failure = await deps.probeKeychain();
  if (!failure) return { check: { name: "keychain", status: "ok", detail: "the OS keychain answers (Bun.secrets)" }, usable: true };
  const { reason, fix } = keychainReason(failure.message, deps.env, deps.platform);
  return {
    check: { name: "keychain", status: "warn", detail: `unavailable: ${reason}; OAuth logins fall back to the file store`, ...(fix ? { fix } : {}) },
    usable: false,
  };
}

// ---------------------------------------------------------------------------------------------
// Daemon

/** Is a daemon answering on the socket, and which version. Not running is fine (it is optional). */
export async function checkDaemon(paths: { socketPath: string; tokenFile: string }, deps: Pick<DoctorDeps, "stat" | "connectDaemon" | "version">, timeoutMs = 5000): Promise<Check> {
  return (await daemonCheckAndStatus(paths, deps, timeoutMs)).check;
}

/** The last refresh error the daemon's OAuth extension holds for each profile (from `status`). */
export function daemonRefreshErrors(status: Message | undefined): Record<string, string> {
  const oauth = status?.oauth;
  const profiles = typeof oauth === "object" && oauth !== null ? (oauth as Message).profiles : undefined;
  if (typeof profiles !== "object" || profiles === null) return {};
  const out: Record<string, string> = {};
  for (const [name, p] of Object.entries(profiles as Record<string, unknown>))
    if (typeof p === "object" && p !== null && typeof (p as Message).lastError === "string") out[name] = (p as Message).lastError as string;
  return out;
}

async function daemonCheckAndStatus(
  paths: { socketPath: string; tokenFile: string },
  deps: Pick<DoctorDeps, "stat" | "connectDaemon" | "version">,
  timeoutMs: number,
): Promise<{ check: Check; status?: Message }> {
  let status: Message | undefined;
  const check = await daemonCheck(paths, deps, timeoutMs, (m) => (status = m));
  return { check, status };
}

async function daemonCheck(
  paths: { socketPath: string; tokenFile: string },
  deps: Pick<DoctorDeps, "stat" | "connectDaemon" | "version">,
  timeoutMs: number,
  onStatus: (m: Message) => void,
): Promise<Check> {
  const name = "daemon";
  const { socketPath, tokenFile } = paths;
  let st: PathStat | undefined;
  try {
    st = deps.stat(socketPath);
  } catch (e) {
    return { name, status: "fail", detail: `cannot stat ${socketPath} (${errnoCode(e) ?? messageOf(e)})` };
  }
  if (!st) return { name, status: "skip", detail: `not running (no socket at ${socketPath}); optional: tokenctl daemon` };
  let client: DoctorDaemonClient | undefined;
  let status: Message;
  try {
    client = await deps.connectDaemon({ socketPath, tokenFile, timeoutMs });
    status = await client.call("status");
  } catch (e) {
    if (e instanceof AuthRefusedError) return { name, status: "fail", detail: messageOf(e), fix: e.hint ?? "tokenctl daemon" };
    if (e instanceof UnavailableError)
      return {
        name,
        status: "warn",
        detail: `${socketPath} exists but no daemon answers (stale socket after a crash?); clients do the work themselves`,
        fix: `tokenctl daemon --socket ${shq(socketPath)}   # replaces a stale socket`,
      };
    return { name, status: "fail", detail: messageOf(e), ...(e instanceof TokenctlError && e.hint ? { fix: e.hint } : {}) };
  } finally {
    client?.close();
  }
  onStatus(status);
  const version = typeof status.version === "string" ? status.version : "unknown";
  const pid = typeof status.pid === "number" ? status.pid : undefined;
  const uptime = typeof status.uptime === "number" ? `, up ${formatDuration(status.uptime * 1000)}` : "";
  const detail = `version ${version}, pid ${pid ?? "?"}${uptime}, on ${socketPath}`;
  if (version !== deps.version)
    return {
      name,
      status: "warn",
      detail: `${detail}; this tokenctl is version ${deps.version}`,
      fix: pid ? `kill ${pid} && tokenctl daemon   # restart it on the new version` : "restart the daemon: tokenctl daemon",
    };
  return { name, status: "ok", detail };
}

// ---------------------------------------------------------------------------------------------
// OAuth

/** Why a refresh is impossible for this profile and record, or undefined when it is possible. Pure. */
export function refreshBlocker(profile: Profile, record: OAuthRecord): string | undefined {
  if (!record.refreshToken) return "no refresh token stored";
  if (!profile.clientId) return "the profile has no clientId";
  if (!profile.tokenEndpoint && !profile.issuer) return "the profile has neither tokenEndpoint nor issuer";
  return undefined;
}

/**
 * Judge one profile's stored record: expiry and whether a refresh can happen. A dry check: the
 * endpoint is not contacted. `implicit`: the default profile, checked though config.json lacks it.
 */
export function evaluateRecord(profile: Profile, where: string, record: OAuthRecord | undefined, now: number, implicit = false): Check {
  const name = `oauth ${profile.name}`;
  const login = `tokenctl oauth login --profile ${shq(profile.name)}`;
  if (!record)
    return implicit
      ? { name, status: "skip", detail: `not logged in (${where})` }
      : { name, status: "warn", detail: `not logged in (${where})`, fix: login };
  const left = record.expiresAt - now;
  const blocker = refreshBlocker(profile, record);
  const endpoint = profile.tokenEndpoint ? `token endpoint ${profile.tokenEndpoint}` : `token endpoint by discovery from ${profile.issuer}`;
  const configFix = `add "clientId" and "tokenEndpoint" (or "issuer") to oauth.profiles.${profile.name} in config.json`;
  const fix = blocker && blocker !== "no refresh token stored" ? configFix : login;
  if (left <= 0) {
    if (blocker) return { name, status: "fail", detail: `${where}: expired ${formatDuration(left)} ago and cannot be refreshed (${blocker})`, fix };
    return { name, status: "ok", detail: `${where}: expired ${formatDuration(left)} ago; refreshes on next use (refresh token present, ${endpoint})` };
  }
  if (blocker) return { name, status: "warn", detail: `${where}: valid for ${formatDuration(left)}, then cannot be refreshed (${blocker})`, fix };
  return { name, status: "ok", detail: `${where}: valid for ${formatDuration(left)}; refreshable (refresh token present, ${endpoint})` };
}

/** Read one profile's record (never refreshing) and judge it. */
export async function checkOAuthProfile(profile: Profile, keychainUsable: boolean, deps: Pick<DoctorDeps, "openStore" | "now">, implicit = false): Promise<Check> {
  return guarded(`oauth ${profile.name}`, async () => {
    const { store, note } = await deps.openStore(profile, keychainUsable);
    const record = await store.read();
    return evaluateRecord(profile, `${store.description}${note ? ` (${note})` : ""}`, record, deps.now(), implicit);
  });
}

/**
 * The store a profile's records are read from, as openStore picks it, without probing the keychain
 * again: a `keychain` profile whose record sits in credentials.json (an earlier fallback) is read
 * there; else the keychain when it answered the probe; else the file it falls back to.
 */
export async function openForReading(profile: Profile, keychainUsable: boolean, o: { env: Env; secrets?: SecretsApi; keychainTimeoutMs?: number }): Promise<{ store: CredentialStore; note?: string }> {
  const { fileStore, defaultFileStore, keychainStore } = await import("../oauth/store.ts");
  const spec = profile.storeSpec;
  if (spec.type === "file") return { store: spec.path === undefined ? defaultFileStore(profile.name, o.env) : fileStore(expandHome(spec.path, o.env), spec.key) };
  const file = defaultFileStore(profile.name, o.env);
  if (await file.read()) return { store: file, note: "keychain fallback" };
  if (!keychainUsable) return { store: file, note: "keychain unavailable" };
  return { store: keychainStore(profile.name, { env: o.env, secrets: o.secrets, timeoutMs: o.keychainTimeoutMs }) };
}

// ---------------------------------------------------------------------------------------------
// Vault

/** Vault reachable and its token valid (lookup-self), when an address is configured. */
export async function checkVault(o: { addr?: string; tokenFile?: string; timeoutMs: number }, deps: Pick<DoctorDeps, "env" | "vaultLookupSelf">): Promise<Check> {
  const name = "vault";
  const addr = o.addr || deps.env.VAULT_ADDR;
  if (!addr) return { name, status: "skip", detail: "not configured (no --vault-addr, no VAULT_ADDR)" };
  return guarded(name, async () => {
    const { resolveVaultConfig, readVaultToken } = await import("../vault/config.ts");
    const { displayAddr } = await import("../vault/client.ts");
    const config = resolveVaultConfig({ addr, "token-file": o.tokenFile, timeout: `${o.timeoutMs}ms` }, deps.env, false);
    const where = displayAddr(config.addr);
    const from = "file" in config.tokenSource ? config.tokenSource.file : "VAULT_TOKEN";
    const token = readVaultToken(config, deps.env);
    try {
      const info = await deps.vaultLookupSelf({ addr: config.addr, token, timeoutMs: config.timeoutMs });
      const ttl = info.ttl === 0 ? "does not expire" : `expires in ${formatDuration(info.ttl * 1000)}${info.renewable ? " (renewable)" : ""}`;
      const detail = `${where}: token from ${from} is valid (${info.displayName || "no display name"}; ${ttl})`;
      if (info.ttl > 0 && !info.renewable && info.ttl < 86400)
        return { name, status: "warn", detail: `${detail}; not renewable, so sync stops within a day`, fix: `( umask 077; cat > ${shq("file" in config.tokenSource ? from : "~/.config/tokenctl/vault.token")} )   # paste a new token` };
      return { name, status: "ok", detail };
    } catch (e) {
      if (e instanceof AuthRefusedError)
        return {
          name,
          status: "fail",
          detail: `${where}: ${messageOf(e)}`,
          fix: "file" in config.tokenSource ? `( umask 077; cat > ${shq(from)} )   # paste a valid Vault token, then Ctrl-D` : "export a valid VAULT_TOKEN, or better: VAULT_TOKEN_FILE",
        };
      if (e instanceof UnavailableError) return { name, status: "fail", detail: `${where}: ${messageOf(e)}`, fix: e.hint ?? `check VAULT_ADDR (${where}) and that Vault is unsealed: curl -s ${where}/v1/sys/health` };
      throw e;
    }
  });
}

// ---------------------------------------------------------------------------------------------
// All together

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
      checks.push({ ...row, status: "warn", detail: `${row.detail}; the daemon's last refresh failed: ${err}`, fix: row.fix ?? `tokenctl oauth login --profile ${shq(profile.name)}` });
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

/** lstat, plus stat through a symlink; undefined when missing. */
export function statPath(path: string): PathStat | undefined {
  let l: Stats;
  try {
    l = lstatSync(path);
  } catch (e) {
    if (errnoCode(e) === "ENOENT" || errnoCode(e) === "ENOTDIR") return undefined;
    throw e;
  }
  const typeOf = (s: Stats): PathStat["type"] =>
    s.isSymbolicLink() ? "symlink" : s.isDirectory() ? "dir" : s.isFile() ? "file" : s.isSocket() ? "socket" : "other";
  const st: PathStat = { type: typeOf(l), mode: l.mode & 0o7777, uid: l.uid };
  if (st.type === "symlink") {
    try {
      const t = statSync(path);
      st.targetType = typeOf(t);
      st.targetMode = t.mode & 0o7777;
      st.targetUid = t.uid;
    } catch {
      // dangling: targetType stays undefined
    }
  }
  return st;
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
