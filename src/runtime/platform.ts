/**
 * Which JavaScript runtime and which OS this process runs on, detected by feature (the globals
 * each runtime defines), not by parsing version strings: std-env's advice. Every other module in
 * src/runtime/ takes a `Platform` so its branches can be unit-tested over an injected one (no Mac
 * runs the tests; each macOS branch is tested that way).
 */

export type RuntimeName = "bun" | "deno" | "node";

export interface Platform {
  runtime: RuntimeName;
  /** process.platform: "linux", "darwin", "freebsd", … */
  os: NodeJS.Platform;
}

/** The runtime executing this code. Deno also defines `process` (node compat), so test it first. */
export function detectRuntime(g: object = globalThis): RuntimeName {
  if ("Bun" in g && (g as { Bun?: unknown }).Bun !== undefined) return "bun";
  if ("Deno" in g && (g as { Deno?: unknown }).Deno !== undefined) return "deno";
  return "node";
}

let current: Platform | undefined;

/** This process's platform (computed once). */
export function platform(): Platform {
  current ??= { runtime: detectRuntime(), os: process.platform };
  return current;
}

/**
 * The command that runs this program again: in a `bun build --compile` binary process.execPath
 * is the binary itself and argv[1] a `/$bunfs/root/...` path that must not be passed; under bun
 * or node running a script, the script comes after the runtime. Under Deno, undefined: a child
 * would need permission flags we cannot read back, so the refresh stays in the caller.
 */
export function selfCommand(execPath = process.execPath, argv = process.argv, runtime = platform().runtime): string[] | undefined {
  if (runtime === "deno") return undefined;
  const script = argv[1];
  const compiled = !script || script.startsWith("/$bunfs/") || /^[A-Za-z]:[\\/]~BUN[\\/]/.test(script);
  return compiled ? [execPath] : [execPath, script];
}

/** A human name for messages: "Node 20.20.2 on linux". */
export function describePlatform(p: Platform = platform()): string {
  const versions = process.versions as Record<string, string | undefined>;
  const name = p.runtime === "bun" ? "Bun" : p.runtime === "deno" ? "Deno" : "Node";
  const version = versions[p.runtime] ?? "";
  return `${name}${version ? ` ${version}` : ""} on ${p.os}`;
}

/**
 * A Node built-in loaded on demand without a static import the bundler would hoist
 * (`process.getBuiltinModule`, Node ≥ 20.16, Bun and Deno 2). Bun also answers for its own
 * `bun:*` modules, which is how bun:ffi stays out of a bundle built for Node.
 */
export function builtin<T>(id: string): T | undefined {
  const get = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  return get ? (get.call(process, id) as T | undefined) : undefined;
}
