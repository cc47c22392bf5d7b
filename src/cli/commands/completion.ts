/**
 * `secretrun completion bash|zsh|fish`: print a shell completion script.
 *
 * The commands, their options and the `--format` values come from the command table (../command-table.ts), the
 * same rows commander and the fast argv path read, so the script never drifts from the CLI. Environment names can't be baked in: they depend
 * on the directory the user is in. The script asks at TAB time with the hidden `secretrun completion --list-envs
 * [-c FILE]`, which reads the nearest sources file (or the one the command line names with -c) and prints one
 * name per line, or nothing at all if anything goes wrong.
 */
import { COMMANDS, DEFAULT_COMMAND, PROGRAM_OPTIONS, parseFlags, type ArgumentDef, type CommandDef, type CompleteAs, type OptionDef } from '../command-table.js';
import { findSourcesFile, parseSourcesFile } from '../../core/config.js';
import { UsageError } from '../../core/errors.js';
import { COMMON_OPTION_NAMES } from '../../core/validate.js';
import { SOURCES, type SourceRegistry } from '../../sources/index.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
type Shell = (typeof SHELLS)[number];

export interface CompletionOptions {
  /** Hidden mode used by the scripts: print the environment names of the sources file. */
  listEnvs?: boolean;
  /** Hidden mode for editor plug-ins: print each source type with its options (`type<TAB>option option ...`). */
  listSources?: boolean;
  /** The source types (default: the built-in registry). */
  sources?: SourceRegistry;
  config?: string;
}

export async function completion(shell: string | undefined, opts: CompletionOptions): Promise<number> {
  if (opts.listEnvs) {
    const names = await listEnvironments({ config: opts.config, cwd: process.cwd(), processEnv: process.env });
    if (names.length > 0) process.stdout.write(names.join('\n') + '\n');
    return 0;
  }
  if (opts.listSources) {
    process.stdout.write(sourceCompletions(opts.sources).map((s) => `${s.type}\t${s.options.join(' ')}\n`).join(''));
    return 0;
  }
  if (!isShell(shell)) {
    throw new UsageError(shell === undefined ? `completion: which shell? (${SHELLS.join(', ')})` : `completion: unsupported shell "${shell}" (supported: ${SHELLS.join(', ')})`);
  }
  // The program that generated the script: the bash script's last resort for environment names (see bashScript).
  const self = process.argv[1] ? [process.execPath, process.argv[1]] : undefined;
  process.stdout.write(completionScript(shell, completionSpec(COMMANDS, PROGRAM_OPTIONS), self));
  return 0;
}

function isShell(s: string | undefined): s is Shell {
  return (SHELLS as readonly string[]).includes(s ?? '');
}

// ---- environment names at TAB time ---------------------------------------------------------------------------

/**
 * Names a completion script may offer. The list is read from a file in whatever repository the user is in, and a
 * shell evaluates completion candidates in places (bash's `compgen -W`), so only plain names pass: no `$`,
 * backquote, quote, space or backslash can reach the shell.
 */
const OFFERABLE_NAME = /^[A-Za-z0-9_.@%+,:=-]+$/;

/**
 * The environments of the sources file `secretrun` would use here, in file order; `default` for a file without
 * `environments`. Any failure (no file, unreadable, broken YAML) gives an empty list: completion must stay quiet.
 */
export async function listEnvironments({ config, cwd, processEnv }: { config?: string; cwd: string; processEnv: Readonly<Record<string, string | undefined>> }): Promise<string[]> {
  try {
    const { file } = await parseSourcesFile(findSourcesFile({ config, cwd, env: processEnv }), cwd, SOURCES);
    if (!file || file.data === null || typeof file.data !== 'object') return [];
    const envs = file.data.environments;
    if (envs === undefined) return ['default'];
    if (envs === null || typeof envs !== 'object' || Array.isArray(envs)) return [];
    return Object.keys(envs).filter((n) => OFFERABLE_NAME.test(n));
  } catch {
    return [];
  }
}

// ---- source types and their options, read from the registry --------------------------------------------------

/** Every source type with the keys a layer of that type accepts (the common ones first). */
export function sourceCompletions(registry: SourceRegistry = SOURCES): { type: string; description: string; options: string[] }[] {
  return registry.map((d) => ({ type: d.type, description: d.description, options: [...COMMON_OPTION_NAMES, ...Object.keys(d.options)] }));
}

// ---- what to complete, read from the command table -------------------------------------------------------------

/** How the value of an option, or a positional argument, is completed. */
export type ValueKind = { kind: 'none' } | { kind: 'files' } | { kind: 'environments' } | { kind: 'words'; words: string[] };

export interface OptionSpec {
  short?: string;
  long?: string;
  description: string;
  /** Undefined for a flag; otherwise how its value is completed. */
  value?: ValueKind;
}

export interface CommandSpec {
  name: string;
  description: string;
  options: OptionSpec[];
  /** One entry per positional argument, in order (a variadic last one repeats). */
  positionals: ValueKind[];
}

export interface CompletionSpec {
  /** What `secretrun -<TAB>` offers: the program's own options plus `run`'s, since `secretrun -e prod -- cmd` works. */
  rootOptions: OptionSpec[];
  commands: CommandSpec[];
}

const HELP: OptionSpec = { short: '-h', long: '--help', description: 'show help' };

export function completionSpec(commands: readonly CommandDef[], programOptions: readonly OptionDef[]): CompletionSpec {
  const specs = commands.map(commandSpec);
  const run = specs.find((c) => c.name === DEFAULT_COMMAND);
  const rootOptions = [...programOptions.filter((o) => !o.hidden).map(optionSpec), HELP, ...(run?.options ?? []).filter((o) => o !== HELP)];
  return { rootOptions: dedupe(rootOptions), commands: specs };
}

function commandSpec(row: CommandDef): CommandSpec {
  return {
    name: row.name,
    description: firstLine(row.description),
    options: [...row.options.filter((o) => !o.hidden).map(optionSpec), HELP],
    positionals: row.arguments.map(argumentKind),
  };
}

function optionSpec(o: OptionDef): OptionSpec {
  const flags = parseFlags(o.flags);
  // An optional value (`--watch [seconds]`) is completed as a flag: the next word may as well be `--`.
  const takesValue = flags.value === 'required';
  return {
    short: flags.short,
    long: flags.long,
    description: firstLine(o.description),
    value: takesValue ? valueKind(o.choices, o.complete, flags.valueName ?? '') : undefined,
  };
}

function argumentKind(a: ArgumentDef): ValueKind {
  return valueKind(a.choices, a.complete, a.name.replace(/[<>[\].]/g, ''));
}

/** Choices complete as words; otherwise the table's `complete`, or the value's name: `env…` and `file`. */
function valueKind(choices: readonly string[] | undefined, complete: CompleteAs | undefined, name: string): ValueKind {
  if (choices && choices.length > 0) return { kind: 'words', words: choices.map(safeWord) };
  if (complete) return { kind: complete };
  if (/^env/i.test(name)) return { kind: 'environments' };
  if (/^(config|file)$/i.test(name)) return { kind: 'files' };
  return { kind: 'none' };
}

function dedupe(options: OptionSpec[]): OptionSpec[] {
  const seen = new Set<string>();
  return options.filter((o) => {
    const id = o.long ?? o.short ?? '';
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

function firstLine(text: string): string {
  return text.split('\n')[0];
}

/** Words and flags are pasted into scripts unquoted: they come from our own table, so a surprise is a bug. */
function safeWord(word: string): string {
  if (!/^[A-Za-z0-9_.@%+,:=/-]+$/.test(word)) throw new Error(`completion: "${word}" cannot be offered as a completion word`);
  return word;
}

function flagsOf(o: OptionSpec): string[] {
  return [o.short, o.long].filter((f): f is string => f !== undefined).map(safeWord);
}

// ---- the scripts -----------------------------------------------------------------------------------------------

/** `generatedBy`: the node binary and script that printed it, which bash calls back when no other secretrun is found. */
export function completionScript(shell: Shell, spec: CompletionSpec, generatedBy?: readonly string[]): string {
  if (shell === 'bash') return bashScript(spec, generatedBy);
  if (shell === 'zsh') return zshScript(spec);
  return fishScript(spec);
}

function bashScript(spec: CompletionSpec, generatedBy: readonly string[] = []): string {
  const all = [...spec.rootOptions, ...spec.commands.flatMap((c) => c.options)];
  const valueFlags = [...new Set(all.filter((o) => o.value).flatMap(flagsOf))];
  // One arm per way of completing a value: `-c|--config) <files>`, `--grace|--only) <nothing>`, ...
  const flagsByAction = new Map<string, Set<string>>();
  for (const o of all.filter((o) => o.value)) {
    const action = bashValue(o.value!);
    flagsByAction.set(action, new Set([...(flagsByAction.get(action) ?? []), ...flagsOf(o)]));
  }
  const valueCases = [...flagsByAction].map(([action, flags]) => `    ${[...flags].join('|')}) ${action}; return 0 ;;`).join('\n');
  const optionWords = (options: OptionSpec[]) => options.flatMap(flagsOf).join(' ');
  const optionCases = spec.commands.map((c) => `      ${safeWord(c.name)}) words="${optionWords(c.options)}" ;;`).join('\n');
  const positionalCases = spec.commands
    .filter((c) => c.positionals.some((p) => p.kind !== 'none'))
    .map((c) => {
      const arms = c.positionals.map((p, i) => (p.kind === 'none' ? '' : `        ${i}) ${bashValue(p)} ;;`)).filter(Boolean);
      return `    ${safeWord(c.name)})\n      case $positional in\n${arms.join('\n')}\n      esac ;;`;
    })
    .join('\n');
  return `# bash completion for secretrun (generated by "secretrun completion bash").
# Install for your user:  secretrun completion bash > ~/.local/share/bash-completion/completions/secretrun
# or add to ~/.bashrc:    eval "$(secretrun completion bash)"

# The secretrun to ask, also when it is not on PATH (installed with --save-dev, run with npx): the word being
# completed when it is a path (./node_modules/.bin/secretrun), else secretrun on PATH, else the nearest
# node_modules/.bin/secretrun up from here, else the program that generated this script.
_secretrun_generated_by=(${generatedBy.map(shQuote).join(' ')})
_secretrun_run() {
  local first=\${COMP_WORDS[0]} dir=$PWD
  first=\${first/#\~/$HOME}
  if [[ $first == */* && -x $first && ! -d $first ]]; then "$first" "$@"; return; fi
  if type -P secretrun >/dev/null 2>&1; then command secretrun "$@"; return; fi
  while :; do
    if [[ -x $dir/node_modules/.bin/secretrun ]]; then "$dir/node_modules/.bin/secretrun" "$@"; return; fi
    [[ -z $dir || $dir == / ]] && break
    dir=\${dir%/*}
  done
  if [[ \${#_secretrun_generated_by[@]} -gt 0 && -f \${_secretrun_generated_by[1]} ]]; then "\${_secretrun_generated_by[@]}" "$@"; fi
}

# Environment names of the sources file secretrun would use here (or the one given with -c on the line).
# secretrun prints one name per line, and nothing at all on any error.
_secretrun_environments() {
  local i config=
  for ((i = 1; i < COMP_CWORD; i++)); do
    case \${COMP_WORDS[i]} in
      --) break ;;
      -c|--config)
        config=\${COMP_WORDS[i+1]}
        [[ $config == = ]] && config=\${COMP_WORDS[i+2]} ;;
    esac
  done
  config=\${config/#\\~/$HOME}
  if [[ -n $config ]]; then
    _secretrun_run completion --list-envs --config "$config" 2>/dev/null
  else
    _secretrun_run completion --list-envs 2>/dev/null
  fi
}

# Add the lines on stdin that start with $cur. No shell expansion is applied to them (unlike compgen -W).
_secretrun_add_matching() {
  local word
  while IFS= read -r word; do
    [[ -n $word && $word == "$cur"* ]] && COMPREPLY+=("$word")
  done
}

_secretrun() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev= cmd= word words i positional=0
  COMPREPLY=()
  # bash splits "--format=json" at "=": complete what follows it as the option's value.
  [[ $cur == = ]] && cur=
  ((COMP_CWORD >= 1)) && prev=\${COMP_WORDS[COMP_CWORD-1]}
  [[ $prev == = ]] && ((COMP_CWORD >= 2)) && prev=\${COMP_WORDS[COMP_CWORD-2]}

  for ((i = 1; i < COMP_CWORD; i++)); do
    word=\${COMP_WORDS[i]}
    case $word in
      --)
        # After --: the program to run and its own arguments.
        if declare -F _command_offset >/dev/null; then
          _command_offset $((i + 1))
        elif ((i == COMP_CWORD - 1)); then
          COMPREPLY=($(compgen -c -- "$cur"))
        else
          compopt -o default 2>/dev/null
        fi
        return 0 ;;
      ${valueFlags.join('|')})
        ((i++))
        [[ \${COMP_WORDS[i]} == = ]] && ((i++)) ;;
      -*|=) ;;
      *)
        if [[ -z $cmd ]]; then cmd=$word; else ((positional++)); fi ;;
    esac
  done

  case $prev in
${valueCases}
  esac

  if [[ $cur == -* ]]; then
    case $cmd in
${optionCases}
      *) words="${optionWords(spec.rootOptions)}" ;;
    esac
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
    return 0
  fi

  case $cmd in
    '') COMPREPLY=($(compgen -W "${spec.commands.map((c) => safeWord(c.name)).join(' ')}" -- "$cur")) ;;
${positionalCases}
  esac
  return 0
}

complete -F _secretrun secretrun
`;
}

function bashValue(v: ValueKind): string {
  switch (v.kind) {
    case 'environments':
      return '_secretrun_add_matching <<<"$(_secretrun_environments)"';
    case 'files':
      return 'compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur"))';
    case 'words':
      return `COMPREPLY=($(compgen -W "${v.words.join(' ')}" -- "$cur"))`;
    case 'none':
      return ':';
  }
}

function dedupeBy<T>(items: T[], key: (t: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((t) => !seen.has(key(t)) && !!seen.add(key(t)));
}

/** A string inside single quotes for sh-family shells. */
function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function zshScript(spec: CompletionSpec): string {
  const indent = (lines: string[], n: number) => lines.map((l) => ' '.repeat(n) + l + ' \\').join('\n');
  const commandList = spec.commands.map((c) => `    ${shQuote(`${c.name}:${c.description}`)}`).join('\n');
  const commandCases = spec.commands
    .map((c) => {
      const specs = [...c.options.map(zshOption), ...zshPositionals(c.positionals)];
      return `        ${safeWord(c.name)})\n          _arguments -s -S \\\n${indent(specs, 12)}\n            && ret=0 ;;`;
    })
    .join('\n');
  return `#compdef secretrun
# zsh completion for secretrun (generated by "secretrun completion zsh").
# Install: secretrun completion zsh > "\${fpath[1]}/_secretrun"   (any directory on $fpath; then start a new shell)
# or add to ~/.zshrc, after compinit:   eval "$(secretrun completion zsh)"

# Environment names of the sources file secretrun would use here (or the one given with -c on the line).
# secretrun prints one name per line, and nothing at all on any error.
_secretrun_environments() {
  local config=\${opt_args[-c]:-\${opt_args[--config]}}
  local -a cfg envs
  [[ -n $config ]] && cfg=(--config "\${config/#\\~/$HOME}")
  envs=(\${(f)"$(command secretrun completion --list-envs "\${cfg[@]}" 2>/dev/null)"})
  _wanted environments expl environment compadd -a envs
}

_secretrun() {
  local i
  # After --: the program to run and its own arguments, completed as a command line of their own.
  for ((i = 2; i < CURRENT; i++)); do
    if [[ $words[i] == -- ]]; then
      shift $i words
      (( CURRENT -= i ))
      _normal
      return
    fi
  done

  local curcontext=$curcontext state line ret=1
  typeset -A opt_args
  # -A: options after the command word belong to the command, not to secretrun itself.
  _arguments -C -A '-*' \\
${indent(spec.rootOptions.map(zshOption), 4)}
    '1: :->command' \\
    '*:: :->args' && ret=0

  case $state in
    command)
      local -a commands
      commands=(
${commandList}
      )
      _describe -t commands 'secretrun command' commands && ret=0 ;;
    args)
      curcontext=\${curcontext%:*:*}:secretrun-$words[1]:
      case $words[1] in
${commandCases}
      esac ;;
  esac
  return ret
}

if [[ $zsh_eval_context[-1] == loadautoload ]]; then
  _secretrun "$@"
else
  compdef _secretrun secretrun
fi
`;
}

function zshOption(o: OptionSpec): string {
  const flags = flagsOf(o);
  // "--format=" accepts both "--format json" and "--format=json".
  const withEq = (f: string) => (o.value && f.startsWith('--') ? `${f}=` : f);
  const desc = `[${o.description.replace(/([\\[\]])/g, '\\$1')}]`;
  const value = o.value ? `:${zshValue(o.value)}` : '';
  const exclusive = flags.length > 1 ? shQuote(`(${flags.join(' ')})`) : '';
  const body = flags.length > 1 ? `{${flags.map(withEq).join(',')}}` : withEq(flags[0]);
  return `${exclusive}${body}${shQuote(desc + value)}`;
}

function zshPositionals(positionals: ValueKind[]): string[] {
  return positionals.map((p, i) => shQuote(`${i + 1}:${zshValue(p)}`));
}

function zshValue(v: ValueKind): string {
  switch (v.kind) {
    case 'environments':
      return 'environment:_secretrun_environments';
    case 'files':
      return 'file:_files';
    case 'words':
      return `value:(${v.words.join(' ')})`;
    case 'none':
      return 'value: ';
  }
}

/** A string inside single quotes for fish, where \\ and \\' are the only escapes. */
function fishQuote(s: string): string {
  return `'${s.replace(/[\\']/g, '\\$&')}'`;
}

function fishScript(spec: CompletionSpec): string {
  const line = (condition: string, rest: string) => `complete -c secretrun -n ${fishQuote(condition)} ${rest}`;
  const noCommand = '__fish_use_subcommand; and not __secretrun_after_dashdash';
  const inCommand = (name: string) => `__fish_seen_subcommand_from ${safeWord(name)}; and not __secretrun_after_dashdash`;
  const lines: string[] = [];
  for (const c of spec.commands) lines.push(line(noCommand, `-a ${safeWord(c.name)} -d ${fishQuote(c.description)}`));
  for (const o of spec.rootOptions) lines.push(line(noCommand, fishOption(o)));
  for (const c of spec.commands) {
    for (const o of c.options) lines.push(line(inCommand(c.name), fishOption(o)));
    const kinds = c.positionals.filter((p) => p.kind !== 'none');
    for (const p of dedupeBy(kinds, (k) => JSON.stringify(k))) lines.push(line(inCommand(c.name), fishValue(p)));
  }
  return `# fish completion for secretrun (generated by "secretrun completion fish").
# Install: secretrun completion fish > ~/.config/fish/completions/secretrun.fish

# Environment names of the sources file secretrun would use here (or the one given with -c on the line).
# secretrun prints one name per line, and nothing at all on any error.
function __secretrun_environments
    set -l tokens (commandline -opc)
    set -l config
    set -l n (count $tokens)
    for i in (seq 2 $n)
        switch $tokens[$i]
            case --
                break
            case -c --config
                if test $i -lt $n
                    set config $tokens[(math $i + 1)]
                end
            case '--config=*'
                set config (string replace -- --config= '' $tokens[$i])
        end
    end
    if test -n "$config"
        command secretrun completion --list-envs --config $config 2>/dev/null
    else
        command secretrun completion --list-envs 2>/dev/null
    end
end

function __secretrun_after_dashdash
    contains -- -- (commandline -opc)
end

# After --: complete the program to run and its arguments as a command line of their own.
function __secretrun_complete_child
    set -l tokens (commandline -opc)
    set -l idx (contains -i -- -- $tokens)
    set -l child
    if test $idx -lt (count $tokens)
        set child (string escape -- $tokens[(math $idx + 1)..-1])
    end
    complete -C (string join -- ' ' $child (commandline -ct))
end

complete -c secretrun -f
complete -c secretrun -n __secretrun_after_dashdash -x -a '(__secretrun_complete_child)'
${lines.join('\n')}
`;
}

function fishOption(o: OptionSpec): string {
  const parts: string[] = [];
  if (o.short) parts.push(`-s ${safeWord(o.short.replace(/^-/, ''))}`);
  if (o.long) parts.push(`-l ${safeWord(o.long.replace(/^--/, ''))}`);
  if (o.value) parts.push(fishValue(o.value, true));
  parts.push(`-d ${fishQuote(o.description)}`);
  return parts.join(' ');
}

function fishValue(v: ValueKind, forOption = false): string {
  switch (v.kind) {
    case 'environments':
      return `-x -a '(__secretrun_environments)'`;
    case 'files':
      return '-r -F';
    case 'words':
      return `-x -a ${fishQuote(v.words.join(' '))}`;
    case 'none':
      return forOption ? '-x' : '';
  }
}
