/**
 * The command tree as plain data: `--help`, the argument checks, completion, the generated
 * reference and the help tests all read commands through this one walker, so none of them imports
 * the tree's root (src/cli/root.ts) — the caller passes it in.
 */
import type { ArgDef, ArgsDef, CommandDef } from "citty";
import type { HelpMeta } from "./_shared.ts";

export type AnyCommand = CommandDef<ArgsDef>;

export interface CommandNode {
  /** Subcommand names from the root: [] for the root, ["token", "get"]. */
  path: string[];
  meta: HelpMeta;
  args: ArgsDef;
  /** Loaded only by walk(); node() leaves subcommands as names. */
  children: CommandNode[];
}

/** citty's `Resolvable`: a value, a promise, or a function returning either. */
export async function resolve<T>(v: T | Promise<T> | (() => T | Promise<T>)): Promise<T> {
  return typeof v === "function" ? await (v as () => T | Promise<T>)() : await v;
}

/** One command as data, its direct subcommands loaded one level deep (for their names and purposes). */
export async function node(cmd: AnyCommand, path: string[] = [], depth = 1): Promise<CommandNode> {
  const subs = depth > 0 ? ((await resolve(cmd.subCommands)) ?? {}) : {};
  const children: CommandNode[] = [];
  for (const [name, sub] of Object.entries(subs)) {
    const c = await node(await resolve(sub), [...path, name], depth === Infinity ? Infinity : depth - 1);
    if (!c.meta.hidden) children.push(c);
  }
  return { path, meta: ((await resolve(cmd.meta)) ?? {}) as HelpMeta, args: (await resolve(cmd.args)) ?? {}, children };
}

/** The whole tree below `cmd`, every lazy command loaded. */
export function walk(cmd: AnyCommand, path: string[] = []): Promise<CommandNode> {
  return node(cmd, path, Infinity);
}

/** Every node, depth first. */
export function flatten(n: CommandNode): CommandNode[] {
  return [n, ...n.children.flatMap(flatten)];
}

/** "tokenctl token get". */
export function commandName(n: Pick<CommandNode, "path">): string {
  return ["tokenctl", ...n.path].join(" ");
}

export const positionals = (n: CommandNode): Array<[string, ArgDef]> => Object.entries(n.args).filter(([, d]) => d.type === "positional");
export const flags = (n: CommandNode): Array<[string, ArgDef]> => Object.entries(n.args).filter(([, d]) => d.type !== "positional");

export function aliases(def: ArgDef): string[] {
  return "alias" in def && def.alias ? [def.alias].flat() : [];
}

/** A positional's placeholder: its choices (`<bash|zsh|fish>`), else its name in capitals; [optional]. */
export function positionalLabel(n: CommandNode, key: string, def: ArgDef): string {
  const choices = n.meta.choices?.[key];
  const label = choices ? `<${choices.join("|")}>` : (("valueHint" in def && def.valueHint) || key).toUpperCase();
  return def.required ? label : `[${label}]`;
}

/**
 * The usage line: `tokenctl token COMMAND`, `tokenctl call [OPTIONS] TYPE`,
 * `tokenctl session exec [OPTIONS] -- CMD [ARGS…]`.
 */
export function usageLine(n: CommandNode): string {
  const parts = [commandName(n)];
  if (n.children.length) parts.push("COMMAND");
  if (flags(n).length) parts.push("[OPTIONS]");
  for (const [k, d] of positionals(n)) parts.push(positionalLabel(n, k, d));
  if (n.meta.operands) parts.push(n.meta.operands);
  return parts.join(" ");
}

/** `--name <hint>` / `--preset <claude-code>` / `-h, --help`: how a flag is written. */
export function flagLabel(key: string, def: ArgDef): string {
  const value =
    def.type === "enum" ? ` <${(def.options ?? []).join("|")}>` : def.type === "string" ? ` <${("valueHint" in def && def.valueHint) || "value"}>` : "";
  const short = aliases(def).map((a) => (a.length === 1 ? `-${a}` : `--${a}`));
  const long = def.type === "boolean" && def.default === true ? `--no-${key}` : `--${key}`;
  return [...short, `${long}${value}`].join(", ");
}

/** A flag's meaning with its declared default, when it has one that the text does not already state. */
export function flagMeaning(key: string, def: ArgDef): string {
  const text = (def.description ?? "").replace(/\s+/g, " ").trim();
  if (def.type === "boolean" && def.default === true) return text.includes(`--no-${key}`) ? text : `${text} (on by default; --no-${key} turns it off)`;
  return def.default !== undefined && !/\(default/.test(text) ? `${text} (default ${String(def.default)})` : text;
}
