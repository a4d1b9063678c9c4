/**
 * `--help`: tokenctl's own renderer (citty's pads every line to the widest flag and does not wrap).
 * Wraps to the terminal: stdout's columns, else $COLUMNS, else 80; no line ends in a blank.
 * Loaded only when help is shown, so the hot path (token get) never pays for it.
 */
import { ENV } from "./_shared.ts";
import { type CommandNode, commandName, flagLabel, flagMeaning, flags, positionalLabel, positionals, usageLine } from "./tree.ts";

/** stdout's columns when it is a terminal, else $COLUMNS, else 80 (never below 40). */
export function helpWidth(out: { isTTY?: boolean; columns?: number } = process.stdout, env: Record<string, string | undefined> = process.env): number {
  const cols = out.isTTY && out.columns ? out.columns : /^\d+$/.test(env.COLUMNS ?? "") ? Number(env.COLUMNS) : 80;
  return Math.max(40, cols);
}

/** Words of `text` filled into lines of at most `width` (a longer word gets a line of its own). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.length ? lines : [""];
}

/** `text` wrapped with every line indented by `indent` spaces. */
function paragraph(text: string, width: number, indent = 0): string[] {
  return wrap(text, width - indent).map((l) => " ".repeat(indent) + l);
}

/**
 * Two columns: labels at 2, meanings aligned after the widest label (capped at a third of the
 * width); a label too long for the column puts its meaning on the next line.
 */
function table(rows: Array<[string, string]>, width: number): string[] {
  const cap = Math.min(30, Math.floor(width / 3));
  const col = Math.min(cap, Math.max(0, ...rows.map(([l]) => l.length)));
  const out: string[] = [];
  for (const [label, meaning] of rows) {
    const text = wrap(meaning, width - 2 - col - 2);
    if (label.length > col) {
      out.push(`  ${label}`);
      out.push(...text.map((t) => `${" ".repeat(col + 4)}${t}`.trimEnd()));
    } else {
      out.push(...text.map((t, i) => `  ${(i === 0 ? label : "").padEnd(col)}  ${t}`.trimEnd()));
    }
  }
  return out;
}

/** Environment entries are written `NAME — meaning`. */
function envRows(env: readonly string[]): Array<[string, string]> {
  return env.map((e) => {
    const [name, ...rest] = e.split(" — ");
    return [name!, rest.join(" — ")];
  });
}

/**
 * An example command line, `  $ ` first; one too long for the width continues on the next lines
 * with a trailing backslash, broken only between words outside quotes, so it still pastes.
 */
export function example(line: string, width: number): string[] {
  const words = line.match(/(?:'[^']*'|"(?:\\.|[^"\\])*"|[^\s'"])+/g) ?? [line];
  const out: string[] = [];
  let cur = "  $";
  for (const w of words) {
    if (cur.trim() !== "$" && cur !== "      " && cur.length + 1 + w.length + 2 > width) {
      out.push(`${cur} \\`);
      cur = "      ";
    }
    cur = cur === "      " ? `${cur}${w}` : `${cur} ${w}`;
  }
  out.push(cur);
  return out;
}

/** One command's help: purpose, usage, arguments, options, commands, environment, examples. */
export function renderHelp(n: CommandNode, width = helpWidth()): string {
  const out: string[] = [];
  const section = (title: string, lines: string[]) => out.push("", title, "", ...lines);
  out.push(...paragraph(n.meta.description ?? "", width));
  section("USAGE", paragraph(usageLine(n), width, 2).map((l, i) => (i ? `    ${l.trimStart()}` : l)));
  const pos = positionals(n);
  const args: Array<[string, string]> = pos.map(([k, d]) => [positionalLabel(n, k, d).replace(/^\[(.*)\]$/, "$1"), (d.description ?? "").trim()]);
  if (n.meta.operands) args.push([n.meta.operands, n.meta.operandsDescription ?? "The command to run and its arguments, after --"]);
  if (args.length) section("ARGUMENTS", table(args, width));
  const opts: Array<[string, string]> = flags(n).map(([k, d]) => [flagLabel(k, d), flagMeaning(k, d)]);
  opts.push(["-h, --help", "Show this help"]);
  if (!n.path.length) opts.push(["-v, --version", "Print the version"]);
  section("OPTIONS", table(opts, width));
  if (n.children.length) {
    section("COMMANDS", table(n.children.map((c) => [c.path.at(-1)!, c.meta.description ?? ""]), width));
    out.push("", ...paragraph(`Run \`${commandName(n)} COMMAND --help\` for a command's flags.`, width));
  }
  section("ENVIRONMENT", table(envRows([...(n.meta.env ?? []), ENV.noColor, ENV.logLevel]), width));
  if (n.meta.examples?.length) section("EXAMPLES", n.meta.examples.flatMap((e) => example(e, width)));
  return `${out.map((l) => l.trimEnd()).join("\n")}\n`;
}
