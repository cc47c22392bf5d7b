/**
 * The command table and the single exit path. Each command's module is imported only when it runs.
 * No command calls process.exit: they return an exit code (or how the child ended) or throw, and `finish`
 * / `fail` below are the only places that end the process.
 */
import type { Command } from 'commander';
import { ConfigErrors, SecretrunError, UsageError, redact } from '../core/errors.js';
import type { ExtraDotenv } from '../core/config.js';
import { normaliseArgv, plainExportArgs, plainRunArgs, suggestOption } from './argv.js';
import { EXPORT_FORMATS } from '../formats/write.js';
import pkg from '../../package.json' with { type: 'json' };

type Outcome = number | { code: number } | { signal: NodeJS.Signals };

/** The exit code for a failure, per command (contract section 5): run 125, diff 2, others 1. */
const FAILURE_EXIT: Record<string, number> = { run: 125, diff: 2 };
let current = 'run';


function common(cmd: Command): Command {
  // --dotenv and --dotenv-optional fill one list, so the layers keep the order they were given in.
  const dotenv: ExtraDotenv[] = [];
  const addDotenv = (optional: boolean) => (path: string) => (dotenv.push({ path, optional }), dotenv);
  return withSuggestions(cmd)
    .option('-c, --config <file>', 'sources file (default: nearest secretrun.yaml, or SECRETRUN_CONFIG)')
    .option('-e, --env <name>', 'environment to use (default: SECRETRUN_ENV, then default_environment)')
    .option('--dotenv <path>', 'add a dotenv file as a layer after the sources file\'s (repeatable); no sources file needed', addDotenv(false))
    .option('--dotenv-optional <path>', 'as --dotenv, but a missing file is skipped', addDotenv(true))
    .option('-q, --quiet', 'no progress or warnings on stderr')
    .option('--strict', 'treat risky names set by a layer (PATH, LD_PRELOAD, NODE_OPTIONS, ...) as errors')
    .hook('preAction', (_, action) => {
      if (dotenv.length > 0) action.setOptionValue('dotenv', dotenv);
    });
}

/** Unknown options get the same `(did you mean "--env"?)` as unknown commands, environments and keys. */
function withSuggestions(cmd: Command): Command {
  const known = (c: Command) => c.options.filter((o) => !o.hidden).flatMap((o) => [o.long, o.short]).filter((f): f is string => !!f);
  return Object.assign(cmd, {
    unknownOption(flag: string): never {
      // The top level has few options of its own; `secretrun --enviroment prod` most likely meant run's --env.
      const run = cmd.parent ? undefined : cmd.commands.find((c) => c.name() === 'run');
      const word = flag.split('=')[0];
      const hint = suggestOption(word, [...known(cmd), ...(run ? known(run) : [])]);
      throw new UsageError(`unknown option "${word}"${hint ? ` (did you mean "${hint}"?)` : ''}`);
    },
  });
}

function buildProgram({ Argument, Command, Option }: typeof import('commander'), outcome: (o: Promise<Outcome>) => void): Command {
  const program: Command = withSuggestions(new Command('secretrun'))
    .description('Resolve layered secrets and run a command with them as environment variables. Nothing is written to disk.')
    .usage('[options] -- <command> [args...]\n       secretrun <command> [options]')
    .version(pkg.version, '-V, --version', 'print the version (also -v, secretrun version)')
    .enablePositionalOptions()
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ outputError: () => {} })
    // run is the default command: its options belong on the first screen, with the three steps to a first run.
    .addHelpText('after', () => runOptionsHelp(program) + GET_STARTED + examples(
      ['secretrun -- node server.js', 'resolve the layers, then run the command with them as env vars'],
      ['secretrun --dotenv .env -- node server.js', 'no sources file: just a dotenv file'],
      ['secretrun export --format dotenv', 'print the merged result in a standard format'],
      ['secretrun diff dev prod', 'compare two environments, values masked'],
    ));

  const on = (name: string) => () => {
    current = name;
  };

  common(program.command('run', { isDefault: false }))
    .description('resolve the layers, then run <command> with them as environment variables')
    .argument('<command...>', 'the program and its arguments (after --)')
    .option('--pristine', 'give the child only the merged layers, not the parent environment')
    .option('--watch [seconds]', 're-resolve every SECONDS (default 30, minimum 2) and when a local file changes; restart the command when the merged set changes')
    .option('--on-change <action>', 'with --watch: "restart" (default), or "signal:NAME" to only send NAME, e.g. signal:SIGHUP (the process keeps its old environment)')
    .option('--restart-signal <signal>', 'with --watch: the signal that stops the command before a restart (default SIGTERM)')
    .option('--grace <seconds>', 'with --watch: seconds to wait after the restart signal before SIGKILL (default 10)')
    .option('--mask [names]', 'replace secret values in the command\'s stdout and stderr with **** (or <KEY> with --mask=names); they become pipes, not a terminal')
    .passThroughOptions()
    .addHelpText('after', examples(["secretrun -- node server.js", "the default command, with --"], ["secretrun run -e prod --pristine -- ./manage.py migrate", "only the layers, not the parent env"], ["secretrun --watch=10 --mask -- node server.js", "restart on change; redact output"]))
    .hook('preAction', on('run'))
    .action((command: string[], opts) => outcome(import('./commands/run.js').then((m) => m.run(command, opts))));

  common(program.command('export'))
    .description('print the merged layers on stdout')
    .addOption(new Option('-f, --format <format>', 'output format').choices([...EXPORT_FORMATS]).default('dotenv'))
    .addHelpText('after', examples(["secretrun export --format dotenv", ""], ["eval \"$(secretrun export -f shell)\"", "load into the current shell"], ["secretrun export -e prod -f json | jq .", ""]))
    .hook('preAction', on('export'))
    .action((opts) => outcome(import('./commands/export.js').then((m) => m.exportCommand(opts))));

  common(program.command('diff'))
    .description('compare two environments: keys only in A, only in B, and changed (values masked)')
    // Optional for commander, required by diff itself: a variadic --only given first swallows the environments,
    // and the message should say so rather than report a missing envA.
    .argument('[envA]', 'first environment')
    .argument('[envB]', 'second environment')
    .usage('[options] <envA> <envB>')
    .option('--reveal', 'show values instead of masks')
    .option('--json', 'machine-readable output')
    .option('--only <keys...>', 'compare only these keys (names or * globs)')
    .addHelpText('after', examples(["secretrun diff dev prod", "masked report; exit 1 if they differ"], ["secretrun diff staging prod --only 'DB_*' API_URL", ""], ["secretrun diff dev prod --json", "machine-readable, no values"]))
    .hook('preAction', on('diff'))
    .action((envA: string | undefined, envB: string | undefined, opts) => outcome(import('./commands/diff.js').then((m) => m.diff(envA, envB, opts))));

  common(program.command('ls'))
    .description('list every merged key with its winning layer, shadowed layers and masked value')
    .option('--reveal', 'show values instead of masks')
    .option('--json', 'machine-readable output')
    .addHelpText('after', examples(["secretrun ls", "which layer each key comes from"], ["secretrun ls -e prod --json", ""]))
    .hook('preAction', on('ls'))
    .action((opts) => outcome(import('./commands/ls.js').then((m) => m.ls(opts))));

  common(program.command('get'))
    .description('print the plain value of KEY (no newline added), for scripts')
    .argument('<key>', 'the key to print')
    .addHelpText('after', examples(["secretrun get DATABASE_URL", ""], ["psql \"$(secretrun get DATABASE_URL -e prod)\"", ""]))
    .hook('preAction', on('get'))
    .action((key: string, opts) => outcome(import('./commands/get.js').then((m) => m.get(key, opts))));

  program
    .command('init')
    .description('write a commented starter secretrun.yaml in the current directory (never overwrites)')
    .option('-q, --quiet', 'print nothing on success')
    .addHelpText('after', examples(["secretrun init", "writes secretrun.yaml; adds .env to .gitignore"], ["secretrun init && secretrun check", "the starter file validates as written"]))
    .hook('preAction', on('init'))
    .action((opts) => outcome(import('./commands/init.js').then((m) => m.init(opts))));

  common(program.command('check'))
    .description('validate the sources file offline and report every problem with its location')
    .option('--resolve', 'also fetch every layer of the environment and check "require" (values never printed)')
    .addHelpText('after', examples(["secretrun check", "offline: every problem with file:line:col"], ["secretrun check --resolve -e prod", "also fetch every layer"]))
    .hook('preAction', on('check'))
    .action((opts) => outcome(import('./commands/check.js').then((m) => m.check(opts))));

  program
    .command('completion')
    .description('print a shell completion script for bash, zsh or fish (commands, options, environment names)')
    .addArgument(new Argument('[shell]', 'the shell to complete for').choices(['bash', 'zsh', 'fish']))
    // Hidden: what the scripts call at TAB time to list the environments of the nearest sources file.
    .addOption(new Option('--list-envs').hideHelp())
    .addOption(new Option('-c, --config <file>').hideHelp())
    .addHelpText('after', '\nExamples:\n  secretrun completion bash > ~/.local/share/bash-completion/completions/secretrun\n  secretrun completion zsh > "${fpath[1]}/_secretrun"\n  secretrun completion fish > ~/.config/fish/completions/secretrun.fish\n')
    .hook('preAction', on('completion'))
    .action((shell: string | undefined, opts, cmd: Command) => outcome(import('./commands/completion.js').then((m) => m.completion(shell, { ...opts, program: cmd.parent! }))));

  program
    .command('version')
    .description('print the version (also -v, -V, --version)')
    .action(() => outcome(Promise.resolve(printVersion())));

  return program;
}

const GET_STARTED = `
Get started:
  1. secretrun init                 write a starter secretrun.yaml (it reads .env; .env goes into .gitignore)
  2. put your values in .env        KEY=value lines, as dotenv reads them
  3. secretrun -- node server.js    run your program with them as environment variables
`;

/** The `run` command's options, as `secretrun run --help` lists them. */
function runOptionsHelp(program: Command): string {
  const run = program.commands.find((c) => c.name() === 'run');
  const text = run?.helpInformation() ?? '';
  const start = text.indexOf('Options:\n');
  if (start < 0) return '';
  const end = text.indexOf('\n\n', start);
  const lines = text.slice(start + 'Options:\n'.length, end < 0 ? undefined : end).trimEnd().split('\n');
  // --help is listed once already, among the program's own options.
  const help = lines.findIndex((l) => l.trimStart().startsWith('-h, --help'));
  if (help >= 0) lines.splice(help, 1);
  return `\nRun options (secretrun [options] -- <command> [args...]):\n${lines.join('\n')}\n`;
}

const VERSION_WORDS = ['-v', '-V', '--version', 'version'];

function printVersion(): number {
  process.stdout.write(pkg.version + '\n');
  return 0;
}

function examples(...rows: [string, string][]): string {
  const width = Math.max(...rows.map(([cmd]) => cmd.length));
  return '\nExamples:\n' + rows.map(([cmd, what]) => `  ${what ? cmd.padEnd(width) + '   # ' + what : cmd}`).join('\n') + '\n';
}

export async function main(argv: string[]): Promise<void> {
  let pending: Promise<Outcome> | undefined;
  try {
    if (argv.length === 1 && VERSION_WORDS.includes(argv[0])) return exit(printVersion());
    const plain = plainRunArgs(argv);
    if (plain) {
      current = 'run';
      const { run } = await import('./commands/run.js');
      return await finish(await run(plain.command, plain.opts));
    }
    const plainExport = plainExportArgs(argv, EXPORT_FORMATS);
    if (plainExport) {
      current = 'export';
      const { exportCommand } = await import('./commands/export.js');
      return await finish(await exportCommand(plainExport));
    }
    const program = buildProgram(await import('commander'), (o) => (pending = o));
    if (argv.length === 0) {
      // Bare `secretrun`: the help, as a usage error (exit 2), on stderr so that nothing lands in a pipe.
      program.outputHelp({ error: true });
      return exit(2);
    }
    await program.parseAsync(normaliseArgv(argv), { from: 'user' });
    await finish(pending ? await pending : 0);
  } catch (err) {
    fail(err);
  }
}

async function finish(outcome: Outcome): Promise<void> {
  if (typeof outcome === 'number') return exit(outcome);
  if ('code' in outcome) return exit(outcome.code);
  // The child died of a signal: die of the same signal, as a shell would, so our parent sees the truth.
  const sig = outcome.signal;
  const { signalNumber } = await import('../process/signal-number.js');
  const fallback = 128 + signalNumber(sig);
  process.removeAllListeners(sig);
  // SIGUSR1 would start Node's inspector instead of killing us; PID 1 ignores default-action signals.
  if (sig !== 'SIGUSR1' && process.pid !== 1) {
    try {
      process.kill(process.pid, sig);
    } catch {
      /* fall through to the exit code */
    }
  }
  setTimeout(() => exit(fallback), 50);
}

function isCommanderError(err: unknown): err is Error & { code: string } {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof Error && typeof code === 'string' && code.startsWith('commander.');
}

function fail(err: unknown): void {
  if (isCommanderError(err)) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return exit(0);
    // One `secretrun:` line per line of commander's message (its suggestion comes on a second line).
    for (const line of err.message.replace(/^error: /, '').split('\n')) process.stderr.write(`secretrun: ${line}\n`);
    return exit(2);
  }
  const code = err instanceof SecretrunError && err.exitCode !== undefined ? err.exitCode : FAILURE_EXIT[current] ?? 1;
  const lines = err instanceof ConfigErrors ? err.errors.map((e) => e.message) : [err instanceof Error ? err.message : String(err)];
  for (const line of lines) process.stderr.write(`secretrun: ${redact(line)}\n`);
  if (process.env.SECRETRUN_DEBUG === '1' && err instanceof Error && err.stack) process.stderr.write(redact(err.stack) + '\n');
  exit(code);
}

/**
 * Which of stdout/stderr this process has touched. Node creates each stream on first access (about 1 ms for a
 * pipe), and a plain `run` never writes to either: an untouched one has nothing queued, so `exit` need not
 * create it only to flush it. If the getters cannot be wrapped, both count as touched.
 */
const touched = new Set<'stdout' | 'stderr'>();
for (const name of ['stdout', 'stderr'] as const) {
  const desc = Object.getOwnPropertyDescriptor(process, name);
  const get = desc?.get;
  if (!get || !desc.configurable) touched.add(name);
  else
    Object.defineProperty(process, name, {
      ...desc,
      get() {
        touched.add(name);
        return get.call(process);
      },
    });
}

function exit(code: number): void {
  // stdout/stderr may be non-blocking pipes whose writes are still queued (a large export piped to `wc`):
  // exit only once every stream this process used is flushed.
  let pending = touched.size + 1;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  for (const name of [...touched]) process[name].write('', done);
  done();
}

main(process.argv.slice(2));
