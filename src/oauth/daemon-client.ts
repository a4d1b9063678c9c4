/**
 * `oauth token` asks the daemon first when one answers: it holds the profile in memory and keeps
 * it fresh. No daemon (no socket), or one without the OAuth extension, means the caller does the
 * locked refresh itself; so this never fails a command, it only reports "not here".
 */
import { existsSync } from "node:fs";
import { resolveDaemonPaths } from "../daemon/paths.ts";

export interface DaemonToken {
  accessToken: string;
  expiresAt: number;
}

/** The token from the daemon, or undefined when no daemon with the OAuth extension answers. */
export async function tokenFromDaemon(o: {
  profile: string;
  /** Undefined: the daemon applies the default rule, min(5 min, half the token's lifetime). */
  minValidMs?: number;
  socket?: string;
  tokenFile?: string;
  /** For the daemon's answer, which may include its own refresh (default 30 s). */
  timeoutMs?: number;
}): Promise<DaemonToken | undefined> {
  const paths = resolveDaemonPaths({ socket: o.socket, tokenFile: o.tokenFile });
  // No socket file: no daemon. A stat, so the no-daemon case costs nothing measurable.
  if (!existsSync(paths.socketPath)) return undefined;
  const { connectDaemon } = await import("../daemon/client.ts");
  let client: Awaited<ReturnType<typeof connectDaemon>> | undefined;
  try {
    client = await connectDaemon({ socketPath: paths.socketPath, tokenFile: paths.tokenFile, timeoutMs: 2000 });
    const r = await client.call("oauth.token", { profile: o.profile, ...(o.minValidMs !== undefined ? { minValidMs: o.minValidMs } : {}) }, { timeoutMs: o.timeoutMs ?? 30_000 });
    if (typeof r.accessToken !== "string" || typeof r.expiresAt !== "number") return undefined;
    if (r.expiresAt - Date.now() < (o.minValidMs ?? 0)) return undefined;
    return { accessToken: r.accessToken, expiresAt: r.expiresAt };
  } catch {
    // Not running, stale socket, no OAuth extension, or the daemon's refresh failed: do it here,
    // where the failure (if any) is reported with its own exit code and hint.
    return undefined;
  } finally {
    client?.close();
  }
}

/** Tell a running daemon to forget `profile` (after a logout); false when none answered. */
export async function forgetInDaemon(o: { profile: string; socket?: string; tokenFile?: string }): Promise<boolean> {
  const paths = resolveDaemonPaths({ socket: o.socket, tokenFile: o.tokenFile });
  if (!existsSync(paths.socketPath)) return false;
  const { connectDaemon } = await import("../daemon/client.ts");
  let client: Awaited<ReturnType<typeof connectDaemon>> | undefined;
  try {
    client = await connectDaemon({ socketPath: paths.socketPath, tokenFile: paths.tokenFile, timeoutMs: 2000 });
    const r = await client.call("oauth.forget", { profile: o.profile }, { timeoutMs: 5000 });
    return r.profile === o.profile;
  } catch {
    // No daemon, or one without the OAuth extension: it re-reads the store on its next request anyway.
    return false;
  } finally {
    client?.close();
  }
}
