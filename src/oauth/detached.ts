/**
 * The refresh that survives its caller. A rotating server invalidates the old refresh token the
 * moment it answers; a caller killed between that answer and the write of the new token would
 * lose the grant. So, without a daemon, the caller does not refresh itself: holding the store's
 * flock, it starts a helper in a session of its own (setsid, so a terminal's SIGINT/SIGHUP and a
 * kill of the caller's process group miss it) that inherits the lock's open file description as
 * fd 3, sends the request and writes the answer. flock(2) locks belong to the open file
 * description, so the lock stays held until the helper has written, even when the caller is
 * SIGKILLed; the caller waits for the helper and then reads the store.
 */
import { spawn } from "node:child_process";
import { errorOfKind, TokenctlError, UnavailableError, UsageError } from "../errors.ts";
import type { FileLock } from "../fs/lock.ts";
import type { Profile } from "./config.ts";
import type { LockedRefresh, TokenSource } from "./refresh.ts";
import type { CredentialStore } from "./store.ts";

/** The fd the helper finds the lock on. */
export const HELPER_LOCK_FD = 3;

/** What the caller sends the helper on its stdin (no secret: the helper reads the store itself). */
export interface HelperRequest {
  profile: Profile;
  /** The lock the caller holds, so the helper can check it opened the same store. */
  lockPath: string;
  /** The kind of store the caller chose; the helper uses the same one without probing again. */
  storeKind?: CredentialStore["kind"];
  minValidMs?: number;
  marginMs?: number;
  timeoutMs: number;
}

/** The helper's one line on stdout. */
export type HelperAnswer = { ok: true; source: TokenSource } | { ok: false; error: HelperError };

/** A failure as the helper reports it; `cause` is what --verbose shows under "Caused by". */
export interface HelperError {
  /** The error's `kind` (src/errors.ts), which names its class and so its exit code. */
  kind: string;
  exitCode: number;
  message: string;
  hint?: string;
  cause?: { name: string; message: string };
}

/** Rebuild a helper's error as our own class, so the caller exits with the helper's code, kind and hint. */
export function errorFromAnswer(e: HelperError): TokenctlError {
  const cause = e.cause ? Object.assign(new Error(e.cause.message), { name: e.cause.name }) : undefined;
  return errorOfKind(e.kind, e.message, { ...(e.hint ? { hint: e.hint } : {}), ...(cause ? { cause } : {}) });
}

/** spawn(2) of the helper failed; nothing was sent to the server. */
export class HelperStartError extends UnavailableError {
  override name = "HelperStartError";
}

export interface DetachedOptions {
  /** This program (selfCommand() in src/runtime/platform.ts); the helper runs as `<command> oauth refresh-helper`. */
  command: string[];
  profile: Profile;
  minValidMs?: number;
  marginMs?: number;
  timeoutMs: number;
  /** Extra time past timeoutMs before a helper that never answers is killed. */
  graceMs?: number;
}

/** A LockedRefresh that hands the request and write to a detached helper holding the lock. */
export function detachedRefresh(o: DetachedOptions): LockedRefresh {
  return async ({ store, held, here }) => {
    let answer: HelperAnswer | undefined;
    try {
      answer = await runHelper(o, store, held);
    } catch (e) {
      // No helper could be started (a runtime that cannot run this program again): refresh here.
      if (e instanceof HelperStartError) return await here();
      throw e;
    }
    // The store is the truth: a helper that wrote and then died unheard still refreshed it.
    const record = await store.read();
    if (answer?.ok && record) return { record, source: answer.source };
    if (answer && !answer.ok) throw errorFromAnswer(answer.error);
    throw new UnavailableError(`The refresh helper for profile "${o.profile.name}" ended without an answer`, {
      hint: "Run the command again; if it persists, run it with a daemon (tokenctl daemon)",
    });
  };
}

async function runHelper(o: DetachedOptions, store: CredentialStore, held: FileLock): Promise<HelperAnswer | undefined> {
  const request: HelperRequest = {
    profile: o.profile,
    lockPath: store.lockPath,
    storeKind: store.kind,
    ...(o.minValidMs !== undefined ? { minValidMs: o.minValidMs } : {}),
    ...(o.marginMs !== undefined ? { marginMs: o.marginMs } : {}),
    timeoutMs: o.timeoutMs,
  };
  const [file, ...args] = o.command;
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(file!, [...args, "oauth", "refresh-helper"], { detached: true, stdio: ["pipe", "pipe", "ignore", held.fd] });
  } catch (e) {
    throw new HelperStartError(`Could not start the refresh helper (${(e as Error).message})`, { cause: e });
  }
  let out = "";
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (d: string) => (out += d));
  child.stdin!.on("error", () => {});
  child.stdin!.end(`${JSON.stringify(request)}\n`);
  // A helper past its own deadline plus grace is hung: end it, so our lock can be released.
  const kill = setTimeout(() => child.kill("SIGKILL"), o.timeoutMs + (o.graceMs ?? 10_000));
  try {
    await new Promise<void>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", () => resolve());
    });
  } catch (e) {
    throw new HelperStartError(`Could not start the refresh helper (${(e as Error).message})`, { cause: e });
  } finally {
    clearTimeout(kill);
  }
  const line = out.trim().split("\n").pop();
  if (!line) return undefined;
  try {
    const a = JSON.parse(line) as HelperAnswer;
    if (a.ok === true && typeof a.source === "string") return a;
    if (a.ok === false && typeof a.error?.message === "string" && typeof a.error.exitCode === "number") {
      const c = a.error.cause;
      if (c !== undefined && (typeof c?.name !== "string" || typeof c.message !== "string")) delete a.error.cause;
      return a;
    }
  } catch {
    // not an answer: treated as none
  }
  return undefined;
}

/** Parse and check the helper's request (from our own caller, but still checked). */
export function parseHelperRequest(text: string): HelperRequest {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new UsageError("refresh-helper: the request on stdin is not JSON");
  }
  const r = v as Partial<HelperRequest>;
  const ok =
    typeof r === "object" &&
    r !== null &&
    typeof r.profile?.name === "string" &&
    typeof r.profile.storeSpec === "object" &&
    Array.isArray(r.profile.scopes) &&
    typeof r.lockPath === "string" &&
    typeof r.timeoutMs === "number" &&
    (r.minValidMs === undefined || typeof r.minValidMs === "number") &&
    (r.marginMs === undefined || typeof r.marginMs === "number") &&
    (r.storeKind === undefined || r.storeKind === "file" || r.storeKind === "keychain");
  if (!ok) throw new UsageError("refresh-helper: the request on stdin is not a refresh request");
  return r as HelperRequest;
}

/** The lock the helper inherited on fd 3: already held; releasing it is the helper's exit. */
export function inheritedLock(path: string, fd = HELPER_LOCK_FD): FileLock {
  return { path, fd, release() {} };
}
