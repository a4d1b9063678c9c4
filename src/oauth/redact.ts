/**
 * Text an authorization server sends back (error, error_description, a redirect's error text) is
 * untrusted: a server may echo the request, refresh token and all, and anyone may put terminal
 * escapes in it. Every such text passes through here before it reaches a message, a log line,
 * `status` or `doctor`: each secret we hold is cut out (as sent, and percent- or form-encoded, as an
 * echo of the request body carries it), control and bidi characters go, and the length is capped.
 */

/** The longest server text we show. */
export const MAX_SERVER_TEXT = 200;

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** The forms a secret can take in an echo: raw, percent-encoded, form-encoded. */
function forms(secret: string): string[] {
  const out = new Set([secret, encodeURIComponent(secret), new URLSearchParams({ s: secret }).toString().slice(2)]);
  return [...out].filter((f) => f.length > 0).sort((a, b) => b.length - a.length);
}

/** `text` with every secret removed, control characters replaced, at most `max` characters. */
export function redactServerText(text: string, secrets: readonly (string | undefined)[], max = MAX_SERVER_TEXT): string {
  let out = text;
  for (const secret of secrets) {
    // A secret of a few characters would blank ordinary words; ours are long random strings.
    if (!secret || secret.length < 8) continue;
    for (const f of forms(secret)) out = out.split(f).join("[redacted]");
  }
  out = out.replace(CONTROL, " ").replace(/\s+/g, " ").trim();
  return out.length > max ? `${out.slice(0, max - 1)}…` : out;
}

/**
 * An OAuth error code as the server sent it, shown only when it has RFC 6749's shape (printable
 * ASCII without `"` or `\`, here kept to the word characters real codes use); else a placeholder.
 */
export function safeErrorCode(code: unknown): string {
  return typeof code === "string" && /^[A-Za-z0-9_.:-]{1,64}$/.test(code) ? code : "invalid_error_code";
}
