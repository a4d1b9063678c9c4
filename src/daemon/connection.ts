/**
 * One peer of the daemon, without a socket: the handshake's state machine, framing, and the write
 * queue with its backpressure. The server feeds it bytes and drain/close events through a
 * Transport; tests drive it with a fake transport and a fake scheduler.
 */
import { type ConnectionInfo, type Message, realScheduler, type Scheduler } from "./extension.ts";
import { FrameSplitter, WireError, encode, errorFrame, parseMessage } from "./protocol.ts";

/** The socket as a connection needs it (src/runtime/unix-server.ts PeerSocket satisfies it). */
export interface Transport {
  write(data: string | Uint8Array): number;
  end(): void;
  terminate(): void;
  pause(): void;
  resume(): void;
}

export type { Scheduler } from "./extension.ts";

/** The verdict on a handshake. */
export type AuthOutcome =
  | { ok: true; admin: boolean; identity?: Message; result: Message }
  /** `why` is for the log; `frame` is the last thing the peer hears. */
  | { ok: false; frame: Message; why: string };

export interface ConnectionHooks {
  /** Judge the first message (any promise is awaited with the connection's reading paused). */
  authenticate(message: Message): AuthOutcome | Promise<AuthOutcome>;
  /** A message of an authenticated connection. */
  dispatch(conn: Connection, message: Message): void;
  /** The connection authenticated. */
  opened?(conn: Connection): void;
  /** The connection closed (either side); called once. */
  closed(conn: Connection): void;
  /** Whether a last frame may wait for the peer's bytes before the close (see LastWord); default yes. */
  mayLinger?(): boolean;
  warn(message: string): void;
}

export interface ConnectionLimits {
  maxFrame: number;
  authTimeoutMs: number;
  /** Bytes queued for the peer: over it, reading pauses (replies) or the peer is cut off (events). */
  maxQueued: number;
}

export type ConnState = "pending" | "authenticating" | "open" | "closed";

/**
 * One last frame for a peer, then the close. Closing a Unix socket while the peer's bytes sit unread
 * makes the kernel answer with a reset, and most clients then report "connection reset" instead
 * of the frame (measured with Bun's socket client and node:net against the compiled daemon). So
 * the socket closes as soon as the peer's next bytes have been read (heard()), or on a later turn
 * of the event loop when it sends none. Waiting for bytes rather than a timer alone matters under
 * a burst: a busy event loop runs 0 ms timers late, and every socket waiting on one holds an fd.
 */
export class LastWord {
  private readonly timer: unknown;
  private ended = false;

  constructor(
    private readonly transport: Transport,
    frame: Message,
    private readonly scheduler: Scheduler = realScheduler,
  ) {
    transport.write(encode(frame));
    this.timer = scheduler.set(() => this.end(), 0);
  }

  /** The peer's bytes were read: nothing unread is left to turn the close into a reset. */
  heard(): void {
    this.end();
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.scheduler.clear(this.timer);
    this.transport.end();
  }
}

/**
 * One last frame, then the close at once: for when too many sockets already wait to close. The
 * peer reads the frame unless its own bytes had arrived unread, and then sees a reset.
 */
export function closeNowWith(transport: Transport, frame: Message): void {
  transport.write(encode(frame));
  transport.terminate();
}

export class Connection {
  state: ConnState = "pending";
  readonly info: ConnectionInfo;
  /** Subscribed topics; "all" for every topic; undefined when not subscribed. */
  topics: Set<string> | "all" | undefined;
  /** When the connection was accepted (scheduler clock). */
  readonly openedAt: number;
  private readonly splitter: FrameSplitter;
  private timer: unknown;
  /** Complete lines not handled yet (while authenticating or while reading is paused). */
  private inbox: string[] = [];
  private inboxHead = 0;
  /** Bytes the kernel would not take yet, oldest first. */
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  private readingPaused = false;
  /** Set once closeWith() has sent the last frame and the socket waits to close. */
  private lastWord: LastWord | undefined;

  constructor(
    id: number,
    readonly transport: Transport,
    private readonly limits: ConnectionLimits,
    private readonly hooks: ConnectionHooks,
    private readonly scheduler: Scheduler = realScheduler,
  ) {
    this.info = { id, admin: false };
    this.openedAt = scheduler.now();
    this.splitter = new FrameSplitter(limits.maxFrame);
    this.timer = scheduler.set(() => {
      if (this.state !== "pending" && this.state !== "authenticating") return;
      hooks.warn(`Connection ${id}: closed, no authentication within ${limits.authTimeoutMs} ms`);
      this.closeWith(errorFrame(WireError.authTimeout));
    }, limits.authTimeoutMs);
  }

  /** Bytes waiting for the peer to read. */
  get queued(): number {
    return this.queuedBytes;
  }

  /** Whether reading is paused because the peer does not read its replies. */
  get backpressured(): boolean {
    return this.readingPaused;
  }

  /** Bytes from the peer. */
  receive(chunk: Uint8Array): void {
    if (this.state === "closed") return this.lastWord?.heard();
    const lines = this.splitter.push(chunk);
    if (this.inbox.length === 0) this.inbox = lines;
    else for (const line of lines) this.inbox.push(line);
    this.pump();
    if (this.splitter.tooLarge && (this.state as ConnState) !== "closed") {
      this.hooks.warn(`Connection ${this.info.id}: closed, frame larger than ${this.limits.maxFrame} bytes`);
      this.closeWith(errorFrame(WireError.frameTooLarge));
    }
  }

  /** The kernel took what was queued so far: write more, and read again once under the cap. */
  drained(): void {
    if (this.state === "closed") return;
    while (this.queue.length) {
      const buf = this.queue[0]!;
      const n = Math.max(this.transport.write(buf), 0);
      this.queuedBytes -= Math.min(n, buf.length);
      if (n < buf.length) {
        this.queue[0] = buf.subarray(n);
        break;
      }
      this.queue.shift();
    }
    if (this.readingPaused && this.queuedBytes <= this.limits.maxQueued) {
      this.readingPaused = false;
      this.transport.resume();
      this.pump();
    }
  }

  /**
   * Send a frame. A reply over the queue cap pauses reading (the peer gets its answers once it
   * reads); an event over the cap cuts the peer off: a subscriber that falls behind is dropped.
   */
  send(data: string | Buffer, kind: "reply" | "event" = "reply"): void {
    if (this.state === "closed") return;
    let buf: Buffer | undefined;
    if (this.queue.length === 0) {
      const len = typeof data === "string" ? Buffer.byteLength(data) : data.length;
      const n = Math.max(this.transport.write(data), 0);
      if (n >= len) return;
      buf = (typeof data === "string" ? Buffer.from(data) : data).subarray(n);
    } else buf = typeof data === "string" ? Buffer.from(data) : data;
    this.queue.push(buf);
    this.queuedBytes += buf.length;
    if (this.queuedBytes <= this.limits.maxQueued) return;
    if (kind === "event") {
      this.hooks.warn(`Connection ${this.info.id}: disconnected, ${this.queuedBytes} bytes queued and not read (limit ${this.limits.maxQueued})`);
      this.terminate();
    } else if (!this.readingPaused) {
      this.readingPaused = true;
      this.transport.pause();
    }
  }

  /** Send one last frame and close: after the peer's next bytes (see LastWord), or at once when the hooks say so. */
  closeWith(frame: Message): void {
    if (this.state === "closed") return;
    const linger = this.hooks.mayLinger?.() ?? true;
    this.markClosed();
    if (!linger) return closeNowWith(this.transport, frame);
    // Paused for backpressure, it would never read the peer's bytes in flight, and heard() never comes.
    if (this.readingPaused) this.transport.resume();
    this.lastWord = new LastWord(this.transport, frame, this.scheduler);
  }

  /** Close now, dropping what is unsent. */
  terminate(): void {
    if (this.state === "closed") return;
    this.markClosed();
    this.transport.terminate();
  }

  /** The peer closed (or the socket failed). */
  peerClosed(): void {
    this.markClosed();
  }

  private markClosed(): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.scheduler.clear(this.timer);
    this.queue = [];
    this.queuedBytes = 0;
    this.inbox = [];
    this.inboxHead = 0;
    this.hooks.closed(this);
  }

  /** Handle queued lines until there are none, or the connection pauses or closes. */
  private pump(): void {
    const inbox = this.inbox;
    while (this.inboxHead < inbox.length) {
      if (this.state === "closed" || this.state === "authenticating" || this.readingPaused) return;
      this.onLine(inbox[this.inboxHead++]!);
    }
    if (this.inbox === inbox && inbox.length) {
      this.inbox = [];
      this.inboxHead = 0;
    }
  }

  private onLine(line: string): void {
    const parsed = parseMessage(line);
    if (this.state === "pending") {
      if (!parsed.ok) {
        const json = parsed.error === WireError.invalidJson;
        this.hooks.warn(`Connection ${this.info.id}: closed, first message was ${json ? "not JSON" : "not an auth message"}`);
        return this.closeWith(errorFrame(json ? WireError.invalidJson : WireError.authRequired));
      }
      return this.judge(parsed.message);
    }
    if (!parsed.ok) return this.send(encode(errorFrame(parsed.error)));
    this.hooks.dispatch(this, parsed.message);
  }

  private judge(message: Message): void {
    const outcome = this.hooks.authenticate(message);
    if (!(outcome instanceof Promise)) return this.settle(outcome);
    this.state = "authenticating";
    this.transport.pause();
    outcome.then(
      (o) => this.settleLater(o),
      (e: unknown) => this.settleLater({ ok: false, frame: { type: "auth_result", ok: false, error: WireError.invalidToken }, why: `authentication failed (${String(e)})` }),
    );
  }

  private settleLater(outcome: AuthOutcome): void {
    if (this.state !== "authenticating") return; // timed out or the peer left meanwhile
    this.state = "pending";
    this.settle(outcome);
    if ((this.state as ConnState) !== "open") return;
    this.transport.resume();
    this.pump();
  }

  private settle(outcome: AuthOutcome): void {
    if (!outcome.ok) {
      this.hooks.warn(`Connection ${this.info.id}: ${outcome.why}`);
      return this.closeWith(outcome.frame);
    }
    this.state = "open";
    this.scheduler.clear(this.timer);
    this.timer = undefined;
    this.info.admin = outcome.admin;
    if (outcome.identity) this.info.identity = outcome.identity;
    this.hooks.opened?.(this);
    this.send(encode(outcome.result));
  }
}
