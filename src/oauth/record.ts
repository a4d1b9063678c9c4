/**
 * The one credential record format, in every store:
 * `{ accessToken, refreshToken, expiresAt (ms since epoch), lifetimeMs, scopes }`.
 * The parser is strict about types and never throws anything but CredentialFormatError, whose
 * message says which field was wrong and how — never a value, since values are secrets.
 */
import { UsageError } from "../errors.ts";
import { loginHint, type TokenGrant } from "./errors.ts";

/** Used when a token response has no expires_in (RFC 6749 makes it optional). */
export const DEFAULT_EXPIRES_IN_S = 3600;

export interface OAuthRecord {
  accessToken: string;
  /** Absent when the server gave none; never stored empty. */
  refreshToken?: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  /** The access token's lifetime as issued (expires_in), in ms; absent in records written before it was kept. */
  lifetimeMs?: number;
  scopes: string[];
}

/** A stored credential that is not a valid record (exit 2): nothing is overwritten because of it. */
export class CredentialFormatError extends UsageError {
  override name = "CredentialFormatError";
}

const kind = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "an array" : typeof v === "string" ? "a string" : typeof v);

/**
 * Validate `value` as a record. `where` names the store in messages, `profile` the profile whose
 * login the hint names. An empty refreshToken (what lock-free refreshers leave behind) reads as
 * "no refresh token", so status can say login is needed.
 */
export function parseRecord(value: unknown, where: string, profile?: string): OAuthRecord {
  const bad = (what: string) =>
    new CredentialFormatError(`Credential in ${where} is not a valid OAuth record: ${what}`, {
      hint: `Log in again to replace it: ${loginHint(profile)}`,
    });
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw bad(`expected an object, found ${kind(value)}`);
  const v = value as Record<string, unknown>;
  if (typeof v.accessToken !== "string" || v.accessToken === "")
    throw bad(`expected accessToken to be a non-empty string, found ${v.accessToken === "" ? "an empty string" : kind(v.accessToken)}`);
  if (v.refreshToken !== undefined && v.refreshToken !== null && typeof v.refreshToken !== "string")
    throw bad(`expected refreshToken to be a string, found ${kind(v.refreshToken)}`);
  if (typeof v.expiresAt !== "number" || !Number.isFinite(v.expiresAt) || v.expiresAt < 0)
    throw bad(`expected expiresAt to be milliseconds since the epoch (a non-negative number), found ${typeof v.expiresAt === "number" ? String(v.expiresAt) : kind(v.expiresAt)}`);
  if (v.lifetimeMs !== undefined && (typeof v.lifetimeMs !== "number" || !Number.isFinite(v.lifetimeMs) || v.lifetimeMs <= 0))
    throw bad(`expected lifetimeMs to be a positive number of milliseconds, found ${typeof v.lifetimeMs === "number" ? String(v.lifetimeMs) : kind(v.lifetimeMs)}`);
  let scopes: string[] = [];
  if (v.scopes !== undefined) {
    if (!Array.isArray(v.scopes) || !v.scopes.every((s) => typeof s === "string"))
      throw bad(`expected scopes to be an array of strings, found ${kind(v.scopes)}${Array.isArray(v.scopes) ? " with non-string items" : ""}`);
    scopes = v.scopes as string[];
  }
  const record: OAuthRecord = { accessToken: v.accessToken, expiresAt: v.expiresAt, ...(v.lifetimeMs !== undefined ? { lifetimeMs: v.lifetimeMs } : {}), scopes };
  if (typeof v.refreshToken === "string" && v.refreshToken !== "") record.refreshToken = v.refreshToken;
  return record;
}

/** Parse the JSON text of a whole-record store (keychain item, `file:PATH` without #KEY). */
export function parseRecordText(text: string, where: string, profile?: string): OAuthRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CredentialFormatError(`Credential in ${where} is not valid JSON`, { hint: `Log in again to replace it: ${loginHint(profile)}` });
  }
  return parseRecord(value, where, profile);
}

/** The record as stored: field order fixed, no empty refresh token ever written. */
export function recordToJson(record: OAuthRecord): Record<string, unknown> {
  if (record.refreshToken === "") throw new Error("refusing to store an empty refresh token");
  return {
    accessToken: record.accessToken,
    ...(record.refreshToken ? { refreshToken: record.refreshToken } : {}),
    expiresAt: record.expiresAt,
    ...(record.lifetimeMs !== undefined ? { lifetimeMs: record.lifetimeMs } : {}),
    scopes: record.scopes,
  };
}

/** True when the access token stays valid for at least `minValidMs` more. */
export function isFresh(record: OAuthRecord, minValidMs: number, now: number): boolean {
  return record.expiresAt - now >= minValidMs;
}

/** Refresh this long before expiry by default (aws-vault's ExpiryWindow is 5 minutes too). */
export const DEFAULT_MARGIN_MS = 5 * 60_000;

/**
 * How long `record` must stay valid to be used without a refresh: what the caller asked for, else
 * the margin capped at half the token's lifetime. A 5-minute token (Keycloak's default) is then
 * refreshed after 2.5 minutes, not on every call, and a 1-hour token 5 minutes before expiry.
 */
export function validityNeeded(record: Pick<OAuthRecord, "lifetimeMs">, minValidMs: number | undefined, marginMs = DEFAULT_MARGIN_MS): number {
  if (minValidMs !== undefined) return minValidMs;
  return record.lifetimeMs === undefined ? marginMs : Math.min(marginMs, record.lifetimeMs / 2);
}

/**
 * The record a token response becomes, at login and at every refresh. `before` supplies what the
 * response may leave out: the refresh token (a server that does not rotate sends none; never store
 * an empty one) and the scopes (the requested ones at login, the stored ones at a refresh).
 */
export function recordFromGrant(grant: TokenGrant, at: number, before: { refreshToken?: string; scopes: string[] }): OAuthRecord {
  const refreshToken = grant.refreshToken || before.refreshToken;
  const lifetimeMs = (grant.expiresIn ?? DEFAULT_EXPIRES_IN_S) * 1000;
  return {
    accessToken: grant.accessToken,
    ...(refreshToken ? { refreshToken } : {}),
    expiresAt: at + lifetimeMs,
    ...(lifetimeMs > 0 ? { lifetimeMs } : {}),
    scopes: grant.scope ? grant.scope.split(" ").filter(Boolean) : before.scopes,
  };
}
