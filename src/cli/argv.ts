/**
 * Command-line words before commander sees them (pure; unit-tested in test/argv.test.ts): the plain-run fast
 * path, the default `run` command, and common options given before the command.
 */
import { closest } from '../core/validate.js';
import { UsageError } from '../core/errors.js';

export const COMMAND_NAMES = ['run', 'export', 'diff', 'ls', 'get', 'init', 'check', 'completion'];

type SimpleOptions = Record<string, string | boolean>;

/** Option words the fast paths understand, each mapped to its option name; `value` ones take an argument. */
const FAST_FLAGS: Record<string, string> = { '-q': 'quiet', '--quiet': 'quiet', '--strict': 'strict', '--pristine': 'pristine' };
/** Negated flags, as commander reads them: `--no-exec` sets `exec` to false. */
const FAST_NEGATED: Record<string, string> = { '--no-exec': 'exec' };
const FAST_VALUES: Record<string, string> = { '-c': 'config', '--config': 'config', '-e': 'env', '--env': 'env', '-f': 'format', '--format': 'format' };

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
    const valued = FAST_VALUES[word];
    const negated = FAST_NEGATED[word];
    if (flag && allowed.includes(flag) && inline === undefined) opts[flag] = true;
    else if (negated && allowed.includes(negated) && inline === undefined) opts[negated] = false;
    else if (valued && allowed.includes(valued)) {
      const v = inline ?? argv[++i];
      if (v === undefined || (inline === undefined && v.startsWith('-'))) return undefined;
      opts[valued] = v;
    } else return undefined;
  }
  return { opts, end: i };
}

const COMMON = ['config', 'env', 'quiet', 'strict'];

/**
 * The two hot paths, parsed without loading commander: the plain run of every wrapped process,
 * `secretrun [run] [-c FILE] [-e ENV] [-q] [--strict] [--pristine] [--no-exec] -- cmd ...`, and
 * `secretrun export [-f FORMAT] [common options]`. Anything else (other options, help, errors) returns undefined
 * and goes through commander as usual.
 */
export function plainRunArgs(argv: string[]): { command: string[]; opts: SimpleOptions } | undefined {
  const parsed = fastOptions(argv, argv[0] === 'run' ? 1 : 0, [...COMMON, 'pristine', 'exec']);
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
  const WITH_VALUE = ['-c', '--config', '-e', '--env'];
  const FLAGS = ['-q', '--quiet', '--strict'];
  let i = 0;
  while (i < args.length) {
    const a = args[i];
    if (WITH_VALUE.includes(a)) i += 2;
    else if (FLAGS.includes(a) || /^--(config|env)=/.test(a)) i += 1;
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

