// Pure: `kubectl-dp completion bash|zsh`. A spec of the command line (read off the commander
// program, plus what each value completes to) becomes a shell script. Commands, flags and
// fixed choices are in the script (no process starts per TAB); object names come from
// `kubectl get` with the --kubeconfig/--context/-n already typed.
import type { Command } from "commander";

/** What a flag's value or an argument completes to. */
export type Values =
  | { choices: readonly string[] }
  /** Names of objects of this resource (plural.group), through kubectl get. */
  | { resource: string }
  | "files"
  | "contexts"
  | "namespaces"
  /** A free value: nothing to offer. */
  | "none";

export interface OptionSpec {
  /** Every spelling: "-o", "--output". */
  flags: string[];
  /** Absent for a boolean flag. */
  values?: Values;
  /** Passed on to the kubectl calls that list names (--kubeconfig, --context, -n). */
  forKubectl?: boolean;
}

/** A positional argument: fixed values, or values chosen by the command's first argument. */
export type ArgSpec = { values: Values } | { byFirstArg: { words: readonly string[]; values: Values }[] };

export interface CommandSpec {
  name: string;
  options: OptionSpec[];
  args: ArgSpec[];
}

export interface CompletionSpec {
  /** The executable: kubectl-dp. */
  program: string;
  globalOptions: OptionSpec[];
  commands: CommandSpec[];
}

export interface SpecHints {
  /** By long flag: what its value completes to (default: its choices, else nothing). */
  options?: Record<string, Values>;
  /** By command: its arguments (default: each argument's choices, else nothing). */
  args?: Record<string, ArgSpec[]>;
  /** Global long flags passed on to kubectl. */
  forKubectl?: readonly string[];
}

function optionSpec(o: Command["options"][number], hints: SpecHints): OptionSpec {
  const flags = [o.short, o.long].filter((f): f is string => !!f);
  const takesValue = o.required || o.optional;
  const hinted = o.long ? hints.options?.[o.long] : undefined;
  const values: Values | undefined = !takesValue ? undefined : hinted ?? (o.argChoices ? { choices: o.argChoices } : "none");
  return { flags, ...(values ? { values } : {}), ...(o.long && hints.forKubectl?.includes(o.long) ? { forKubectl: true } : {}) };
}

const HELP: OptionSpec = { flags: ["-h", "--help"] };

/** The spec of a commander program: its visible commands, their flags and arguments. */
export function completionSpec(program: Command, hints: SpecHints = {}): CompletionSpec {
  return {
    program: program.name(),
    globalOptions: [...program.options.filter((o) => !o.hidden).map((o) => optionSpec(o, hints)), HELP],
    commands: program.commands
      .filter((c) => !(c as unknown as { _hidden?: boolean })._hidden)
      .map((c) => ({
        name: c.name(),
        options: [...c.options.filter((o) => !o.hidden).map((o) => optionSpec(o, hints)), HELP],
        args: hints.args?.[c.name()] ?? c.registeredArguments.map((a): ArgSpec => ({ values: a.argChoices ? { choices: a.argChoices } : "none" })),
      })),
  };
}

// ---- the shared shell code --------------------------------------------------------------

/** A word for sh: bare when safe, else single-quoted. */
export function shellWord(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A case pattern of these words (one that never matches when there are none). */
const pattern = (words: readonly string[]): string => (words.length ? words.join("|") : "__no_such_flag__");

const fnName = (program: string): string => `__${program.replace(/[^A-Za-z0-9]/g, "_")}`;

/** The command that prints a Values' candidates, one a line (":files": let the shell complete files). */
function emit(v: Values, fn: string): string {
  if (v === "none") return ":";
  if (v === "files") return "echo ':files'";
  if (v === "contexts") return "kubectl config get-contexts -o name 2>/dev/null";
  if (v === "namespaces") return `${fn}_names namespaces "\${kflags[@]}"`;
  if ("resource" in v) return `${fn}_names ${shellWord(v.resource)} "\${kflags[@]}"`;
  return `printf '%s\\n' ${v.choices.map(shellWord).join(" ")}`;
}

/**
 * `<fn>_candidates WORDS...`: the words typed so far (the program first, the word being
 * completed last) -> the candidates, one a line, not yet filtered by the word's prefix.
 * Written in the subset bash and zsh share (no array indexing), so both scripts carry it.
 */
function candidatesFunction(spec: CompletionSpec): string {
  const fn = fnName(spec.program);
  const all = [...spec.globalOptions, ...spec.commands.flatMap((c) => c.options)];
  const kubectlFlags = spec.globalOptions.filter((o) => o.forKubectl).flatMap((o) => o.flags);
  const valueFlags = [...new Set(all.filter((o) => o.values && !o.forKubectl).flatMap((o) => o.flags))];
  // A flag's value: the first spec that knows the flag decides (flags mean the same in every command).
  const byFlag = new Map<string, Values>();
  for (const o of all) for (const f of o.flags) if (o.values && !byFlag.has(f)) byFlag.set(f, o.values);
  const valueCases = [...byFlag].filter(([, v]) => v !== "none").map(([f, v]) => `    ${f}) ${emit(v, fn)}; return ;;`);
  const flagList = (opts: OptionSpec[]): string => `printf '%s\\n' ${opts.flatMap((o) => o.flags.filter((f) => f.startsWith("--"))).map(shellWord).join(" ")}`;
  const argCases = spec.commands.map((c) => {
    const lines = c.args.map((a, i) => {
      if ("values" in a) return `      ${i === 0 ? "if" : "elif"} [ "$nargs" -eq ${i} ]; then ${emit(a.values, fn)}`;
      const inner = a.byFirstArg.map((b) => `          ${b.words.map(shellWord).join("|")}) ${emit(b.values, fn)} ;;`).join("\n");
      return `      ${i === 0 ? "if" : "elif"} [ "$nargs" -eq ${i} ]; then\n        case $arg0 in\n${inner}\n        esac`;
    });
    return `    ${shellWord(c.name)})\n${lines.length ? `${lines.join("\n")}\n      fi\n` : ""}      ;;`;
  });
  return `${fn}_names() {
  # $1: what to list (namespaces, or plural.group); then the --kubeconfig/--context/-n typed so far.
  local res=$1
  shift
  kubectl get "$res" "$@" -o 'custom-columns=:metadata.name' --no-headers 2>/dev/null
}

${fn}_candidates() {
  local cmd="" arg0="" prev="" w
  local nargs=0
  local -a kflags
  kflags=()
  shift
  while [ $# -gt 1 ]; do
    w=$1
    shift
    case $w in
      ${pattern(kubectlFlags)})
        if [ $# -gt 1 ]; then kflags+=("$w" "$1"); shift; else prev=$w; fi
        continue ;;
      ${pattern(kubectlFlags.filter((f) => f.startsWith("--")).map((f) => `${f}=*`))})
        kflags+=("$w")
        continue ;;
      ${pattern(valueFlags)})
        if [ $# -gt 1 ]; then shift; else prev=$w; fi
        continue ;;
      -*) continue ;;
    esac
    if [ -z "$cmd" ]; then
      cmd=$w
    else
      if [ "$nargs" -eq 0 ]; then arg0=$w; fi
      nargs=$((nargs + 1))
    fi
  done
  case $prev in
${valueCases.join("\n")}
    ?*) return ;;
  esac
  case $1 in
    -*)
      case $cmd in
${spec.commands.map((c) => `        ${shellWord(c.name)}) ${flagList([...c.options, ...spec.globalOptions.filter((o) => !HELP.flags.includes(o.flags[0]!))])} ;;`).join("\n")}
        *) ${flagList(spec.globalOptions)} ;;
      esac
      return ;;
  esac
  case $cmd in
    "") printf '%s\\n' ${spec.commands.map((c) => shellWord(c.name)).join(" ")} ;;
${argCases.join("\n")}
  esac
}`;
}

/** The bash script: `source <(kubectl-dp completion bash)`; run as kubectl_complete-dp it answers kubectl. */
export function bashCompletion(spec: CompletionSpec): string {
  const fn = fnName(spec.program);
  return `#!/usr/bin/env bash
# bash completion for ${spec.program}, generated by \`${spec.program} completion bash\`.
#   source <(${spec.program} completion bash)                        # this shell
#   ${spec.program} completion bash > ~/.local/share/bash-completion/completions/${spec.program}
# Saved as an executable named kubectl_complete-${spec.program.replace(/^kubectl-/, "")} on PATH, the same file completes
# \`kubectl ${spec.program.replace(/^kubectl-/, "")} ...\` too (kubectl 1.26 and later run it with the words to complete).

${candidatesFunction(spec)}

_${spec.program.replace(/[^A-Za-z0-9]/g, "_")}() {
  local cur words cword out
  if declare -F _get_comp_words_by_ref >/dev/null 2>&1; then
    _get_comp_words_by_ref -n =: cur words cword
  else
    words=("\${COMP_WORDS[@]}")
    cword=$COMP_CWORD
    cur=\${COMP_WORDS[COMP_CWORD]}
  fi
  out=$(${fn}_candidates "\${words[@]:0:cword+1}")
  if [ "$out" = ":files" ]; then
    compopt -o filenames 2>/dev/null
    COMPREPLY=($(compgen -f -- "$cur"))
    return
  fi
  local IFS=$'\\n'
  COMPREPLY=($(compgen -W "$out" -- "$cur"))
}

if [ "\${BASH_SOURCE[0]}" = "$0" ]; then
  # Run as a program (kubectl_complete-...): print the candidates and cobra's directive
  # (:4 no file completion, :0 files).
  [ $# -gt 0 ] || set -- ""
  cur=\${!#}
  out=$(${fn}_candidates ${spec.program} "$@")
  if [ "$out" = ":files" ]; then echo ":0"; exit 0; fi
  while IFS= read -r c; do
    if [ -n "$c" ] && [ "\${c#"$cur"}" != "$c" -o -z "$cur" ]; then printf '%s\\n' "$c"; fi
  done <<<"$out"
  echo ":4"
  exit 0
fi
complete -F _${spec.program.replace(/[^A-Za-z0-9]/g, "_")} ${spec.program}
`;
}

/** The zsh script: `source <(kubectl-dp completion zsh)` after compinit, or saved as _kubectl-dp on $fpath. */
export function zshCompletion(spec: CompletionSpec): string {
  const fn = fnName(spec.program);
  const main = `_${spec.program.replace(/[^A-Za-z0-9]/g, "_")}`;
  return `#compdef ${spec.program}
# zsh completion for ${spec.program}, generated by \`${spec.program} completion zsh\`.
#   source <(${spec.program} completion zsh)                  # this shell (after compinit)
#   ${spec.program} completion zsh > "\${fpath[1]}/_${spec.program}"   # every new shell
compdef ${main} ${spec.program}

${candidatesFunction(spec)}

${main}() {
  local -a cands
  local line
  cands=()
  for line in "\${(@f)$(${fn}_candidates "\${(@)words[1,CURRENT]}")}"; do
    [[ -n $line ]] && cands+=("$line")
  done
  if [[ "\${cands[1]}" == ":files" ]]; then
    _files
    return
  fi
  compadd -a cands
}

# Loaded from $fpath the file is the function _${spec.program}: complete now. Sourced: compdef above did it.
if [ "$funcstack[1]" = "_${spec.program}" ]; then
  ${main} "$@"
fi
`;
}
