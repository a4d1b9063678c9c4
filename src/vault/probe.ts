/**
 * The probe: a user command, run through /bin/sh, whose exit status says whether the local
 * credential works (a real inference call is the honest probe: status commands have been seen to
 * say "logged in" during a 401). It gets no secret in its argv or env: VAULT_TOKEN is removed.
 * Its output is discarded, since it may print the credential.
 */
import { spawn } from "node:child_process";
import type { Env } from "../fs/paths.ts";

/** Default limit for one probe run: an inference call can be slow, a hung one must not block the timer forever. */
export const PROBE_TIMEOUT_MS = 120_000;

/** Run `command` with /bin/sh -c; resolves true when it exits 0 in time. */
export async function runProbe(command: string, env: Env = process.env, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  const childEnv = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && e[0] !== "VAULT_TOKEN"));
  return new Promise((resolve) => {
    const proc = spawn("/bin/sh", ["-c", command], { env: childEnv, stdio: "ignore", timeout: timeoutMs, killSignal: "SIGKILL" });
    // A probe that cannot start says the credential could not be shown to work.
    proc.on("error", () => resolve(false));
    proc.on("exit", (code) => resolve(code === 0));
  });
}
