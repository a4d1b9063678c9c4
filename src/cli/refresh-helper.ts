/**
 * `tokenctl oauth refresh-helper`: not a user command. The detached process a caller starts to
 * refresh under the lock it inherited on fd 3 (see src/oauth/detached.ts). Reads one request on
 * stdin, answers one JSON line on stdout, prints nothing else. SIGINT, SIGTERM and SIGHUP are held
 * off until the store is written: this process exists to finish that write.
 */
import { fstatSync, statSync } from "node:fs";
import { TokenctlError, UsageError } from "../errors.ts";

const MAX_REQUEST = 1 << 20;

async function readStdin(): Promise<string> {
  let text = "";
  for await (const chunk of process.stdin) {
    text += typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8");
    if (text.length > MAX_REQUEST) throw new UsageError("refresh-helper: the request on stdin is too large");
  }
  return text;
}

/** Run the helper; returns the exit code (the answer on stdout says the same). */
export async function runRefreshHelper(): Promise<number> {
  const held: NodeJS.Signals[] = [];
  const hold = (s: NodeJS.Signals) => void held.push(s);
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  for (const s of signals) process.on(s, hold);
  process.stdout.on("error", () => {}); // the caller may be gone: its answer is the store
  const { HELPER_LOCK_FD, inheritedLock, parseHelperRequest } = await import("../oauth/detached.ts");
  let answer: import("../oauth/detached.ts").HelperAnswer;
  try {
    const req = parseHelperRequest(await readStdin());
    // fd 3 must be the lock file the caller named, or this process holds no lock at all.
    const fd = fstatSync(HELPER_LOCK_FD);
    const file = statSync(req.lockPath);
    if (fd.dev !== file.dev || fd.ino !== file.ino) throw new UsageError(`refresh-helper: fd ${HELPER_LOCK_FD} is not the lock ${req.lockPath}`);
    const { tokenFor } = await import("../oauth/token.ts");
    const got = await tokenFor({
      profile: req.profile,
      minValidMs: req.minValidMs,
      marginMs: req.marginMs,
      timeoutMs: req.timeoutMs,
      ...(req.storeKind ? { chosen: req.storeKind } : {}),
      lock: async (path) => {
        if (path !== req.lockPath) throw new UsageError(`refresh-helper: the store's lock is ${path}, not the caller's ${req.lockPath}`);
        return inheritedLock(path);
      },
    });
    answer = { ok: true, source: got.source };
  } catch (e) {
    const err = e instanceof TokenctlError ? e : new TokenctlError(e instanceof Error ? e.message : String(e));
    const cause = err.cause instanceof Error ? { name: err.cause.name, message: err.cause.message } : undefined;
    answer = { ok: false, error: { kind: err.kind, exitCode: err.exitCode, message: err.message, ...(err.hint ? { hint: err.hint } : {}), ...(cause ? { cause } : {}) } };
  }
  try {
    process.stdout.write(`${JSON.stringify(answer)}\n`);
  } catch {
    // the caller is gone
  }
  for (const s of signals) process.off(s, hold);
  return answer.ok ? 0 : answer.error.exitCode;
}
