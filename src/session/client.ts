/**
 * The client side of sessions: which credential a command uses, and the `session.*` requests, all
 * through src/daemon/client.ts (the only code that opens the daemon socket).
 */
import { type ConnectOptions, type DaemonClient, DaemonRequestError, connectDaemon } from "../daemon/client.ts";
import type { Message } from "../daemon/extension.ts";
import { AuthRefusedError, NotFoundError, TokenctlError } from "../errors.ts";
import type { Env } from "../fs/paths.ts";
import type { SessionService } from "./exec.ts";
import { type SessionRecord, errorFromWire } from "./protocol.ts";
import { TOKEN_FILE_ENV, mintSessionFile, readSessionToken, removeSessionDir } from "./token.ts";

export type Connect = (options: ConnectOptions) => Promise<DaemonClient>;

/** Where the daemon is: socket and daemon token file (resolved by src/daemon/paths.ts). */
export interface DaemonLocation {
  socketPath: string;
  tokenFile: string;
}

/** Turn the session extension's error codes back into the error kinds (and exit codes) they stand for. */
function rethrow(e: unknown): never {
  if (e instanceof DaemonRequestError) throw errorFromWire(e.response.code, String(e.response.message ?? "").slice(0, 1000), e) ?? e;
  throw e;
}

/** `session.*` requests over one authenticated connection. */
export class SessionClient implements SessionService {
  constructor(readonly daemon: DaemonClient) {}

  /** The session this connection authenticated as (session credential), if any. */
  get identity(): SessionRecord | undefined {
    const s = this.daemon.authResult.session;
    return typeof s === "object" && s !== null ? (s as SessionRecord) : undefined;
  }

  private async call(type: string, body: Message): Promise<Message> {
    try {
      return await this.daemon.call(type, body);
    } catch (e) {
      rethrow(e);
    }
  }

  async register(input: { token: string; name?: string; scope?: string; pid: number; cwd: string }): Promise<SessionRecord> {
    const r = await this.call("session.register", input);
    if (typeof r.session !== "object" || r.session === null) throw new TokenctlError(`The daemon answered session.register without a session`);
    return r.session as SessionRecord;
  }

  /** The session a token stands for, or null; with no token, this connection's own session. */
  async resolve(token?: string): Promise<SessionRecord | null> {
    const r = await this.call("session.resolve", token === undefined ? {} : { token });
    return (r.session as SessionRecord | null | undefined) ?? null;
  }

  async list(scope?: string): Promise<{ scope: string | null; sessions: SessionRecord[] }> {
    const r = await this.call("session.list", scope === undefined ? {} : { scope });
    return { scope: (r.scope as string | null | undefined) ?? null, sessions: (r.sessions as SessionRecord[] | undefined) ?? [] };
  }

  /** Revoke by id; throws NotFoundError (exit 3) when the daemon knows no such session. */
  async revoke(id: string): Promise<SessionRecord> {
    const r = await this.call("session.revoke", { sessionId: id });
    if (!r.session) throw new NotFoundError(`The daemon knows no session with id ${JSON.stringify(id.slice(0, 64))}`, { hint: "See the sessions: tokenctl session list" });
    return r.session as SessionRecord;
  }

  close(): void {
    this.daemon.close();
  }
}

/** Connect with the daemon token (sees every scope). */
export async function connectAdmin(where: DaemonLocation, connect: Connect = connectDaemon): Promise<SessionClient> {
  return new SessionClient(await connect({ socketPath: where.socketPath, tokenFile: where.tokenFile }));
}

/**
 * Connect as the caller's own session when it has a valid session token (so requests default to its
 * scope), else with the daemon token, exactly as a caller without sessions always did. A token the
 * daemon does not know is refused (exit 4) rather than silently swapped for the daemon token.
 * `note` hears why no session was used (for --verbose).
 */
export async function connectAsCaller(
  where: DaemonLocation,
  options: { env?: Env; connect?: Connect; note?: (message: string) => void } = {},
): Promise<SessionClient> {
  const connect = options.connect ?? connectDaemon;
  const read = readSessionToken(options.env ?? process.env);
  if (!read.ok) {
    options.note?.(`No session token (${read.reason}); using the daemon token`);
    return connectAdmin(where, connect);
  }
  return connectSession(where, read.token, connect);
}

/** Authenticate with a session token; AuthRefusedError (exit 4) when the daemon does not know it. */
export async function connectSession(where: DaemonLocation, token: string, connect: Connect = connectDaemon): Promise<SessionClient> {
  try {
    return new SessionClient(await connect({ socketPath: where.socketPath, credential: { session: token } }));
  } catch (e) {
    if (e instanceof AuthRefusedError)
      throw new AuthRefusedError(`The daemon on ${where.socketPath} does not know this session token (revoked, reaped, or registered with another daemon)`, {
        cause: e,
        hint: `Start a new session (tokenctl session exec -- CMD), or unset ${TOKEN_FILE_ENV} to act with the daemon token`,
      });
    throw e;
  }
}

/** Single-quote a value for POSIX sh. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * `session mint`: mint a token file and register it. If registering fails the directory is removed,
 * so a failed mint leaves no token behind.
 */
export async function mintAndRegister(
  service: Pick<SessionService, "register">,
  options: { name?: string; scope?: string; pid: number; cwd: string; dir?: string; env?: Env },
): Promise<{ session: SessionRecord; tokenFile: string; dir: string }> {
  const minted = mintSessionFile({ dir: options.dir, env: options.env });
  try {
    const session = await service.register({ token: minted.token, name: options.name, scope: options.scope, pid: options.pid, cwd: options.cwd });
    return { session, tokenFile: minted.file, dir: minted.dir };
  } catch (e) {
    removeSessionDir(minted.dir);
    throw e;
  }
}
