/** Flags used by several commands, declared once. */
import type { ArgsDef } from "citty";

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
