/**
 * Command-line words before commander sees them (pure; unit-tested in test/argv.test.ts): the plain-run fast
 * path, the default `run` command, and common options given before the command.
 */
import { closest } from './config/validate.js';
import { UsageError } from './errors.js';

export const COMMAND_NAMES = ['run', 'export', 'diff', 'ls', 'get', 'init', 'check', 'completion'];

/**
 * The plain run, `secretrun [run] [-c FILE] [-e ENV] [-q] [--strict] [--pristine] -- cmd ...`, is the start-up hot
 * path of every wrapped process: parse it without loading commander. Anything else (other options, help, errors)
 * returns undefined and goes through commander as usual.
 */
export function plainRunArgs(argv: string[]): { command: string[]; opts: Record<string, string | boolean> } | undefined {
  const opts: Record<string, string | boolean> = {};
  let i = argv[0] === 'run' ? 1 : 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      const command = argv.slice(i + 1);
      return command.length > 0 ? { command, opts } : undefined;
    }
    const value = (name: string) => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('-')) return false;
      opts[name] = v;
      return true;
    };
    if (a === '-c' || a === '--config') {
      if (!value('config')) return undefined;
    } else if (a === '-e' || a === '--env') {
      if (!value('env')) return undefined;
    } else if (a.startsWith('--config=')) opts.config = a.slice('--config='.length);
    else if (a.startsWith('--env=')) opts.env = a.slice('--env='.length);
    else if (a === '-q' || a === '--quiet') opts.quiet = true;
    else if (a === '--strict' || a === '--pristine') opts[a.slice(2)] = true;
    else return undefined;
  }
  return undefined;
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

