/**
 * Where tokenctl keeps its files, following the XDG base directory spec
 * (https://specifications.freedesktop.org/basedir-spec/latest/). Every function takes the
 * environment so tests and callers can pass their own.
 */
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { runtimeDirProblem } from "./trust.ts";

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

/** Judges $XDG_RUNTIME_DIR: why it cannot be used, or undefined when it can (see src/fs/trust.ts). */
export type RuntimeDirJudge = (dir: string) => string | undefined;

/**
 * $XDG_RUNTIME_DIR/tokenctl when the runtime dir is set and trustworthy (ours, mode 0700, as the
 * XDG spec requires), else undefined: callers fall back to the state dir.
 */
export function runtimeDir(env: Env = process.env, judge: RuntimeDirJudge = runtimeDirProblem): string | undefined {
  const base = env.XDG_RUNTIME_DIR;
  if (!base || !base.startsWith("/")) return undefined;
  return judge(base) === undefined ? join(base, "tokenctl") : undefined;
}

/** Why a set $XDG_RUNTIME_DIR is not used (undefined when it is unset or fine): for a warning. */
export function runtimeDirRefusal(env: Env = process.env, judge: RuntimeDirJudge = runtimeDirProblem): string | undefined {
  const base = env.XDG_RUNTIME_DIR;
  if (!base) return undefined;
  if (!base.startsWith("/")) return `XDG_RUNTIME_DIR=${base} is not an absolute path`;
  return judge(base);
}

/** The OS temp dir, for callers that need a fallback when no runtime dir exists. */
export function tempDir(): string {
  return tmpdir();
}
