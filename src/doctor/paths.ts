/**
 * Which directories and files tokenctl uses, and what each should look like. Pure: the environment
 * and settings in, a list of path specs out; `evaluatePath` judges one stat result against its spec.
 * Stricter than the runtime checks in src/fs/secure.ts on purpose: tokenctl refuses only what is
 * unsafe to use, doctor also points at what is merely looser than it should be (a 0755 dir).
 */
import { basename, dirname, join } from "node:path";
import { configDir, stateDir, type Env } from "../fs/paths.ts";
import { shq } from "../shell.ts";

export type Status = "ok" | "warn" | "fail" | "skip";

/** One row of doctor's report. `fix` is the one command that fixes a warn/fail; never a secret. */
export interface Check {
  name: string;
  status: Status;
  detail: string;
  fix?: string;
}

/**
 * - `private-dir`: ours, holds secrets: 0700 (no group/other bit at all).
 * - `shared-dir`: the parent of a file another program shares with us (~/.claude): ours, and
 *   nobody else may write to it (group/other read is that program's business).
 * - `secret-file`: 0600 (no group/other bit), a regular file, not a symlink (the secure read refuses those).
 * - `config-file`: no secret, but it names the token endpoints: nobody else may write it; 0600 wanted.
 * - `lock-file`, `log-file`: no secret; created 0600, anything looser is a warning.
 * - `socket`: the daemon's socket, 0600.
 */
export type PathKind = "private-dir" | "shared-dir" | "secret-file" | "config-file" | "lock-file" | "log-file" | "socket";

export interface PathSpec {
  path: string;
  kind: PathKind;
  /** Short name for the CHECK column, e.g. "state dir". */
  label: string;
}

/** What evaluatePath needs from lstat(2) (and stat(2) for a symlinked directory). */
export interface PathStat {
  type: "file" | "dir" | "socket" | "symlink" | "other";
  mode: number;
  uid: number;
  /** For a symlink: the type of its target, when it resolves. */
  targetType?: PathStat["type"];
  targetMode?: number;
  targetUid?: number;
}

export { shq };

const octal = (mode: number) => (mode & 0o777).toString(8).padStart(4, "0");

const isDirKind = (k: PathKind) => k === "private-dir" || k === "shared-dir";

/** Judge one path against its spec. `st` undefined: the path does not exist. */
export function evaluatePath(spec: PathSpec, st: PathStat | undefined, myUid: number): Check {
  const { path, kind, label } = spec;
  const row = (status: Status, detail: string, fix?: string): Check => ({ name: label, status, detail: `${path}: ${detail}`, ...(fix ? { fix } : {}) });
  if (!st) return row("skip", isDirKind(kind) ? "absent (created 0700 on first use)" : "absent");

  // Directories are judged through a symlink (macOS's /tmp -> /private/tmp is normal), as
  // checkPrivateDir does; so are config and lock files. Secret files and sockets are not.
  let type = st.type;
  let mode = st.mode;
  let uid = st.uid;
  if (st.type === "symlink") {
    if (kind === "secret-file")
      return row("fail", "is a symlink; tokenctl refuses to read a secret through one", `cp --remove-destination "$(readlink -f ${shq(path)})" ${shq(path)} && chmod 600 ${shq(path)}`);
    if (st.targetType === undefined) return row("fail", "is a dangling symlink", `rm ${shq(path)}`);
    type = st.targetType;
    mode = st.targetMode ?? 0;
    uid = st.targetUid ?? -1;
  }

  const wantType = isDirKind(kind) ? "dir" : kind === "socket" ? "socket" : "file";
  const names = { dir: "a directory", file: "a regular file", socket: "a socket", symlink: "a symlink", other: "a special file" } as const;
  if (type !== wantType) return row("fail", `expected ${names[wantType]}, found ${names[type]}`, `mv ${shq(path)} ${shq(`${path}.old`)}`);

  if (myUid >= 0 && uid !== myUid) return row("fail", `owned by uid ${uid}, not by you (uid ${myUid})`, `sudo chown ${myUid} ${shq(path)}`);

  const m = octal(mode);
  const groupOther = mode & 0o077;
  const writableByOthers = mode & 0o022;
  switch (kind) {
    case "private-dir":
      if (groupOther) return row("fail", `mode ${m}: group/others can ${writableByOthers ? "write to" : "list"} it; expected 0700`, `chmod 700 ${shq(path)}`);
      if ((mode & 0o700) !== 0o700) return row("fail", `mode ${m}: you cannot use it; expected 0700`, `chmod 700 ${shq(path)}`);
      return row("ok", `${m}, yours`);
    case "shared-dir":
      if (writableByOthers) return row("fail", `mode ${m}: group/others can write to it (and replace the file in it)`, `chmod go-w ${shq(path)}`);
      return row("ok", `${m}, yours`);
    case "secret-file":
    case "socket":
      if (groupOther) return row("fail", `mode ${m}: group/others can ${writableByOthers ? "write" : "read"} it; expected 0600`, `chmod 600 ${shq(path)}`);
      if ((mode & 0o600) !== 0o600) return row("fail", `mode ${m}: you cannot read and write it; expected 0600`, `chmod 600 ${shq(path)}`);
      return row("ok", `${m}, yours`);
    case "config-file":
      if (writableByOthers) return row("fail", `mode ${m}: group/others can write it (and redirect your token endpoints); expected 0600`, `chmod 600 ${shq(path)}`);
      if (groupOther) return row("warn", `mode ${m}: group/others can read it (it holds no secret); expected 0600`, `chmod 600 ${shq(path)}`);
      return row("ok", `${m}, yours`);
    case "lock-file":
    case "log-file":
      if (groupOther) return row("warn", `mode ${m}: looser than the 0600 tokenctl creates it with`, `chmod 600 ${shq(path)}`);
      return row("ok", `${m}, yours`);
  }
}

/** The settings that decide where files live, beyond the XDG dirs. */
export interface LayoutInputs {
  env: Env;
  /** The daemon's socket and token file (src/daemon/paths.ts). */
  daemon: { socketPath: string; tokenFile: string };
  /** OAuth profile names, for their keychain lock files. */
  keychainProfiles: string[];
  /** file:PATH stores of OAuth profiles (already ~-expanded). */
  fileStores: string[];
  /** Vault: the token file, when one is configured. */
  vaultTokenFile?: string;
  /** Vault: the credentials file sync backs up, when Vault is configured. */
  vaultCredentials?: string;
}

/**
 * Every path tokenctl uses under the given settings, from docs/*.md: config dir (config.json,
 * credentials.json, oauth.env), state dir (token, keychain locks, vault-sync/), the daemon's run
 * dir (socket, token, lock), file stores named by profiles and Vault's token file.
 */
export function knownPaths(inp: LayoutInputs): PathSpec[] {
  const cfg = configDir(inp.env);
  const state = stateDir(inp.env);
  const specs: PathSpec[] = [
    { path: cfg, kind: "private-dir", label: "config dir" },
    { path: join(cfg, "config.json"), kind: "config-file", label: "config.json" },
    { path: join(cfg, "credentials.json"), kind: "secret-file", label: "oauth file store" },
    { path: join(cfg, "credentials.json.lock"), kind: "lock-file", label: "oauth file store lock" },
    { path: join(cfg, "oauth.env"), kind: "secret-file", label: "vault setup-token env file" },
    { path: state, kind: "private-dir", label: "state dir" },
    { path: inp.env.TOKENCTL_TOKEN_FILE || join(state, "token"), kind: "secret-file", label: "token file" },
    { path: join(state, "vault-sync"), kind: "private-dir", label: "vault sync state dir" },
    { path: join(state, "vault-sync", "lock"), kind: "lock-file", label: "vault sync lock" },
    { path: join(state, "vault-sync", "sync.log"), kind: "log-file", label: "vault sync log" },
    { path: join(state, "vault-sync", "sync.log.1"), kind: "log-file", label: "vault sync log (rotated)" },
    { path: join(state, "vault-sync", "credentials.before-restore.json"), kind: "secret-file", label: "vault pre-restore copy" },
  ];
  for (const p of inp.keychainProfiles) specs.push({ path: join(state, `${p}.lock`), kind: "lock-file", label: `oauth ${p} lock` });
  const runDir = dirname(inp.daemon.socketPath);
  specs.push(
    { path: runDir, kind: "private-dir", label: "daemon socket dir" },
    { path: inp.daemon.socketPath, kind: "socket", label: "daemon socket" },
    { path: `${inp.daemon.socketPath}.lock`, kind: "lock-file", label: "daemon lock" },
    { path: inp.daemon.tokenFile, kind: "secret-file", label: "daemon token file" },
  );
  for (const f of inp.fileStores) {
    specs.push({ path: dirname(f), kind: "shared-dir", label: `dir of ${basename(f)}` });
    specs.push({ path: f, kind: "secret-file", label: `oauth store ${basename(f)}` });
    specs.push({ path: `${f}.lock`, kind: "lock-file", label: `lock of ${basename(f)}` });
  }
  if (inp.vaultTokenFile) specs.push({ path: inp.vaultTokenFile, kind: "secret-file", label: "vault token file" });
  if (inp.vaultCredentials) {
    specs.push({ path: dirname(inp.vaultCredentials), kind: "shared-dir", label: `dir of ${basename(inp.vaultCredentials)}` });
    specs.push({ path: inp.vaultCredentials, kind: "secret-file", label: "vault-synced credentials" });
  }
  return dedupe(specs);
}

/** Keep the first spec for each path (a file store may also be a known path). */
function dedupe(specs: PathSpec[]): PathSpec[] {
  const seen = new Set<string>();
  return specs.filter((s) => (seen.has(s.path) ? false : (seen.add(s.path), true)));
}

/**
 * A file found in one of our private dirs that no known spec names (e.g. sessions.json from the
 * session registry, a leftover temp file): judged by its name, secret unless plainly not.
 */
export function specForUnknown(path: string, type: PathStat["type"]): PathSpec {
  const name = basename(path);
  if (type === "dir") return { path, kind: "private-dir", label: `dir ${name}` };
  if (type === "socket") return { path, kind: "socket", label: name };
  if (name.endsWith(".lock") || name === "lock") return { path, kind: "lock-file", label: name };
  if (/\.log(\.\d+)?$/.test(name)) return { path, kind: "log-file", label: name };
  return { path, kind: "secret-file", label: name };
}
