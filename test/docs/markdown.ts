/** What the docs tests read from the Markdown files: which files, their code blocks, headings. */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const ROOT = join(import.meta.dir, "..", "..");

/** README.md, CONTRIBUTING.md and every docs/**\/*.md, as paths relative to the repository. */
export function markdownFiles(): string[] {
  const out = ["README.md", "CONTRIBUTING.md"];
  (function walk(dir: string) {
    for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (e.name.endsWith(".md")) out.push(join(dir, e.name));
    }
  })("docs");
  return out;
}

export interface CodeBlock {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The info string's words: ["sh", "run"] for ```sh run. */
  info: string[];
  code: string;
}

/** Fenced code blocks (``` or ~~~, any indentation up to 3 spaces). */
export function codeBlocks(file: string, text = readFileSync(join(ROOT, file), "utf8")): CodeBlock[] {
  const lines = text.split("\n");
  const out: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^ {0,3}(`{3,}|~{3,})\s*(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const fence = open[1]!;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !new RegExp(`^ {0,3}${fence[0]}{${fence.length},}\\s*$`).test(lines[j]!); j++) body.push(lines[j]!);
    out.push({ file, line: i + 1, info: open[2]!.trim().split(/\s+/).filter(Boolean), code: body.join("\n") });
    i = j;
  }
  return out;
}

export const SHELL_LANGS = new Set(["sh", "bash", "shell", "zsh", "console"]);

/** Text outside fenced code blocks (so a `# comment` in a block is not taken for a heading). */
export function prose(text: string): string {
  return text.replace(/^ {0,3}(`{3,}|~{3,})[^\n]*\n[\s\S]*?^ {0,3}\1[^\n]*$/gm, "");
}
