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
