/**
 * The daemon's wire protocol, without a socket: newline-delimited JSON frames with a size limit,
 * message parsing, and the exact error texts other programs match on. See docs/daemon.md.
 */
import type { DaemonApi, Message } from "./extension.ts";

/** Error texts sent on the wire. Other implementations match on these; do not reword them. */
export const WireError = {
  frameTooLarge: "Frame too large",
  invalidJson: "Invalid JSON",
  authRequired: "Authentication required",
  authTimeout: "Authentication timeout",
  invalidToken: "Invalid token",
  tooManyConnections: "Too many connections",
  /** Sent to the oldest idle unauthenticated connection when a new one needs its place. */
  evicted: "Too many unauthenticated connections: closed the oldest",
  invalidMessage: 'Invalid message: expected a JSON object with a string "type"',
  alreadyAuthenticated: "Already authenticated",
  adminRequired: "Not allowed: this request needs the daemon token",
  unknownType: (type: string) => `Unknown message type: ${type}`,
} as const;

export const DEFAULT_MAX_FRAME = 65536;
export const DEFAULT_AUTH_TIMEOUT_MS = 5000;
export const DEFAULT_MAX_CONNECTIONS = 1024;
/** Connections not yet authenticated, a pool inside DEFAULT_MAX_CONNECTIONS. */
export const DEFAULT_MAX_UNAUTHENTICATED = 64;
/**
 * Bytes queued for one peer that does not read: over it, the daemon stops reading that peer's
 * requests until it reads its replies, and disconnects a subscriber that falls behind on events.
 */
export const DEFAULT_MAX_QUEUED_BYTES = 1024 * 1024;

const NL = 0x0a;

/**
 * Splits a byte stream into lines of at most `maxFrame` bytes (newline excluded). Once a line
 * exceeds the limit, `tooLarge` is set and nothing more is buffered: the caller closes.
 */
export class FrameSplitter {
  private pending: Buffer | undefined;
  tooLarge = false;
  constructor(readonly maxFrame: number = DEFAULT_MAX_FRAME) {}

  /** Feed a chunk; returns the complete lines it finished (UTF-8 decoded). */
  push(chunk: Uint8Array): string[] {
    if (this.tooLarge) return [];
    const lines: string[] = [];
    let buf: Buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let start = 0;
    if (this.pending) {
      buf = Buffer.concat([this.pending, buf]);
      this.pending = undefined;
    }
    for (;;) {
      const nl = buf.indexOf(NL, start);
      if (nl === -1) break;
      if (nl - start > this.maxFrame) {
        this.tooLarge = true;
        return lines;
      }
      let end = nl;
      if (end > start && buf[end - 1] === 0x0d) end--; // tolerate CRLF
      if (end > start) lines.push(buf.toString("utf8", start, end));
      start = nl + 1;
    }
    if (start < buf.length) {
      if (buf.length - start > this.maxFrame) {
        this.tooLarge = true;
        return lines;
      }
      // Copy so the caller's (possibly large, reused) chunk is not retained.
      this.pending = Buffer.from(buf.subarray(start));
    }
    return lines;
  }

  /** Bytes held for an unfinished line. */
  get buffered(): number {
    return this.pending?.length ?? 0;
  }
}

export type Parsed = { ok: true; message: Message } | { ok: false; error: string };

/** Parse one frame: JSON, and an object with a string `type`. */
export function parseMessage(line: string): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { ok: false, error: WireError.invalidJson };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value) || typeof (value as Message).type !== "string")
    return { ok: false, error: WireError.invalidMessage };
  return { ok: true, message: value as Message };
}

/** One frame on the wire: the JSON text and a newline. */
export function encode(message: Message): string {
  return `${JSON.stringify(message)}\n`;
}

/** A response to `request`: echoes its `id` when it had one. */
export function reply(request: Message, body: Message): Message {
  return request.id === undefined ? body : { ...body, id: request.id };
}

/**
 * The error frame for a request (with its id) or for the connection (without). `code` is a stable
 * machine-readable kind (e.g. "session.not_allowed", see docs/protocol.md); clients map it to an
 * error class instead of matching the text.
 */
export function errorFrame(message: string, request?: Message, code?: string): Message {
  const body: Message = request && request.id !== undefined ? { type: "error", id: request.id, message } : { type: "error", message };
  if (code !== undefined) body.code = code;
  return body;
}

const WIRE_CODE = /^[a-z]+(\.[a-z_]+)+$/;

/** The wire code an error carries (its `wireCode` property, e.g. "session.not_allowed"), if any. */
export function wireCodeOf(e: unknown): string | undefined {
  const code = typeof e === "object" && e !== null ? (e as { wireCode?: unknown }).wireCode : undefined;
  return typeof code === "string" && WIRE_CODE.test(code) ? code : undefined;
}

/**
 * Peer-controlled text made safe for a one-line log entry: control and bidi-override characters (newlines included)
 * among them) written as \n, \r, \t or \u001b…, and long text cut, so a peer cannot forge lines.
 */
export function escapeLogText(text: string, max = 2000): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return cut.replace(/[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (ch) => {
    if (ch === "\n") return "\\n";
    if (ch === "\r") return "\\r";
    if (ch === "\t") return "\\t";
    return `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`;
  });
}

/** A logger whose every string is made one safe line (peer-controlled text cannot forge entries). */
export function escapingLogger(log: DaemonApi["log"]): DaemonApi["log"] {
  const wrap =
    (f: (...a: unknown[]) => void) =>
    (...a: unknown[]) =>
      f(...a.map((x) => (typeof x === "string" ? escapeLogText(x) : x)));
  return { info: wrap(log.info), warn: wrap(log.warn), error: wrap(log.error), debug: wrap(log.debug) };
}

/** Validate `subscribe`'s optional topics: undefined (all topics) or a list of strings. */
export function parseTopics(value: unknown): { ok: true; topics: string[] | undefined } | { ok: false; error: string } {
  if (value === undefined || value === null) return { ok: true, topics: undefined };
  if (Array.isArray(value) && value.every((t) => typeof t === "string" && t.length > 0)) return { ok: true, topics: value as string[] };
  return { ok: false, error: "Invalid topics: expected a list of non-empty strings" };
}

/** Validate `publish`: a non-empty string topic; data is any JSON value. */
export function parsePublish(message: Message): { ok: true; topic: string; data: unknown } | { ok: false; error: string } {
  if (typeof message.topic !== "string" || message.topic.length === 0) return { ok: false, error: "Invalid publish: expected a non-empty string \"topic\"" };
  return { ok: true, topic: message.topic, data: message.data ?? null };
}
