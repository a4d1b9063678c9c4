/** `tokenctl session mint|exec|whoami|list|revoke`: thin wrappers over src/session. */
import { defineCommand, type ArgsDef } from "citty";
import { ExitStatus, NotFoundError, UsageError } from "../errors.ts";
import type { SessionRecord } from "../session/protocol.ts";
import { commonArgs, daemonClientArgs, ENV, helpMeta, verboseArgs } from "./_shared.ts";
import { log, printJson, printResult } from "./output.ts";

const identityArgs = {
  name: { type: "string", valueHint: "N", description: "A label for the session, shown by list and whoami (default: none)" },
  scope: { type: "string", valueHint: "S", description: "The session's scope (default: the caller's session's scope, else \"default\")" },
  dir: { type: "string", valueHint: "path", description: "Parent of the fresh 0700 session directory (default $XDG_RUNTIME_DIR/tokenctl, else the OS temp dir)" },
} as const satisfies ArgsDef;

/** Flags validated before any side effect (STYLE habit 5). */
async function checkIdentity(args: { scope?: string; name?: string }): Promise<void> {
  const { checkScope } = await import("../session/registry.ts");
  if (args.scope !== undefined) checkScope(args.scope);
  if (args.name !== undefined && (args.name.length > 256 || /[\x00-\x1f\x7f]/.test(args.name)))
    throw new UsageError("--name expects at most 256 printable characters");
}

async function where(args: { socket?: string; "token-file"?: string }) {
  const { resolveDaemonPaths } = await import("../daemon/paths.ts");
  return resolveDaemonPaths({ socket: args.socket, tokenFile: args["token-file"] });
}

type ClientArgs = { socket?: string; "token-file"?: string; verbose?: boolean };
type CallerClient = Awaited<ReturnType<typeof import("../session/client.ts").connectAsCaller>>;

/** Connect as the caller (its session token, else the daemon token), run `use`, always close. */
async function asCaller<T>(args: ClientArgs, use: (client: CallerClient, lib: typeof import("../session/client.ts")) => Promise<T>): Promise<T> {
  const lib = await import("../session/client.ts");
  const client = await lib.connectAsCaller(await where(args), { note: args.verbose ? (m) => log().info(m) : undefined });
  try {
    return await use(client, lib);
  } finally {
    client.close();
  }
}

/** What every session command that talks to the daemon reads from the environment. */
const SESSION_ENV = [ENV.sessionFile, ENV.sessionToken, ENV.socket, ENV.daemonToken, ENV.runtime];

/** One tab-separated line per session: id, scope, pid, name, cwd, createdAt. */
function line(s: SessionRecord): string {
  return [s.id, s.scope, s.pid, s.name, s.cwd, s.createdAt].join("\t");
}

const mint = defineCommand({
  meta: helpMeta({
    name: "mint",
    description: "Mint a session token file and register it; prints `export TOKENCTL_SESSION_TOKEN_FILE=…`, never the token",
    env: SESSION_ENV,
    examples: ['eval "$(tokenctl session mint --name build)"', "tokenctl session mint --json --pid $$ --scope ci"],
  }),
  args: {
    ...identityArgs,
    pid: { type: "string", valueHint: "P", description: "The process the session belongs to; the reaper ends it when P exits (default: the caller's parent)" },
    ...daemonClientArgs,
    ...commonArgs,
  },
  async run({ args }) {
    await checkIdentity(args);
    let pid = process.ppid;
    if (args.pid !== undefined) {
      if (!/^[1-9]\d{0,9}$/.test(args.pid) || Number(args.pid) > 2 ** 31 - 1) throw new UsageError(`--pid expects a process id, got "${args.pid}"`);
      pid = Number(args.pid);
    }
    // Inside a session, the new one is its child: in its scope, counted against its limit.
    await asCaller(args, async (client, { mintAndRegister, shellQuote }) => {
      const { session, tokenFile } = await mintAndRegister(client, { name: args.name, scope: args.scope, pid, cwd: process.cwd(), dir: args.dir });
      if (args.json) printJson({ id: session.id, tokenFile, name: session.name, scope: session.scope });
      else printResult(`export TOKENCTL_SESSION_TOKEN_FILE=${shellQuote(tokenFile)}`);
    });
  },
});

const exec = defineCommand({
  meta: helpMeta({
    name: "exec",
    description: "Run CMD as its own session: TOKENCTL_SESSION_TOKEN_FILE set, signals forwarded, revoked and removed on exit",
    env: SESSION_ENV,
    operands: "-- CMD [ARGS…]",
    examples: ["tokenctl session exec --name job -- ./agent --serve", "tokenctl session exec --scope ci --require-daemon -- make test"],
  }),
  args: {
    ...identityArgs,
    "require-daemon": { type: "boolean", description: "Fail (exit 5) when no daemon runs, instead of running CMD with an unregistered token" },
    ...daemonClientArgs,
    ...verboseArgs,
  },
  async run({ args, rawArgs }) {
    const end = rawArgs.indexOf("--");
    const command = end === -1 ? [] : rawArgs.slice(end + 1);
    if (command.length === 0) throw new UsageError("Expected a command after --, found none", { hint: "tokenctl session exec --name job -- CMD [ARGS…]" });
    await checkIdentity(args);
    const { connectAdmin } = await import("../session/client.ts");
    const { execSession } = await import("../session/exec.ts");
    const location = await where(args);
    const result = await execSession({
      command,
      name: args.name,
      scope: args.scope,
      dir: args.dir,
      requireDaemon: args["require-daemon"],
      connect: () => connectAdmin(location),
      warn: (m) => log().warn(m),
      onStart: args.verbose ? (i) => log().info(`Session ${i.session?.id ?? "(unregistered)"}: pid ${i.pid}, token file ${i.tokenFile}`) : undefined,
    });
    if (result.code !== 0) throw new ExitStatus(result.code);
  },
});

const whoami = defineCommand({
  meta: helpMeta({
    name: "whoami",
    description: "Show this process's session as the daemon knows it (exit 3: no session token, 4: unknown to the daemon)",
    env: [ENV.sessionFile, ENV.sessionToken, ENV.socket, ENV.runtime],
    examples: ["tokenctl session whoami", "tokenctl session whoami --json | jq -r .scope"],
  }),
  args: { socket: daemonClientArgs.socket, ...commonArgs },
  async run({ args }) {
    const { readSessionToken } = await import("../session/token.ts");
    const read = readSessionToken();
    if (!read.ok)
      throw new NotFoundError("This process has no usable session token", {
        cause: new Error(read.reason),
        hint: "Run it as a session: tokenctl session exec -- CMD (or: eval \"$(tokenctl session mint)\")",
      });
    const { connectSession } = await import("../session/client.ts");
    const client = await connectSession(await where(args), read.token);
    try {
      const me = client.identity;
      if (!me) throw new NotFoundError("The daemon accepted the session token but sent no session record");
      if (args.json) printJson(me);
      else printResult(line(me));
    } finally {
      client.close();
    }
  },
});

const list = defineCommand({
  meta: helpMeta({
    name: "list",
    description: "List sessions: your session's scope by default, every scope with the daemon token; one tab-separated line each",
    env: SESSION_ENV,
    examples: ["tokenctl session list", "tokenctl session list --scope ci --json"],
  }),
  args: { scope: identityArgs.scope, ...daemonClientArgs, ...commonArgs },
  async run({ args }) {
    if (args.scope !== undefined) await checkIdentity(args);
    const result = await asCaller(args, (client) => client.list(args.scope));
    if (args.json) printJson(result);
    else if (result.sessions.length === 0) log().info(result.scope === null ? "No sessions" : `No sessions in scope ${result.scope}`);
    else printResult(result.sessions.map(line).join("\n"));
  },
});

const revoke = defineCommand({
  meta: helpMeta({
    name: "revoke",
    description: "End a session by id (exit 3 when the daemon knows no such session)",
    env: SESSION_ENV,
    examples: ["tokenctl session revoke 3f9c2a1b7d4e5f60", "tokenctl session list | cut -f1 | xargs -n1 tokenctl session revoke"],
  }),
  args: { id: { type: "positional", description: "Session id, as shown by list", required: true }, ...daemonClientArgs, ...commonArgs },
  async run({ args }) {
    const session = await asCaller(args, (client) => client.revoke(args.id));
    if (args.json) printJson(session);
    else printResult(session.id);
  },
});

export default defineCommand({
  meta: helpMeta({
    name: "session",
    description: "Per-process session tokens: mint, exec, whoami, list, revoke",
    env: SESSION_ENV,
    examples: ["tokenctl session exec --name job -- ./agent", "tokenctl session list"],
  }),
  subCommands: { mint, exec, whoami, list, revoke },
});
