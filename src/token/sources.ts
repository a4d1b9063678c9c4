/**
 * Where a spawned process finds its session token: which env var, which fd variable, which file.
 * Pure: flags and environment in, names and paths out.
 */
import { join } from "node:path";
import { UsageError } from "../errors.ts";
import { type Env, expandHome, stateDir } from "../fs/paths.ts";

export interface TokenSources {
  /** Env var holding the token itself. */
  envName: string;
  /** Env var holding the number of an inherited fd to read the token from. */
  fdEnvName: string;
  /** The well-known file: read last, and where an fd-read token is persisted. */
  file: string;
  /** Env var holding the organization UUID sent with session-key headers. */
  orgEnvName: string;
  /**
   * Where each location came from, for messages: "--file", "TOKENCTL_TOKEN_FILE",
   * "preset claude-code", "default".
   */
  from?: { env: string; fd: string; file: string };
}

export interface SourceFlags {
  preset?: string;
  env?: string;
  fdEnv?: string;
  file?: string;
}

export const PRESETS = ["claude-code"] as const;
export type Preset = (typeof PRESETS)[number];

/** Resolve flags (which win), then the preset or our defaults, into concrete sources. */
export function resolveSources(flags: SourceFlags, env: Env = process.env): TokenSources {
  let base: TokenSources;
  let fileFrom: string;
  let presetFrom = "default";
  if (flags.preset === undefined || flags.preset === "") {
    fileFrom = env.TOKENCTL_TOKEN_FILE ? "TOKENCTL_TOKEN_FILE" : "default";
    base = {
      envName: "TOKENCTL_TOKEN",
      fdEnvName: "TOKENCTL_TOKEN_FD",
      file: env.TOKENCTL_TOKEN_FILE || join(stateDir(env), "token"),
      orgEnvName: "TOKENCTL_ORGANIZATION_UUID",
    };
  } else if (flags.preset === "claude-code") {
    presetFrom = "preset claude-code";
    fileFrom = env.CLAUDE_SESSION_INGRESS_TOKEN_FILE ? "CLAUDE_SESSION_INGRESS_TOKEN_FILE" : presetFrom;
    base = {
      envName: "CLAUDE_CODE_SESSION_ACCESS_TOKEN",
      fdEnvName: "CLAUDE_CODE_WEBSOCKET_AUTH_FILE_DESCRIPTOR",
      file: env.CLAUDE_SESSION_INGRESS_TOKEN_FILE || "/home/claude/.claude/remote/.session_ingress_token",
      orgEnvName: "CLAUDE_CODE_ORGANIZATION_UUID",
    };
  } else {
    throw new UsageError(`Unknown preset "${flags.preset}"; known presets: ${PRESETS.join(", ")}`);
  }
  for (const [flag, value] of [["--env", flags.env], ["--fd-env", flags.fdEnv]] as const) {
    if (value !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(value))
      throw new UsageError(`${flag} takes an environment variable name (letters, digits, _), got "${value}"`);
  }
  if (flags.file === "") throw new UsageError("--file needs a path");
  return {
    envName: flags.env ?? base.envName,
    fdEnvName: flags.fdEnv ?? base.fdEnvName,
    file: flags.file ? expandHome(flags.file, env) : base.file,
    orgEnvName: base.orgEnvName,
    from: {
      env: flags.env !== undefined ? "--env" : presetFrom,
      fd: flags.fdEnv !== undefined ? "--fd-env" : presetFrom,
      file: flags.file ? "--file" : fileFrom,
    },
  };
}
