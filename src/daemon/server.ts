/**
 * The per-user daemon: an authenticated Unix-socket server speaking the NDJSON protocol of
 * protocol.ts. startDaemon() runs it in-process (the `tokenctl daemon` command, tests, and other
 * features all start it the same way) and returns a handle whose stop() cleans up after it.
 */
import type { Socket, UnixSocketListener } from "bun";
import { lstatSync, statSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { TokenctlError, UsageError, errnoCode } from "../errors.ts";
import { tryLock, type FileLock } from "../fs/lock.ts";
import { ensurePrivateDir, removeSecretFile, writeSecretFile } from "../fs/secure.ts";
import { checkAuth, generateToken, peerAllowed, tokenDigest } from "./auth.ts";
import type { ConnectionInfo, DaemonApi, DaemonExtension, Handler, Message } from "./extension.ts";
import { peerUid as readPeerUid } from "../runtime/peercred.ts";
import {
  DEFAULT_AUTH_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_FRAME,
  DEFAULT_MAX_QUEUED_BYTES,
  FrameSplitter,
  WireError,
  encode,
  errorFrame,
  parseMessage,
  parsePublish,
  parseTopics,
  reply,
} from "./protocol.ts";

export type DaemonLogger = DaemonApi["log"];

export interface DaemonOptions {
  socketPath: string;
  tokenFile: string;
  /** Longest accepted line in bytes (default 65536). */
  maxFrame?: number;
  /** Time allowed for the auth message (default 5000 ms). */
  authTimeoutMs?: number;
  /** Open connections allowed at once, authenticated or not (default 1024). */
  maxConnections?: number;
  /** Bytes queued for a peer that does not read before it is disconnected (default 1 MiB). */
  maxQueuedBytes?: number;
  extensions?: DaemonExtension[];
  /** Where start, stop and auth failures are logged; silent by default. */
  log?: DaemonLogger;
  /** Reads a connected socket's peer uid (SO_PEERCRED); injectable for tests. */
  peerUid?: (fd: number) => number | undefined;
  /** Our uid, compared with the peer's (default process.getuid()). */
  uid?: number;
}

export interface DaemonStats {
  open: number;
  authenticated: number;
  subscribers: number;
  max: number;
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

const BUILTIN = new Set(["auth", "ping", "status", "subscribe", "unsubscribe", "publish"]);
/** sun_path is 108 bytes on Linux, 104 on macOS, including the terminating NUL. */
const MAX_SOCKET_PATH = process.platform === "linux" ? 107 : 103;

const silent: DaemonLogger = { info() {}, warn() {}, error() {}, debug() {} };

const enum State {
  Pending,
  Authenticating,
  Open,
  Closed,
}

interface Conn {
  info: ConnectionInfo;
  socket: Socket<Conn>;
  state: State;
  splitter: FrameSplitter;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Lines that arrived while an extension's authenticate() was running. */
  held: string[] | undefined;
  /** Subscribed topics; "all" for every topic; undefined when not subscribed. */
  topics: Set<string> | "all" | undefined;
  /** Bytes the kernel would not take yet, oldest first. */
  queue: Buffer[] | undefined;
  queued: number;
}

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) throw new UsageError(`${name} must be a positive whole number, got ${value}`);
  return value;
}

/** Connect to `path` and report whether something accepted; used to tell a live daemon from a stale socket. */
async function answers(path: string, timeoutMs = 1000): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const socket = await Promise.race([
      Bun.connect({ unix: path, socket: { data() {}, error() {} } }),
      new Promise<"timeout">((r) => {
        timer = setTimeout(() => r("timeout"), timeoutMs);
      }),
    ]);
    // Something holds the path but does not accept in time: treat as live rather than delete it.
    if (socket === "timeout") return true;
    socket.end();
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** Start a daemon on options.socketPath; resolves once it accepts connections. */
export async function startDaemon(options: DaemonOptions): Promise<DaemonHandle> {
  const maxFrame = positiveInt("--max-frame", options.maxFrame, DEFAULT_MAX_FRAME);
  const authTimeoutMs = positiveInt("--auth-timeout", options.authTimeoutMs, DEFAULT_AUTH_TIMEOUT_MS);
  const maxConnections = positiveInt("--max-connections", options.maxConnections, DEFAULT_MAX_CONNECTIONS);
  const maxQueued = positiveInt("maxQueuedBytes", options.maxQueuedBytes, DEFAULT_MAX_QUEUED_BYTES);
  const log = options.log ?? silent;
  const extensions = options.extensions ?? [];
  const ourUid = options.uid ?? process.getuid?.() ?? -1;
  const getPeerUid = options.peerUid ?? readPeerUid;
  const { socketPath, tokenFile } = options;

  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH)
    throw new UsageError(`Socket path ${socketPath} is ${Buffer.byteLength(socketPath)} bytes; Unix sockets allow at most ${MAX_SOCKET_PATH}`, {
      hint: "Use a shorter path: tokenctl daemon --socket $XDG_RUNTIME_DIR/tokenctl/tokenctl.sock",
    });

  const handlers = new Map<string, { ext: DaemonExtension; handler: Handler }>();
  for (const ext of extensions) {
    for (const [type, handler] of Object.entries(ext.handlers ?? {})) {
      if (BUILTIN.has(type)) throw new TokenctlError(`Extension ${ext.name} registers "${type}", a built-in message type`);
      const prior = handlers.get(type);
      if (prior) throw new TokenctlError(`Extensions ${prior.ext.name} and ${ext.name} both register "${type}"`);
      handlers.set(type, { ext, handler });
    }
  }
  const authenticators = extensions.filter((e) => typeof e.authenticate === "function");

  // The socket directory: created 0700 by mkdir itself, refused if it has any group/other bit.
  const dir = dirname(socketPath);
  ensurePrivateDir(dir, { strict: true });

  // The lock makes "is a daemon running" race-free between two starting daemons; the kernel drops
  // it when we die, so it never goes stale.
  const maybeLock = tryLock(`${socketPath}.lock`);
  if (!maybeLock)
    throw new DaemonRunningError(`A tokenctl daemon is already running for ${socketPath} (it holds ${socketPath}.lock); it was left serving`, {
      hint: `Talk to it: tokenctl call status --socket ${socketPath}`,
    });

  const lock: FileLock = maybeLock;
  let token: string;
  let listener: UnixSocketListener<Conn>;
  let extensionsStarted = 0;
  const conns = new Set<Conn>();
  const subscribers = new Set<Conn>();
  let authenticated = 0;
  let nextId = 1;
  const startedAt = Date.now();

  const api: DaemonApi = { publish: (topic, data) => void publish(topic, data), log };

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
      if (await answers(socketPath))
        throw new DaemonRunningError(`Something already answers on ${socketPath}; it was left serving`, {
          hint: `Talk to it: tokenctl call status --socket ${socketPath}`,
        });
      unlinkSync(socketPath);
      log.info(`Removed stale socket ${socketPath}`);
    }

    // Token before socket: a client that sees the socket always finds the matching token.
    token = generateToken();
    writeSecretFile(tokenFile, `${token}\n`);

    for (const ext of extensions) {
      await ext.start?.(api);
      extensionsStarted++;
    }

    // umask 0177 around bind, as ssh-agent does: the socket is 0600 from the moment it exists.
    const oldUmask = process.umask(0o177);
    try {
      listener = Bun.listen<Conn>({ unix: socketPath, socket: handlersFor() });
    } finally {
      process.umask(oldUmask);
    }
    const mode = statSync(socketPath).mode & 0o777;
    if (mode & 0o077) {
      listener.stop(true);
      throw new TokenctlError(`Socket ${socketPath} was created with mode ${mode.toString(8)}, expected 600`);
    }
  } catch (e) {
    await stopExtensions(extensionsStarted);
    try {
      removeSecretFile(tokenFile);
    } catch {
      // Best effort: the original error is the one to report.
    }
    lock.release();
    throw e instanceof TokenctlError ? e : new TokenctlError(`Could not start the daemon on ${socketPath} (${errnoCode(e) ?? (e as Error).message})`, { cause: e });
  }

  const digest = tokenDigest(token);
  log.info(`Daemon listening on ${socketPath} (pid ${process.pid}); token in ${tokenFile}`);

  async function stopExtensions(count: number): Promise<void> {
    for (const ext of extensions.slice(0, count).reverse()) {
      try {
        await ext.stop?.();
      } catch (e) {
        log.error(`Extension ${ext.name} failed to stop: ${(e as Error).message}`);
      }
    }
  }

  function send(c: Conn, data: string | Buffer): void {
    if (c.state === State.Closed) return;
    if (c.queue) return enqueue(c, typeof data === "string" ? Buffer.from(data) : data);
    const len = typeof data === "string" ? Buffer.byteLength(data) : data.length;
    const n = c.socket.write(data);
    if (n < len) enqueue(c, (typeof data === "string" ? Buffer.from(data) : data).subarray(Math.max(n, 0)));
  }

  function enqueue(c: Conn, buf: Buffer): void {
    (c.queue ??= []).push(buf);
    c.queued += buf.length;
    if (c.queued > maxQueued) {
      log.warn(`Connection ${c.info.id}: disconnected, ${c.queued} bytes queued and not read (limit ${maxQueued})`);
      drop(c);
      c.socket.terminate();
    }
  }

  function flush(c: Conn): void {
    const q = c.queue;
    if (!q) return;
    while (q.length) {
      const buf = q[0]!;
      const n = c.socket.write(buf);
      if (n < buf.length) {
        q[0] = buf.subarray(Math.max(n, 0));
        c.queued -= Math.max(n, 0);
        return;
      }
      c.queued -= buf.length;
      q.shift();
    }
    c.queue = undefined;
    c.queued = 0;
  }

  /** Forget a connection (idempotent); the socket itself is closed by the caller or already gone. */
  function drop(c: Conn): void {
    if (c.state === State.Closed) return;
    if (c.state === State.Open) authenticated--;
    c.state = State.Closed;
    clearTimeout(c.timer);
    conns.delete(c);
    subscribers.delete(c);
    c.queue = undefined;
    c.held = undefined;
  }

  /** Send one last frame and close. */
  function closeWith(c: Conn, frame: Message): void {
    if (c.state === State.Closed) return;
    drop(c);
    endWith(c.socket, frame);
  }

  /**
   * Write a last frame, then close on the next turn of the event loop: closing in the same turn
   * made most clients in another process see "connection reset" instead of the frame (measured with
   * Bun.connect and node:net against the compiled daemon, turning away connections over the limit).
   */
  function endWith(socket: Socket<Conn>, frame: Message): void {
    socket.write(encode(frame));
    setTimeout(() => socket.end(), 0);
  }

  function publish(topic: string, data: unknown): number {
    let frame: Buffer | undefined;
    let delivered = 0;
    for (const c of subscribers) {
      if (c.state !== State.Open || !c.topics || (c.topics !== "all" && !c.topics.has(topic))) continue;
      frame ??= Buffer.from(encode({ type: "event", topic, data }));
      send(c, frame);
      delivered++;
    }
    return delivered;
  }

  function stats(): DaemonStats {
    return { open: conns.size, authenticated, subscribers: subscribers.size, max: maxConnections };
  }

  function status(): Message {
    const body: Message = {
      type: "status",
      pid: process.pid,
      version: pkg.version,
      uptime: Math.round((Date.now() - startedAt) / 1000),
      connections: stats(),
    };
    for (const ext of extensions) {
      if (!ext.status) continue;
      try {
        body[ext.name] = ext.status();
      } catch (e) {
        body[ext.name] = { error: (e as Error).message };
      }
    }
    return body;
  }

  function authenticatedAs(c: Conn, admin: boolean, identity?: Message): void {
    c.state = State.Open;
    clearTimeout(c.timer);
    c.timer = undefined;
    c.info.admin = admin;
    if (identity) c.info.identity = identity;
    authenticated++;
  }

  async function extensionAuth(c: Conn, message: Message): Promise<void> {
    c.state = State.Authenticating;
    c.held = [];
    c.socket.pause();
    let accepted: { name: string; identity: Message } | undefined;
    for (const ext of authenticators) {
      try {
        const identity = await ext.authenticate!(message);
        if (identity) {
          accepted = { name: ext.name, identity };
          break;
        }
      } catch (e) {
        log.error(`Extension ${ext.name} failed to judge an auth message: ${(e as Error).message}`);
      }
    }
    if (c.state !== State.Authenticating) return; // timed out or the peer left meanwhile
    if (!accepted) {
      log.warn(`Connection ${c.info.id}: authentication refused (no token, and no extension accepted the credential)`);
      return closeWith(c, { type: "auth_result", ok: false, error: WireError.invalidToken });
    }
    const held = c.held;
    c.held = undefined;
    authenticatedAs(c, false, accepted.identity);
    send(c, encode({ type: "auth_result", ok: true, [accepted.name]: accepted.identity }));
    c.socket.resume();
    for (const line of held) {
      if ((c.state as State) !== State.Open) break;
      onLine(c, line);
    }
  }

  function onFirstLine(c: Conn, line: string): void {
    const parsed = parseMessage(line);
    if (!parsed.ok) {
      log.warn(`Connection ${c.info.id}: closed, first message was ${parsed.error === WireError.invalidJson ? "not JSON" : "not an auth message"}`);
      return closeWith(c, errorFrame(parsed.error === WireError.invalidJson ? WireError.invalidJson : WireError.authRequired));
    }
    const verdict = checkAuth(parsed.message, digest);
    switch (verdict.kind) {
      case "not-auth":
        log.warn(`Connection ${c.info.id}: closed, first message was "${String(parsed.message.type).slice(0, 64)}", not auth`);
        return closeWith(c, errorFrame(WireError.authRequired));
      case "token":
        if (!verdict.ok) {
          log.warn(`Connection ${c.info.id}: authentication refused (wrong token)`);
          return closeWith(c, { type: "auth_result", ok: false, error: WireError.invalidToken });
        }
        authenticatedAs(c, true);
        return send(c, encode({ type: "auth_result", ok: true }));
      case "other-credential":
        void extensionAuth(c, parsed.message);
    }
  }

  function onLine(c: Conn, line: string): void {
    if (c.state === State.Pending) return onFirstLine(c, line);
    if (c.state === State.Authenticating) {
      c.held!.push(line);
      return;
    }
    const parsed = parseMessage(line);
    if (!parsed.ok) return send(c, encode(errorFrame(parsed.error)));
    dispatch(c, parsed.message);
  }

  function dispatch(c: Conn, m: Message): void {
    const type = m.type as string;
    switch (type) {
      case "ping":
        return send(c, encode(reply(m, { type: "pong" })));
      case "status":
        if (!c.info.admin) return send(c, encode(errorFrame(WireError.adminRequired, m)));
        return send(c, encode(reply(m, status())));
      case "subscribe": {
        const t = parseTopics(m.topics);
        if (!t.ok) return send(c, encode(errorFrame(t.error, m)));
        if (!t.topics) c.topics = "all";
        else if (c.topics !== "all") c.topics = new Set([...(c.topics ?? []), ...t.topics]);
        subscribers.add(c);
        return send(c, encode(reply(m, { type: "subscribed", topics: c.topics === "all" ? "*" : [...c.topics] })));
      }
      case "unsubscribe":
        c.topics = undefined;
        subscribers.delete(c);
        return send(c, encode(reply(m, { type: "unsubscribed" })));
      case "publish": {
        if (!c.info.admin) return send(c, encode(errorFrame(WireError.adminRequired, m)));
        const p = parsePublish(m);
        if (!p.ok) return send(c, encode(errorFrame(p.error, m)));
        const delivered = publish(p.topic, p.data);
        return send(c, encode(reply(m, { type: "published", delivered })));
      }
      case "auth":
        return send(c, encode(errorFrame(WireError.alreadyAuthenticated, m)));
    }
    const route = handlers.get(type);
    if (!route) return send(c, encode(errorFrame(WireError.unknownType(type.slice(0, 200)), m)));
    Promise.resolve()
      .then(() => route.handler(m, c.info))
      .then(
        (body) => send(c, encode(reply(m, { type: `${type}.result`, ...body }))),
        (e: unknown) => send(c, encode(errorFrame(e instanceof Error ? e.message : String(e), m))),
      );
  }

  function handlersFor() {
    return {
      open(socket: Socket<Conn>) {
        // Refuse a peer that is neither us nor root before reading a byte from it (ssh-agent does the same).
        const fd = (socket as unknown as { fd?: number }).fd;
        const uid = typeof fd === "number" ? getPeerUid(fd) : undefined;
        if (uid !== undefined && ourUid >= 0 && !peerAllowed(uid, ourUid)) {
          log.warn(`Refused a connection from uid ${uid} (only uid ${ourUid} and root may connect)`);
          socket.terminate();
          return;
        }
        if (conns.size >= maxConnections) {
          log.warn(`Refused a connection: ${conns.size} open, limit ${maxConnections}`);
          endWith(socket, errorFrame(WireError.tooManyConnections));
          return;
        }
        const c: Conn = {
          info: { id: nextId++, admin: false },
          socket,
          state: State.Pending,
          splitter: new FrameSplitter(maxFrame),
          timer: undefined,
          held: undefined,
          topics: undefined,
          queue: undefined,
          queued: 0,
        };
        c.timer = setTimeout(() => {
          if (c.state !== State.Pending && c.state !== State.Authenticating) return;
          log.warn(`Connection ${c.info.id}: closed, no authentication within ${authTimeoutMs} ms`);
          closeWith(c, errorFrame(WireError.authTimeout));
        }, authTimeoutMs);
        socket.data = c;
        conns.add(c);
      },
      data(socket: Socket<Conn>, chunk: Buffer) {
        const c = socket.data;
        if (!c || c.state === State.Closed) return;
        const lines = c.splitter.push(chunk);
        for (const line of lines) {
          if ((c.state as State) === State.Closed) return;
          onLine(c, line);
        }
        if (c.splitter.tooLarge) {
          log.warn(`Connection ${c.info.id}: closed, frame larger than ${maxFrame} bytes`);
          closeWith(c, errorFrame(WireError.frameTooLarge));
        }
      },
      drain(socket: Socket<Conn>) {
        const c = socket.data;
        if (c && c.state !== State.Closed) flush(c);
      },
      close(socket: Socket<Conn>) {
        const c = socket.data;
        if (c) drop(c);
      },
      error(socket: Socket<Conn>, error: Error) {
        log.debug(`Connection ${socket.data?.info.id ?? "?"}: ${error.message}`);
      },
    };
  }

  let stopping: Promise<void> | undefined;
  function stop(): Promise<void> {
    stopping ??= (async () => {
      listener.stop(true);
      for (const c of [...conns]) {
        drop(c);
        c.socket.terminate();
      }
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

  return { socketPath, tokenFile, token, pid: process.pid, stats, publish, stop };
}
