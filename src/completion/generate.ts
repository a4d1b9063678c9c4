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
  /** A boolean whose default is true: --no-NAME turns it off. */
  negatable?: boolean;
}

export interface CompletionNode {
  name: string;
  description: string;
  flags: CompletionFlag[];
  /** The choices of each positional argument, in order ([] for a free one). */
  positionals?: string[][];
  /** Takes a command after `--` (session exec, exec): complete it as a command line of its own. */
  runsCommand?: boolean;
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

/** Flag words offered for a node: --name, and --no-name for a boolean whose default is true. */
const flagWords = (n: CompletionNode) => n.flags.flatMap((f) => [`--${f.name}`, ...(f.negatable ? [`--no-${f.name}`] : [])]);
const words = (n: CompletionNode) => [...n.children.map((c) => c.name), ...flagWords(n), "--help"];
const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
/** `cmd|--flag` keys for the flags of each node that take a value (so the word after them is skipped). */
/** `cmd|N` keys: the choices of the Nth positional of cmd. */
const choiceCases = (all: Flat[]) =>
  all.flatMap((f) => (f.node.positionals ?? []).flatMap((choices, i) => (choices.length ? [{ key: `${f.path}|${i}`, choices }] : [])));
const valueKeys = (all: Flat[]) => all.flatMap((f) => f.node.flags.filter((fl) => fl.takesValue).map((fl) => `${f.path}|--${fl.name}`));

export function generate(shell: Shell, root: CompletionNode): string {
  const all = flatten(root);
  const prog = root.name;
  const fn = `_${prog.replace(/[^A-Za-z0-9_]/g, "_")}`;
  const values = valueKeys(all);
  if (shell === "bash") {
    const known = all.filter((f) => f.path).map((f) => sq(f.path)).join("|");
    const cases = all.map((f) => `    ${sq(f.path)}) opts=${sq(words(f.node).join(" "))} ;;`).join("\n");
    const valueCases = all
      .flatMap((f) => f.node.flags.filter((fl) => fl.values).map((fl) => `    ${sq(`${f.path}|--${fl.name}`)}) COMPREPLY=($(compgen -W ${sq(fl.values!.join(" "))} -- "$cur")); return ;;`))
      .join("\n");
    // A value flag's argument (a path, a name): leave COMPREPLY empty so `-o default` completes files.
    const freeValues = values.filter((k) => !all.some((f) => f.node.flags.some((fl) => fl.values && `${f.path}|--${fl.name}` === k)));
    const runners = all.filter((f) => f.node.runsCommand).map((f) => sq(f.path));
    const choices = choiceCases(all).map((c) => `    ${sq(c.key)}) pos=${sq(c.choices.join(" "))} ;;`);
    return `# bash completion for ${prog}: source it, or save it as ~/.local/share/bash-completion/completions/${prog}
${fn}() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} cmd="" cand w i opts pos="" npos=0
  # --flag=value: bash splits at "=" (COMP_WORDBREAKS), so the flag is one or two words back.
  if [[ $cur == = ]]; then cur=""; elif [[ $prev == = ]]; then prev=\${COMP_WORDS[COMP_CWORD-2]}; fi
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    if [[ $w == -- ]]; then
      # After -- comes a command line of its own (session exec, exec): bash-completion's
      # _command_offset completes it with that command's completion; else command names, then files.
      case "$cmd" in ${runners.join("|") || "''"}) ;; *) return 0 ;; esac
      if declare -F _command_offset >/dev/null; then _command_offset $((i + 1)); return 0; fi
      ((i + 1 == COMP_CWORD)) && COMPREPLY=($(compgen -c -- "$cur"))
      return 0
    fi
    if [[ $w == -* ]]; then
      # Skip the value of a flag that takes one (unless given as --flag=value).
      [[ \${COMP_WORDS[i+1]} != = ]] && case "$cmd|$w" in ${values.map(sq).join("|") || "''"}) ((i++)) ;; esac
      continue
    fi
    [[ $w == = ]] && { ((i++)); continue; }
    cand=\${cmd:+$cmd }$w
    case "$cand" in ${known || "''"}) cmd=$cand npos=0 ;; *) npos=$((npos + 1)) ;; esac
  done
  case "$cmd|$prev" in
${valueCases}
${freeValues.length ? `    ${freeValues.map(sq).join("|")}) COMPREPLY=(); return ;;` : ""}
  esac
  case "$cmd" in
${cases}
    *) opts="" ;;
  esac
  # The choices of the positional argument at this place (completion bash|zsh|fish).
  case "$cmd|$npos" in
${choices.join("\n")}
  esac
  COMPREPLY=($(compgen -W "$opts\${pos:+ $pos}" -- "$cur"))
}
complete -o default -F ${fn} ${prog}
`;
  }
  if (shell === "zsh") {
    // $path is special in zsh (tied to $PATH), hence cmdpath.
    // In a zsh case pattern, space and | must be escaped (| separates alternatives).
    const zq = (s: string) => s.replace(/[ |]/g, (c) => `\\${c}`);
    const known = all.filter((f) => f.path).map((f) => zq(f.path)).join("|");
    const esc = (x: string) => sq(x.replace(/:/g, (m, o, s) => (s.indexOf(":") === o ? m : "\\:")));
    const cases = all
      .map((f) => {
        const items = [
          ...f.node.children.map((c) => `${c.name}:${c.description}`),
          ...f.node.flags.flatMap((fl) => [`--${fl.name}:${fl.description}`, ...(fl.negatable ? [`--no-${fl.name}:Turn off --${fl.name}`] : [])]),
          "--help:Show help",
        ].map(esc);
        return `    (${f.path ? zq(f.path) : "''"}) items=(${items.join(" ")}) ;;`;
      })
      .join("\n");
    const valueCases = all
      .flatMap((f) => f.node.flags.filter((fl) => fl.values).map((fl) => `    (${zq(`${f.path}|--${fl.name}`)}) compadd -- ${fl.values!.map(sq).join(" ")}; return ;;`))
      .join("\n");
    const valuePattern = values.map(zq).join("|") || "''";
    const runners = all.filter((f) => f.node.runsCommand).map((f) => zq(f.path)).join("|") || "''";
    const choices = choiceCases(all).map((c) => `    (${zq(c.key)}) compadd -- ${c.choices.map(sq).join(" ")} ;;`);
    return `#compdef ${prog}
# zsh completion for ${prog}: save as _${prog} in a directory on $fpath, or source it after compinit
${fn}() {
  local cmdpath="" cand w prev=\${words[CURRENT-1]} skip=0 i npos=0
  local -a items
  for (( i = 2; i < CURRENT; i++ )); do
    w=\${words[i]}
    if (( skip )); then skip=0; continue; fi
    if [[ $w == -- ]]; then
      # After -- comes a command line of its own (session exec, exec): complete it as one.
      case "$cmdpath" in (${runners}) ;; (*) return 0 ;; esac
      shift i words
      (( CURRENT -= i ))
      _normal
      return
    fi
    if [[ $w == -* ]]; then
      case "$cmdpath|$w" in (${valuePattern}) skip=1 ;; esac
      continue
    fi
    cand=\${cmdpath:+$cmdpath }$w
    case "$cand" in (${known || "''"}) cmdpath=$cand npos=0 ;; (*) (( npos++ )) ;; esac
  done
  case "$cmdpath|$prev" in
${valueCases}
    (${valuePattern}) _files; return ;;
  esac
  case "$cmdpath" in
${cases}
  esac
  # The choices of the positional argument at this place (completion bash|zsh|fish).
  case "$cmdpath|$npos" in
${choices.join("\n")}
  esac
  _describe -t commands '${prog}' items
}
if (( $+functions[compdef] )); then compdef ${fn} ${prog}; fi
`;
  }
  // fish: conditions on the subcommands seen so far (known paths only, so positional arguments and
  // flag values do not count), compared as a quoted string so the empty root path works.
  const lines = [`# fish completion for ${prog}: save as ~/.config/fish/completions/${prog}.fish`, `complete -c ${prog} -f`, `complete -c ${prog} -l help -d 'Show help'`];
  lines.push(
    `function __${prog}_path --description 'subcommands typed so far; sets __${prog}_npos to the positionals after them'
    set -l known ${all.filter((f) => f.path).map((f) => sq(f.path)).join(" ")}
    set -l takes_value ${values.map(sq).join(" ")}
    set -l cmd (commandline -opc)
    set -l out ''
    set -l skip 0
    set -g __${prog}_npos 0
    for w in $cmd[2..-1]
        if test $skip = 1
            set skip 0
            continue
        end
        if test "$w" = '--'
            echo "$out|--"
            return
        end
        if string match -q -- '-*' $w
            contains -- "$out|$w" $takes_value; and set skip 1
            continue
        end
        set -l cand (string trim -- "$out $w")
        if contains -- "$cand" $known
            set out $cand
            set -g __${prog}_npos 0
        else
            set -g __${prog}_npos (math $__${prog}_npos + 1)
        end
    end
    echo $out
end
function __${prog}_at --description 'true when the subcommands typed so far are exactly $argv[1] (and no -- yet)'
    set -l p (__${prog}_path)
    test "$p" = "$argv[1]"
end
function __${prog}_after_dashdash --description 'complete the command line after --'
    set -l cmd (commandline -opc)
    set -l i (contains -i -- '--' $cmd)
    complete -C (string join ' ' -- $cmd[(math $i + 1)..-1] (commandline -ct))
end`,
  );
  for (const f of all) {
    const cond = `__${prog}_at ${sq(f.path)}`;
    (f.node.positionals ?? []).forEach((choices, i) => {
      if (choices.length) lines.push(`complete -c ${prog} -n ${sq(`${cond}; and test $__${prog}_npos = ${i}`)} -a ${sq(choices.join(" "))}`);
    });
    if (f.node.runsCommand) lines.push(`complete -c ${prog} -n ${sq(`__${prog}_at ${sq(`${f.path}|--`)}`)} -a '(__${prog}_after_dashdash)'`);
    for (const c of f.node.children) lines.push(`complete -c ${prog} -n ${sq(cond)} -a ${sq(c.name)} -d ${sq(c.description)}`);
    for (const fl of f.node.flags) {
      const values = fl.values ? ` -x -a ${sq(fl.values.join(" "))}` : fl.takesValue ? " -r -F" : "";
      lines.push(`complete -c ${prog} -n ${sq(cond)} -l ${fl.name}${values} -d ${sq(fl.description)}`);
      if (fl.negatable) lines.push(`complete -c ${prog} -n ${sq(cond)} -l no-${fl.name} -d ${sq(`Turn off --${fl.name}`)}`);
    }
  }
  return `${lines.join("\n")}\n`;
}
