/**
 * The command line checked against the command tree before a command runs: unknown commands and
 * flags get a "Did you mean …?", extra or missing arguments are usage errors (exit 2), and a
 * command given without `--` to a command that runs one gets the line with `--` put in.
 * citty ignores unknown flags and extra words, which hides typos like --jsno.
 */
import { UsageError } from "../errors.ts";
import { shq } from "../shell.ts";
import { type CommandNode, aliases, commandName, flags, positionalLabel, positionals, usageLine } from "./tree.ts";

/** Edit distance counting a swap of two neighbours as one edit (gte → get), as git and gh do. */
export function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  return d[a.length]![b.length]!;
}

/** The nearest candidates (edit distance at most a third of the word, at least 1, or a prefix). */
export function suggest(word: string, candidates: readonly string[]): string[] {
  const limit = Math.max(1, Math.floor(word.length / 3));
  const scored = candidates.map((c) => [c, c.startsWith(word) && word.length >= 2 ? 0 : distance(word, c)] as const).filter(([, d]) => d <= limit);
  const best = Math.min(...scored.map(([, d]) => d));
  return scored.filter(([, d]) => d === best).map(([c]) => c);
}

const didYouMean = (names: string[]) => (names.length ? ` Did you mean ${names.map((n) => `"${n}"`).join(" or ")}?` : "");


/** `word` named a subcommand of the group `n` that does not exist. */
export function unknownCommand(n: CommandNode, word: string): UsageError {
  const names = n.children.map((c) => c.path.at(-1)!);
  return new UsageError(`Unknown command "${word}" for ${commandName(n)}.${didYouMean(suggest(word, names))}`, {
    hint: `See the commands: ${commandName(n)} --help`,
  });
}

/** Every spelling of every flag of `n`, mapped to whether it takes a value. */
function flagTable(n: CommandNode): Map<string, boolean> {
  const table = new Map<string, boolean>([["help", false], ["h", false]]);
  if (!n.path.length) table.set("version", false).set("v", false);
  for (const [name, def] of flags(n)) {
    const takesValue = def.type === "string" || def.type === "enum";
    const kebab = name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    for (const s of [name, kebab, ...aliases(def)]) {
      table.set(s, takesValue);
      if (def.type === "boolean") table.set(`no-${s}`, false);
    }
  }
  return table;
}

/** An enum flag's value must be one of its options (citty's own message names neither command nor a near option). */
function checkEnum(n: CommandNode, name: string, value: string | undefined): void {
  const def = flags(n).find(([k, d]) => k === name || aliases(d).includes(name))?.[1];
  if (def?.type !== "enum" || !def.options) return;
  if (value === undefined) throw new UsageError(`--${name} needs a value for ${commandName(n)}: one of ${def.options.join(", ")}`, { hint: `${commandName(n)} --help` });
  if (!def.options.includes(value))
    throw new UsageError(`Unknown value "${value}" for --${name} of ${commandName(n)}; choose one of: ${def.options.join(", ")}.${didYouMean(suggest(value, def.options))}`, {
      hint: `${commandName(n)} --help`,
    });
}

/**
 * Check `args` (the words after the command's name) against `n`'s flags and positionals; throws
 * the UsageError to report.
 */
export function checkArgs(n: CommandNode, args: string[]): void {
  const table = flagTable(n);
  const pos = positionals(n);
  const given: string[] = [];
  const end = args.indexOf("--");
  const words = end === -1 ? args : args.slice(0, end);
  const runsCommand = n.meta.operands?.startsWith("--");
  for (let i = 0; i < words.length; i++) {
    const a = words[i]!;
    if (a.startsWith("-") && a !== "-") {
      const name = a.replace(/^--?/, "").split("=")[0]!;
      const takesValue = table.get(name);
      if (takesValue === undefined) {
        const candidates = [...table.keys()].filter((k) => k.length > 1).map((k) => `--${k}`);
        throw new UsageError(`Unknown flag ${a.split("=")[0]} for ${commandName(n)}.${didYouMean(suggest(`--${name}`, candidates))}`, {
          hint: runsCommand && given.length ? withDashDash(n, args, i) : `See the flags: ${commandName(n)} --help`,
        });
      }
      if (takesValue) {
        const value = a.includes("=") ? a.slice(a.indexOf("=") + 1) : words[++i];
        checkEnum(n, name, value);
      }
      continue;
    }
    if (given.length >= pos.length) {
      if (runsCommand)
        throw new UsageError(`${commandName(n)} takes the command to run after --, found "${a}" before it`, { hint: withDashDash(n, args, i) });
      throw new UsageError(`Unexpected argument "${a}" for ${commandName(n)} (usage: ${usageLine(n)})`, { hint: `${commandName(n)} --help` });
    }
    const [key] = pos[given.length]!;
    const choices = n.meta.choices?.[key];
    if (choices && !choices.includes(a))
      throw new UsageError(`Unknown ${key} "${a}" for ${commandName(n)}; choose one of: ${choices.join(", ")}.${didYouMean(suggest(a, choices))}`, {
        hint: `${commandName(n)} --help`,
      });
    given.push(a);
  }
  const missing = pos.slice(given.length).find(([, d]) => d.required);
  if (missing)
    throw new UsageError(`Missing ${positionalLabel(n, missing[0], missing[1])} for ${commandName(n)} (usage: ${usageLine(n)})`, { hint: `${commandName(n)} --help` });
}

/**
 * The command line with `--` put before the first word that is neither a flag nor a flag's value:
 * `session exec --name w1 sh -c true` → `tokenctl session exec --name w1 -- sh -c true`.
 */
function withDashDash(n: CommandNode, args: string[], stop: number): string {
  const table = flagTable(n);
  let at = 0;
  for (let i = 0; i <= stop && i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith("-") && a !== "-") {
      if (table.get(a.replace(/^--?/, "").split("=")[0]!) && !a.includes("=")) i++;
      at = i + 1;
      continue;
    }
    at = i;
    break;
  }
  const line = [...args.slice(0, at), "--", ...args.slice(at)].map(shq).join(" ");
  return `Put -- before the command to run: ${commandName(n)} ${line}`;
}
