/**
 * Every command's --help is complete: walks the whole command tree (src/cli/root.ts, lazy commands
 * loaded) so a command added later cannot skip its description, environment, examples or flag
 * descriptions. Examples are checked against the tree: they must name this command (or one below
 * it) and use only flags it declares.
 */
import { describe, expect, it } from "bun:test";
import type { ArgsDef, CommandDef } from "citty";
import { renderHelpExtras, type HelpMeta } from "../../src/cli/_shared.ts";
import { root } from "../../src/cli/root.ts";

type AnyCommand = CommandDef<ArgsDef>;
const resolve = async <T>(v: T | Promise<T> | (() => T | Promise<T>)): Promise<T> =>
  typeof v === "function" ? await (v as () => T | Promise<T>)() : await v;

interface Node {
  path: string[];
  meta: HelpMeta;
  args: ArgsDef;
  children: Map<string, Node>;
}

async function walk(cmd: AnyCommand, path: string[] = []): Promise<Node> {
  const subs = (await resolve(cmd.subCommands)) ?? {};
  const children = new Map<string, Node>();
  for (const [name, sub] of Object.entries(subs)) children.set(name, await walk(await resolve(sub), [...path, name]));
  return { path, meta: ((await resolve(cmd.meta)) ?? {}) as HelpMeta, args: (await resolve(cmd.args)) ?? {}, children };
}

const tree = await walk(root as AnyCommand);
const all: Node[] = [];
(function collect(n: Node) {
  all.push(n);
  for (const c of n.children.values()) collect(c);
})(tree);
const label = (n: Node) => ["tokenctl", ...n.path].join(" ");

/** Split a shell line into words, honouring quotes (enough for our examples). */
function words(line: string): string[] {
  return [...line.matchAll(/'[^']*'|"(?:\\.|[^"])*"|[^\s'"]+/g)].map((m) => m[0]);
}

/** The `tokenctl …` invocations in an example line: the words after each `tokenctl` up to a pipe, `;`, `&&` or `)`. */
function invocations(line: string): string[][] {
  const out: string[][] = [];
  // A command substitution inside double quotes: look inside it.
  const w = words(line.replace(/"([^"]*\$\([^"]*)"/g, "$1"));
  for (let i = 0; i < w.length; i++) {
    // `tokenctl` as a command, not as a flag's value (--client-id tokenctl).
    if (!/(^|\()tokenctl$/.test(w[i]!) || w[i - 1]?.startsWith("--")) continue;
    const inv: string[] = [];
    for (let j = i + 1; j < w.length && !/^(\||;|&&|\|\||>|<)$/.test(w[j]!); j++) {
      const word = w[j]!.replace(/\)+$/, "");
      inv.push(word);
      if (word !== w[j]) break;
    }
    out.push(inv);
  }
  return out;
}

/** Declared flag names (and aliases, and --no- forms of booleans). */
function flagNames(args: ArgsDef): Set<string> {
  const names = new Set<string>();
  for (const [name, def] of Object.entries(args)) {
    if (def.type === "positional") continue;
    names.add(name);
    if (def.type === "boolean") names.add(`no-${name}`);
    for (const a of "alias" in def && def.alias ? [def.alias].flat() : []) names.add(a);
  }
  return names;
}

describe("--help of every command", () => {
  it("walks the whole tree (every group and leaf is checked)", () => {
    const paths = all.map((n) => n.path.join(" "));
    for (const p of ["", "token get", "token set", "daemon", "call", "subscribe", "oauth login", "oauth logout", "exec", "vault sync", "vault restore", "completion", "session exec", "session list"])
      expect(paths).toContain(p);
  });

  it.each(all.map((n) => [label(n), n] as const))("%s: a one-line purpose, its environment, one to three examples", (_, n) => {
    expect(n.meta.description?.trim()).toBeTruthy();
    expect(n.meta.description).not.toContain("\n");
    expect(Array.isArray(n.meta.env)).toBe(true);
    for (const e of n.meta.env ?? []) expect(e).toMatch(/^[A-Z_][A-Z0-9_]* — \S/);
    expect(n.meta.examples?.length ?? 0).toBeGreaterThanOrEqual(1);
    expect(n.meta.examples!.length).toBeLessThanOrEqual(3);
  });

  it.each(all.map((n) => [label(n), n] as const))("%s: every flag and argument has a description, every value flag its default", (_, n) => {
    const undescribed = Object.entries(n.args).filter(([, d]) => !d.description?.trim()).map(([k]) => k);
    expect(undescribed).toEqual([]);
    // A flag that takes a value says what happens without it: a citty default, required, or "(default …)".
    const noDefault = Object.entries(n.args)
      .filter(([, d]) => (d.type === "string" || d.type === "enum") && d.default === undefined && d.required !== true && !/default|required/i.test(d.description ?? ""))
      .map(([k]) => k);
    expect(noDefault).toEqual([]);
  });

  it.each(all.map((n) => [label(n), n] as const))("%s: examples run this command (or one below it) with flags it declares", (_, n) => {
    for (const example of n.meta.examples ?? []) {
      const calls = invocations(example);
      const named: string[][] = [];
      for (const call of calls) {
        let node = tree;
        let i = 0;
        while (i < call.length && node.children.has(call[i]!)) node = node.children.get(call[i++]!)!;
        named.push(node.path.slice(0, n.path.length));
        const known = flagNames(node.args);
        for (const word of call.slice(i)) {
          if (word === "--") break;
          if (!word.startsWith("--")) continue;
          const flag = word.slice(2).split("=")[0]!;
          expect({ example, flag, known: known.has(flag) || flag === "help" }).toEqual({ example, flag, known: true });
        }
      }
      // At least one invocation in the example is this command (others may feed it, as in a pipe).
      expect({ example, named }).toEqual({ example, named: expect.arrayContaining([n.path]) });
    }
  });
});

describe("renderHelpExtras", () => {
  it("lists the command's variables, then the ones every command reads, then the examples", () => {
    const text = renderHelpExtras({ env: ["FOO — the foo", "A_VERY_LONG_VARIABLE_NAME_INDEED — long"], examples: ["tokenctl x --y"] });
    expect(text).toBe(
      [
        "ENVIRONMENT",
        "",
        `  ${"FOO".padEnd(24)}    the foo`,
        "  A_VERY_LONG_VARIABLE_NAME_INDEED",
        `  ${"".padEnd(24)}    long`,
        `  ${"NO_COLOR".padEnd(24)}    no colours on stderr`,
        `  ${"TOKENCTL_LOG_LEVEL".padEnd(24)}    stderr verbosity, a consola level (default 3; 0 errors only)`,
        "",
        "EXAMPLES",
        "",
        "  $ tokenctl x --y",
        "",
      ].join("\n"),
    );
  });
});
