/**
 * The OAuth credential record as Vault sync needs it: `{accessToken, refreshToken, expiresAt, scopes}`
 * inside the credentials file at `--key`. Deliberately small and local to src/vault/ so sync does not
 * depend on src/oauth/ while that is being built; it could share the oauth record parser later.
 * Problems are described by field name only, never by value: the values are secrets.
 */

/** A credential object; fields other than the four we check are kept as they are. */
export interface OAuthCredential {
  accessToken: string;
  refreshToken: string;
  expiresAt: number;
  scopes?: string[];
  [field: string]: unknown;
}

export type CredentialCheck = { ok: true; credential: OAuthCredential } | { ok: false; problem: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Check the shape backup and restore rely on; the problem names the field, not its value. */
export function checkCredential(value: unknown): CredentialCheck {
  if (!isObject(value)) return { ok: false, problem: `is ${value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`}, not an object` };
  if (typeof value.accessToken !== "string" || value.accessToken === "") return { ok: false, problem: "has no non-empty string accessToken" };
  if (typeof value.refreshToken !== "string" || value.refreshToken === "") return { ok: false, problem: "has no non-empty string refreshToken" };
  if (typeof value.expiresAt !== "number" || !Number.isFinite(value.expiresAt)) return { ok: false, problem: "has no numeric expiresAt" };
  if (value.scopes !== undefined && !(Array.isArray(value.scopes) && value.scopes.every((s) => typeof s === "string")))
    return { ok: false, problem: "has scopes that are not a list of strings" };
  return { ok: true, credential: value as OAuthCredential };
}

/** Parse JSON text holding a credential object (as stored in Vault's claude_ai_oauth_json). */
export function parseCredentialJson(text: unknown): CredentialCheck {
  if (typeof text !== "string") return { ok: false, problem: "is not a string of JSON" };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // The parser's message can quote the text, which is secret: say only that it is not JSON.
    return { ok: false, problem: "is not valid JSON" };
  }
  return checkCredential(value);
}

/** JSON with object keys sorted, so two credentials compare equal whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    isObject(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]])) : v,
  );
}
