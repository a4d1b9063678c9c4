/**
 * What the session client and the daemon's session extension share: the session record and the
 * wire errors. An error frame carries a `code` (docs/protocol.md); the client maps the code back
 * to an error class (and so an exit code) without matching the text.
 */
import { AuthRefusedError, NotFoundError, TokenctlError, UsageError } from "../errors.ts";

/** What the daemon knows about a session, and all it ever returns: no token, no hash. */
export interface SessionRecord {
  id: string;
  name: string;
  scope: string;
  pid: number;
  cwd: string;
  /** ISO 8601 time of registration. */
  createdAt: string;
}

/** Scope given to sessions registered without one. */
export const DEFAULT_SCOPE = "default";

/** At most this many live sessions registered by one session (its children). */
export const MAX_CHILDREN = 64;
/** At most this many sessions in the registry. */
export const MAX_SESSIONS = 100_000;

/** The `code` of the session extension's error frames. Other programs match on these. */
export const SessionCode = {
  /** The connection may not do this (no credential, another scope): exit 4. */
  notAllowed: "session.not_allowed",
  /** The session this connection authenticated as was revoked or reaped: exit 4. */
  ended: "session.ended",
  /** A limit is reached (children per session, sessions in the registry): exit 4. */
  limit: "session.limit",
  /** Invalid input (token, name, scope, pid, cwd): exit 2. */
  invalid: "session.invalid",
  /** No such session: exit 3. */
  notFound: "session.not_found",
} as const;
export type SessionCode = (typeof SessionCode)[keyof typeof SessionCode];

/** The texts of the refusals (the frame's `message` starts with one); do not reword them. */
export const SessionWireError = {
  needsCredential: "Not allowed: this request needs the daemon token or a session token",
  sessionEnded: "Not allowed: the session this connection authenticated as has ended",
  otherScope: "Not allowed: a session may act only in its own scope",
  tooManyChildren: `Not allowed: a session may hold at most ${MAX_CHILDREN} live sessions it registered`,
  registryFull: `Not allowed: the daemon holds ${MAX_SESSIONS.toLocaleString("en-US")} sessions, its limit`,
} as const;

type ErrorClass = new (message: string, options?: { cause?: unknown; hint?: string }) => TokenctlError;

const CLASS_OF: Record<SessionCode, ErrorClass> = {
  "session.not_allowed": AuthRefusedError,
  "session.ended": AuthRefusedError,
  "session.limit": AuthRefusedError,
  "session.invalid": UsageError,
  "session.not_found": NotFoundError,
};

/** An error carrying its wire code; the daemon puts the code in the frame (daemon/protocol.ts wireCodeOf). */
export type WireCodedError = TokenctlError & { wireCode: SessionCode };

/** The error the extension throws for `code`: the class the client will rebuild, with the code attached. */
export function sessionError(code: SessionCode, message: string, options?: { cause?: unknown; hint?: string }): WireCodedError {
  const e = new CLASS_OF[code](message, options) as WireCodedError;
  e.wireCode = code;
  return e;
}

/** The error a frame's code stands for on the client side; undefined for a code this version does not know. */
export function errorFromWire(code: unknown, message: string, cause?: unknown): TokenctlError | undefined {
  if (typeof code !== "string" || !Object.hasOwn(CLASS_OF, code)) return undefined;
  return new CLASS_OF[code as SessionCode](message, { cause });
}
