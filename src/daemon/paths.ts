/**
 * Where the daemon's socket and token file live. Server and client resolve them the same way, so a
 * client finds the daemon with no flags when both run with the same environment.
 */
import { dirname, join } from "node:path";
import { expandHome, runtimeDir, runtimeDirRefusal, stateDir, type Env, type RuntimeDirJudge } from "../fs/paths.ts";

export const SOCKET_NAME = "tokenctl.sock";
export const TOKEN_NAME = "daemon.token";

export interface DaemonPathFlags {
  /** --socket */
  socket?: string;
  /** --token-file */
  tokenFile?: string;
}

export interface DaemonPaths {
  socketPath: string;
  tokenFile: string;
  /** Where the socket path came from: a flag, TOKENCTL_SOCKET, or the XDG default. */
  socketFrom: "flag" | "env" | "default";
  /** Where the token file path came from. */
  tokenFrom: "flag" | "env" | "default";
  /**
   * Set when XDG_RUNTIME_DIR is set but not used (not ours, or not mode 0700) and the default
   * socket moved to the state dir: the caller should warn with it.
   */
  runtimeWarning?: string;
}

/**
 * Socket: --socket, else TOKENCTL_SOCKET, else $XDG_RUNTIME_DIR/tokenctl/tokenctl.sock, else
 * $XDG_STATE_HOME/tokenctl/run/tokenctl.sock. Token file: --token-file, else
 * TOKENCTL_DAEMON_TOKEN_FILE, else daemon.token beside the socket. XDG_RUNTIME_DIR counts only
 * when it is ours with mode 0700 (`judge` decides; tests pass their own).
 */
export function resolveDaemonPaths(flags: DaemonPathFlags = {}, env: Env = process.env, judge?: RuntimeDirJudge): DaemonPaths {
  let runtimeWarning: string | undefined;
  let socketPath: string;
  let socketFrom: DaemonPaths["socketFrom"];
  if (flags.socket) {
    socketPath = expandHome(flags.socket, env);
    socketFrom = "flag";
  } else if (env.TOKENCTL_SOCKET) {
    socketPath = expandHome(env.TOKENCTL_SOCKET, env);
    socketFrom = "env";
  } else {
    const run = runtimeDir(env, judge);
    socketPath = join(run ?? join(stateDir(env), "run"), SOCKET_NAME);
    socketFrom = "default";
    const refusal = run ? undefined : runtimeDirRefusal(env, judge);
    if (refusal) runtimeWarning = `${refusal}; using ${dirname(socketPath)} instead`;
  }
  let tokenFile: string;
  let tokenFrom: DaemonPaths["tokenFrom"];
  if (flags.tokenFile) {
    tokenFile = expandHome(flags.tokenFile, env);
    tokenFrom = "flag";
  } else if (env.TOKENCTL_DAEMON_TOKEN_FILE) {
    tokenFile = expandHome(env.TOKENCTL_DAEMON_TOKEN_FILE, env);
    tokenFrom = "env";
  } else {
    tokenFile = join(dirname(socketPath), TOKEN_NAME);
    tokenFrom = "default";
  }
  return { socketPath, tokenFile, socketFrom, tokenFrom, ...(runtimeWarning ? { runtimeWarning } : {}) };
}
