/**
 * What `vault sync` does next, decided purely from what it knows so far (STYLE habit 7).
 *
 * Sync is a loop: read state, plan, apply the steps, and when a step needs new facts (a probe's
 * verdict, a re-read after a check-and-set conflict) update the state and plan again. Each call
 * returns the steps up to and including the next one that needs new facts, or a terminal step.
 * No I/O here, so every branch is covered by the table in test/vault/plan.test.ts.
 */
import { canonicalJson, checkCredential, parseCredentialJson, type CredentialCheck, type OAuthCredential } from "./record.ts";

/** Field names inside the Vault secret (the same as the bash script used). */
export const FIELDS = {
  setupToken: "setup_token",
  credentialJson: "claude_ai_oauth_json",
  expiresAtMs: "credential_expires_at_ms",
  backedUpAt: "backed_up_at",
} as const;

/** The local credentials file: whether it can be merged into, and the entry at --key. */
export interface LocalState {
  /** "unparseable": exists but is not a JSON object, so restoring into it would lose other keys. */
  file: "present" | "absent" | "unparseable";
  /** The check of the object at --key; undefined when the file or the key is absent. */
  entry: CredentialCheck | undefined;
}

/** The Vault secret as last read; version 0 means it does not exist (and is the cas for creating it). */
export interface RemoteState {
  version: number;
  data: Record<string, unknown>;
}

export interface SyncSettings {
  setupTokenPrefix: string;
  envName: string;
}

export interface SyncState {
  now: number;
  local: LocalState;
  remote: RemoteState;
  /** Current contents of the env file, undefined when it does not exist. */
  envFile: string | undefined;
  /** The verdict on the local credential: not asked yet, works, does not work. */
  probe: "pending" | "ok" | "failed";
  /** Whether a restore already happened in this run (we restore at most once). */
  restored: boolean;
  settings: SyncSettings;
}

export type Step =
  | { do: "write-env"; content: string }
  | { do: "keep-env" }
  | { do: "remove-env" }
  | { do: "warn"; message: string }
  | { do: "probe" }
  | { do: "restore"; credential: OAuthCredential }
  | { do: "backup"; data: Record<string, unknown>; cas: number }
  | { do: "keep-remote"; reason: "newer" | "current" }
  | { do: "skip-backup"; message: string }
  | { do: "fail"; message: string };

/** Steps after which the run is over. */
export const TERMINAL = new Set<Step["do"]>(["write-env", "keep-env", "backup", "keep-remote", "skip-backup", "fail"]);

export type SetupToken = { kind: "token"; token: string } | { kind: "absent" } | { kind: "invalid"; problem: string };

/** The setup token in the secret, if there is a usable one. Printable ASCII only: it goes into an env file line. */
export function setupTokenOf(remote: RemoteState, prefix: string): SetupToken {
  const v = remote.data[FIELDS.setupToken];
  if (v === undefined || v === null || v === "") return { kind: "absent" };
  if (typeof v !== "string") return { kind: "invalid", problem: "is not a string" };
  if (!v.startsWith(prefix)) return { kind: "invalid", problem: `does not start with ${prefix}` };
  if (v.length === prefix.length || !/^[\x21-\x7e]+$/.test(v)) return { kind: "invalid", problem: "is not one line of printable characters" };
  return { kind: "token", token: v };
}

/** The backed-up credential in the secret, checked; undefined when the secret has none. */
export function backupOf(remote: RemoteState): CredentialCheck | undefined {
  const v = remote.data[FIELDS.credentialJson];
  return v === undefined || v === null || v === "" ? undefined : parseCredentialJson(v);
}

/** The env file line that hands the setup token to agents. */
export function envLine(envName: string, token: string): string {
  return `${envName}=${token}\n`;
}

/** Without --probe: the credential works when its shape is right and it has not expired. */
export function checkLocal(local: LocalState, now: number): boolean {
  return local.entry?.ok === true && local.entry.credential.expiresAt > now;
}

/** The secret's new data: every existing field kept, the three backup fields replaced. */
export function mergeBackup(remote: RemoteState, credential: OAuthCredential, now: number): Record<string, unknown> {
  return {
    ...remote.data,
    [FIELDS.credentialJson]: JSON.stringify(credential),
    // A string, as `vault kv put field=value` stored it in the bash script's backups.
    [FIELDS.expiresAtMs]: String(credential.expiresAt),
    [FIELDS.backedUpAt]: new Date(now).toISOString(),
  };
}

/** The next steps of a sync, from what is known now. */
export function planSync(state: SyncState): Step[] {
  const steps: Step[] = [];
  const { local, remote, settings } = state;

  // 1. A setup token in Vault wins: materialize it and stop; rotating credentials are not touched.
  const setup = setupTokenOf(remote, settings.setupTokenPrefix);
  if (setup.kind === "token") {
    const content = envLine(settings.envName, setup.token);
    return [state.envFile === content ? { do: "keep-env" } : { do: "write-env", content }];
  }
  if (setup.kind === "invalid" && state.probe === "pending" && !state.restored)
    steps.push({ do: "warn", message: `Vault field ${FIELDS.setupToken} ${setup.problem}; ignored, using the rotating credential` });
  if (state.envFile !== undefined) steps.push({ do: "remove-env" });

  // 2. Ask whether the local credential works.
  if (state.probe === "pending") return [...steps, { do: "probe" }];

  const backup = backupOf(remote);
  if (state.probe === "failed") {
    if (state.restored) return [...steps, { do: "fail", message: "local credential still does not work after restoring the Vault backup; interactive login required" }];
    if (backup === undefined) return [...steps, { do: "fail", message: "local credential does not work and Vault holds no backup; interactive login required" }];
    if (!backup.ok) return [...steps, { do: "fail", message: `local credential does not work and the Vault backup ${backup.problem}; interactive login required` }];
    if (local.file === "unparseable")
      return [...steps, { do: "fail", message: "local credential does not work and the credentials file is not a JSON object, so restoring into it would lose its other keys; interactive login required" }];
    if (local.entry?.ok && canonicalJson(local.entry.credential) === canonicalJson(backup.credential))
      return [...steps, { do: "fail", message: "local credential does not work and the Vault backup is the same credential; interactive login required" }];
    // Restoring an older credential would only throw away a newer refresh token (rotation has
    // most likely invalidated the older one anyway).
    if (local.entry?.ok && backup.credential.expiresAt <= local.entry.credential.expiresAt)
      return [...steps, { do: "fail", message: "local credential does not work and the Vault backup is not newer; interactive login required" }];
    return [...steps, { do: "restore", credential: backup.credential }, { do: "probe" }];
  }

  // 3. It works: back it up, unless Vault already has it or something newer.
  return [...steps, ...planBackup(local, remote, state.now)];
}

/**
 * Back up a working local credential: kept when Vault has it already, or a later-expiring one
 * unless `force` (`vault backup --force`) says to replace it.
 */
export function planBackup(local: LocalState, remote: RemoteState, now: number, force = false): Step[] {
  const steps: Step[] = [];
  if (!local.entry?.ok)
    return [{ do: "skip-backup", message: `the credentials file's entry ${local.entry ? local.entry.problem : "is missing"}; not backed up` }];
  const mine = local.entry.credential;
  const backup = backupOf(remote);
  if (backup?.ok) {
    if (backup.credential.expiresAt > mine.expiresAt && !force) return [{ do: "keep-remote", reason: "newer" }];
    if (canonicalJson(backup.credential) === canonicalJson(mine)) return [{ do: "keep-remote", reason: "current" }];
  } else if (backup && !backup.ok) {
    steps.push({ do: "warn", message: `Vault backup ${backup.problem}; replacing it with the local credential` });
  }
  return [...steps, { do: "backup", data: mergeBackup(remote, mine, now), cas: remote.version }];
}

/** Check the object at `key` of a parsed credentials file. */
export function localStateOf(file: LocalState["file"], parsed: unknown, key: string): LocalState {
  if (file !== "present" || typeof parsed !== "object" || parsed === null) return { file, entry: undefined };
  const entry = (parsed as Record<string, unknown>)[key];
  return { file, entry: entry === undefined ? undefined : checkCredential(entry) };
}
