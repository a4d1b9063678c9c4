/** Flags used by several commands, declared once. */
import type { ArgsDef, CommandMeta } from "citty";

export const jsonArgs = {
  json: { type: "boolean", description: "Print the result as JSON on stdout" },
} as const satisfies ArgsDef;

export const verboseArgs = {
  verbose: { type: "boolean", description: "Explain failures in full on stderr (never shows secrets)" },
} as const satisfies ArgsDef;

export const commonArgs = { ...jsonArgs, ...verboseArgs } as const satisfies ArgsDef;

export const daemonClientArgs = {
  socket: { type: "string", valueHint: "path", description: "Daemon socket (env TOKENCTL_SOCKET; default $XDG_RUNTIME_DIR/tokenctl/tokenctl.sock)" },
  "token-file": {
    type: "string",
    valueHint: "path",
    description: "Daemon token file (env TOKENCTL_DAEMON_TOKEN_FILE; default daemon.token beside the socket)",
  },
} as const satisfies ArgsDef;

/**
 * What `--help` shows beyond the flags: the environment variables a command reads
 * (`NAME — meaning`), one to three example command lines, and the parts of the command line that
 * are not flags. test/cli/help.test.ts walks the command tree and fails for a command without them.
 */
export interface HelpMeta extends CommandMeta {
  env?: readonly string[];
  examples?: readonly string[];
  /** What follows the flags and positionals, e.g. "-- CMD [ARGS…]": shown in usage, completed as a command. */
  operands?: string;
  /** Its line under ARGUMENTS (default: the command to run, after --). */
  operandsDescription?: string;
  /** The values a positional takes, by its key: shown in usage, checked, and completed. */
  choices?: Readonly<Record<string, readonly string[]>>;
}

/** Command meta with help extras; typed so a typo in `env` or `examples` is a compile error. */
export function helpMeta<const M extends HelpMeta>(meta: M): M {
  return meta;
}

/** Environment entries several commands read, worded once. */
export const ENV = {
  socket: "TOKENCTL_SOCKET — daemon socket path (as --socket)",
  daemonToken: "TOKENCTL_DAEMON_TOKEN_FILE — daemon token file (as --token-file)",
  runtime: "XDG_RUNTIME_DIR — base of the default socket dir, $XDG_RUNTIME_DIR/tokenctl (unset: $XDG_STATE_HOME/tokenctl/run)",
  state: "XDG_STATE_HOME — base of the state dir (default ~/.local/state)",
  config: "XDG_CONFIG_HOME — base of the config dir, config.json and credentials.json (default ~/.config)",
  sessionFile: "TOKENCTL_SESSION_TOKEN_FILE — this process's session token file (set by session exec / mint)",
  sessionToken: "TOKENCTL_SESSION_TOKEN — this process's session token itself, when there is no file",
  noColor: "NO_COLOR — no colours on stderr",
  logLevel: "TOKENCTL_LOG_LEVEL — stderr verbosity, a consola level (default 3; 0 errors only)",
} as const;
