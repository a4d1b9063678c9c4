/** `tokenctl daemon`: run the per-user daemon in the foreground until SIGINT/SIGTERM. */
import { defineCommand } from "citty";
import { UsageError } from "../errors.ts";
import { parseDuration } from "../duration.ts";
import type { DaemonExtension } from "../daemon/extension.ts";
import { DEFAULT_AUTH_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_FRAME } from "../daemon/protocol.ts";
import { commonArgs, daemonClientArgs, ENV, helpMeta } from "./_shared.ts";
import { log, printJson } from "./output.ts";

function parseCount(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1) throw new UsageError(`${flag} expects a positive whole number, got "${value}"`);
  return Number(value);
}

/**
 * The extensions the daemon runs with, in the order their authenticate() is tried. The daemon
 * knows no feature: the command assembles them here, loaded lazily so other commands never pay.
 */
async function loadExtensions(reapIntervalMs: number | undefined): Promise<DaemonExtension[]> {
  const [{ createSessionExtension }, { oauthExtension }] = await Promise.all([import("../session/extension.ts"), import("../oauth/extension.ts")]);
  return [createSessionExtension({ reapIntervalMs }), oauthExtension()];
}

export default defineCommand({
  meta: helpMeta({
    name: "daemon",
    description: "Run the per-user daemon in the foreground (stop with Ctrl-C or SIGTERM)",
    env: [ENV.socket, ENV.daemonToken, ENV.runtime, `${ENV.state.split(" — ")[0]} — base of sessions.json, where sessions persist across restarts`, ENV.config],
    examples: ["tokenctl daemon", "tokenctl daemon --json --socket /run/user/1000/agents.sock --auth-timeout 2s"],
  }),
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
    const authTimeoutMs = args["auth-timeout"] === undefined ? undefined : parseDuration(args["auth-timeout"], "--auth-timeout");
    const reapIntervalMs = args["reap-interval"] === undefined ? undefined : parseDuration(args["reap-interval"], "--reap-interval");
    const { unixServerSupported } = await import("../runtime/unix-server.ts");
    if (!unixServerSupported())
      throw new UsageError("The daemon runs only in the tokenctl binary (it is built on Bun); this runtime can be a client only", {
        hint: "Run the daemon with the tokenctl binary: tokenctl daemon",
      });
    const { resolveDaemonPaths } = await import("../daemon/paths.ts");
    const { startDaemon } = await import("../daemon/server.ts");
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
        extensions: await loadExtensions(reapIntervalMs),
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
