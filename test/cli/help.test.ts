/**
 * Every command's --help is complete: walks the whole command tree (src/cli/root.ts, lazy commands
 * loaded) so a command added later cannot skip its description, environment, examples or flag
 * descriptions. Examples are checked against the tree: they must name this command (or one below
 * it) and use only flags it declares.
 */
import { describe, expect, it } from "bun:test";
import type { ArgsDef } from "citty";
import { example, helpWidth, renderHelp, wrap } from "../../src/cli/help.ts";
import { root } from "../../src/cli/root.ts";
import { type CommandNode as Node, flatten, walk } from "../../src/cli/tree.ts";

const tree = await walk(root);
const all: Node[] = flatten(tree);
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
        const child = (word: string | undefined) => node.children.find((c) => c.path.at(-1) === word);
        while (i < call.length && child(call[i])) node = child(call[i++])!;
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

describe("renderHelp", () => {
  it.each([80, 60, 120])("every command's help fits %i columns, with no trailing blanks", (width) => {
    for (const n of all) {
      const lines = renderHelp(n, width).split("\n");
      const over = lines.filter((l) => l.length > width && !/^\s*\S+$/.test(l)).map((l) => `${label(n)}: ${l}`);
      expect(over).toEqual([]);
      expect(lines.filter((l) => l !== l.trimEnd())).toEqual([]);
    }
  });

  it("shows every flag, the environment every command reads, and each example, and pastes back as the example", () => {
    for (const n of all) {
      const text = renderHelp(n, 60);
      for (const [k, d] of Object.entries(n.args)) if (d.type !== "positional") expect(text).toContain(d.type === "boolean" && d.default === true ? `--no-${k}` : `--${k}`);
      expect(text).toContain("NO_COLOR");
      const examples = text.split("\nEXAMPLES\n\n")[1]!.replace(/ \\\n {6}/g, " ").trimEnd().split("\n");
      expect(examples).toEqual((n.meta.examples ?? []).map((e) => `  $ ${e}`));
    }
  });

  it("usage lines show positional parts and the command after --", () => {
    const usage = (path: string) => renderHelp(all.find((n) => n.path.join(" ") === path)!, 80).split("\nUSAGE\n\n")[1]!.split("\n")[0];
    expect(usage("session exec")).toBe("  tokenctl session exec [OPTIONS] -- CMD [ARGS…]");
    expect(usage("exec")).toBe("  tokenctl exec [OPTIONS] -- CMD [ARGS…]");
    expect(usage("completion")).toBe("  tokenctl completion <bash|zsh|fish>");
    expect(usage("call")).toBe("  tokenctl call [OPTIONS] TYPE");
    expect(usage("token")).toBe("  tokenctl token COMMAND");
  });

  it("a label too long for its column puts the meaning on the next line", () => {
    const n: Node = { path: ["x"], meta: { description: "d", env: ["A_VERY_LONG_VARIABLE_NAME_INDEED_LONGER_THAN_THIRTY — long", "FOO — the foo"] }, args: {} as ArgsDef, children: [] };
    const env = renderHelp(n, 80).split("\nENVIRONMENT\n\n")[1]!.split("\n");
    expect(env.slice(0, 3)).toEqual(["  A_VERY_LONG_VARIABLE_NAME_INDEED_LONGER_THAN_THIRTY", `${" ".repeat(30)}long`, `  ${"FOO".padEnd(26)}  the foo`]);
  });

  it("wraps words and breaks long examples between words outside quotes", () => {
    expect(wrap("a bb ccc dddd", 6)).toEqual(["a bb", "ccc", "dddd"]);
    expect(example("tokenctl vault sync --probe 'claude -p ping' --x", 34)).toEqual(["  $ tokenctl vault sync --probe \\", "      'claude -p ping' --x"]);
  });

  it.each([
    [{ isTTY: true, columns: 100 }, { COLUMNS: "70" }, 100],
    [{ isTTY: false, columns: 100 }, { COLUMNS: "70" }, 70],
    [{ isTTY: false }, {}, 80],
    [{ isTTY: false }, { COLUMNS: "abc" }, 80],
    [{ isTTY: true, columns: 20 }, {}, 40],
  ])("width: stdout %p, env %p → %i", (out, env, want) => {
    expect(helpWidth(out, env)).toBe(want);
  });
});
