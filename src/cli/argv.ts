/**
 * Command-line words before commander sees them (pure; unit-tested in test/argv.test.ts): the plain-run fast
 * path, the default `run` command, and common options given before the command.
 */
import { closest } from '../core/validate.js';
import { UsageError } from '../core/errors.js';
import type { ExtraDotenv } from '../core/config.js';

export const COMMAND_NAMES = ['run', 'export', 'diff', 'ls', 'get', 'init', 'check', 'completion', 'version'];

type SimpleOptions = { [option: string]: string | boolean | ExtraDotenv[] | undefined; dotenv?: ExtraDotenv[] };

/** Option words the fast paths understand, each mapped to its option name; `value` ones take an argument. */
const FAST_FLAGS: Record<string, string> = { '-q': 'quiet', '--quiet': 'quiet', '--strict': 'strict', '--pristine': 'pristine' };
const FAST_VALUES: Record<string, string> = { '-c': 'config', '--config': 'config', '-e': 'env', '--env': 'env', '-f': 'format', '--format': 'format' };
/** Repeatable, kept in the order given across both spellings. */
const DOTENV_FLAGS: Record<string, boolean> = { '--dotenv': false, '--dotenv-optional': true };

/**
 * Read options from `argv[from]` up to a `--` or the end. Returns where it stopped, or undefined for any word the
 * fast paths do not know (commander then handles the whole command line, with its messages).
 */
function fastOptions(argv: string[], from: number, allowed: string[]): { opts: SimpleOptions; end: number } | undefined {
  const opts: SimpleOptions = {};
  let i = from;
  for (; i < argv.length && argv[i] !== '--'; i++) {
    const [word, inline] = argv[i].startsWith('--') && argv[i].includes('=') ? [argv[i].slice(0, argv[i].indexOf('=')), argv[i].slice(argv[i].indexOf('=') + 1)] : [argv[i], undefined];
    const flag = FAST_FLAGS[word];
    const valued = FAST_VALUES[word] ?? (word in DOTENV_FLAGS ? 'dotenv' : undefined);
    if (flag && allowed.includes(flag) && inline === undefined) opts[flag] = true;
    else if (valued && allowed.includes(valued)) {
      const v = inline ?? argv[++i];
      if (v === undefined || (inline === undefined && v.startsWith('-'))) return undefined;
      if (valued === 'dotenv') (opts.dotenv ??= []).push({ path: v, optional: DOTENV_FLAGS[word] });
      else opts[valued] = v;
    } else return undefined;
  }
  return { opts, end: i };
}

const COMMON = ['config', 'env', 'quiet', 'strict', 'dotenv'];

/**
 * The two hot paths, parsed without loading commander: the plain run of every wrapped process,
 * `secretrun [run] [-c FILE] [-e ENV] [--dotenv PATH] [-q] [--strict] [--pristine] -- cmd ...`, and
 * `secretrun export [-f FORMAT] [common options]`. Anything else (other options, help, errors) returns undefined
 * and goes through commander as usual.
 */
export function plainRunArgs(argv: string[]): { command: string[]; opts: SimpleOptions } | undefined {
  const parsed = fastOptions(argv, argv[0] === 'run' ? 1 : 0, [...COMMON, 'pristine']);
  if (!parsed || argv[parsed.end] !== '--') return undefined;
  const command = argv.slice(parsed.end + 1);
  return command.length > 0 ? { command, opts: parsed.opts } : undefined;
}

export function plainExportArgs(argv: string[], formats: readonly string[]): SimpleOptions | undefined {
  if (argv[0] !== 'export') return undefined;
  const parsed = fastOptions(argv, 1, [...COMMON, 'format']);
  if (!parsed || parsed.end !== argv.length) return undefined;
  const format = (parsed.opts.format as string | undefined) ?? 'dotenv';
  return formats.includes(format) ? { ...parsed.opts, format } : undefined;
}

/**
 * The default command is `run`, but only with `--`: `secretrun -- node server.js` or `secretrun -e prod -- cmd`.
 * A first word that is neither a command nor an option is a usage error, so `secretrun exprot` never runs a
 * program called `exprot`.
 */
export function normaliseArgv(argsIn: string[]): string[] {
  const args = hoistCommonOptions(argsIn);
  const first = args[0];
  if (first === undefined) return args;
  if (first === '--' || (first.startsWith('-') && args.includes('--') && !['-h', '--help', '-V', '--version'].includes(first))) return ['run', ...args];
  if (!first.startsWith('-') && !COMMAND_NAMES.includes(first) && first !== 'help') {
    const hint = closest(first, COMMAND_NAMES);
    throw new UsageError(`unknown command "${first}"${hint ? ` (did you mean "${hint}"?)` : ''}; to run a program, put it after --: secretrun -- ${first} ...`);
  }
  return args;
}

/** Common options given before the command (`secretrun -e prod export`) move after it, where commander expects them. */
function hoistCommonOptions(args: string[]): string[] {
  const WITH_VALUE = ['-c', '--config', '-e', '--env', '--dotenv', '--dotenv-optional'];
  const FLAGS = ['-q', '--quiet', '--strict'];
  let i = 0;
  while (i < args.length) {
    const a = args[i];
    if (WITH_VALUE.includes(a)) i += 2;
    else if (FLAGS.includes(a) || /^--(config|env|dotenv|dotenv-optional)=/.test(a)) i += 1;
    else break;
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
 * The option an unknown one most likely meant: a habitual alias, else the longest known option it begins with
 * (`--enviroment` -> `--env`), else the closest by edit distance (`--fromat` -> `--format`).
 */
export function suggestOption(flag: string, known: readonly string[]): string | undefined {
  const alias = OPTION_ALIASES[flag];
  if (alias && known.includes(alias)) return alias;
  const longs = known.filter((k) => k.startsWith('--'));
  const prefix = flag.startsWith('--') ? longs.filter((k) => flag.startsWith(k)).sort((a, b) => b.length - a.length)[0] : undefined;
  return prefix ?? closest(flag, flag.startsWith('--') ? longs : [...known]);
}
