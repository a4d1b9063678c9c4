/**
 * Path trust, the way OpenSSH's safe_path() judges an authorized_keys file
 * (https://github.com/openssh/openssh-portable/blob/master/misc.c): every directory from the file
 * up to `/` must be owned by root or by us and not writable by group or others, or another user
 * could swap the file (or the directory holding it) between our check and our use. One relaxation:
 * a root-owned sticky directory such as /tmp is fine, since nobody but an entry's owner can rename
 * or remove it there. Also the XDG_RUNTIME_DIR rule (the spec's MUST: ours, mode 0700).
 */
import { lstatSync, realpathSync, statSync, type Stats } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { InsecureFileError, NotFoundError, errnoCode } from "../errors.ts";

const S_ISVTX = 0o1000;
const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, "0");
const myUid = () => process.getuid?.() ?? -1;

/** A path that another user could replace: an untrusted owner or a writable directory on the way. */
export class UntrustedPathError extends InsecureFileError {
  override name = "UntrustedPathError";
  constructor(
    message: string,
    /** The path component that failed, and its owner. */
    readonly component: string,
    readonly ownerUid: number,
    options?: { cause?: unknown; hint?: string },
  ) {
    super(message, options);
  }
}

/** What the trust walk needs from the file system; injectable for tests. */
export interface TrustFs {
  realpath(path: string): string;
  lstat(path: string): Pick<Stats, "uid" | "mode" | "isDirectory" | "isSymbolicLink">;
}

export const realTrustFs: TrustFs = { realpath: (p) => realpathSync(p), lstat: (p) => lstatSync(p) };

/** Whether `uid` may own something we trust, or talk to our daemon: ourselves or root (ssh-agent decides peers so too). */
export function trustedOwner(uid: number, me = myUid()): boolean {
  return me < 0 || uid === me || uid === 0;
}

/**
 * Check that `dir` (resolved through symlinks) and every directory above it up to `/` is owned by
 * root or us and not writable by group or others (a root-owned sticky directory is fine).
 * Throws UntrustedPathError naming the first bad directory; NotFoundError when `dir` is missing.
 */
export function checkTrustedDirs(dir: string, what: string, fs: TrustFs = realTrustFs, me = myUid()): void {
  if (me < 0) return; // no uids on this platform (Windows): nothing to compare
  let real: string;
  try {
    real = fs.realpath(resolve(dir));
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ENOENT" || code === "ENOTDIR") throw new NotFoundError(`${dir} does not exist`, { cause: e });
    throw e;
  }
  for (let d = real; ; d = dirname(d)) {
    const st = fs.lstat(d);
    if (!st.isDirectory()) throw new UntrustedPathError(`${d} is not a directory`, d, st.uid);
    const sticky = (st.mode & S_ISVTX) !== 0 && st.uid === 0;
    if (!trustedOwner(st.uid, me))
      throw new UntrustedPathError(`Refusing ${what}: directory ${d} is owned by uid ${st.uid}, neither you (uid ${me}) nor root`, d, st.uid, {
        hint: `Use a location whose directories only you and root own, such as tokenctl's defaults (see tokenctl doctor)`,
      });
    if (st.mode & 0o022 && !sticky)
      throw new UntrustedPathError(
        `Refusing ${what}: directory ${d} (mode ${octal(st.mode)}) is writable by ${st.mode & 0o002 ? "others" : "its group"}, who could replace what is in it`,
        d,
        st.uid,
        { hint: `chmod go-w ${d}` },
      );
    if (d === "/" || dirname(d) === d) return;
  }
}

/**
 * Check a file (a socket or a secret file) and the directories above it: the file itself must be
 * owned by us or root. Resolves symlinks, checking both the link's directories and the target's.
 * Returns the resolved path. Throws NotFoundError when the file does not exist.
 */
export function checkTrustedPath(path: string, what: string, fs: TrustFs = realTrustFs, me = myUid()): string {
  const abs = resolve(path);
  checkTrustedDirs(dirname(abs), what, fs, me);
  if (me < 0) return abs;
  const dir = fs.realpath(dirname(abs));
  const entry = join(dir, abs.slice(dirname(abs).length).replace(/^\/+/, ""));
  let st: ReturnType<TrustFs["lstat"]>;
  try {
    st = fs.lstat(entry);
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ENOENT" || code === "ENOTDIR") throw new NotFoundError(`${path} does not exist`, { cause: e });
    throw e;
  }
  if (st.isSymbolicLink()) {
    let target: string;
    try {
      target = fs.realpath(entry);
    } catch (e) {
      throw new NotFoundError(`${path} is a symbolic link to nothing`, { cause: e });
    }
    return checkTrustedPath(target, what, fs, me);
  }
  if (!trustedOwner(st.uid, me))
    throw new UntrustedPathError(`Refusing ${what}: ${entry} is owned by uid ${st.uid}, neither you (uid ${me}) nor root`, entry, st.uid, {
      hint: `Point tokenctl at your own: check the flag or variable that named ${path}, and ask root to remove it if it is not yours`,
    });
  return entry;
}

/** The nearest existing ancestor of `path` (itself when it exists). */
export function nearestExisting(path: string, exists: (p: string) => boolean = (p) => statExists(p)): string {
  let d = resolve(path);
  while (!exists(d) && dirname(d) !== d) d = dirname(d);
  return d;
}

function statExists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Why $XDG_RUNTIME_DIR cannot be used (undefined when it can): the spec requires it ours and 0700. */
export function runtimeDirProblem(dir: string, stat: (p: string) => Pick<Stats, "uid" | "mode" | "isDirectory"> = statSync, me = myUid()): string | undefined {
  let st: Pick<Stats, "uid" | "mode" | "isDirectory">;
  try {
    st = stat(dir);
  } catch (e) {
    return `XDG_RUNTIME_DIR=${dir} does not exist (${errnoCode(e) ?? "unreadable"})`;
  }
  if (!st.isDirectory()) return `XDG_RUNTIME_DIR=${dir} is not a directory`;
  if (me >= 0 && st.uid !== me) return `XDG_RUNTIME_DIR=${dir} is owned by uid ${st.uid}, not by you (uid ${me})`;
  if (me >= 0 && (st.mode & 0o777) !== 0o700) return `XDG_RUNTIME_DIR=${dir} has mode ${octal(st.mode & 0o777)}, not the 0700 the XDG spec requires`;
  return undefined;
}
