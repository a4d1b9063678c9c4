#!/usr/bin/env bun
/**
 * tokenctl's entry point: the root command, its lazily loaded subcommands, and the one top-level
 * catch that turns errors into messages and exit codes. citty's own runMain prints unknown errors
 * with their stack and always exits 1, so we run commands ourselves.
 */
import { type ArgDef, type ArgsDef, type CommandDef, defineCommand, renderUsage, runCommand } from "citty";
import pkg from "../package.json" with { type: "json" };
import { ExitCode, ExitStatus, TokenctlError, UsageError } from "./errors.ts";
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

/** Follow subcommand names through `args` (flags skipped); returns the command chain. */
async function resolveChain(root: AnyCommand, args: string[]): Promise<{ chain: AnyCommand[]; rest: string[] }> {
  const chain = [root];
  let rest = args;
  for (;;) {
    const cmd = chain[chain.length - 1]!;
    const subs = await resolve(cmd.subCommands);
    const name = rest.find((a) => !a.startsWith("-"));
    if (!subs || !name || !(name in subs) || rest.indexOf("--") !== -1 && rest.indexOf("--") < rest.indexOf(name)) return { chain, rest };
    chain.push(await resolve(subs[name]!));
    rest = rest.slice(rest.indexOf(name) + 1);
  }
}

function aliases(def: ArgDef): string[] {
  return "alias" in def && def.alias ? [def.alias].flat() : [];
}

/** Reject flags the command does not declare: citty ignores them, which hides typos like --jsno. */
async function checkFlags(cmd: AnyCommand, args: string[]): Promise<void> {
  const defs = (await resolve(cmd.args)) ?? {};
  const known = new Set<string>();
  for (const [name, def] of Object.entries(defs)) {
    if (def.type === "positional") continue;
    const kebab = name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    for (const n of [name, kebab, ...aliases(def)]) {
      known.add(n);
      if (def.type === "boolean") known.add(`no-${n}`);
    }
  }
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") return;
    if (!a.startsWith("-") || a === "-") continue;
    const name = a.replace(/^--?/, "").split("=")[0]!;
    if (!known.has(name)) throw new UsageError(`Unknown flag ${a.split("=")[0]}`, { hint: "See the flags with --help" });
    const def = defs[name] ?? Object.values(defs).find((d) => aliases(d).includes(name));
    if (def && def.type !== "boolean" && !a.includes("=")) i++;
  }
}

/** Strip ANSI colours unless writing to a terminal. */
function plain(text: string, tty: boolean | undefined): string {
  return tty && !process.env.NO_COLOR ? text : text.replace(/\x1b\[[0-9;]*m/g, "");
}

function isVerbose(args: string[]): boolean {
  const end = args.indexOf("--");
  return (end === -1 ? args : args.slice(0, end)).includes("--verbose");
}

/** Run the CLI; returns the exit code instead of exiting so it can be tested. */
export async function run(argv: string[]): Promise<number> {
  const end = argv.indexOf("--");
  const flags = end === -1 ? argv : argv.slice(0, end);
  try {
    const direct = DIRECT[`${argv[0]} ${argv[1]}`];
    if (direct && !flags.includes("--help") && !flags.includes("-h")) {
      const { runDirect } = await import("./cli/direct.ts");
      if (await runDirect(await direct(), argv.slice(2))) return ExitCode.ok;
    }
    const { chain, rest } = await resolveChain(main, argv);
    const cmd = chain[chain.length - 1]!;
    // Name the command by its whole path ("tokenctl token get"), which citty's usage does not.
    const names = await Promise.all(chain.slice(0, -1).map(async (c) => (await resolve(c.meta))?.name ?? ""));
    const parent = chain.length > 1 ? defineCommand({ meta: { name: names.join(" ") } }) : undefined;
    if (flags.includes("--help") || flags.includes("-h")) {
      // citty's usage (description, flags, defaults) plus our ENVIRONMENT and EXAMPLES sections.
      const { renderHelpExtras } = await import("./cli/_shared.ts");
      const usage = `${(await renderUsage(cmd, parent)).trimEnd()}\n\n${renderHelpExtras(await resolve(cmd.meta))}`;
      process.stdout.write(plain(usage, process.stdout.isTTY));
      return ExitCode.ok;
    }
    if (chain.length === 1 && (flags[0] === "--version" || flags[0] === "-v")) {
      process.stdout.write(`${(await import("./version.ts")).versionLine()}\n`);
      return ExitCode.ok;
    }
    if (chain.length === 1 && argv.length === 0) {
      process.stderr.write(`${plain(await renderUsage(main), process.stderr.isTTY)}\n`);
      return ExitCode.usage;
    }
    await checkFlags(cmd, rest);
    await runCommand(main, { rawArgs: argv });
    return ExitCode.ok;
  } catch (error) {
    return await report(error, argv);
  }
}

async function report(error: unknown, argv: string[]): Promise<number> {
  if (error instanceof ExitStatus) return error.code;
  const { log } = await import("./cli/output.ts");
  const verbose = isVerbose(argv);
  if (error instanceof TokenctlError) {
    log().error(error.message);
    if (error.hint) log().info(`Fix: ${error.hint}`);
    if (verbose && error.cause) log().info("Caused by:", error.cause instanceof Error ? `${error.cause.name}: ${error.cause.message}` : String(error.cause));
    return error.exitCode;
  }
  // citty's own argument errors (missing positional, bad enum, unknown command) are usage errors.
  if (error instanceof Error && error.name === "CLIError") {
    log().error(plain(error.message, false));
    log().info("See the flags with --help");
    return ExitCode.usage;
  }
  log().error(`Unexpected error: ${error instanceof Error ? error.message : String(error)}`);
  if (verbose && error instanceof Error && error.stack) log().info(error.stack);
  else log().info("Run again with --verbose for details, and report it if it persists");
  return ExitCode.unexpected;
}

if (import.meta.main) {
  const code = await run(process.argv.slice(2));
  process.exit(code);
}
