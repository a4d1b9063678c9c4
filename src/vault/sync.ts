/**
 * `vault sync|backup|restore|status`: apply planSync's steps with injected Vault client, probe,
 * files, clock and log (STYLE habit 6). Every outcome is one log line; every failure is logged as
 * FAIL and thrown as one of our error classes so the CLI maps it to its exit code.
 */
import { join } from "node:path";
import { AuthRefusedError, NotFoundError, TokenctlError, UnavailableError, UsageError } from "../errors.ts";
import { ensurePrivateDir } from "../fs/secure.ts";
import { shq } from "../shell.ts";
import { tryLock as realTryLock, type FileLock } from "../fs/lock.ts";
import { CasConflictError, type KvSecret, type VaultApi } from "./client.ts";
import { lastResult, readTail, type Level, type SyncLog } from "./log.ts";
import type { SyncFiles } from "./files.ts";
import {
  backupOf,
  checkLocal,
  FIELDS,
  planBackup,
  planSync,
  setupTokenOf,
  type LocalState,
  type RemoteState,
  type Step,
  type SyncSettings,
  type SyncState,
} from "./plan.ts";

/** The token's identity did not match --expect-display-name / --expect-policy (exit 4). */
export class ForeignTokenError extends AuthRefusedError {
  override name = "ForeignTokenError";
}

/** The local credential does not work and Vault cannot fix it (exit 4). */
export class LoginRequiredError extends AuthRefusedError {
  override name = "LoginRequiredError";
}

export interface SyncOptions {
  mount: string;
  path: string;
  credentials: string;
  key: string;
  envFile: string;
  stateDir: string;
  settings: SyncSettings;
  expectDisplayName?: string;
  expectPolicy?: string;
  /**
   * The flags this run was given that pick the Vault, its token, the secret and the local file, as
   * argv words (`["--path", "claude/alice", …]`): the commands in hints repeat them, so a hint works
   * as pasted (issue 13 item 5). Paths and names only, never a token.
   */
  flags: string[];
}

/** `tokenctl vault NAME` with this run's flags (quoted for the shell), then `extra`. */
function vaultCommand(options: Pick<SyncOptions, "flags">, name: string, ...extra: string[]): string {
  return `tokenctl vault ${name}${[...options.flags, ...extra].map((w) => ` ${shq(w)}`).join("")}`;
}

export interface SyncDeps {
  vault: VaultApi;
  files: SyncFiles;
  log: SyncLog;
  /** Does the local credential work? Undefined: judge its shape and expiry only. */
  probe?: () => Promise<boolean>;
  now?: () => number;
  tryLock?: (path: string) => FileLock | undefined;
  /** How many check-and-set conflicts to ride out before giving up. */
  casRetries?: number;
}

export interface SyncResult {
  mode: "setup-token" | "rotating" | "skipped";
  level: Level;
  message: string;
}

/** Masks the secrets sync can see from the log. */
function registerSecrets(log: SyncLog, remote: RemoteState, local?: LocalState): void {
  const token = remote.data[FIELDS.setupToken];
  if (typeof token === "string") log.addSecret(token);
  const backup = backupOf(remote);
  for (const c of [backup?.ok ? backup.credential : undefined, local?.entry?.ok ? local.entry.credential : undefined]) {
    log.addSecret(c?.accessToken);
    log.addSecret(c?.refreshToken);
  }
}

/** The FAIL line for `error`: our message, or only the class name of anything else (it may hold secrets). */
function failureMessage(error: unknown): string {
  return error instanceof TokenctlError ? error.message : `unexpected error: ${error instanceof Error ? error.name : "unknown"}`;
}

/** Take <state-dir>/lock without waiting; run `fn` holding it, or log SKIP when it is held. */
export async function withSyncLock(stateDir: string, deps: Pick<SyncDeps, "log" | "tryLock">, fn: () => Promise<SyncResult>): Promise<SyncResult> {
  ensurePrivateDir(stateDir);
  const lock = (deps.tryLock ?? realTryLock)(join(stateDir, "lock"));
  if (!lock) {
    const message = "another sync is already running";
    await deps.log.write("SKIP", message);
    return { mode: "skipped", level: "SKIP", message };
  }
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

/**
 * The frame of every command that changes something (sync, backup, restore): the lock (or SKIP),
 * the identity check before anything is read, then `fn`; its result is logged as one line, and
 * any failure as one FAIL line before it is thrown on.
 */
async function guarded(options: SyncOptions, deps: SyncDeps, fn: () => Promise<SyncResult>): Promise<SyncResult> {
  return withSyncLock(options.stateDir, deps, async () => {
    let result: SyncResult;
    try {
      await checkIdentity(options, deps);
      result = await fn();
    } catch (e) {
      await deps.log.write("FAIL", failureMessage(e));
      throw e;
    }
    await deps.log.write(result.level, result.message);
    return result;
  });
}

/** Step 2: refuse a token that is not the expected one before reading or writing anything, then renew it. */
export async function checkIdentity(options: Pick<SyncOptions, "expectDisplayName" | "expectPolicy">, deps: Pick<SyncDeps, "vault" | "log">): Promise<void> {
  const info = await deps.vault.lookupSelf();
  const nameOk = options.expectDisplayName === undefined || info.displayName === options.expectDisplayName;
  const policyOk = options.expectPolicy === undefined || [...info.policies, ...info.identityPolicies].includes(options.expectPolicy);
  if (!nameOk || !policyOk) {
    const found = [
      !nameOk ? `display_name ${JSON.stringify(info.displayName)} instead of ${JSON.stringify(options.expectDisplayName)}` : "",
      !policyOk ? `policies [${[...info.policies, ...info.identityPolicies].join(", ")}] without ${JSON.stringify(options.expectPolicy)}` : "",
    ].filter(Boolean);
    throw new ForeignTokenError(`scoped Vault token drift detected; refusing foreign token (${found.join("; ")})`, {
      hint: "Point --token-file at the sync token issued for this user, or fix --expect-display-name / --expect-policy",
    });
  }
  if (!info.renewable) return;
  try {
    await deps.vault.renewSelf();
  } catch (e) {
    if (e instanceof UnavailableError || e instanceof AuthRefusedError) throw e;
    // Not renewable any more (max TTL reached): this run still works; say so and go on.
    await deps.log.write("WARN", `could not renew the Vault token (${e instanceof TokenctlError ? e.message : "unexpected error"})`);
  }
}

/**
 * Write a backup with check-and-set. A conflict (someone wrote since we read) is ridden out up to
 * `casRetries` times: logged, the secret re-read and returned, so the caller plans again from it.
 */
async function writeBackup(
  options: SyncOptions,
  deps: SyncDeps,
  step: { data: Record<string, unknown>; cas: number },
  conflicts: number,
): Promise<{ version: number } | { remote: KvSecret }> {
  try {
    return { version: await deps.vault.writeKv(options.mount, options.path, step.data, step.cas) };
  } catch (e) {
    if (!(e instanceof CasConflictError) || conflicts >= (deps.casRetries ?? 3)) throw e;
    await deps.log.write("WARN", `Vault ${options.mount}/${options.path} changed since it was read (check-and-set conflict); re-reading`);
    const remote = await deps.vault.readKv(options.mount, options.path);
    registerSecrets(deps.log, remote);
    return { remote };
  }
}

/** `vault sync`: the whole flow, under the lock. */
export async function runSync(options: SyncOptions, deps: SyncDeps): Promise<SyncResult> {
  return guarded(options, deps, () => syncSteps(options, deps));
}

/**
 * Plan, apply, plan again until a terminal step: the sync itself, without lock or identity check.
 * Every side effect goes through `deps` (the dry run passes recording ones, see dry-run.ts).
 */
export async function syncSteps(options: SyncOptions, deps: SyncDeps): Promise<SyncResult> {
  const { vault, files, log } = deps;
  const now = deps.now ?? Date.now;
  const where = `${options.mount}/${options.path}`;
  const remote = await vault.readKv(options.mount, options.path);
  registerSecrets(log, remote);
  const state: SyncState = {
    now: now(),
    local: { file: "absent", entry: undefined },
    remote,
    envFile: files.readEnv(),
    probe: "pending",
    restored: false,
    settings: options.settings,
  };
  // Only read the credentials file when the rotating path needs it: the setup-token path reads the env file alone.
  if (setupTokenOf(remote, options.settings.setupTokenPrefix).kind !== "token") {
    state.local = files.readLocal();
    registerSecrets(log, remote, state.local);
  }
  let conflicts = 0;
  for (let round = 0; round < 20; round++) {
    state.now = now();
    for (const step of planSync(state)) {
      const done = await apply(step);
      if (done) return done;
    }
  }
  throw new TokenctlError("sync did not settle after 20 planning rounds (a bug; please report it)");

  async function apply(step: Step): Promise<SyncResult | undefined> {
    const works = state.restored ? "restored credential works" : "local credential works";
    const rotating = (level: Level, message: string): SyncResult => ({ mode: "rotating", level, message });
    switch (step.do) {
      case "write-env":
        files.writeEnv(step.content);
        return { mode: "setup-token", level: "OK", message: `setup token from Vault ${where} materialized to ${options.envFile}` };
      case "keep-env":
        return { mode: "setup-token", level: "OK", message: `setup token unchanged; ${options.envFile} already current` };
      case "remove-env":
        files.removeEnv();
        state.envFile = undefined;
        await log.write("WARN", `removed stale ${options.envFile}: Vault ${where} holds no setup token`);
        return undefined;
      case "warn":
        await log.write("WARN", step.message);
        return undefined;
      case "probe":
        state.probe = (deps.probe ? await deps.probe() : checkLocal(files.readLocal(), now())) ? "ok" : "failed";
        // A real probe may refresh the credential and rewrite the file: judge what is there now.
        state.local = files.readLocal();
        registerSecrets(log, state.remote, state.local);
        return undefined;
      case "restore":
        files.restore(step.credential);
        state.restored = true;
        state.probe = "pending";
        state.local = files.readLocal();
        await log.write("WARN", `local credential does not work; restored the Vault backup (version ${state.remote.version}) into ${options.credentials} at ${options.key}`);
        return undefined;
      case "backup": {
        const written = await writeBackup(options, deps, step, conflicts);
        if ("version" in written) return rotating(state.restored ? "RECOVERED" : "OK", `${works}; backed up to Vault ${where} version ${written.version}`);
        conflicts++;
        state.remote = written.remote;
        return undefined;
      }
      case "keep-remote":
        return rotating(state.restored ? "RECOVERED" : "OK", `${works}; ${step.reason === "newer" ? "Vault backup expires later, kept" : "Vault backup already current"}`);
      case "skip-backup":
        return rotating("WARN", `local credential works but ${step.message}`);
      case "fail":
        throw new LoginRequiredError(step.message, { hint: `Log in again interactively (claude /login), then run: ${vaultCommand(options, "backup")}` });
    }
  }
}

/** `vault backup`: one backup with check-and-set, without a probe (the local shape is checked). */
export async function runBackup(options: SyncOptions, deps: SyncDeps & { force?: boolean }): Promise<SyncResult> {
  return guarded(options, deps, async () => {
    const local = deps.files.readLocal();
    let remote = await deps.vault.readKv(options.mount, options.path);
    registerSecrets(deps.log, remote, local);
    if (!local.entry?.ok)
      throw new UsageError(`${options.credentials} has no usable credential at ${options.key}: ${local.entry ? `it ${local.entry.problem}` : "missing"}; nothing backed up`);
    for (let conflicts = 0; ; conflicts++) {
      for (const step of planBackup(local, remote, (deps.now ?? Date.now)(), deps.force)) {
        if (step.do === "warn") await deps.log.write("WARN", step.message);
        else if (step.do === "keep-remote") {
          const message = step.reason === "newer" ? "Vault backup expires later than the local credential, kept (use --force to replace it)" : "Vault backup already current";
          return { mode: "rotating", level: "OK", message };
        } else if (step.do === "backup") {
          const written = await writeBackup(options, deps, step, conflicts);
          if ("version" in written) return { mode: "rotating", level: "OK", message: `backed up to Vault ${options.mount}/${options.path} version ${written.version}` };
          remote = written.remote;
        } else throw new TokenctlError(`backup planned ${step.do} (a bug; please report it)`);
      }
    }
  });
}

/** `vault restore`: put the Vault backup into the credentials file; a later-expiring local one needs --force. */
export async function runRestore(options: SyncOptions, deps: SyncDeps & { force?: boolean }): Promise<SyncResult> {
  return guarded(options, deps, async () => {
    const remote = await deps.vault.readKv(options.mount, options.path);
    const local = deps.files.readLocal();
    registerSecrets(deps.log, remote, local);
    const backup = backupOf(remote);
    if (!backup) throw new NotFoundError(`Vault ${options.mount}/${options.path} holds no ${FIELDS.credentialJson}; nothing to restore`, { hint: `Back up first: ${vaultCommand(options, "backup")}` });
    if (!backup.ok) throw new UsageError(`Vault ${options.mount}/${options.path} field ${FIELDS.credentialJson} ${backup.problem}; nothing restored`);
    if (!deps.force && local.entry?.ok && local.entry.credential.expiresAt > backup.credential.expiresAt)
      throw new UsageError("the local credential expires later than the Vault backup; not replaced", { hint: `Replace it anyway: ${vaultCommand(options, "restore", "--force")}` });
    deps.files.restore(backup.credential);
    return { mode: "rotating", level: "RECOVERED", message: `restored the Vault backup (version ${remote.version}) into ${options.credentials} at ${options.key}` };
  });
}

export interface StatusReport {
  mode: "setup-token" | "rotating" | "unknown";
  envFile: { path: string; present: boolean };
  lastResult?: { time: string; level: Level; message: string };
  local: { expiresAt?: string; problem?: string };
  vault: { version?: number; backupExpiresAt?: string; backedUpAt?: string; problem?: string; error?: TokenctlError };
}

/** `vault status`: mode, last logged result, local and backed-up expiry. Reads only; prints no secret. */
export async function runStatus(options: SyncOptions, deps: Pick<SyncDeps, "vault" | "files">): Promise<StatusReport> {
  const iso = (ms: number) => new Date(ms).toISOString();
  const logText = readTail(join(options.stateDir, "sync.log"));
  const local = deps.files.readLocal();
  const envPresent = deps.files.readEnv() !== undefined;
  const report: StatusReport = {
    mode: "unknown",
    envFile: { path: options.envFile, present: envPresent },
    lastResult: lastResult(logText),
    local: local.entry?.ok
      ? { expiresAt: iso(local.entry.credential.expiresAt) }
      : { problem: local.file === "absent" ? `${options.credentials} does not exist` : local.file === "unparseable" ? `${options.credentials} is not a JSON object` : local.entry ? `entry ${options.key} ${local.entry.problem}` : `no entry ${options.key}` },
    vault: {},
  };
  try {
    await checkIdentity(options, { vault: deps.vault, log: { write: async () => {}, addSecret() {} } });
    const remote = await deps.vault.readKv(options.mount, options.path);
    report.mode = setupTokenOf(remote, options.settings.setupTokenPrefix).kind === "token" ? "setup-token" : "rotating";
    report.vault.version = remote.version;
    const backup = backupOf(remote);
    if (backup?.ok) report.vault.backupExpiresAt = iso(backup.credential.expiresAt);
    else report.vault.problem = backup ? `${FIELDS.credentialJson} ${backup.problem}` : `no ${FIELDS.credentialJson}`;
    const at = remote.data[FIELDS.backedUpAt];
    if (typeof at === "string" && !Number.isNaN(Date.parse(at))) report.vault.backedUpAt = new Date(Date.parse(at)).toISOString();
  } catch (e) {
    if (!(e instanceof TokenctlError)) throw e;
    report.vault.error = e;
    report.mode = envPresent ? "setup-token" : "rotating";
  }
  return report;
}

