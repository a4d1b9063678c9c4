/** `token set`: validate a token handed over on stdin and write the well-known file. */
import { UsageError } from "../errors.ts";
import { MAX_SECRET_BYTES, writeSecretFile } from "../fs/secure.ts";

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
