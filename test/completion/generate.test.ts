/**
 * The generated completion scripts, run in the real shells: bash's function driven through
 * COMP_WORDS/COMP_CWORD, zsh's with words/CURRENT and _describe/compadd/_files stubbed to print
 * what they were given, fish's through `complete -C` (its own completion engine). A shell that is
 * not installed is skipped visibly (apt-get install zsh fish).
 */
import { beforeAll, describe, expect, it } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { completionTree } from "../../src/cli/completion.ts";
import { root } from "../../src/cli/root.ts";
import { generate, type CompletionNode, type Shell } from "../../src/completion/generate.ts";
import { tempDir } from "../support/tmp.ts";

let tree: CompletionNode;
beforeAll(async () => {
  tree = await completionTree(root);
});

const has = (shell: string) => Boolean(Bun.which(shell));

/** Write the script for `shell` to a temp file. */
function script(shell: Shell): string {
  const file = join(tempDir(), `tokenctl.${shell}`);
  writeFileSync(file, generate(shell, tree));
  return file;
}

function sh(argv: string[]): { code: number; out: string; err: string } {
  const r = Bun.spawnSync(argv, { env: { PATH: process.env.PATH!, HOME: process.env.HOME! }, stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

const q = (w: string) => `'${w.replace(/'/g, `'\\''`)}'`;

/** Cases: the words on the line (the last is the one being completed) → what must be offered, and what must not. */
const cases: Array<[string, string[], string[], string[]]> = [
  ["subcommands at the root", ["tokenctl", ""], ["token", "daemon", "oauth", "vault", "session", "completion"], ["get"]],
  ["a prefix", ["tokenctl", "to"], ["token"], ["daemon"]],
  ["subcommands of a group", ["tokenctl", "oauth", ""], ["login", "token", "status", "logout"], ["get"]],
  ["flags of a leaf", ["tokenctl", "token", "get", "--"], ["--preset", "--file", "--json", "--explain"], ["--data"]],
  ["an enum's values", ["tokenctl", "token", "get", "--preset", ""], ["claude-code"], ["--json"]],
  ["the negated form of a default-on flag", ["tokenctl", "oauth", "login", "--no-"], ["--no-browser"], ["--json"]],
  ["flags after a positional argument", ["tokenctl", "call", "status", "--j"], ["--json"], []],
  ["flags after a flag value that is also a command name", ["tokenctl", "token", "get", "--env", "token", "--j"], ["--json"], []],
  ["a global flag before the command", ["tokenctl", "--verbose", "session", "l"], ["list"], ["mint"]],
  ["a positional's choices", ["tokenctl", "completion", ""], ["bash", "zsh", "fish"], []],
  ["a positional's choices by prefix", ["tokenctl", "completion", "z"], ["zsh"], ["bash"]],
  ["no choices once the positional is given", ["tokenctl", "completion", "bash", ""], [], ["zsh"]],
];

describe("bash", () => {
  const run = (file: string, words: string[]) =>
    sh(["bash", "-c", `source ${q(file)}; COMP_WORDS=(${words.map(q).join(" ")}); COMP_CWORD=${words.length - 1}; COMPREPLY=(); _tokenctl; printf '%s\\n' "\${COMPREPLY[@]}"`]);

  it.skipIf(!has("bash")).each(cases)("%s", (_, words, want, not) => {
    const r = run(script("bash"), words);
    expect(r.err).toBe("");
    const got = r.out.split("\n").filter(Boolean);
    expect(got).toEqual(expect.arrayContaining(want));
    for (const w of not) expect(got).not.toContain(w);
  });

  it.skipIf(!has("bash"))("after a value flag offers nothing, so `complete -o default` completes file names; --flag=value works", () => {
    const file = script("bash");
    expect(run(file, ["tokenctl", "token", "get", "--file", ""]).out.trim()).toBe("");
    expect(run(file, ["tokenctl", "token", "get", "--preset", "=", "cl"]).out.trim()).toBe("claude-code");
    expect(run(file, ["tokenctl", "token", "get", "--preset", "="]).out.trim()).toBe("claude-code");
    expect(sh(["bash", "-c", `source ${q(file)}; complete -p tokenctl`]).out).toContain("-o default -F _tokenctl tokenctl");
  });
});

describe("bash: the command after --", () => {
  const run = (file: string, words: string[], pre = "") =>
    sh(["bash", "-c", `${pre}source ${q(file)}; COMP_WORDS=(${words.map(q).join(" ")}); COMP_CWORD=${words.length - 1}; COMPREPLY=(); _tokenctl; printf '%s\\n' "\${COMPREPLY[@]}"`]);

  it.skipIf(!has("bash")).each([["session exec --name w"], ["exec --oauth work"]])("%s -- bas: command names after --", (line) => {
    const pre = line.split(" ");
    const file = script("bash");
    const got = run(file, ["tokenctl", ...pre, "--", "bas"]).out.split("\n");
    expect(got).toContain("bash");
    expect(run(file, ["tokenctl", "token", "get", "--", "bas"]).out.trim()).toBe("");
  });

  it.skipIf(!has("bash"))("hands the words after -- to bash-completion's _command_offset when it is loaded", () => {
    const stub = `_command_offset() { COMPREPLY=("offset:$1:\${COMP_WORDS[$1]}"); }; `;
    expect(run(script("bash"), ["tokenctl", "session", "exec", "--", "git", "che"], stub).out.trim()).toBe("offset:4:git");
  });
});

describe("zsh", () => {
  const stubs = [
    "_describe() { print -rl -- \"${(@P)${@[-1]}}\" | cut -d: -f1 }",
    'compadd() { [[ $1 == -- ]] && shift; print -rl -- "$@" }',
    "_files() { print -r -- '<files>' }",
    "_normal() { print -r -- \"<normal:${words[1]}:$CURRENT>\" }",
  ].join("\n");
  const run = (file: string, words: string[]) => sh(["zsh", "-f", "-c", `source ${q(file)}\n${stubs}\nwords=(${words.map(q).join(" ")}); CURRENT=${words.length}; _tokenctl`]);

  it.skipIf(!has("zsh"))("parses (zsh -n) and registers with compinit", () => {
    const file = script("zsh");
    expect(sh(["zsh", "-n", file]).code).toBe(0);
    const r = sh(["zsh", "-f", "-c", `autoload -U compinit; compinit -u -d ${q(join(tempDir(), "zcompdump"))}; source ${q(file)}; print -r -- $_comps[tokenctl]`]);
    expect(r.out.trim()).toBe("_tokenctl");
  }, 30_000); // compinit scans every directory on $fpath: seconds on a loaded machine

  // zsh filters by prefix itself; the function offers the whole list for the position.
  it.skipIf(!has("zsh")).each(cases)("%s", (_, words, want) => {
    const r = run(script("zsh"), words);
    expect(r.err).toBe("");
    expect(r.out.split("\n").filter(Boolean)).toEqual(expect.arrayContaining(want));
  });

  it.skipIf(!has("zsh"))("an enum offers only its values; a path flag completes files", () => {
    const file = script("zsh");
    expect(run(file, ["tokenctl", "token", "get", "--preset", ""]).out.trim()).toBe("claude-code");
    expect(run(file, ["tokenctl", "token", "get", "--file", ""]).out.trim()).toBe("<files>");
  });

  it.skipIf(!has("zsh"))("the command after -- in session exec and exec is completed as a command line of its own", () => {
    const file = script("zsh");
    expect(run(file, ["tokenctl", "session", "exec", "--name", "w", "--", "git", "che"]).out.trim()).toBe("<normal:git:2>");
    expect(run(file, ["tokenctl", "exec", "--oauth", "work", "--", ""]).out.trim()).toBe("<normal::1>");
    expect(run(file, ["tokenctl", "token", "get", "--", ""]).out.trim()).toBe("");
  });
});

describe("fish", () => {
  const run = (file: string, words: string[]) => sh(["fish", "--no-config", "-c", `source ${q(file)}; complete -C${q(words.join(" "))}`]);

  it.skipIf(!has("fish"))("parses (fish --no-execute)", () => {
    expect(sh(["fish", "--no-execute", script("fish")]).code).toBe(0);
  });

  it.skipIf(!has("fish"))("the command after -- in session exec and exec: commands, then that command's own completion", () => {
    const file = script("fish");
    const got = (words: string[]) => run(file, words).out.split("\n").map((l) => l.split("\t")[0]!);
    expect(got(["tokenctl", "session", "exec", "--name", "w", "--", "bas"])).toContain("bash");
    expect(got(["tokenctl", "exec", "--oauth", "work", "--", "tokenctl", "tok"])).toContain("token");
    expect(got(["tokenctl", "token", "get", "--", "bas"])).not.toContain("bash");
  });

  it.skipIf(!has("fish")).each(cases)("%s", (_, words, want, not) => {
    const r = run(script("fish"), words);
    expect(r.err).toBe("");
    const got = r.out.split("\n").filter(Boolean).map((l) => l.split("\t")[0]!);
    expect(got).toEqual(expect.arrayContaining(want));
    for (const w of not) expect(got).not.toContain(w);
  });
});

describe("every shell", () => {
  it.each(["bash", "zsh", "fish"] as const)("%s: every command path and flag in the tree appears in the script", (shell) => {
    const text = generate(shell, tree);
    const walk = (n: CompletionNode): void => {
      for (const f of n.flags) expect(text).toContain(shell === "fish" ? `-l ${f.name}` : `--${f.name}`);
      for (const c of n.children) {
        expect(text).toContain(c.name);
        walk(c);
      }
    };
    walk(tree);
  });
});
