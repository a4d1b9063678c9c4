/** `tokenctl daemon`: run the per-user daemon in the foreground until SIGINT/SIGTERM. */
import { defineCommand } from "citty";
import { UsageError } from "../errors.ts";
import { DEFAULT_AUTH_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_FRAME } from "../daemon/protocol.ts";
import { commonArgs, daemonClientArgs } from "./_shared.ts";
import { log, printJson } from "./output.ts";

/** "5s", "200ms", "0.5" (seconds) → milliseconds. */
export function parseDuration(flag: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(value.trim());
  const ms = m ? Number(m[1]) * (m[2] === "ms" ? 1 : 1000) : NaN;
  if (!Number.isFinite(ms) || ms < 1) throw new UsageError(`${flag} expects a duration such as 5s or 250ms, got "${value}"`);
  return Math.round(ms);
}

function parseCount(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1) throw new UsageError(`${flag} expects a positive whole number, got "${value}"`);
  return Number(value);
}

export default defineCommand({
  meta: { name: "daemon", description: "Run the per-user daemon in the foreground (stop with Ctrl-C or SIGTERM)" },
  args: {
    ...daemonClientArgs,
    "max-frame": { type: "string", valueHint: "bytes", description: `Longest accepted line (default ${DEFAULT_MAX_FRAME})` },
    "auth-timeout": { type: "string", valueHint: "duration", description: `Time allowed to authenticate, e.g. 5s or 250ms (default ${DEFAULT_AUTH_TIMEOUT_MS / 1000}s)` },
    "max-connections": { type: "string", valueHint: "n", description: `Open connections allowed at once (default ${DEFAULT_MAX_CONNECTIONS})` },
    "reap-interval": { type: "string", valueHint: "duration", description: "Time between passes of the session reaper, which drops sessions whose process is gone (default 30s)" },
    ...commonArgs,
  },
  async run({ args }) {
    const maxFrame = parseCount("--max-frame", args["max-frame"]);
    const maxConnections = parseCount("--max-connections", args["max-connections"]);
    const authTimeoutMs = args["auth-timeout"] === undefined ? undefined : parseDuration("--auth-timeout", args["auth-timeout"]);
    const reapIntervalMs = args["reap-interval"] === undefined ? undefined : parseDuration("--reap-interval", args["reap-interval"]);
    const { resolveDaemonPaths } = await import("../daemon/paths.ts");
    const { startDaemon } = await import("../daemon/server.ts");
    const { loadExtensions } = await import("../daemon/extensions.ts");
    const paths = resolveDaemonPaths({ socket: args.socket, tokenFile: args["token-file"] });

    // Catch signals from the start so one arriving during start-up still cleans up.
    let signalled: (s: string) => void = () => {};
    const signal = new Promise<string>((r) => (signalled = r));
    const onSignal = (s: NodeJS.Signals) => signalled(s);
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    try {
      const daemon = await startDaemon({
        socketPath: paths.socketPath,
        tokenFile: paths.tokenFile,
        maxFrame,
        maxConnections,
        authTimeoutMs,
        extensions: await loadExtensions({ reapIntervalMs }),
        log: log(),
      });
      if (args.json) printJson({ socket: daemon.socketPath, tokenFile: daemon.tokenFile, pid: daemon.pid });
      const s = await signal;
      log().info(`Received ${s}, shutting down`);
      await daemon.stop();
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  },
});
