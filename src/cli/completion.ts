/** `tokenctl completion bash|zsh|fish`: print a completion script built from the command tree. */
import { type ArgsDef, type CommandDef, defineCommand } from "citty";
import { helpMeta } from "./_shared.ts";
import { generate, SHELLS, type CompletionNode, type Shell } from "../completion/generate.ts";

type AnyCommand = CommandDef<ArgsDef>;
const resolve = async <T>(v: T | Promise<T> | (() => T | Promise<T>)): Promise<T> =>
  typeof v === "function" ? await (v as () => T | Promise<T>)() : await v;

/** Walk citty's command tree (loading every lazy command) into a plain completion tree. */
export async function toTree(name: string, cmd: AnyCommand): Promise<CompletionNode> {
  const meta = (await resolve(cmd.meta)) ?? {};
  const args = (await resolve(cmd.args)) ?? {};
  const subs = (await resolve(cmd.subCommands)) ?? {};
  const children: CompletionNode[] = [];
  for (const [sub, def] of Object.entries(subs)) {
    const c = await resolve(def);
    if ((await resolve(c.meta))?.hidden) continue;
    children.push(await toTree(sub, c));
  }
  const flags = Object.entries(args)
    .filter(([, d]) => d.type !== "positional")
    .map(([n, d]) => ({
      name: n,
      description: (d.description ?? "").replace(/\s+/g, " "),
      values: d.type === "enum" ? d.options : undefined,
      takesValue: d.type === "string" || d.type === "enum",
      negatable: d.type === "boolean" && d.default === true,
    }));
  return { name, description: meta.description ?? "", flags, children };
}

export default defineCommand({
  meta: helpMeta({
    name: "completion",
    description: "Print a shell completion script (bash, zsh or fish)",
    env: [],
    examples: ["tokenctl completion bash > ~/.local/share/bash-completion/completions/tokenctl", "tokenctl completion fish > ~/.config/fish/completions/tokenctl.fish"],
  }),
  args: {
    shell: { type: "positional", description: `One of: ${SHELLS.join(", ")}`, required: true },
  },
  async run({ args }) {
    const { UsageError } = await import("../errors.ts");
    if (!(SHELLS as readonly string[]).includes(args.shell))
      throw new UsageError(`Unknown shell "${args.shell}"; choose one of: ${SHELLS.join(", ")}`);
    const { root } = await import("./root.ts");
    const { printResult } = await import("./output.ts");
    printResult(generate(args.shell as Shell, await toTree("tokenctl", root as AnyCommand)));
  },
});
