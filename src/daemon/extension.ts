/**
 * How features plug into the daemon without the daemon knowing them: sessions, OAuth and later
 * features each export a DaemonExtension; the daemon routes message types to their handlers,
 * offers them alternative authentication, and merges their status.
 */

/** A JSON object as it arrives on (or leaves for) the wire. */
export type Message = Record<string, unknown>;

/** What a handler knows about the connection it serves. */
export interface ConnectionInfo {
  /** Daemon-assigned connection number. */
  id: number;
  /** True when authenticated with the daemon token (sees every scope). */
  admin: boolean;
  /** The identity an extension's authenticate() returned, for session-authenticated connections. */
  identity?: Message;
}

/** Timers and a monotonic clock, injected so tests run them on a fake clock. */
export interface Scheduler {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
  /** Milliseconds on a monotonic clock. */
  now(): number;
}

/** setTimeout and performance.now. */
export const realScheduler: Scheduler = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
  now: () => performance.now(),
};

/** What the daemon lends its extensions. */
export interface DaemonApi {
  /** Send `{"type":"event","topic":…,"data":…}` to every authenticated subscriber of topic. */
  publish(topic: string, data: unknown): void;
  /** Human log on stderr (consola-like). */
  log: { info(...a: unknown[]): void; warn(...a: unknown[]): void; error(...a: unknown[]): void; debug(...a: unknown[]): void };
}

/**
 * A handler returns the response body; the daemon adds `id` (echoed) and defaults `type` to
 * `<request type>.result` when the body has none. A thrown error becomes
 * `{"type":"error","id":…,"message":<error.message>}` and the connection stays open; an error with
 * a string `wireCode` such as "session.not_allowed" adds it as `"code"` (docs/protocol.md).
 */
export type Handler = (message: Message, conn: ConnectionInfo) => Message | Promise<Message>;

export interface DaemonExtension {
  name: string;
  handlers?: Record<string, Handler>;
  /**
   * Offered every auth message that has no `token` field (e.g. `{"type":"auth","session":"…"}`).
   * Return the identity to accept (sent back in auth_result under the extension's name, e.g.
   * `{"type":"auth_result","ok":true,"session":{…}}`), or undefined to refuse.
   */
  authenticate?(message: Message): Message | undefined | Promise<Message | undefined>;
  /** Merged into the `status` response under the extension's name. */
  status?(): Message;
  start?(api: DaemonApi): void | Promise<void>;
  stop?(): void | Promise<void>;
}
