/** Doctor's daemon row: is one answering on the socket, which version, and its last refresh errors. */
import { AuthRefusedError, TokenctlError, UnavailableError, errnoCode } from "../errors.ts";
import type { Message } from "../daemon/extension.ts";
import { formatDuration, messageOf, type DoctorDaemonClient, type DoctorDeps } from "./deps.ts";
import { shq, type Check, type PathStat } from "./paths.ts";

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

/** The daemon row, and the `status` message it answered with (for the OAuth rows). */
export async function daemonCheckAndStatus(
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
