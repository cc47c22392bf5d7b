/**
 * The command table: every command, its arguments and options, its failure exit code and its help examples,
 * once. The commander program (main.ts), the fast argv path (argv.ts) and shell completion
 * (commands/completion.ts) all read it, and test/command-table.test.ts proves that every row reaches `--help`
 * and the three completion scripts.
 *
 * Adding a command: one module in commands/ and one row here. Adding an option: one entry in a row's `options`
 * (or in COMMON_OPTIONS for every command that reads secrets). This file is plain data plus lazy imports: the
 * plain `secretrun -- cmd` path reads it without loading commander.
 */
import { EXPORT_FORMATS } from '../formats/export-formats.js';
import pkg from '../../package.json' with { type: 'json' };

export type Outcome = number | { code: number } | { signal: NodeJS.Signals };

/** How completion offers a value; by default a value's name says it (`env…` → environments, `file` → files). */
export type CompleteAs = 'environments' | 'files' | 'none';

export interface OptionDef {
  /** Commander's syntax: `-c, --config <file>`, `--watch [seconds]`, `--only <keys...>`, `--no-exec`. */
  flags: string;
  description: string;
  choices?: readonly string[];
  default?: string;
  /** Given several times, the values collect into an array in order (`--dotenv a --dotenv b`). */
  repeatable?: boolean;
  /**
   * Several options that fill one list, in the order given across them: `--dotenv a --dotenv-optional b` gives
   * `dotenv: [{ path: 'a', optional: false }, { path: 'b', optional: true }]`. `key` is the list's option key.
   */
  collect?: { key: string; item: (value: string) => unknown };
  /** Accepted but not shown in help or offered by completion (the completion scripts' own callback). */
  hidden?: boolean;
  complete?: CompleteAs;
}

export interface ArgumentDef {
  /** Commander's syntax: `<key>`, `[shell]`, `<command...>`. */
  name: string;
  description: string;
  choices?: readonly string[];
  complete?: CompleteAs;
}

export interface CommandDef {
  name: string;
  description: string;
  arguments: ArgumentDef[];
  options: OptionDef[];
  /** Exit code of a failure of this command (contract section 5): run 125, diff 2, the others 1. */
  failureExit: number;
  /** Options after the first argument belong to it (`run -- node --inspect`), not to secretrun. */
  passThrough?: boolean;
  /** Parsed by argv.ts without loading commander when every word on the line is simple (the hot paths). */
  fastPath?: boolean;
  examples: [command: string, comment: string][];
  /** Import the command's module and run it; `args` are the positional arguments in order. */
  action(args: unknown[], opts: Record<string, unknown>): Promise<Outcome>;
}

/** Options of every command that reads secrets. */
export const COMMON_OPTIONS: OptionDef[] = [
  { flags: '-c, --config <file>', description: 'sources file (default: nearest secretrun.yaml, or SECRETRUN_CONFIG)', complete: 'files' },
  { flags: '-e, --env <name>', description: 'environment to use (default: SECRETRUN_ENV, then default_environment)', complete: 'environments' },
  {
    flags: '--dotenv <path>',
    description: "add a dotenv file as a layer after the sources file's (repeatable); no sources file needed",
    collect: { key: 'dotenv', item: (path) => ({ path, optional: false }) },
    complete: 'files',
  },
  {
    flags: '--dotenv-optional <path>',
    description: 'as --dotenv, but a missing file is skipped',
    collect: { key: 'dotenv', item: (path) => ({ path, optional: true }) },
    complete: 'files',
  },
  { flags: '--override', description: 'with --dotenv and no sources file: the files win over variables already set in the environment (by default those win, as with dotenv run)' },
  { flags: '-q, --quiet', description: 'no progress or warnings on stderr' },
];

/** `--strict` means something different per command (docs/commands.md, "--strict"), so each row words it. */
const strict = (description: string): OptionDef => ({ flags: '--strict', description });
const RISKY_STRICT = strict('treat risky names set by a layer (PATH, LD_PRELOAD, NODE_OPTIONS, ...) as errors');

/** The program's own options (besides --help); the default command's options are accepted at the top level too. */
export const PROGRAM_OPTIONS: OptionDef[] = [{ flags: '-V, --version', description: 'print the version (also -v, secretrun version)' }];

/** Every way to ask for the version on its own: `-v`, `-V`, `--version`, `secretrun version`. */
export const VERSION_WORDS = ['-v', '-V', '--version', 'version'];

/** The command that runs when the line starts with options and has `--` (`secretrun -e prod -- cmd`). */
export const DEFAULT_COMMAND = 'run';

export const COMMANDS: CommandDef[] = [
  {
    name: 'run',
    description: 'resolve the layers, then run <command> with them as environment variables',
    arguments: [{ name: '<command...>', description: 'the program and its arguments (after --)', complete: 'none' }],
    options: [
      ...COMMON_OPTIONS,
      RISKY_STRICT,
      { flags: '--pristine', description: 'give the child only the merged layers, not the parent environment' },
      { flags: '--watch [seconds]', description: 're-resolve every SECONDS (default 30, minimum 2) and when a local file changes; restart the command when the merged set changes' },
      { flags: '--on-change <action>', description: 'with --watch: "restart" (default), or "signal:NAME" to only send NAME, e.g. signal:SIGHUP (the process keeps its old environment)' },
      { flags: '--restart-signal <signal>', description: 'with --watch: the signal that stops the command before a restart (default SIGTERM)' },
      { flags: '--grace <seconds>', description: 'with --watch: seconds to wait after the restart signal before SIGKILL (default 10)' },
      { flags: '--listen <address>', description: 'watch mode with an HTTP listener on [HOST:]PORT (host default 127.0.0.1): POST re-resolves (signed with SECRETRUN_WEBHOOK_SECRET), GET /healthz reports; push-only unless --watch=SECONDS too' },
      { flags: '--jitter <seconds>', description: 'with --watch/--listen: wait a random time up to SECONDS before a webhook- or poll-triggered re-resolve (spreads a fleet)' },
      { flags: '--mask [names]', description: "replace secret values in the command's stdout and stderr with **** (or <KEY> with --mask=names); they become pipes, not a terminal" },
      { flags: '--no-exec', description: "keep secretrun as the command's parent, relaying signals, even where it could hand its process over with execve (Node >= 22.15)" },
      { flags: '--as-file <key>', description: "give the command KEY as a file: the variable holds the file's path (repeatable; adds to as_file; without a sources file, from the environment)", repeatable: true, complete: 'none' },
      { flags: '--mount <path>', description: 'serve the whole merged set as one file at PATH (the command gets SECRETRUN_MOUNT, not the variables)', complete: 'files' },
      { flags: '--mount-format <format>', description: 'format of --mount (default from the name: .json, .yaml/.yml, .env)', choices: ['dotenv', 'json', 'yaml'] },
      { flags: '--mount-max-reads <n>', description: 'remove each pipe after N reads (pipes only)', complete: 'none' },
      { flags: '--file-kind <kind>', description: 'named pipes (default), or tmpfs: regular files on a RAM-backed filesystem, for programs that refuse a pipe', choices: ['pipe', 'tmpfs'] },
    ],
    failureExit: 125,
    passThrough: true,
    fastPath: true,
    examples: [
      ['secretrun -- node server.js', 'the default command, with --'],
      ['secretrun run -e prod --pristine -- ./manage.py migrate', 'only the layers, not the parent env'],
      ['secretrun --watch=10 --mask -- node server.js', 'restart on change; redact output'],
      ['secretrun --listen 9000 --jitter 5 -- node server.js', 'restart when a signed webhook says a secret changed'],
      ['secretrun --as-file TLS_KEY -- nginx', "TLS_KEY holds a pipe's path; reading it gives the key"],
    ],
    action: async ([command], opts) => (await import('./commands/run.js')).run(command as string[], opts),
  },
  {
    name: 'export',
    description: 'print the merged layers on stdout',
    arguments: [],
    options: [
      ...COMMON_OPTIONS,
      strict('treat risky names set by a layer (PATH, LD_PRELOAD, ...) as errors; with --format dotenv, also a value whose only exact spelling would run a command when a shell sources the file'),
      { flags: '-f, --format <format>', description: 'output format', choices: EXPORT_FORMATS, default: 'dotenv' },
    ],
    failureExit: 1,
    fastPath: true,
    examples: [
      ['secretrun export --format dotenv', ''],
      ['eval "$(secretrun export -f shell)"', 'load into the current shell'],
      ['secretrun export -e prod -f json | jq .', ''],
    ],
    action: async (_args, opts) => (await import('./commands/export.js')).exportCommand(opts),
  },
  {
    name: 'diff',
    description: 'compare two environments: keys only in A, only in B, and changed (values masked)',
    arguments: [
      { name: '<envA>', description: 'first environment' },
      { name: '<envB>', description: 'second environment' },
    ],
    // Not -e: the two environments are the arguments.
    options: [
      ...COMMON_OPTIONS.filter((o) => !o.flags.startsWith('-e, --env ')),
      { flags: '--reveal', description: 'show values instead of masks' },
      { flags: '--json', description: 'machine-readable output' },
      { flags: '--only <keys...>', description: 'compare only these keys (names or * globs)', complete: 'none' },
      { flags: '--keys', description: 'compare the key sets only, not the values: exit 1 only when a key is missing on one side' },
    ],
    failureExit: 2,
    examples: [
      ["secretrun diff staging prod --keys --only 'API_*'", 'fail when prod lacks a key staging has'],
      ['secretrun diff dev prod', 'masked report; exit 1 if they differ'],
      ["secretrun diff staging prod --only 'DB_*' API_URL", ''],
      ['secretrun diff dev prod --json', 'machine-readable, no values'],
    ],
    action: async ([a, b], opts) => (await import('./commands/diff.js')).diff(a as string, b as string, opts),
  },
  {
    name: 'ls',
    description: 'list every merged key with its winning layer, shadowed layers and masked value',
    arguments: [],
    options: [...COMMON_OPTIONS, { flags: '--reveal', description: 'show values instead of masks' }, { flags: '--json', description: 'machine-readable output' }],
    failureExit: 1,
    examples: [
      ['secretrun ls', 'which layer each key comes from'],
      ['secretrun ls -e prod --json', ''],
    ],
    action: async (_args, opts) => (await import('./commands/ls.js')).ls(opts),
  },
  {
    name: 'get',
    description: 'print the plain value of KEY (no newline added), for scripts',
    arguments: [{ name: '<key>', description: 'the key to print', complete: 'none' }],
    options: [...COMMON_OPTIONS],
    failureExit: 1,
    fastPath: true,
    examples: [
      ['secretrun get DATABASE_URL', ''],
      ['psql "$(secretrun get DATABASE_URL -e prod)"', ''],
    ],
    action: async ([key], opts) => (await import('./commands/get.js')).get(key as string, opts),
  },
  {
    name: 'init',
    description: 'write a commented starter secretrun.yaml in the current directory (never overwrites)',
    arguments: [],
    options: [
      { flags: '-q, --quiet', description: 'print nothing on success' },
      { flags: '--here', description: "write one even though a project's secretrun.yaml above this directory applies here (the new file shadows it below)" },
    ],
    failureExit: 1,
    examples: [
      ['secretrun init', 'writes secretrun.yaml; adds .env to .gitignore'],
      ['cd services/api && secretrun init --here', "a file of the subdirectory's own, shadowing the project's"],
      ['secretrun init && secretrun check', 'the starter file validates as written'],
    ],
    action: async (_args, opts) => (await import('./commands/init.js')).init(opts),
  },
  {
    name: 'check',
    description: 'validate the sources file offline and report every problem with its location',
    arguments: [],
    options: [
      ...COMMON_OPTIONS,
      strict('exit 1 when a layer file (a .env, a password file) is readable by other users'),
      { flags: '--resolve', description: 'also fetch every layer of the environment and check "require" (values never printed)' },
    ],
    failureExit: 1,
    examples: [
      ['secretrun check', 'offline: every problem with file:line:col'],
      ['secretrun check --resolve -e prod', 'also fetch every layer'],
    ],
    action: async (_args, opts) => (await import('./commands/check.js')).check(opts),
  },
  {
    name: 'completion',
    description: 'print a shell completion script for bash, zsh or fish (commands, options, environment names)',
    arguments: [{ name: '[shell]', description: 'the shell to complete for', choices: ['bash', 'zsh', 'fish'] }],
    options: [
      // Hidden: what the scripts call at TAB time to list the environments of the nearest sources file.
      { flags: '--list-envs', description: 'print the environment names of the sources file', hidden: true },
      // Hidden: for editor plug-ins, each source type with the keys its layers accept (from the source registry).
      { flags: '--list-sources', description: 'print each source type with its options', hidden: true },
      { flags: '-c, --config <file>', description: 'sources file', hidden: true },
    ],
    failureExit: 1,
    examples: [
      ['secretrun completion bash > ~/.local/share/bash-completion/completions/secretrun', ''],
      ['secretrun completion zsh > "${fpath[1]}/_secretrun"', ''],
      ['secretrun completion fish > ~/.config/fish/completions/secretrun.fish', ''],
    ],
    action: async ([shell], opts) => (await import('./commands/completion.js')).completion(shell as string | undefined, opts),
  },
  {
    name: 'version',
    description: 'print the version (also -v, -V, --version)',
    arguments: [],
    options: [],
    failureExit: 1,
    fastPath: true,
    examples: [['secretrun version', '']],
    action: async () => {
      process.stdout.write(`${pkg.version}\n`);
      return 0;
    },
  },
];

export const COMMAND_NAMES: readonly string[] = COMMANDS.map((c) => c.name);

export function commandNamed(name: string): CommandDef | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** The exit code of a failure while `name` ran (1 for a name not in the table). */
export function failureExit(name: string): number {
  return commandNamed(name)?.failureExit ?? 1;
}

// ---- reading the flags syntax (shared by argv.ts, main.ts and completion) ----------------------------------------

export interface ParsedFlags {
  short?: string;
  long?: string;
  /** The key in the parsed options, as commander names it: `--on-change` → `onChange`, `--no-exec` → `exec`. */
  key: string;
  /** `--no-exec`: sets `exec` to false, and `exec` is true unless given. */
  negated: boolean;
  value: 'none' | 'required' | 'optional';
  /** `<keys...>`: every following word up to the next option. */
  variadic: boolean;
  /** The value's name in the syntax: `file` for `<file>`. */
  valueName?: string;
}

/**
 * Read `-c, --config <file>`, `--no-exec`, `--mask [names]`, `--only <keys...>`: an optional `-X,`, an optional
 * `--long-name` (one of the two), then an optional value in `<>` or `[]`. Written without regular expressions:
 * this runs for every option of the command on every start (argv.ts's fast path), and compiling a
 * case-insensitive pattern plus a replace callback cost about 0.4 ms of each `secretrun -- cmd`.
 */
export function parseFlags(flags: string): ParsedFlags {
  const text = flags.trim();
  const fail = (): never => {
    throw new Error(`command table: cannot read the flags "${flags}"`);
  };
  let i = 0;
  let short: string | undefined;
  let long: string | undefined;
  if (text[0] === '-' && isLetter(text.charCodeAt(1)) && text[2] === ',') {
    short = text.slice(0, 2);
    i = 3;
  }
  // The spaces after `-X,` lead to the long name, or else to the value (`-X, <value>`).
  let at = i;
  while (at < text.length && isSpace(text[at])) at++;
  if (text[at] === '-' && text[at + 1] === '-' && isLetter(text.charCodeAt(at + 2))) {
    let j = at + 3;
    while (j < text.length && (isLetter(text.charCodeAt(j)) || isDigit(text.charCodeAt(j)) || text[j] === '-')) j++;
    long = text.slice(at, j);
    i = j;
  }
  if (!short && !long) fail();
  let bracket: string | undefined;
  let valueName: string | undefined;
  let dots = false;
  if (i < text.length) {
    const spaces = i;
    while (i < text.length && isSpace(text[i])) i++;
    if (i === spaces || (text[i] !== '<' && text[i] !== '[')) fail();
    bracket = text[i++];
    const start = i;
    while (i < text.length && (isLetter(text.charCodeAt(i)) || text[i] === '-')) i++;
    if (i === start) fail();
    valueName = text.slice(start, i);
    if (text.startsWith('...', i)) {
      dots = true;
      i += 3;
    }
    if ((text[i] !== '>' && text[i] !== ']') || i + 1 !== text.length) fail();
  }
  const negated = !!long?.startsWith('--no-');
  const bare = negated ? long!.slice(5) : long ? long.slice(2) : short!.slice(1);
  let key = '';
  for (let k = 0; k < bare.length; k++) {
    const next = bare.charCodeAt(k + 1);
    if (bare[k] === '-' && (isLowerLetter(next) || isDigit(next))) key += bare[++k].toUpperCase();
    else key += bare[k];
  }
  return {
    short,
    long,
    key,
    negated,
    value: bracket === '<' ? 'required' : bracket === '[' ? 'optional' : 'none',
    variadic: dots,
    valueName,
  };
}

const isLowerLetter = (c: number): boolean => c >= 97 && c <= 122;
const isLetter = (c: number): boolean => isLowerLetter(c | 32);
const isDigit = (c: number): boolean => c >= 48 && c <= 57;
/** JavaScript's `\s` (what `trim` removes). */
const isSpace = (ch: string): boolean => ch.trim() === '';
