/**
 * Run a leaf command without citty's parser, for the few commands scripts call in loops
 * (`token get`, `token headers`, `oauth token`). citty's parse costs ~2 ms and ~8 MiB of a ~9 ms,
 * ~36 MiB start (scripts/bench/token.ts). Same flag definitions, parsed strictly by node:util;
 * returns false for anything it does not handle exactly, and the caller then goes through citty,
 * which reports the problem the usual way. So there is one set of flags and one error path.
 */
import { parseArgs } from "node:util";
import type { ArgsDef, CommandDef } from "citty";

export async function runDirect(cmd: CommandDef<ArgsDef>, argv: string[]): Promise<boolean> {
  if (!cmd.run || cmd.subCommands || typeof cmd.args !== "object" || cmd.args === null || cmd.args instanceof Promise) return false;
  const defs = cmd.args as ArgsDef;
  const options: Record<string, { type: "boolean" | "string" }> = {};
  for (const [name, def] of Object.entries(defs)) {
    if (def.type === "positional" || ("alias" in def && def.alias)) return false;
    options[name] = { type: def.type === "boolean" ? "boolean" : "string" };
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as typeof values;
  } catch {
    return false;
  }
  for (const [name, def] of Object.entries(defs)) {
    if (def.type === "enum" && values[name] !== undefined && !def.options?.includes(String(values[name]))) return false;
    if (values[name] === undefined && def.default !== undefined) values[name] = def.default;
  }
  await cmd.run({ args: { _: [], ...values } as never, rawArgs: argv, cmd });
  return true;
}
