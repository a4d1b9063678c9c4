/**
 * How a refresh attempt failed, as refresh.ts needs to know it: the server said no (an OAuth error
 * such as invalid_grant), or it could not be reached / answered 5xx (worth retrying). Kept apart
 * from protocol.ts so the fast path (a fresh token) never loads oauth4webapi.
 */
import { AuthRefusedError, UnavailableError } from "../errors.ts";
import { shq } from "../shell.ts";

/** The authorization server answered with an OAuth error response (RFC 6749 §5.2). */
export class OAuthServerError extends AuthRefusedError {
  override name = "OAuthServerError";
  constructor(
    readonly error: string,
    readonly status: number,
    message: string,
    options?: { cause?: unknown; hint?: string },
  ) {
    super(message, options);
  }
}

/**
 * Network failure (refused, DNS, timeout) or 5xx: the server did not answer (exit 5, as the README's
 * table says). refresh.ts retries it with backoff; login, discovery and logout report it as it is.
 */
export class TransientError extends UnavailableError {
  override name = "TransientError";
}

/**
 * The login command for `profile`, as a hint: `--profile P` unless P is "default" (config.ts's
 * DEFAULT_PROFILE, not imported: config.ts imports the store, which imports this), so the command
 * fixes the profile that was used. Profile names are letters, digits, '.', '_' and '-': no quoting.
 */
export function loginHint(profile: string | undefined, flags = ""): string {
  return `tokenctl oauth login${profile === undefined || profile === "default" ? "" : ` --profile ${shq(profile)}`}${flags}`;
}

/** What a refresh returns, before it becomes a stored record. */
export interface TokenGrant {
  accessToken: string;
  /** Absent when the server did not rotate (or issue) one: the old one is kept. */
  refreshToken?: string;
  /** Seconds, as the server sent it. */
  expiresIn?: number;
  /** Space-separated, as the server sent it. */
  scope?: string;
}
