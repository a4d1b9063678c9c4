/**
 * The per-user daemon: an authenticated Unix-socket server speaking the NDJSON protocol of
 * protocol.ts. startDaemon() runs it in-process (the `tokenctl daemon` command, tests, and other
 * features all start it the same way) and returns a handle whose stop() cleans up after it.
 *
 * This file owns start-up and shutdown (lock, stale socket, token file, listening) and who may
 * connect (peer uid, the connection pools, the open-file budget); connection.ts runs each peer and
 * dispatch.ts answers its messages.
 */
import { lstatSync, statSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import { TokenctlError, UsageError, errnoCode } from "../errors.ts";
import { tryLock, type FileLock } from "../fs/lock.ts";
import { ensurePrivateDir, removeSecretFile, writeSecretFile } from "../fs/secure.ts";
import { trustedOwner } from "../fs/trust.ts";
import { fileBudget, listenUnix, unixAnswers, type PeerSocket, type UnixListener } from "../runtime/unix-server.ts";
import { generateToken, tokenDigest } from "./auth.ts";
import { closeNowWith, Connection, LastWord, type Scheduler } from "./connection.ts";
import { createDispatcher, type DaemonLogger, type DaemonStats } from "./dispatch.ts";
import { type DaemonExtension, realScheduler } from "./extension.ts";
import { peerUid as readPeerUid } from "../runtime/peercred.ts";
import {
  DEFAULT_AUTH_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_FRAME,
  DEFAULT_MAX_QUEUED_BYTES,
  DEFAULT_MAX_UNAUTHENTICATED,
  WireError,
  errorFrame,
  escapingLogger,
} from "./protocol.ts";

export type { DaemonLogger, DaemonStats } from "./dispatch.ts";

export interface DaemonOptions {
  socketPath: string;
  tokenFile: string;
  /** Longest accepted line in bytes (default 65536). */
  maxFrame?: number;
  /** Time allowed for the auth message (default 5000 ms). */
  authTimeoutMs?: number;
  /** Open connections allowed at once, authenticated or not (default 1024). */
  maxConnections?: number;
  /** Unauthenticated connections allowed at once, inside maxConnections (default 64); the oldest idle one makes room. */
  maxUnauthenticated?: number;
  /** An unauthenticated connection this old is idle: it may be closed to make room (default 250 ms). */
  idleAfterMs?: number;
  /** Bytes queued for a peer that does not read: reading pauses, a lagging subscriber is cut off (default 1 MiB). */
  maxQueuedBytes?: number;
  extensions?: DaemonExtension[];
  /** Where start, stop and auth failures are logged; silent by default. Peer text in it is escaped. */
  log?: DaemonLogger;
  /** Reads a connected socket's peer uid (SO_PEERCRED); injectable for tests. */
  peerUid?: (fd: number) => number | undefined;
  /** Our uid, compared with the peer's (default process.getuid()). */
  uid?: number;
  /** Timers (auth timeout, accept back-off); injectable for tests. */
  scheduler?: Scheduler;
  /** The open-file limit and the fds open now (default: read from /proc where there is one). */
  files?: { limit: number; open: number };
}

export interface DaemonHandle {
  socketPath: string;
  tokenFile: string;
  /** The daemon token, for in-process callers (tests, features that start a daemon). Never log it. */
  token: string;
  pid: number;
  stats(): DaemonStats;
  /** Send an event to every authenticated subscriber of topic; returns how many got it. */
  publish(topic: string, data: unknown): number;
  /** Stop accepting, close connections, stop extensions, remove socket and token file. Idempotent. */
  stop(): Promise<void>;
}

/** Another daemon already serves this socket. */
export class DaemonRunningError extends TokenctlError {
  override name = "DaemonRunningError";
}

/** sun_path is 108 bytes on Linux, 104 on macOS, including the terminating NUL. */
const MAX_SOCKET_PATH = process.platform === "linux" ? 107 : 103;
/** File descriptors kept free for refusing connections, the registry file, locks and OAuth requests. */
export const SPARE_FDS = 32;
/**
 * Sockets waiting to close after their last frame (see LastWord), at most: refused, evicted, or
 * closed with an error (a failed auth, a timeout). Beyond this many, a last frame closes at once,
 * so the daemon's own sockets never use more than a quarter of the spare fds and it never meets
 * EMFILE on accept (where the runtime would retry without end).
 */
export const MAX_LINGERING = SPARE_FDS / 4;
/**
 * An unauthenticated connection is idle once this old: a client sends its auth as soon as it is
 * connected, so only a connection that has not authenticated by then may be closed to make room.
 * A burst of new clients is admitted past the pool instead of evicting each other.
 */
export const IDLE_AFTER_MS = 250;

const silent: DaemonLogger = { info() {}, warn() {}, error() {}, debug() {} };

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) throw new UsageError(`${name} must be a positive whole number, got ${value}`);
  return value;
}

/** How many connections the open-file limit leaves room for; throws when it leaves almost none. */
export function connectionRoom(files: { limit: number; open: number } | undefined): number {
  if (!files) return Number.POSITIVE_INFINITY;
  const room = files.limit - files.open - SPARE_FDS;
  if (room < 8)
    throw new UsageError(`The open-file limit (${files.limit}, ${files.open} in use) leaves room for ${Math.max(room, 0)} connections`, {
      hint: "Raise it before starting the daemon: ulimit -n 4096",
    });
  return room;
}

/** Start a daemon on options.socketPath; resolves once it accepts connections. */
export async function startDaemon(options: DaemonOptions): Promise<DaemonHandle> {
  const maxFrame = positiveInt("--max-frame", options.maxFrame, DEFAULT_MAX_FRAME);
  const authTimeoutMs = positiveInt("--auth-timeout", options.authTimeoutMs, DEFAULT_AUTH_TIMEOUT_MS);
  const maxConnections = positiveInt("--max-connections", options.maxConnections, DEFAULT_MAX_CONNECTIONS);
  const maxUnauth = Math.min(positiveInt("maxUnauthenticated", options.maxUnauthenticated, DEFAULT_MAX_UNAUTHENTICATED), maxConnections);
  const maxQueued = positiveInt("maxQueuedBytes", options.maxQueuedBytes, DEFAULT_MAX_QUEUED_BYTES);
  const idleAfterMs = options.idleAfterMs ?? IDLE_AFTER_MS;
  const limits = { maxFrame, authTimeoutMs, maxQueued };
  const log = escapingLogger(options.log ?? silent);
  const extensions = options.extensions ?? [];
  const ourUid = options.uid ?? process.getuid?.() ?? -1;
  const getPeerUid = options.peerUid ?? readPeerUid;
  const scheduler = options.scheduler ?? realScheduler;
  const fdRoom = connectionRoom("files" in options ? options.files : fileBudget());
  const connCap = Math.min(maxConnections, fdRoom);
  const { socketPath, tokenFile } = options;

  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH)
    throw new UsageError(`Socket path ${socketPath} is ${Buffer.byteLength(socketPath)} bytes; Unix sockets allow at most ${MAX_SOCKET_PATH}`, {
      hint: "Use a shorter path: tokenctl daemon --socket $XDG_RUNTIME_DIR/tokenctl/tokenctl.sock",
    });
  if (connCap < maxConnections) log.warn(`The open-file limit leaves room for ${connCap} connections, fewer than --max-connections ${maxConnections}`);

  // The socket directory: created 0700 by mkdir itself, refused if it has any group/other bit.
  ensurePrivateDir(dirname(socketPath), { strict: true });

  // The lock makes "is a daemon running" race-free between two starting daemons; the kernel drops
  // it when we die, so it never goes stale.
  const maybeLock = tryLock(`${socketPath}.lock`);
  if (!maybeLock)
    throw new DaemonRunningError(`A tokenctl daemon is already running for ${socketPath} (it holds ${socketPath}.lock); it was left serving`, {
      hint: `Talk to it: tokenctl call status --socket ${socketPath}`,
    });
  const lock: FileLock = maybeLock;

  const conns = new Set<Connection>();
  /** Connections not authenticated yet, oldest first. */
  const unauth = new Set<Connection>();
  let authenticated = 0;
  let nextId = 1;
  /** Accepted sockets not closed yet: connections, and peers hearing a last frame (refused or evicted). */
  let sockets = 0;
  let listener: UnixListener | undefined;
  let stopping: Promise<void> | undefined;
  const startedAt = Date.now();

  const stats = () => ({ open: conns.size, authenticated, unauthenticated: unauth.size, subscribers: dispatcher?.subscribers ?? 0, max: connCap });
  let dispatcher: ReturnType<typeof createDispatcher> | undefined;
  const api = { publish: (topic: string, data: unknown) => void dispatcher?.publish(topic, data), log };
  let token: string;
  let extensionsStarted = 0;

  async function stopExtensions(count: number): Promise<void> {
    for (const ext of extensions.slice(0, count).reverse()) {
      try {
        await ext.stop?.();
      } catch (e) {
        log.error(`Extension ${ext.name} failed to stop: ${(e as Error).message}`);
      }
    }
  }

  /**
   * Whether one more last frame may wait for its peer's bytes before the close: fewer than
   * MAX_LINGERING sockets do (refused, evicted, or closed by their connection: a failed auth, a
   * timeout), those being the accepted sockets no longer counted as connections.
   */
  const mayLinger = () => sockets - conns.size < MAX_LINGERING;

  /** Bind with umask 0177, as ssh-agent does: the socket is 0600 from the moment it exists. */
  function listen(): void {
    const oldUmask = process.umask(0o177);
    try {
      listener = listenUnix<Connection | LastWord>(socketPath, {
        open: admit,
        data: (k, chunk) => (k instanceof Connection ? k.receive(chunk) : k.heard()),
        drain: (k) => k instanceof Connection && k.drained(),
        close(k) {
          sockets--;
          if (k instanceof Connection) k.peerClosed();
        },
        error: (k, e) => log.debug(`Connection ${k instanceof Connection ? k.info.id : "(refused)"}: ${e.message}`),
      });
    } finally {
      process.umask(oldUmask);
    }
  }

  /** The oldest connection still waiting to authenticate, if it has waited minAge ms. */
  function oldestWaiting(minAge: number): Connection | undefined {
    for (const c of unauth) {
      if (c.state !== "pending") continue;
      return scheduler.now() - c.openedAt >= minAge ? c : undefined; // the rest are younger
    }
    return undefined;
  }

  /** A new peer: check who it is and whether there is room, then give it a Connection. */
  function admit(peer: PeerSocket): Connection | LastWord | undefined {
    // Refuse a peer that is neither us nor root before reading a byte from it (ssh-agent does the same).
    const fd = peer.fd;
    const uid = fd === undefined ? undefined : getPeerUid(fd);
    if (uid !== undefined && !trustedOwner(uid, ourUid)) {
      log.warn(`Refused a connection from uid ${uid} (only uid ${ourUid} and root may connect)`);
      peer.terminate();
      return undefined;
    }
    if (unauth.size >= maxUnauth || conns.size >= connCap) {
      // The oldest waiting connection makes room, so idle connections never lock the owner out: once
      // it is idle when only the pool is full (a burst of new clients is admitted), at any age when
      // every connection is taken.
      const victim = oldestWaiting(conns.size >= connCap ? 0 : idleAfterMs);
      if (victim) {
        log.warn(`Connection ${victim.info.id}: closed, the oldest of ${unauth.size} unauthenticated connections, to make room`);
        victim.closeWith(errorFrame(WireError.evicted));
      } else if (conns.size >= connCap) {
        log.warn(`Refused a connection: ${conns.size} open (${unauth.size} unauthenticated), limit ${connCap}`);
        const frame = errorFrame(WireError.tooManyConnections);
        if (!mayLinger()) return void closeNowWith(peer, frame);
        sockets++;
        return new LastWord(peer, frame, scheduler);
      }
    }
    const c = new Connection(nextId++, peer, limits, hooks, scheduler);
    sockets++;
    conns.add(c);
    unauth.add(c);
    return c;
  }

  const hooks = {
    authenticate: (m: Parameters<ReturnType<typeof createDispatcher>["authenticate"]>[0]) => dispatcher!.authenticate(m),
    dispatch: (c: Connection, m: Parameters<ReturnType<typeof createDispatcher>["dispatch"]>[1]) => dispatcher!.dispatch(c, m),
    opened(c: Connection) {
      unauth.delete(c);
      authenticated++;
    },
    closed(c: Connection) {
      if (!conns.delete(c)) return;
      if (!unauth.delete(c)) authenticated--;
      dispatcher?.forget(c);
    },
    warn: (message: string) => log.warn(message),
    mayLinger,
  };

  try {
    let existing: ReturnType<typeof lstatSync> | undefined;
    try {
      existing = lstatSync(socketPath);
    } catch (e) {
      if (errnoCode(e) !== "ENOENT") throw e;
    }
    if (existing && !existing.isSocket())
      throw new UsageError(`${socketPath} exists and is not a socket; refusing to replace it`, { hint: `Move it away: mv ${socketPath} ${socketPath}.old` });
    if (existing) {
      if (await unixAnswers(socketPath))
        throw new DaemonRunningError(`Something already answers on ${socketPath}; it was left serving`, {
          hint: `Talk to it: tokenctl call status --socket ${socketPath}`,
        });
      unlinkSync(socketPath);
      log.info(`Removed stale socket ${socketPath}`);
    }

    // Token before socket: a client that sees the socket always finds the matching token.
    token = generateToken();
    writeSecretFile(tokenFile, `${token}\n`);
    dispatcher = createDispatcher({ extensions, digest: tokenDigest(token), log, stats, startedAt });

    for (const ext of extensions) {
      await ext.start?.(api);
      extensionsStarted++;
    }

    listen();
    const mode = statSync(socketPath).mode & 0o777;
    if (mode & 0o077) throw new TokenctlError(`Socket ${socketPath} was created with mode ${mode.toString(8)}, expected 600`);
  } catch (e) {
    listener?.stop(true);
    await stopExtensions(extensionsStarted);
    try {
      removeSecretFile(tokenFile);
    } catch {
      // Best effort: the original error is the one to report.
    }
    lock.release();
    throw e instanceof TokenctlError ? e : new TokenctlError(`Could not start the daemon on ${socketPath} (${errnoCode(e) ?? (e as Error).message})`, { cause: e });
  }

  log.info(`Daemon listening on ${socketPath} (pid ${process.pid}); token in ${tokenFile}`);

  function stop(): Promise<void> {
    stopping ??= (async () => {
      listener?.stop(true);
      for (const c of [...conns]) c.terminate();
      await stopExtensions(extensionsStarted);
      try {
        unlinkSync(socketPath);
      } catch (e) {
        if (errnoCode(e) !== "ENOENT") log.warn(`Could not remove ${socketPath} (${errnoCode(e)})`);
      }
      try {
        removeSecretFile(tokenFile);
      } catch (e) {
        log.warn((e as Error).message);
      }
      lock.release();
      log.info(`Daemon on ${socketPath} stopped`);
    })();
    return stopping;
  }

  return { socketPath, tokenFile, token, pid: process.pid, stats, publish: (topic, data) => dispatcher!.publish(topic, data), stop };
}
