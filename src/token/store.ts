/** `token set`: validate a token handed over on stdin and write the well-known file. */
import { UsageError } from "../errors.ts";
import { MAX_SECRET_BYTES, writeSecretFile } from "../fs/secure.ts";

/**
 * Why `token` (already trimmed) cannot be a token, or undefined when it can: one line of printable
 * ASCII without spaces, since it goes into HTTP headers (a CR/LF would inject a header). Never
 * quotes the value.
 */
export function tokenValueProblem(token: string): string | undefined {
  if (/[\r\n]/.test(token)) return "contains a line break (CR or LF)";
  if (token.includes("\0")) return "contains a NUL byte";
  if (/[\x00-\x1f\x7f]/.test(token)) return "contains a control character";
  if (/\s/.test(token)) return "contains a space";
  if (!/^[\x21-\x7e]*$/.test(token)) return "contains a character outside printable ASCII";
  return undefined;
}

/** Check a token read from stdin: non-empty after trimming, one line, printable, not oversized. */
export function validateTokenInput(input: string): string {
  if (Buffer.byteLength(input) > MAX_SECRET_BYTES) throw new UsageError(`The token on stdin is over ${MAX_SECRET_BYTES} bytes`);
  const token = input.trim();
  if (token === "") throw new UsageError("No token on stdin: pipe one in, e.g. `printf %s \"$TOKEN\" | tokenctl token set`");
  // Printable ASCII only: a header value must not carry control characters or line breaks.
  if (!/^[\x21-\x7e]+$/.test(token)) throw new UsageError("The token on stdin must be a single line of printable ASCII without spaces");
  return token;
}

/** Write `token` to `file` atomically with mode 0600. */
export function storeToken(file: string, token: string, write: (path: string, data: string) => void = writeSecretFile): void {
  write(file, token);
}
