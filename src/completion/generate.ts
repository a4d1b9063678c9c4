/**
 * Shell completion scripts, generated from the command tree so a new command or flag completes
 * without anyone editing a script. Pure: a tree in, a script out.
 */

export interface CompletionFlag {
  name: string;
  description: string;
  /** Values for an enum flag, completed after it. */
  values?: string[];
  takesValue: boolean;
}

export interface CompletionNode {
  name: string;
  description: string;
  flags: CompletionFlag[];
  children: CompletionNode[];
}

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

interface Flat {
  /** "" for the root, else "token get". */
  path: string;
  node: CompletionNode;
}

function flatten(node: CompletionNode, path = ""): Flat[] {
  return [{ path, node }, ...node.children.flatMap((c) => flatten(c, path ? `${path} ${c.name}` : c.name))];
}

const words = (n: CompletionNode) => [...n.children.map((c) => c.name), ...n.flags.map((f) => `--${f.name}`), "--help"];
const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function generate(shell: Shell, root: CompletionNode): string {
  const all = flatten(root);
  const prog = root.name;
  const fn = `_${prog.replace(/[^A-Za-z0-9_]/g, "_")}`;
  if (shell === "bash") {
    const known = all.filter((f) => f.path).map((f) => sq(f.path)).join("|");
    const cases = all.map((f) => `    ${sq(f.path)}) opts=${sq(words(f.node).join(" "))} ;;`).join("\n");
    const valueCases = all
      .flatMap((f) => f.node.flags.filter((fl) => fl.values).map((fl) => `    ${sq(`${f.path}|--${fl.name}`)}) COMPREPLY=($(compgen -W ${sq(fl.values!.join(" "))} -- "$cur")); return ;;`))
      .join("\n");
    return `# bash completion for ${prog}: source it, or save it as /etc/bash_completion.d/${prog}
${fn}() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} cmd="" cand w i opts
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    [[ $w == -- ]] && return 0
    [[ $w == -* ]] && continue
    cand=\${cmd:+$cmd }$w
    case "$cand" in ${known || "''"}) cmd=$cand ;; esac
  done
  case "$cmd|$prev" in
${valueCases}
  esac
  case "$cmd" in
${cases}
    *) opts="" ;;
  esac
  COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -o default -F ${fn} ${prog}
`;
  }
  if (shell === "zsh") {
    // $path is special in zsh (tied to $PATH), hence cmdpath.
    const known = all.filter((f) => f.path).map((f) => f.path.replace(/ /g, "\\ ")).join("|");
    const cases = all
      .map((f) => {
        const items = [
          ...f.node.children.map((c) => `${c.name}:${c.description}`),
          ...f.node.flags.map((fl) => `--${fl.name}:${fl.description}`),
          "--help:Show help",
        ].map((x) => sq(x.replace(/:/g, (m, o, s) => (s.indexOf(":") === o ? m : "\\:"))));
        return `    (${f.path ? f.path.replace(/ /g, "\\ ") : "''"}) items=(${items.join(" ")}) ;;`;
      })
      .join("\n");
    const valueCases = all
      .flatMap((f) => f.node.flags.filter((fl) => fl.values).map((fl) => `    (${`${f.path}|--${fl.name}`.replace(/ /g, "\\ ")}) compadd -- ${fl.values!.map(sq).join(" ")}; return ;;`))
      .join("\n");
    return `#compdef ${prog}
# zsh completion for ${prog}: save as _${prog} in a directory on $fpath, or source it after compinit
${fn}() {
  local cmdpath="" cand w prev=\${words[CURRENT-1]}
  local -a items
  for w in \${words[2,CURRENT-1]}; do
    [[ $w == -- ]] && return 0
    [[ $w == -* ]] && continue
    cand=\${cmdpath:+$cmdpath }$w
    case "$cand" in (${known || "''"}) cmdpath=$cand ;; esac
  done
  case "$cmdpath|$prev" in
${valueCases}
  esac
  case "$cmdpath" in
${cases}
  esac
  _describe -t commands '${prog}' items
}
if (( $+functions[compdef] )); then compdef ${fn} ${prog}; fi
`;
  }
  // fish: conditions on the exact sequence of subcommands seen so far.
  const lines = [`# fish completion for ${prog}: save as ~/.config/fish/completions/${prog}.fish`, `complete -c ${prog} -f`];
  lines.push(
    `function __${prog}_path --description 'subcommands typed so far'
    set -l cmd (commandline -opc)
    set -l out
    for w in $cmd[2..-1]
        string match -q -- '-*' $w; and continue
        set out $out $w
    end
    string join ' ' $out
end`,
  );
  for (const f of all) {
    const cond = `test (__${prog}_path) = ${sq(f.path)}`;
    for (const c of f.node.children) lines.push(`complete -c ${prog} -n ${sq(cond)} -a ${sq(c.name)} -d ${sq(c.description)}`);
    for (const fl of f.node.flags) {
      const values = fl.values ? ` -x -a ${sq(fl.values.join(" "))}` : fl.takesValue ? " -r" : "";
      lines.push(`complete -c ${prog} -n ${sq(cond)} -l ${fl.name}${values} -d ${sq(fl.description)}`);
    }
  }
  return `${lines.join("\n")}\n`;
}
