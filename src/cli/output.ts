/**
 * The two output channels. stdout carries only a command's result (so `$(tokenctl …)` captures
 * exactly the value); every message to a person goes to stderr through consola.
 */
import type { ConsolaInstance } from "consola";

let logger: ConsolaInstance | undefined;

/** The stderr logger. Created on first use so the fast paths (token get) never pay for it. */
export function log(): ConsolaInstance {
  // require, not import: a static import would load consola on every call of every command.
  const { createConsola } = require("consola/basic") as typeof import("consola/basic");
  logger ??= createConsola({
    stdout: process.stderr,
    stderr: process.stderr,
    level: process.env.TOKENCTL_LOG_LEVEL ? Number(process.env.TOKENCTL_LOG_LEVEL) : 3,
    formatOptions: { date: false, colors: Boolean(process.stderr.isTTY) && !process.env.NO_COLOR },
  });
  return logger;
}

/** Print a command's result line to stdout. */
export function printResult(text: string): void {
  process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
}

/** Print a command's result as one line of JSON to stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}
