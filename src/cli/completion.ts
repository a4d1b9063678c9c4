/**
 * `tokenctl completion bash|zsh|fish`: print a completion script built from the command tree. The
 * tree's root is passed in by src/cli/root.ts (this file does not import it: no import loop).
 */
import { defineCommand } from "citty";
import { helpMeta } from "./_shared.ts";
import { generate, SHELLS, type CompletionNode, type Shell } from "../completion/generate.ts";
import { type AnyCommand, type CommandNode, flags, positionals, walk } from "./tree.ts";

/** The command tree (see src/cli/tree.ts) as the plain tree the script generator takes. */
export function toCompletion(n: CommandNode): CompletionNode {
  return {
    name: n.path.at(-1) ?? "tokenctl",
    description: (n.meta.description ?? "").replace(/\s+/g, " "),
    flags: flags(n).map(([name, d]) => ({
      name,
      description: (d.description ?? "").replace(/\s+/g, " "),
      values: d.type === "enum" ? d.options : undefined,
      takesValue: d.type === "string" || d.type === "enum",
      negatable: d.type === "boolean" && d.default === true,
    })),
    // Positional choices are offered where the positional goes; a command after `--` is completed as one.
    positionals: positionals(n).map(([key]) => [...(n.meta.choices?.[key] ?? [])]),
    runsCommand: Boolean(n.meta.operands?.startsWith("--")),
    children: n.children.map(toCompletion),
  };
}

/** The completion tree of the whole command tree below `root`. */
export async function completionTree(root: AnyCommand): Promise<CompletionNode> {
  return toCompletion(await walk(root));
}

/** The `completion` command, for the tree whose root is `root()`. */
export function completionCommand(root: () => AnyCommand) {
  return defineCommand({
    meta: helpMeta({
      name: "completion",
      description: "Print a shell completion script (bash, zsh or fish)",
      env: [],
      examples: ["source <(tokenctl completion bash)", "tokenctl completion fish > ~/.config/fish/completions/tokenctl.fish"],
      choices: { shell: SHELLS },
    }),
    args: {
      shell: { type: "positional", description: "The shell to complete in", required: true },
    },
    async run({ args }) {
      if (!(SHELLS as readonly string[]).includes(args.shell)) {
        const { UsageError } = await import("../errors.ts");
        throw new UsageError(`Unknown shell "${args.shell}"; choose one of: ${SHELLS.join(", ")}`);
      }
      const { printResult } = await import("./output.ts");
      printResult(generate(args.shell as Shell, await completionTree(root())));
    },
  });
}
