/**
 * The one client for the daemon: connect, authenticate, request/response by id, events. Every
 * command that talks to the daemon goes through connectDaemon(); nothing else opens the socket.
 *
 * Before anything secret is sent, the server is verified (verify.ts): the socket and every
 * directory above it must be ours or root's and not writable by others, and where the platform
 * reports peer credentials (SO_PEERCRED, getpeereid) the process serving it must run as us or
 * root. A fake daemon planted by another local user gets nothing, and nothing it says is used.
 */
import { connect as netConnect, type Socket } from "node:net";
import { AuthRefusedError, NotFoundError, TokenctlError, UnavailableError, errnoCode } from "../errors.ts";
import { readSecretFile } from "../fs/secure.ts";
import type { Message } from "./extension.ts";
import { FrameSplitter, encode } from "./protocol.ts";
import { UntrustedDaemonError, verifyPeer, verifySocketPath } from "./verify.ts";

export { UntrustedDaemonError } from "./verify.ts";

export interface ConnectOptions {
  socketPath: string;
  /** The daemon token. When absent (and no credential), it is read from tokenFile. */
  token?: string;
  /** Where the daemon wrote its token (see paths.ts). */
  tokenFile?: string;
  /** Another credential for an extension's authenticate(), e.g. `{ session: "<64 hex>" }`; sent instead of a token. */
  credential?: Message;
  /** Limit for connecting plus the handshake, and the default per request (default 5000 ms). */
  timeoutMs?: number;
}

export interface DaemonEvent {
  topic: string;
  data: unknown;
}

/** The daemon answered a request with `{"type":"error",…}`. */
export class DaemonRequestError extends TokenctlError {
  override name = "DaemonRequestError";
  constructor(
    message: string,
    readonly response: Message,
  ) {
    super(message);
  }
}

/** Largest response line the client accepts; responses (status, lists) can exceed the daemon's request limit. */
const CLIENT_MAX_FRAME = 16 * 1024 * 1024;

interface Pending {
  resolve(m: Message): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

/** An authenticated connection to the daemon. */
export class DaemonClient {
  /** The daemon's auth_result (for extension credentials it carries the identity). */
  authResult: Message = {};
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private eventListeners = new Set<(e: DaemonEvent) => void>();
  private closeListeners = new Set<(reason: Error | undefined) => void>();
  private closedWith: Error | undefined | null = null;
  private socket!: Socket;
  /** Receives the handshake's answer (the first line). */
  private firstLine: ((m: Message) => void) | undefined;

  private constructor(
    readonly socketPath: string,
    private readonly timeoutMs: number,
  ) {}

  /** Connect and authenticate; see connectDaemon. */
  static async connect(options: ConnectOptions): Promise<DaemonClient> {
    const client = new DaemonClient(options.socketPath, options.timeoutMs ?? 5000);
    await client.open(options);
    return client;
  }

  private async open(options: ConnectOptions): Promise<void> {
    // Resolve the credential before connecting, but a missing token file is not fatal: the socket may
    // be forwarded from another machine, and the daemon's own answer is the clearest report.
    // The socket first: a planted socket (and the token file beside it) is refused as what it is.
    verifySocketPath(this.socketPath);
    let auth: Message;
    let missingTokenFile: string | undefined;
    if (options.token !== undefined) auth = { type: "auth", token: options.token };
    else if (options.credential) auth = { ...options.credential, type: "auth" };
    else if (options.tokenFile) {
      try {
        auth = { type: "auth", token: readSecretFile(options.tokenFile) };
      } catch (e) {
        if (!(e instanceof NotFoundError)) throw e;
        missingTokenFile = options.tokenFile;
        auth = { type: "auth" };
      }
    } else auth = { type: "auth" };

    const splitter = new FrameSplitter(CLIENT_MAX_FRAME);
    const deadline = this.timer(`connecting to the daemon on ${this.socketPath}`);
    try {
      this.socket = await Promise.race([this.connectSocket(splitter), deadline.promise]);
      // Only now, with the server's uid known to be ours (or root's), does the credential leave.
      await verifyPeer(this.socket, this.socketPath);
    } catch (e) {
      deadline.cancel();
      this.socket?.destroy();
      if (e instanceof TokenctlError) throw e;
      const code = errnoCode(e);
      throw new UnavailableError(`No tokenctl daemon answers on ${this.socketPath} (${code ?? (e as Error).message})`, {
        cause: e,
        hint: `Start one: tokenctl daemon --socket ${this.socketPath}`,
      });
    }

    const answer = new Promise<Message>((resolve, reject) => {
      this.firstLine = resolve;
      this.closeListeners.add((reason) => reject(reason ?? new UnavailableError(`The daemon on ${this.socketPath} closed the connection during the handshake`)));
    });
    this.write(encode(auth));
    let result: Message;
    try {
      result = await Promise.race([answer, deadline.promise]);
    } catch (e) {
      this.close();
      throw e instanceof TokenctlError ? e : new UnavailableError(`Handshake with the daemon on ${this.socketPath} failed (${(e as Error).message})`, { cause: e });
    } finally {
      deadline.cancel();
      this.closeListeners.clear();
    }
    if (result.type === "auth_result" && result.ok === true) {
      if (auth.token === undefined && Object.keys(auth).length === 1) {
        // We offered nothing, so a real daemon could not have accepted us: whatever this is, its
        // answers must not be used.
        this.close();
        throw new UntrustedDaemonError(`The server on ${this.socketPath} accepted a connection that offered no credential; refusing to use it`, {
          hint: missingTokenFile ? `Copy the daemon's token file to ${missingTokenFile} (chmod 600), or set TOKENCTL_DAEMON_TOKEN_FILE to where it is` : undefined,
        });
      }
      this.authResult = result;
      return;
    }
    this.close();
    const said = typeof result.error === "string" ? result.error : typeof result.message === "string" ? result.message : JSON.stringify(result);
    if (result.type === "auth_result") {
      if (missingTokenFile)
        throw new AuthRefusedError(
          `The daemon on ${this.socketPath} answered "${said}": no token was offered because ${missingTokenFile} does not exist here (is the socket forwarded from another machine?)`,
          { hint: `Copy the daemon's token file to ${missingTokenFile} (chmod 600), or set TOKENCTL_DAEMON_TOKEN_FILE to where it is` },
        );
      throw new AuthRefusedError(`The daemon on ${this.socketPath} refused the credential: "${said}"`, {
        hint: options.credential ? undefined : `Use the token file of the daemon serving this socket: --token-file PATH (or restart it: tokenctl daemon)`,
      });
    }
    throw new UnavailableError(`The daemon on ${this.socketPath} did not accept the connection: "${said}"`);
  }

  private timer(what: string) {
    let t: ReturnType<typeof setTimeout> | undefined;
    const promise = new Promise<never>((_r, reject) => {
      t = setTimeout(() => reject(new UnavailableError(`Timed out after ${this.timeoutMs} ms ${what}`)), this.timeoutMs);
    });
    promise.catch(() => {});
    return { promise, cancel: () => clearTimeout(t) };
  }

  private onLine(line: string): void {
    let m: Message;
    try {
      const v: unknown = JSON.parse(line);
      if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("not an object");
      m = v as Message;
    } catch {
      this.fail(new TokenctlError(`The daemon on ${this.socketPath} sent something that is not a JSON object`));
      return;
    }
    if (this.firstLine) {
      const f = this.firstLine;
      this.firstLine = undefined;
      f(m);
      return;
    }
    if (m.type === "event" && m.id === undefined) {
      for (const l of this.eventListeners) l({ topic: String(m.topic), data: m.data });
      return;
    }
    const p = typeof m.id === "number" ? this.pending.get(m.id) : undefined;
    if (p) {
      this.pending.delete(m.id as number);
      clearTimeout(p.timer);
      p.resolve(m);
      return;
    }
    if (m.type === "error") {
      // A connection-level error (e.g. "Frame too large"): the daemon closes next.
      this.fail(new DaemonRequestError(`The daemon closed the connection: ${String(m.message)}`, m));
    }
  }

  /** Open the Unix socket with node:net (Bun, Node and Deno all provide it). */
  private connectSocket(splitter: FrameSplitter): Promise<Socket> {
    return new Promise<Socket>((resolve, reject) => {
      const socket = netConnect({ path: this.socketPath });
      let connected = false;
      socket.on("connect", () => {
        connected = true;
        resolve(socket);
      });
      socket.on("data", (chunk: Buffer) => {
        for (const line of splitter.push(chunk)) this.onLine(line);
        if (splitter.tooLarge) this.fail(new TokenctlError(`The daemon sent a line longer than ${CLIENT_MAX_FRAME} bytes`));
      });
      socket.on("error", (e) => (connected ? this.fail(e) : reject(e)));
      socket.on("close", () => this.fail(undefined));
    });
  }

  private write(text: string): void {
    // node:net queues what the kernel does not take yet; the daemon reads as we write.
    this.socket.write(text);
  }

  private fail(reason: Error | undefined): void {
    if (this.closedWith !== null) return;
    this.closedWith = reason;
    const err = reason ?? new UnavailableError(`The daemon on ${this.socketPath} closed the connection`);
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
    for (const l of [...this.closeListeners]) l(reason);
    this.socket?.end();
    this.socket?.unref();
  }

  /** Send `{type, id, ...body}` and resolve with the response carrying that id, whatever its type. */
  request(type: string, body: Message = {}, options: { timeoutMs?: number } = {}): Promise<Message> {
    if (this.closedWith !== null) return Promise.reject(this.closedWith ?? new UnavailableError(`The connection to ${this.socketPath} is closed`));
    const id = this.nextId++;
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    return new Promise<Message>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new UnavailableError(`The daemon on ${this.socketPath} did not answer "${type}" within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.write(encode({ ...body, type, id }));
    });
  }

  /** Like request(), but an `error` response rejects with DaemonRequestError. */
  async call(type: string, body: Message = {}, options: { timeoutMs?: number } = {}): Promise<Message> {
    const response = await this.request(type, body, options);
    if (response.type === "error") throw new DaemonRequestError(`The daemon answered "${type}" with an error: ${String(response.message)}`, response);
    return response;
  }

  /** Subscribe to topics (all when omitted); events arrive through onEvent. */
  subscribe(topics?: string[]): Promise<Message> {
    return this.call("subscribe", topics ? { topics } : {});
  }

  /** Listen for events; returns a function that stops listening. */
  onEvent(listener: (e: DaemonEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** Called once when the connection ends: undefined for a clean close, else the reason. */
  onClose(listener: (reason: Error | undefined) => void): () => void {
    if (this.closedWith !== null) {
      listener(this.closedWith);
      return () => {};
    }
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  get closed(): boolean {
    return this.closedWith !== null;
  }

  /** Close the connection; pending requests reject. */
  close(): void {
    this.fail(undefined);
  }
}

/**
 * Connect to the daemon, verify it (socket path and peer uid) and authenticate with its token (or
 * options.credential). Throws UnavailableError (exit 5) when nothing answers, UntrustedDaemonError
 * (exit 2) when the server may not be trusted (nothing is sent), and AuthRefusedError (exit 4)
 * when the daemon refuses.
 */
export function connectDaemon(options: ConnectOptions): Promise<DaemonClient> {
  return DaemonClient.connect(options);
}
