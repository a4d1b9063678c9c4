/**
 * tokenctl's entry point: the root command, its lazily loaded subcommands, and the one top-level
 * catch that turns errors into messages and exit codes. citty's own runMain prints unknown errors
 * with their stack and always exits 1, so we run commands ourselves. src/bin.ts runs it; nothing
 * here runs on import, so the library and tests can import run().
 */
import { type ArgsDef, type CommandDef, runCommand } from "citty";
import { ExitCode, ExitStatus, TokenctlError } from "./errors.ts";
import { root as main } from "./cli/root.ts";

type AnyCommand = CommandDef<ArgsDef>;

/** Commands scripts call in loops, run without citty's parser (src/cli/direct.ts). */
const DIRECT: Record<string, () => Promise<AnyCommand>> = {
  "token get": async () => (await import("./cli/token.ts")).get as AnyCommand,
  "token headers": async () => (await import("./cli/token.ts")).headers as AnyCommand,
  "oauth token": async () => (await import("./cli/oauth.ts")).token as AnyCommand,
};

async function resolve<T>(v: T | Promise<T> | (() => T | Promise<T>)): Promise<T> {
  return typeof v === "function" ? await (v as () => T | Promise<T>)() : await v;
}

interface Chain {
  chain: AnyCommand[];
  /** Subcommand names followed, e.g. ["token", "get"]. */
  path: string[];
  /** The words after the last command name. */
  rest: string[];
  /** A word in a subcommand's place that names none. */
  unknown?: string;
}

/** Follow subcommand names through `args` (flags skipped, nothing after `--`). */
async function resolveChain(root: AnyCommand, args: string[]): Promise<Chain> {
  const chain = [root];
  const path: string[] = [];
  let rest = args;
  for (;;) {
    const cmd = chain[chain.length - 1]!;
    const subs = await resolve(cmd.subCommands);
    const at = rest.findIndex((a) => a === "--" || !a.startsWith("-"));
    const name = at === -1 || rest[at] === "--" ? undefined : rest[at]!;
    if (!subs || name === undefined) return { chain, path, rest };
    if (!(name in subs)) return { chain, path, rest, unknown: name };
    chain.push(await resolve(subs[name]!));
    path.push(name);
    rest = rest.slice(at + 1);
  }
}

/** Strip ANSI colours unless writing to a terminal. */
function plain(text: string, tty: boolean | undefined): string {
  return tty && !process.env.NO_COLOR ? text : text.replace(/\x1b\[[0-9;]*m/g, "");
}

/** The flags part of argv (before `--`): what --verbose, --json and --help are looked for in. */
function flagsOf(argv: string[]): string[] {
  const end = argv.indexOf("--");
  return end === -1 ? argv : argv.slice(0, end);
}

/** The command as data, for help and the argument checks (loaded only off the hot path). */
async function describe(cmd: AnyCommand, path: string[]) {
  const { node } = await import("./cli/tree.ts");
  return node(cmd, path);
}

/** Run the CLI; returns the exit code instead of exiting so it can be tested. */
export async function run(argv: string[]): Promise<number> {
  const flags = flagsOf(argv);
  try {
    // The detached refresher a caller starts (src/oauth/detached.ts): not a user command.
    if (argv.length === 2 && argv[0] === "oauth" && argv[1] === "refresh-helper") return await (await import("./cli/refresh-helper.ts")).runRefreshHelper();
    const direct = DIRECT[`${argv[0]} ${argv[1]}`];
    if (direct && !flags.includes("--help") && !flags.includes("-h")) {
      const { runDirect } = await import("./cli/direct.ts");
      if (await runDirect(await direct(), argv.slice(2))) return ExitCode.ok;
    }
    // `tokenctl help token get` is `tokenctl token get --help`.
    if (argv[0] === "help") return await run([...flags.slice(1).filter((a) => !a.startsWith("-")), "--help"]);
    const { chain, path, rest, unknown } = await resolveChain(main, argv);
    const cmd = chain[chain.length - 1]!;
    if (unknown !== undefined) throw (await import("./cli/usage.ts")).unknownCommand(await describe(cmd, path), unknown);
    if (flags.includes("--help") || flags.includes("-h")) {
      const { renderHelp } = await import("./cli/help.ts");
      process.stdout.write(renderHelp(await describe(cmd, path)));
      return ExitCode.ok;
    }
    if (chain.length === 1 && (flags[0] === "--version" || flags[0] === "-v")) {
      process.stdout.write(`${(await import("./version.ts")).versionLine()}\n`);
      return ExitCode.ok;
    }
    if (!cmd.run) {
      // A group without its subcommand: its help, where a person will read it, and a usage error.
      const { renderHelp, helpWidth } = await import("./cli/help.ts");
      process.stderr.write(renderHelp(await describe(cmd, path), helpWidth(process.stderr)));
      return ExitCode.usage;
    }
    (await import("./cli/usage.ts")).checkArgs(await describe(cmd, path), rest);
    await runCommand(main, { rawArgs: argv });
    return ExitCode.ok;
  } catch (error) {
    return await report(error, argv);
  }
}

/** What a failure is, for both channels: exit code, kind, message and hint. */
function failure(error: unknown): { code: number; kind: string; message: string; hint?: string; result?: unknown } {
  if (error instanceof TokenctlError) return { code: error.exitCode, kind: error.kind, message: error.message, hint: error.hint, result: error.result };
  // citty's own argument errors (a bad enum value, a missing positional) are usage errors.
  if (error instanceof Error && error.name === "CLIError") return { code: ExitCode.usage, kind: "usage", message: plain(error.message, false), hint: "See the flags with --help" };
  return { code: ExitCode.unexpected, kind: "unexpected", message: `Unexpected error: ${error instanceof Error ? error.message : String(error)}` };
}

/**
 * The one place a failure is reported. stderr gets the message and its fix line; under --json,
 * stdout also gets one JSON object, `{"error":{"code","kind","message","hint"?},"result"?}`, so a
 * script reading stdout always gets one JSON value (docs/reference/README.md, "Output and failures").
 */
async function report(error: unknown, argv: string[]): Promise<number> {
  if (error instanceof ExitStatus) return error.code;
  const { log, printJson } = await import("./cli/output.ts");
  const flags = flagsOf(argv);
  const verbose = flags.includes("--verbose");
  const f = failure(error);
  if (flags.includes("--json") || flags.includes("--json=true"))
    printJson({ error: { code: f.code, kind: f.kind, message: f.message, ...(f.hint ? { hint: f.hint } : {}) }, ...(f.result !== undefined ? { result: f.result } : {}) });
  log().error(f.message);
  if (f.kind === "unexpected") {
    if (verbose && error instanceof Error && error.stack) log().info(error.stack);
    else log().info("Run again with --verbose for details, and report it if it persists");
    return f.code;
  }
  if (f.hint) log().info(`Fix: ${f.hint}`);
  if (verbose && error instanceof Error && error.cause)
    log().info("Caused by:", error.cause instanceof Error ? `${error.cause.name}: ${error.cause.message}` : String(error.cause));
  return f.code;
}
