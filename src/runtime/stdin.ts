/**
 * Read all of stdin as UTF-8 text, through node:process's stream (Bun, Node and Deno all provide
 * it), for `--data -` and `token set`: secrets come on stdin, never in argv.
 */

/** All of `input` (default: this process's stdin) as text. */
export async function readStdinText(input: AsyncIterable<Uint8Array | string> = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  return Buffer.concat(chunks).toString("utf8");
}
