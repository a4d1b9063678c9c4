/** `--help` and `completion` through the compiled binary: every command, stdout, exit 0. */
import { describe, expect, it } from "bun:test";
import { runBin } from "../support/bin.ts";
import { completionTree } from "../../src/cli/completion.ts";
import { root } from "../../src/cli/root.ts";
import type { CompletionNode } from "../../src/completion/generate.ts";

const tree = await completionTree(root);
const paths: Array<[string, CompletionNode]> = [];
(function walk(n: CompletionNode, path: string[]) {
  paths.push([path.join(" "), n]);
  for (const c of n.children) walk(c, [...path, c.name]);
})(tree, []);

describe("--help through the binary", () => {
  it.each(paths)("tokenctl %s --help: usage, every flag, ENVIRONMENT and EXAMPLES on stdout", async (path, node) => {
    const r = await runBin([...(path ? path.split(" ") : []), "--help"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    // Wrapped to 80 columns (no terminal, no COLUMNS), no trailing blanks.
    expect(r.stdout.replace(/\s+/g, " ")).toContain(node.description);
    expect(r.stdout.split("\n").filter((l) => l.length > 80 || l !== l.trimEnd())).toEqual([]);
    for (const f of node.flags) expect(r.stdout).toContain(f.negatable ? `--no-${f.name}` : `--${f.name}`);
    expect(r.stdout).toMatch(/\S *\n\nENVIRONMENT\n\n {2}\S/);
    expect(r.stdout).toMatch(/\n\nEXAMPLES\n\n {2}\$ .*tokenctl /);
    expect(r.stdout).not.toContain("\x1b[");
  });
});

describe("tokenctl completion", () => {
  it.each(["bash", "zsh", "fish"])("%s prints a script on stdout", async (shell) => {
    const r = await runBin(["completion", shell]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${shell} completion for tokenctl`);
  });

  it("an unknown shell is a usage error (exit 2) naming the choices", async () => {
    const r = await runBin(["completion", "tcsh"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("bash, zsh, fish");
  });
});
