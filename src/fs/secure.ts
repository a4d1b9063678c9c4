/**
 * The one place secret material is read and written.
 *
 * Read: not under /proc, /sys or /dev, every directory above it trusted (src/fs/trust.ts),
 * O_NOFOLLOW, regular file only, owned by us, no group/other bits, at most 64 KiB.
 * Write: every directory above trusted (checked up front), private parent dir, temp file 0600 in the same dir, fsync, rename, fsync the dir — so a
 * reader sees the old file or the new one, never half of one, and a crash never leaves an empty file.
 */
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  realpathSync,
  renameSync,
  statfsSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, dirname, join, resolve } from "node:path";
import { InsecureFileError, NotFoundError, TokenctlError, UsageError, errnoCode } from "../errors.ts";
import { checkTrustedDirs, nearestExisting } from "./trust.ts";

/** Largest secret file we read; anything bigger is not a token or a credential record. */
export const MAX_SECRET_BYTES = 64 * 1024;

const uid = () => process.getuid?.() ?? -1;
const octal = (mode: number) => (mode & 0o777).toString(8).padStart(4, "0");

export interface ReadSecretOptions {
  /** Largest size accepted, default 64 KiB. */
  maxBytes?: number;
  /** Keep surrounding whitespace (JSON callers don't care; token callers want it trimmed). */
  raw?: boolean;
}

/**
 * Read a secret file safely. Throws NotFoundError when it does not exist and InsecureFileError
 * when it exists but must not be trusted; the message says which check failed and how to fix it.
 */
export function readSecretFile(path: string, options: ReadSecretOptions = {}): string {
  const maxBytes = options.maxBytes ?? MAX_SECRET_BYTES;
  refuseKernelFile(path);
  try {
    checkTrustedDirs(dirname(resolve(path)), `the secret file ${path}`);
  } catch (e) {
    if (e instanceof NotFoundError) throw new NotFoundError(`${path} does not exist`, { cause: e });
    throw e;
  }
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ENOENT" || code === "ENOTDIR") throw new NotFoundError(`${path} does not exist`, { cause: e });
    if (code === "ELOOP" || code === "EMLINK")
      throw new InsecureFileError(`${path} is a symbolic link; tokenctl does not follow links to secret files`, {
        cause: e,
        hint: `Replace the link with the file itself: cp --remove-destination "$(readlink -f ${path})" ${path}`,
      });
    if (code === "EACCES") throw new InsecureFileError(`${path} is not readable by this user`, { cause: e });
    throw new TokenctlError(`Could not open ${path} (${code ?? "unknown error"})`, { cause: e });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new InsecureFileError(`${path} is not a regular file`);
    const me = uid();
    if (me >= 0 && st.uid !== me)
      throw new InsecureFileError(`${path} is owned by uid ${st.uid}, not by you (uid ${me})`, {
        hint: `Make it yours: chown ${me} ${path}`,
      });
    if (st.mode & 0o077)
      throw new InsecureFileError(`Permissions ${octal(st.mode)} for ${path} are too open: group and others must have no access`, {
        hint: `chmod 600 ${path}`,
      });
    if (st.size > maxBytes)
      throw new UsageError(`${path} is ${st.size} bytes; a secret file may be at most ${maxBytes} bytes`);
    const text = readAllFd(fd, maxBytes, path);
    return options.raw ? text : text.trim();
  } finally {
    closeSync(fd);
  }
}

/** For a portable 1 ms synchronous sleep (Atomics.wait on a private buffer). */
const SLEEPER = new Int32Array(new SharedArrayBuffer(4));

/** Filesystems that show kernel state as files (statfs f_type): never a secret file. */
const KERNEL_FS: Record<number, string> = { 0x9fa0: "procfs", 0x62656572: "sysfs" };
const KERNEL_DIRS = ["/proc", "/sys", "/dev"];

/**
 * Refuse /proc, /sys and /dev (after resolving links) and any file on procfs or sysfs: such a
 * "file" is process or kernel state (/proc/self/environ holds every variable), never a secret file.
 */
export function refuseKernelFile(path: string): void {
  let real = resolve(path);
  try {
    real = realpathSync(real);
  } catch {
    // Missing: judged by the path as given; the open reports it missing.
  }
  for (const p of new Set([resolve(path), real])) {
    const top = KERNEL_DIRS.find((d) => p === d || p.startsWith(`${d}/`));
    if (top)
      throw new InsecureFileError(`${path} is under ${top}, which holds kernel and process state, not secret files`, {
        hint: "Point tokenctl at a regular file you own, e.g. ~/.local/state/tokenctl/token",
      });
  }
  let type: number | undefined;
  try {
    type = statfsSync(real).type;
  } catch {
    return; // missing, or no statfs here: the open and fstat checks decide
  }
  const fs = KERNEL_FS[type];
  if (fs) throw new InsecureFileError(`${path} is on ${fs}, which holds kernel and process state, not secret files`);
}

/**
 * Read from an open fd until EOF, refusing more than maxBytes. Used for files, pipes and fds.
 * With `timeoutMs`, a non-blocking fd that has no end of input within it is a UsageError that names
 * the timeout asked for and how to allow longer (`timeoutHint`).
 */
export function readAllFd(fd: number, maxBytes: number, what: string, timeoutMs?: number, timeoutHint?: string): string {
  const chunks: Buffer[] = [];
  let total = 0;
  const buf = Buffer.allocUnsafe(16 * 1024);
  const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (e) {
      // A non-blocking pipe with nothing written yet: wait briefly rather than spin.
      if (errnoCode(e) === "EAGAIN") {
        if (deadline !== undefined && Date.now() >= deadline)
          throw new UsageError(`${what} gave no end of input within ${timeoutMs} ms (is its writer still holding it open?)`, timeoutHint ? { hint: timeoutHint } : undefined);
        Atomics.wait(SLEEPER, 0, 0, 1);
        continue;
      }
      throw e;
    }
    if (n === 0) break;
    total += n;
    if (total > maxBytes) throw new UsageError(`${what} holds more than ${maxBytes} bytes; a secret may be at most ${maxBytes} bytes`);
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Make sure `dir` exists as a private directory: created 0700 when missing (never chmod-ed after),
 * refused when it exists writable by group/others or owned by someone else.
 * With `strict`, any group/other bit is refused (for the daemon's socket directory).
 */
export function ensurePrivateDir(dir: string, options: { strict?: boolean } = {}): void {
  // Up front, not racing the rename: every existing directory on the way must be one nobody else
  // can rename or replace (src/fs/trust.ts).
  // The directory itself, when it exists, is judged below with its own fix (chmod 700).
  const base = nearestExisting(dir);
  checkTrustedDirs(base === resolve(dir) ? dirname(base) : base, `directory ${dir}`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new TokenctlError(`Could not create directory ${dir} (${errnoCode(e) ?? "unknown error"})`, { cause: e });
  }
  checkPrivateDir(dir, options);
}

/** Refuse a directory we should not keep secrets in; see ensurePrivateDir. */
export function checkPrivateDir(dir: string, options: { strict?: boolean } = {}): void {
  // stat, not lstat: a symlinked parent such as macOS's /tmp -> /private/tmp is normal; judge its target.
  const real = statSync(dir);
  if (!real.isDirectory()) throw new InsecureFileError(`${dir} is not a directory`);
  const me = uid();
  if (me >= 0 && real.uid !== me)
    throw new InsecureFileError(`Directory ${dir} is owned by uid ${real.uid}, not by you (uid ${me})`, {
      hint: `Use a directory you own, or: chown ${me} ${dir}`,
    });
  const bad = options.strict ? real.mode & 0o077 : real.mode & 0o022;
  if (bad)
    throw new InsecureFileError(
      `Permissions ${octal(real.mode)} for directory ${dir} are too open: ${options.strict ? "group and others must have no access" : "group and others must not be able to write"}`,
      { hint: `chmod 700 ${dir}` },
    );
}

/**
 * Write `data` to `path` atomically with mode 0600: temp file in the same private directory,
 * fsync, rename over the target, fsync the directory. On any failure the temp file is removed
 * and the old file is left exactly as it was.
 */
export function writeSecretFile(path: string, data: string | Uint8Array): void {
  refuseKernelFile(path);
  const dir = dirname(path);
  ensurePrivateDir(dir);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // Already gone (rename happened or open failed): nothing to clean.
    }
    if (e instanceof TokenctlError) throw e;
    throw new TokenctlError(`Could not write ${path} (${errnoCode(e) ?? "unknown error"})`, { cause: e });
  }
  fsyncDir(dir);
  removeStaleTemps(dir, basename(path));
}

/** A temp file older than this was left by a writer that died (SIGKILL between open and rename). */
const STALE_TEMP_MS = 60_000;

/**
 * Best effort: remove `.<name>.<hex>.tmp` siblings left by killed writers. Only old ones, so a
 * concurrent writer's temp file (alive for milliseconds) is never touched.
 */
function removeStaleTemps(dir: string, name: string): void {
  const prefix = `.${name}.`;
  try {
    const cutoff = Date.now() - STALE_TEMP_MS;
    for (const entry of readdirSync(dir)) {
      if (!entry.startsWith(prefix) || !/^\.[0-9a-f]{12}\.tmp$/.test(entry.slice(prefix.length - 1))) continue;
      const p = join(dir, entry);
      const st = lstatSync(p);
      if (st.isFile() && st.mtimeMs < cutoff && st.uid === uid()) unlinkSync(p);
    }
  } catch {
    // Cleanup is a courtesy; the write itself already succeeded.
  }
}

/** Create `path` exclusively (O_EXCL, no symlink followed) with mode 0600; fails if it exists. */
export function createSecretFileExclusive(path: string, data: string): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Remove a secret file; a missing file is fine. */
export function removeSecretFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (e) {
    if (errnoCode(e) !== "ENOENT") throw new TokenctlError(`Could not remove ${path} (${errnoCode(e)})`, { cause: e });
  }
}

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, constants.O_RDONLY);
    fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on a directory (EINVAL); the rename is still atomic there.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
