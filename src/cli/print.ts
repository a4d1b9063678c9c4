/**
 * stdout carries only a command's result, so `$(tokenctl …)` captures exactly the value. Apart
 * from output.ts (the stderr logger) so the fast paths (`token get`) never load consola.
 */

/** Print a command's result line to stdout. */
export function printResult(text: string): void {
  process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
}

/** Print a command's result as one line of JSON to stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}
