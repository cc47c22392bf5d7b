/**
 * Command-line words before commander sees them (pure; unit-tested in test/argv.test.ts): the fast paths that
 * skip commander, the default `run` command, and options given before the command. Everything here is derived
 * from the command table (command-table.ts).
 */
import { closest } from '../core/validate.js';
import { UsageError } from '../core/errors.js';
import { COMMANDS, COMMAND_NAMES, DEFAULT_COMMAND, PROGRAM_OPTIONS, commandNamed, parseFlags, type CommandDef, type OptionDef, type ParsedFlags } from './command-table.js';

export { COMMAND_NAMES };

type Options = Record<string, unknown>;

interface KnownOption {
  def: OptionDef;
  flags: ParsedFlags;
}

/** Every spelling of a list of options (`-c`, `--config`) → the option. */
function spellings(options: readonly OptionDef[]): Map<string, KnownOption> {
  const words = new Map<string, KnownOption>();
  for (const def of options) {
    const flags = parseFlags(def.flags);
    if (flags.short) words.set(flags.short, { def, flags });
    if (flags.long) words.set(flags.long, { def, flags });
  }
  return words;
}

const perCommand = new Map<CommandDef, Map<string, KnownOption>>();
function optionsOf(row: CommandDef): Map<string, KnownOption> {
  let words = perCommand.get(row);
  if (!words) perCommand.set(row, (words = spellings(row.options)));
  return words;
}

/**
 * Read a command's options and positional words from `argv[from]` up to a `--` or the end, the way commander
 * would. Returns undefined for anything less simple (an unknown word, an optional or variadic value, a value
 * outside its choices): commander then handles the whole line, with its messages.
 */
function fastOptions(argv: string[], from: number, row: CommandDef): { opts: Options; positionals: string[]; end: number } | undefined {
  const known = optionsOf(row);
  const opts: Options = {};
  const positionals: string[] = [];
  let i = from;
  for (; i < argv.length && argv[i] !== '--'; i++) {
    const word = argv[i];
    if (!word.startsWith('-') || word === '-') {
      positionals.push(word);
      continue;
    }
    const eq = word.startsWith('--') ? word.indexOf('=') : -1;
    const [name, inline] = eq > 0 ? [word.slice(0, eq), word.slice(eq + 1)] : [word, undefined];
    const option = known.get(name);
    if (!option || option.flags.value === 'optional' || option.flags.variadic) return undefined;
    const { def, flags } = option;
    if (flags.value === 'none') {
      if (inline !== undefined) return undefined;
      opts[flags.key] = !flags.negated;
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined || (inline === undefined && value.startsWith('-'))) return undefined;
    if (def.choices && !def.choices.includes(value)) return undefined;
    if (def.collect) ((opts[def.collect.key] ??= []) as unknown[]).push(def.collect.item(value));
    else opts[flags.key] = def.repeatable ? [...((opts[flags.key] as string[] | undefined) ?? []), value] : value;
  }
  for (const { def, flags } of known.values()) {
    if (opts[flags.key] !== undefined) continue;
    if (def.default !== undefined) opts[flags.key] = def.default;
    else if (flags.negated) opts[flags.key] = true;
  }
  return { opts, positionals, end: i };
}

export interface PlainCommand {
  command: CommandDef;
  /** Positional arguments in the table's order; for `run`, the one argument is the command line after `--`. */
  args: unknown[];
  opts: Options;
}

/**
 * The hot paths, parsed without loading commander: the plain run of every wrapped process,
 * `secretrun [run] [options] -- cmd ...`, and the commands marked `fastPath` in the table (`export`, `get`) when
 * their line holds only their own simple options and exactly their arguments. Anything else (help, errors,
 * optional values) returns undefined and goes through commander as usual.
 */
export function plainArgs(argvIn: string[]): PlainCommand | undefined {
  let argv: string[];
  try {
    argv = hoistLeadingOptions(argvIn);
  } catch {
    return undefined; // commander's path reports it
  }
  const named = commandNamed(argv[0] ?? '');
  const row = named ?? commandNamed(DEFAULT_COMMAND)!;
  if (!row.fastPath) return undefined;
  const parsed = fastOptions(argv, named ? 1 : 0, row);
  if (!parsed) return undefined;
  if (row.passThrough) {
    const rest = argv.slice(parsed.end + 1);
    if (argv[parsed.end] !== '--' || parsed.positionals.length > 0 || rest.length === 0) return undefined;
    return { command: row, args: [rest], opts: parsed.opts };
  }
  const required = row.arguments.every((a) => a.name.startsWith('<') && !a.name.includes('...'));
  if (!named || !required || parsed.end !== argv.length || parsed.positionals.length !== row.arguments.length) return undefined;
  return { command: row, args: parsed.positionals, opts: parsed.opts };
}

/** The program's own option words (`-V`, `--version`, `-h`, `--help`): never the start of a default `run`. */
const PROGRAM_WORDS = new Set(['-h', '--help', ...spellings(PROGRAM_OPTIONS).keys()]);

/**
 * The default command is `run`, but only with `--`: `secretrun -- node server.js` or `secretrun -e prod -- cmd`.
 * A first word that is neither a command nor an option is a usage error, so `secretrun exprot` never runs a
 * program called `exprot`.
 */
export function normaliseArgv(argsIn: string[]): string[] {
  requireOptionValues(argsIn);
  const args = hoistLeadingOptions(argsIn);
  const first = args[0];
  if (first === undefined) return args;
  if (first === '--' || (first.startsWith('-') && args.includes('--') && !PROGRAM_WORDS.has(first))) return [DEFAULT_COMMAND, ...args];
  if (!first.startsWith('-') && !COMMAND_NAMES.includes(first) && first !== 'help') {
    const hint = closest(first, [...COMMAND_NAMES]);
    throw new UsageError(`unknown command "${first}"${hint ? ` (did you mean "${hint}"?)` : ''}; to run a program, put it after --: secretrun -- ${first} ...`);
  }
  return args;
}

/**
 * The option any command knows by this word (not hidden), to tell where the leading options end: what a map of
 * every command's spellings would answer (the last definition wins), without parsing every command's flags on the
 * hot path, where one or two leading words are looked up. Only the flags that contain the word are parsed.
 */
function anyOptionNamed(word: string): KnownOption | undefined {
  if (!word.startsWith('-') || word === '--') return undefined;
  for (let c = COMMANDS.length - 1; c >= 0; c--) {
    const options = COMMANDS[c].options;
    for (let o = options.length - 1; o >= 0; o--) {
      const def = options[o];
      if (def.hidden || !def.flags.includes(word)) continue;
      const flags = parseFlags(def.flags);
      if (flags.short === word || flags.long === word) return { def, flags };
    }
  }
  return undefined;
}

/** Every option word any command knows, hidden options included. */
let everyOption: Map<string, KnownOption> | undefined;

/**
 * An option that takes a value, followed by `--` or by nothing, is missing its value: say so, rather than let it
 * take the `--` (`--dotenv -- node app.js` would read a file named `--`) or leave commander's words.
 */
function requireOptionValues(args: string[]): void {
  everyOption ??= spellings(COMMANDS.flatMap((c) => c.options));
  for (let i = 0; i < args.length && args[i] !== '--'; i++) {
    const option = everyOption.get(args[i]);
    if (!option || option.flags.value !== 'required') continue;
    const next = args[i + 1];
    if (next === undefined || next === '--') throw new UsageError(`${args[i]} needs a value: ${option.def.flags}`);
    i++;
  }
}

/**
 * A value outside an option's or argument's choices, in the words of every other unknown name:
 * `--format: unknown format "jsno" (did you mean "json"?) (expected one of: dotenv, json, yaml, shell)`.
 */
export function choiceError(where: string, noun: string, value: string, choices: readonly string[]): UsageError {
  const hint = closest(value, [...choices]);
  return new UsageError(`${where}: unknown ${noun} "${value}"${hint ? ` (did you mean "${hint}"?)` : ''} (expected one of: ${choices.join(', ')})`);
}

/** An option another command takes, given to one that does not (`diff -e prod a b`): say whose it is not. */
export function foreignOption(row: CommandDef, word: string): UsageError | undefined {
  if (!anyOptionNamed(word)) return undefined;
  return new UsageError(`${row.name} does not take ${word}; usage: ${usageLine(row)}`);
}

function usageLine(row: CommandDef): string {
  return ['secretrun', row.name, ...row.arguments.map((a) => a.name), '[options]'].join(' ');
}

/**
 * Words beyond a command's arguments (`secretrun ls prod`). A word is quoted only when it looks like a name (never
 * a value someone pasted); `-e NAME` is suggested where the command takes it.
 */
export function excessArgumentsError(row: CommandDef, extra: readonly string[]): UsageError {
  const usage = usageLine(row);
  const first = extra[0] ?? '';
  const nameLike = /^[A-Za-z0-9_.-]{1,40}$/.test(first);
  const what = extra.length === 1 && nameLike ? `unexpected argument "${first}"` : `${extra.length} unexpected argument${extra.length === 1 ? '' : 's'}`;
  const takesEnv = row.options.some((o) => parseFlags(o.flags).long === '--env');
  const hint = takesEnv && nameLike && row.arguments.length === 0 ? ` (to choose an environment: -e ${first})` : '';
  return new UsageError(`${row.name}: ${what}${hint}; usage: ${usage}`);
}

/**
 * Options given before the command (`secretrun -e prod export`) move after it, where commander expects them;
 * the command then accepts or refuses them as its own.
 */
function hoistLeadingOptions(args: string[]): string[] {
  let i = 0;
  while (i < args.length) {
    const a = args[i];
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const option = anyOptionNamed(eq > 0 ? a.slice(0, eq) : a);
    if (!option || PROGRAM_WORDS.has(a)) break;
    i += option.flags.value === 'required' && eq < 0 ? 2 : 1;
  }
  const next = args[i];
  if (i > 0 && next === undefined) {
    const given = args.join(' ');
    throw new UsageError(`missing command: secretrun ${given} -- <command> [args...], or name one (${COMMAND_NAMES.join(', ')})`);
  }
  if (i === 0 || next === undefined || !COMMAND_NAMES.includes(next)) return args;
  return [next, ...args.slice(0, i), ...args.slice(i + 1)];
}

/**
 * Options people type from habit, mapped to ours. `--env-file` is what Node, Docker and Bun call it; secretrun
 * cannot use that name because Node itself acts on `--env-file` anywhere in a script's arguments.
 */
const OPTION_ALIASES: Record<string, string> = { '--env-file': '--dotenv', '--env-file-if-exists': '--dotenv-optional' };

/**
 * The option an unknown one most likely meant: a habitual alias (`--env-file` -> `--dotenv`), else the closest
 * by a small edit distance (`--fromat` -> `--format`), else the longest known option it begins with
 * (`--enviroment` -> `--env`).
 */
export function suggestOption(flag: string, known: readonly string[]): string | undefined {
  const alias = OPTION_ALIASES[flag];
  if (alias && known.includes(alias)) return alias;
  const longs = known.filter((k) => k.startsWith('--'));
  const near = closest(flag, flag.startsWith('--') ? longs : [...known]);
  return near ?? (flag.startsWith('--') ? longs.filter((k) => flag.startsWith(k)).sort((a, b) => b.length - a.length)[0] : undefined);
}
