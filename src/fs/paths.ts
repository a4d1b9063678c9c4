/**
 * Where tokenctl keeps its files, following the XDG base directory spec
 * (https://specifications.freedesktop.org/basedir-spec/latest/). Every function takes the
 * environment so tests and callers can pass their own.
 */
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";

export type Env = Record<string, string | undefined>;

function home(env: Env): string {
  return env.HOME || homedir();
}

/** Expand a leading `~/` the way a shell would, then make the path absolute. */
export function expandHome(path: string, env: Env = process.env): string {
  if (path === "~") return home(env);
  if (path.startsWith("~/")) return join(home(env), path.slice(2));
  return resolve(path);
}

/** $XDG_STATE_HOME/tokenctl, else ~/.local/state/tokenctl. */
export function stateDir(env: Env = process.env): string {
  const base = env.XDG_STATE_HOME && env.XDG_STATE_HOME.startsWith("/") ? env.XDG_STATE_HOME : join(home(env), ".local", "state");
  return join(base, "tokenctl");
}

/** $XDG_CONFIG_HOME/tokenctl, else ~/.config/tokenctl. */
export function configDir(env: Env = process.env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith("/") ? env.XDG_CONFIG_HOME : join(home(env), ".config");
  return join(base, "tokenctl");
}

/** $XDG_RUNTIME_DIR/tokenctl when the runtime dir is set, else undefined. */
export function runtimeDir(env: Env = process.env): string | undefined {
  return env.XDG_RUNTIME_DIR && env.XDG_RUNTIME_DIR.startsWith("/") ? join(env.XDG_RUNTIME_DIR, "tokenctl") : undefined;
}

/** The OS temp dir, for callers that need a fallback when no runtime dir exists. */
export function tempDir(): string {
  return tmpdir();
}
