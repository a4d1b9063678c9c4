/**
 * The root command and its subcommands, each loaded only when named (STYLE habit 2) — except
 * `token`, which is static: scripts call `token get` in loops, and a lazy chunk costs ~3 ms of
 * a ~10 ms start (scripts/bench/token.ts). Commands that walk the tree (completion) are handed
 * the root rather than importing this file, so there is no import loop.
 */
import { type ArgsDef, type CommandDef, defineCommand } from "citty";
import pkg from "../../package.json" with { type: "json" };
import { ENV, helpMeta } from "./_shared.ts";
import token from "./token.ts";

const load = <T>(p: Promise<{ default: T }>) => p.then((m) => m.default);

export const root: CommandDef<ArgsDef> = defineCommand({
  meta: helpMeta({
    name: "tokenctl",
    version: pkg.version,
    description: "Local credentials for long-running agent processes",
    env: [ENV.state, ENV.config, ENV.runtime],
    examples: ["API_TOKEN=$(tokenctl token get) || exit; export API_TOKEN", "tokenctl token get --help"],
  }),
  subCommands: {
    token,
    daemon: () => load(import("./daemon.ts")),
    call: () => load(import("./call.ts")),
    subscribe: () => import("./call.ts").then((m) => m.subscribe),
    oauth: () => load(import("./oauth.ts")),
    exec: () => load(import("./exec.ts")),
    vault: () => load(import("./vault.ts")),
    session: () => load(import("./session.ts")),
    completion: (): Promise<CommandDef<ArgsDef>> => import("./completion.ts").then((m) => m.completionCommand(() => root as CommandDef<ArgsDef>) as CommandDef<ArgsDef>),
    doctor: () => load(import("./doctor.ts")),
  },
});

