/**
 * `oauth token` asks the daemon first when one answers: it holds the profile and keeps it fresh;
 * `oauth logout` tells it to forget the profile, `oauth login` to hold the new login. No daemon (no socket), or one without the OAuth
 * extension, means "not here": these never fail a command.
 */
import { existsSync } from "node:fs";
import type { Message } from "../daemon/extension.ts";
import { resolveDaemonPaths } from "../daemon/paths.ts";

export interface DaemonToken {
  accessToken: string;
  expiresAt: number;
}

interface Where {
  socket?: string;
  tokenFile?: string;
}

/** One request to the daemon; undefined when none answers or it answers with an error. */
async function callDaemon(where: Where, type: string, body: Message, timeoutMs: number): Promise<Message | undefined> {
  const paths = resolveDaemonPaths({ socket: where.socket, tokenFile: where.tokenFile });
  // No socket file: no daemon. A stat, so the no-daemon case costs nothing measurable.
  if (!existsSync(paths.socketPath)) return undefined;
  const { connectDaemon } = await import("../daemon/client.ts");
  let client: Awaited<ReturnType<typeof connectDaemon>> | undefined;
  try {
    client = await connectDaemon({ socketPath: paths.socketPath, tokenFile: paths.tokenFile, timeoutMs: 2000 });
    return await client.call(type, body, { timeoutMs });
  } catch {
    // Not running, stale socket, no OAuth extension, or the daemon's refresh failed: the caller
    // does it here, where the failure (if any) is reported with its own exit code and hint.
    return undefined;
  } finally {
    client?.close();
  }
}

/** The token from the daemon, or undefined when no daemon with the OAuth extension answers. */
export async function tokenFromDaemon(
  o: Where & {
    profile: string;
    /** Undefined: the daemon applies the default rule, min(5 min, half the token's lifetime). */
    minValidMs?: number;
    /** For the daemon's answer, which may include its own refresh (default 30 s). */
    timeoutMs?: number;
  },
): Promise<DaemonToken | undefined> {
  const r = await callDaemon(o, "oauth.token", { profile: o.profile, ...(o.minValidMs !== undefined ? { minValidMs: o.minValidMs } : {}) }, o.timeoutMs ?? 30_000);
  if (typeof r?.accessToken !== "string" || typeof r.expiresAt !== "number") return undefined;
  if (r.expiresAt - Date.now() < (o.minValidMs ?? 0)) return undefined;
  return { accessToken: r.accessToken, expiresAt: r.expiresAt };
}

/** Tell a running daemon to forget `profile` (after a logout); false when none answered. */
export async function forgetInDaemon(o: Where & { profile: string }): Promise<boolean> {
  // Without an answer the daemon still re-reads the store on its next request.
  return (await callDaemon(o, "oauth.forget", { profile: o.profile }, 5000))?.profile === o.profile;
}

/** Tell a running daemon to hold `profile` afresh (after a login); false when none answered. */
export async function reloadInDaemon(o: Where & { profile: string }): Promise<boolean> {
  // Without an answer the daemon still reads the new record on its next request for the profile.
  return (await callDaemon(o, "oauth.reload", { profile: o.profile }, 5000))?.profile === o.profile;
}
