/**
 * tokenctl as a library: the same token reader, daemon client and OAuth token as the CLI, for
 * programs running under Node (>= 20.12), Deno (>= 2) or Bun. Documented in docs/library.md.
 *
 * Only the error classes are loaded up front; each function imports what it needs when called, so
 * `getToken` costs what `tokenctl token get` costs, and a program that never talks to the daemon
 * never loads its client.
 */
import type { SessionRecord } from "./session/registry.ts";

export { AuthRefusedError, ExitCode, InsecureFileError, NotFoundError, TokenctlError, UnavailableError, UsageError } from "./errors.ts";
export type { SessionRecord };

// The public types are declared here rather than imported, so the declarations a program sees
// need no Node type definitions (the daemon client's own types name node:net).

/** Environment variables, as process.env. */
export type Env = Record<string, string | undefined>;
/** A daemon protocol message (docs/protocol.md): a JSON object. */
export type Message = Record<string, unknown>;
/** A published event, as a subscriber receives it. */
export interface DaemonEvent {
  topic: string;
  data: unknown;
}
/** Where a token came from. */
export type SourceKind = "env" | "fd" | "file";

export interface GetTokenOptions {
  /** Another tool's variable and file names, as `--preset` (default: tokenctl's own). */
  preset?: "claude-code";
  /** Env var holding the token, as `--env` (default TOKENCTL_TOKEN). */
  envName?: string;
  /** Env var holding an inherited fd number, as `--fd-env` (default TOKENCTL_TOKEN_FD). */
  fdEnvName?: string;
  /** The token file, as `--file` (default TOKENCTL_TOKEN_FILE, else $XDG_STATE_HOME/tokenctl/token). */
  file?: string;
  /** How long the fd source may take to reach end of input (default 2000 ms). */
  fdTimeoutMs?: number;
  /** The environment to read (default process.env). */
  env?: Env;
}

export interface TokenResult {
  token: string;
  /** Which source gave it. */
  source: SourceKind;
}

/**
 * This process's token: the env var, else the inherited fd (saved to the file for subprocesses),
 * else the file, as `tokenctl token get`. Rejects with a NotFoundError (exitCode 3) when no source
 * has one, a UsageError (2) for a value that cannot be a token, an InsecureFileError (2) for an
 * unsafe file; no message ever holds what was read.
 */
export async function getToken(options: GetTokenOptions = {}): Promise<TokenResult> {
  const { resolveSources } = await import("./token/sources.ts");
  const { defaultReaderDeps, readToken } = await import("./token/reader.ts");
  const env = options.env ?? process.env;
  const sources = resolveSources({ preset: options.preset, env: options.envName, fdEnv: options.fdEnvName, file: options.file }, env);
  const { token, source } = readToken(sources, defaultReaderDeps(env, { fdTimeoutMs: options.fdTimeoutMs }));
  return { token, source };
}

export interface ConnectDaemonOptions {
  /** The daemon socket (default TOKENCTL_SOCKET, else $XDG_RUNTIME_DIR/tokenctl/tokenctl.sock). */
  socket?: string;
  /** Authenticate with this daemon token file (default: the session token if there is one, else TOKENCTL_DAEMON_TOKEN_FILE or daemon.token beside the socket). */
  tokenFile?: string;
  /** Limit for connecting plus the handshake, and the default per request (default 5000 ms). */
  timeoutMs?: number;
  /** The environment to read (default process.env). */
  env?: Env;
}

/** An authenticated connection to the daemon. */
export interface DaemonConnection {
  /** The session this connection authenticated as; undefined when it used the daemon token. */
  readonly session: SessionRecord | undefined;
  /**
   * Send `{ type, ...fields }` and resolve with the daemon's reply, whatever its type (an error
   * is a reply `{ type: "error", message }`). The connection sets `id`.
   */
  request(message: { type: string } & Message, options?: { timeoutMs?: number }): Promise<Message>;
  /**
   * Subscribe to `topics` (every topic when undefined); each event is passed to onEvent. Resolves
   * once the daemon confirmed, with a function that stops passing events to onEvent.
   */
  subscribe(topics: string[] | undefined, onEvent: (event: DaemonEvent) => void): Promise<() => void>;
  /** Close the connection; pending requests reject. */
  close(): void;
}

/**
 * Connect to the daemon and authenticate, as the CLI does: the socket and the process serving it
 * are verified before any credential is sent. With TOKENCTL_SESSION_TOKEN_FILE set (a process
 * started by `tokenctl session exec`) it authenticates as that session, else with the daemon
 * token file. Rejects with UnavailableError (5) when no daemon answers, InsecureFileError (2)
 * when the server may not be trusted, AuthRefusedError (4) when the daemon refuses.
 */
export async function connectDaemon(options: ConnectDaemonOptions = {}): Promise<DaemonConnection> {
  const env = options.env ?? process.env;
  const where = await daemonPaths(options.socket, options.tokenFile, env);
  const session = options.tokenFile ? undefined : await sessionToken(env);
  const client = await connectWith(where, session, options.timeoutMs);
  const identity = client.authResult.session;
  return {
    session: typeof identity === "object" && identity !== null ? (identity as SessionRecord) : undefined,
    request: ({ type, ...body }, o) => client.request(type, body, o),
    async subscribe(topics, onEvent) {
      const stop = client.onEvent(onEvent);
      try {
        await client.subscribe(topics);
      } catch (e) {
        stop();
        throw e;
      }
      return stop;
    },
    close: () => client.close(),
  };
}

async function daemonPaths(socket: string | undefined, tokenFile: string | undefined, env: Env) {
  const { resolveDaemonPaths } = await import("./daemon/paths.ts");
  return resolveDaemonPaths({ socket, tokenFile }, env);
}

/** The session token from TOKENCTL_SESSION_TOKEN_FILE (or TOKENCTL_SESSION_TOKEN), when valid. */
async function sessionToken(env: Env): Promise<{ ok: true; token: string } | { ok: false; reason: string }> {
  const { readSessionToken } = await import("./session/token.ts");
  return readSessionToken(env);
}

/**
 * Authenticate with the session token when there is one, else with the daemon token file: the
 * session client's own connectSession/connectAdmin, so the library and the CLI refuse and hint alike.
 */
async function connectWith(where: { socketPath: string; tokenFile: string }, session: { ok: true; token: string } | { ok: false } | undefined, timeoutMs: number | undefined) {
  const [{ connectDaemon: connect }, { connectAdmin, connectSession }] = await Promise.all([import("./daemon/client.ts"), import("./session/client.ts")]);
  const withTimeout = (o: Parameters<typeof connect>[0]) => connect({ ...o, timeoutMs });
  const client = session?.ok ? await connectSession(where, session.token, withTimeout) : await connectAdmin(where, withTimeout);
  return client.daemon;
}

export interface WhoamiOptions {
  /** The daemon socket (default as connectDaemon). */
  socket?: string;
  /** Limit for connecting plus the handshake (default 5000 ms). */
  timeoutMs?: number;
  /** The environment to read (default process.env). */
  env?: Env;
}

/**
 * This process's session as the daemon knows it, as `tokenctl session whoami`. Rejects with a
 * NotFoundError (3) when the process has no session token, AuthRefusedError (4) when the daemon
 * does not know it.
 */
export async function whoami(options: WhoamiOptions = {}): Promise<SessionRecord> {
  const { NotFoundError } = await import("./errors.ts");
  const env = options.env ?? process.env;
  const read = await sessionToken(env);
  if (!read.ok) throw new NotFoundError("This process has no usable session token", { cause: new Error(read.reason) });
  const client = await connectWith(await daemonPaths(options.socket, undefined, env), read, options.timeoutMs);
  try {
    const me = client.authResult.session;
    if (typeof me !== "object" || me === null) throw new NotFoundError("The daemon accepted the session token but sent no session record");
    return me as SessionRecord;
  } finally {
    client.close();
  }
}

export interface AccessTokenOptions {
  /** The profile in config.json (default "default"). */
  profile?: string;
  /** Refresh when the token expires within this (default: 5 minutes, or half the token's lifetime when shorter). */
  minValidMs?: number;
  /** Time allowed for the authorization server, with retries (default 30000). */
  timeoutMs?: number;
  /** The daemon socket to ask first (default as connectDaemon). */
  socket?: string;
}

export interface AccessToken {
  accessToken: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  scopes: string[];
  /** "daemon" when the daemon answered, else where the local store's token came from. */
  source: string;
  /** Set when the keychain did not answer and the file store was used instead (the CLI says so on stderr). */
  fallback?: { reason: string };
  /** Set when the token is still valid but expires within minValidMs with no refresh token to renew it (the CLI warns on stderr). */
  warning?: string;
}

/**
 * A valid OAuth access token for a profile, as `tokenctl oauth token`: from the daemon when one
 * answers, else from the profile's store, refreshed under its lock when it expires within
 * minValidMs. The refresh runs in this process (the CLI hands it to a detached helper, which a
 * library cannot start: its own program is not tokenctl). Reads process.env (config.json, the
 * keychain, the socket).
 */
export async function getAccessToken(options: AccessTokenOptions = {}): Promise<AccessToken> {
  const { resolveProfile } = await import("./oauth/config.ts");
  const { obtainToken } = await import("./oauth/token.ts");
  const profile = resolveProfile({ profile: options.profile });
  const got = await obtainToken({ profile, minValidMs: options.minValidMs, timeoutMs: options.timeoutMs ?? 30_000, daemon: { socket: options.socket } });
  return {
    accessToken: got.accessToken,
    expiresAt: got.expiresAt,
    scopes: got.scopes,
    source: got.source,
    ...(got.fallback ? { fallback: got.fallback } : {}),
    ...(got.warning ? { warning: got.warning } : {}),
  };
}
