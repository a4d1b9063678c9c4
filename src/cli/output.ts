/**
 * The two output channels. stdout carries only a command's result (print.ts); every message to a
 * person goes to stderr through consola. Import this module lazily on the fast paths (`token get`
 * imports print.ts instead): loading consola is a measurable part of their start-up.
 */
import { createConsola, type ConsolaInstance } from "consola/basic";

export { printJson, printResult } from "./print.ts";

let logger: ConsolaInstance | undefined;

/** The stderr logger, created on first use. */
export function log(): ConsolaInstance {
  logger ??= createConsola({
    stdout: process.stderr,
    stderr: process.stderr,
    level: process.env.TOKENCTL_LOG_LEVEL ? Number(process.env.TOKENCTL_LOG_LEVEL) : 3,
    formatOptions: { date: false, colors: Boolean(process.stderr.isTTY) && !process.env.NO_COLOR },
  });
  return logger;
}
