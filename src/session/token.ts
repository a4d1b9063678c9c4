/**
 * Session tokens: minting, the token file handed to a child, and reading it back.
 *
 * The child learns the file's PATH from TOKENCTL_SESSION_TOKEN_FILE, never the value: env values
 * are visible to other processes of the same user (`ps eww`, /proc/PID/environ), a 0600 file in a
 * 0700 directory is not — the same reason SSH_AUTH_SOCK is a path and not a key.
 */
import { hash, randomBytes } from "node:crypto";
import { lstatSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { TokenctlError, errnoCode } from "../errors.ts";
import { checkPrivateDir, createSecretFileExclusive, ensurePrivateDir, readSecretFile } from "../fs/secure.ts";
import { type Env, expandHome, runtimeDir, tempDir } from "../fs/paths.ts";

/** Env var naming the session token file (the normal way a child learns its session). */
export const TOKEN_FILE_ENV = "TOKENCTL_SESSION_TOKEN_FILE";
/** Env var holding the token itself; for tests only, validated the same way. */
export const TOKEN_ENV = "TOKENCTL_SESSION_TOKEN";
/** Name of the token file inside a session directory. */
export const TOKEN_FILE_NAME = "session-token";

const TOKEN_RE = /^[0-9a-f]{64}$/;

/** 32 bytes from the OS CSPRNG as 64 lowercase hex characters. */
export function mintToken(random: (n: number) => Buffer = randomBytes): string {
  return random(32).toString("hex");
}

/** True for exactly 64 lowercase hex characters. */
export function isSessionToken(value: unknown): value is string {
  return typeof value === "string" && TOKEN_RE.test(value);
}

/**
 * SHA-256 of the token (its UTF-8 bytes), hex: the only form the registry keeps. node:crypto's
 * one-shot `hash` (Node ≥ 20.12, Bun, Deno): under Bun it is faster than Bun's own SHA-256 hasher for 64 bytes.
 */
export function hashToken(token: string): string {
  return hash("sha256", token, "hex");
}

/**
 * Why `text` is not a session token, or undefined when it is one (after trimming). Never quotes the
 * text: a near-miss token is still a secret.
 */
export function tokenProblem(text: string): string | undefined {
  const t = text.trim();
  if (t.length === 0) return "it is empty";
  if (t.length !== 64) return `it holds ${t.length} characters after trimming, expected 64 hex characters`;
  if (!/^[0-9a-fA-F]{64}$/.test(t)) return "it holds 64 characters but not all are hex digits (0-9, a-f)";
  if (!TOKEN_RE.test(t)) return "it holds upper-case hex digits; session tokens are lower-case hex";
  return undefined;
}

export interface MintedSession {
  token: string;
  /** The fresh 0700 directory holding the token file. */
  dir: string;
  /** Path of the 0600 token file; what TOKENCTL_SESSION_TOKEN_FILE is set to. */
  file: string;
}

export interface MintOptions {
  /** Parent directory for the fresh session directory (--dir). */
  dir?: string;
  env?: Env;
  random?: (n: number) => Buffer;
}

/** Where session directories are made: --dir, else $XDG_RUNTIME_DIR/tokenctl, else the OS temp dir. */
export function sessionParentDir(options: { dir?: string; env?: Env } = {}): string {
  const env = options.env ?? process.env;
  if (options.dir) return expandHome(options.dir, env);
  return runtimeDir(env) ?? tempDir();
}

/**
 * Mint a token and write it to `session-token` (0600, O_EXCL, no symlink followed) in a fresh 0700
 * directory made with mkdtemp. The caller owns the directory and removes it with removeSessionDir.
 */
export function mintSessionFile(options: MintOptions = {}): MintedSession {
  const env = options.env ?? process.env;
  const parent = sessionParentDir({ dir: options.dir, env });
  if (options.dir) {
    // A directory the user chose may not exist yet; create it private. An existing shared one
    // (e.g. /tmp) is fine: the mkdtemp directory below is what keeps the file private.
    try {
      mkdirSync(parent, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new TokenctlError(`Could not create directory ${parent} (${errnoCode(e) ?? "unknown error"})`, { cause: e });
    }
  } else if (parent !== tempDir()) {
    ensurePrivateDir(parent);
  }
  let dir: string;
  try {
    dir = mkdtempSync(join(parent, "session-"));
  } catch (e) {
    throw new TokenctlError(`Could not create a session directory under ${parent} (${errnoCode(e) ?? "unknown error"})`, {
      cause: e,
      hint: "Choose another parent directory with --dir",
    });
  }
  try {
    // mkdtemp makes it 0700 and ours; check anyway, a umask or odd filesystem must not widen it.
    if (!lstatSync(dir).isDirectory()) throw new TokenctlError(`${dir} is not a directory`);
    checkPrivateDir(dir, { strict: true });
    const token = mintToken(options.random);
    const file = join(dir, TOKEN_FILE_NAME);
    createSecretFileExclusive(file, `${token}\n`);
    return { token, dir, file };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/** Remove a session directory made by mintSessionFile; a missing one is fine. */
export function removeSessionDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export type SessionTokenRead =
  | { ok: true; token: string; source: string }
  | { ok: false; reason: string; source?: string };

/**
 * The caller's session token: the file named by TOKENCTL_SESSION_TOKEN_FILE, else the value of
 * TOKENCTL_SESSION_TOKEN. Anything unusable is "no session" with a reason (for --verbose), never a
 * throw, and the reason never contains the token or the file's contents.
 */
export function readSessionToken(env: Env = process.env): SessionTokenRead {
  const path = env[TOKEN_FILE_ENV];
  if (path) {
    const source = `${TOKEN_FILE_ENV}=${path}`;
    let text: string;
    try {
      text = readSecretFile(path, { maxBytes: 4096 });
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      return { ok: false, reason: `${path} cannot be used: ${message}`, source };
    }
    const problem = tokenProblem(text);
    if (problem) return { ok: false, reason: `${path} does not hold a session token: ${problem}`, source };
    return { ok: true, token: text.trim(), source };
  }
  const value = env[TOKEN_ENV];
  if (value !== undefined) {
    const problem = tokenProblem(value);
    if (problem) return { ok: false, reason: `${TOKEN_ENV} does not hold a session token: ${problem}`, source: TOKEN_ENV };
    return { ok: true, token: value.trim(), source: TOKEN_ENV };
  }
  return { ok: false, reason: `neither ${TOKEN_FILE_ENV} nor ${TOKEN_ENV} is set` };
}
