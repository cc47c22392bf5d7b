/**
 * The command table and the single exit path. Each command's module is imported only when it runs.
 * No command calls process.exit: they return an exit code (or how the child ended) or throw, and `finish`
 * / `fail` below are the only places that end the process.
 */
import type { Command } from 'commander';
import { ConfigErrors, SecretrunError, UsageError, describeError, printable, redact } from '../core/errors.js';
import { liveChildren } from '../process/live-children.js';
import { whenStdioFlushed } from '../process/stdio.js';
import { choiceError, excessArgumentsError, foreignOption, normaliseArgv, plainArgs, suggestOption } from './argv.js';
import { ownProcessWarnings } from './output.js';
import { COMMANDS, DEFAULT_COMMAND, PROGRAM_OPTIONS, VERSION_WORDS, commandNamed, failureExit, parseFlags, type CommandDef, type OptionDef, type Outcome } from './command-table.js';
import pkg from '../../package.json' with { type: 'json' };

/** The command running, for the exit code of a failure (the table's `failureExit`). */
let current = DEFAULT_COMMAND;

/** The commander program, built from the command table. */
function buildProgram(commander: typeof import('commander'), outcome: (o: Promise<Outcome>) => void): Command {
  const program: Command = withUsageMessages(new commander.Command('secretrun'))
    .description('Resolve layered secrets and run a command with them as environment variables. Nothing is written to disk.')
    .usage(`[options] -- <command> [args...]\n       secretrun <command> [options]`)
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ outputError: () => {} })
    // run is the default command: its options belong on the first screen, with the three steps to a first run.
    .addHelpText('after', () => runOptionsHelp(program) + GET_STARTED + examples([
      ['secretrun -- node server.js', 'resolve the layers, then run the command with them as env vars'],
      ['secretrun --dotenv .env -- node server.js', 'no sources file: just a dotenv file'],
      ['secretrun export --format dotenv', 'print the merged result in a standard format'],
      ['secretrun diff dev prod', 'compare two environments, values masked'],
    ]));
  for (const def of PROGRAM_OPTIONS) {
    if (parseFlags(def.flags).key === 'version') program.version(pkg.version, def.flags, def.description);
    else program.addOption(commanderOption(commander, def));
  }
  // program.command() (not addCommand) so each command inherits exitOverride and the quiet error output.
  for (const row of COMMANDS) defineCommand(commander, program.command(row.name), row, outcome);
  return program;
}

function defineCommand(commander: typeof import('commander'), cmd: Command, row: CommandDef, outcome: (o: Promise<Outcome>) => void): Command {
  withUsageMessages(cmd).description(row.description);
  for (const a of row.arguments) {
    const arg = new commander.Argument(a.name, a.description);
    const choices = a.choices;
    // .choices() for the help text; the parser after it for the message (commander's own is not ours).
    cmd.addArgument(choices ? arg.choices(choices).argParser((v: string) => checkedChoice(row.name, arg.name(), v, choices)) : arg);
  }
  const collected = new Map<string, unknown[]>();
  for (const def of row.options) cmd.addOption(commanderOption(commander, def, collected));
  if (row.passThrough) cmd.passThroughOptions();
  return cmd
    .addHelpText('after', examples(row.examples))
    .hook('preAction', (_, action) => {
      current = row.name;
      for (const [key, list] of collected) action.setOptionValue(key, list);
    })
    .action((...params: unknown[]) => {
      // commander passes each argument, then the options, then the command itself.
      const args = params.slice(0, row.arguments.length);
      const opts = params[row.arguments.length] as Record<string, unknown>;
      outcome(row.action(args, opts));
    });
}

/** `collected`: the lists that `collect` options of one command fill together, by key (set before the action). */
function commanderOption(commander: typeof import('commander'), def: OptionDef, collected = new Map<string, unknown[]>()) {
  const option = new commander.Option(def.flags, def.description);
  const choices = def.choices;
  if (choices) option.choices(choices).argParser((v: string) => checkedChoice(option.long ?? option.flags, parseFlags(def.flags).valueName ?? 'value', v, choices));
  if (def.default !== undefined) option.default(def.default);
  if (def.repeatable) option.argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]);
  const collect = def.collect;
  if (collect) {
    option.argParser((value: string) => {
      const list = collected.get(collect.key) ?? [];
      collected.set(collect.key, list);
      list.push(collect.item(value));
      return list;
    });
  }
  if (def.hidden) option.hideHelp();
  return option;
}

function checkedChoice(where: string, noun: string, value: string, choices: readonly string[]): string {
  if (!choices.includes(value)) throw choiceError(where, noun, value, choices);
  return value;
}

/**
 * commander's usage errors in secretrun's words: an unknown option gets the same `(did you mean "--env"?)` as an
 * unknown command, environment or key; a variadic option that swallowed the arguments (`diff --only A dev prod`)
 * is named as the cause rather than the argument it left missing.
 */
function withUsageMessages(cmd: Command): Command {
  // unknownOption and missingArgument are the methods commander calls for these errors; replacing them on the
  // instance is the only hook it offers (its own messages and suggestions cannot be reworded otherwise).
  const known = (c: Command) => c.options.filter((o) => !o.hidden).flatMap((o) => [o.long, o.short]).filter((f): f is string => !!f);
  return Object.assign(cmd, {
    unknownOption(flag: string): never {
      // The top level has few options of its own; `secretrun --enviroment prod` most likely meant run's --env.
      const run = cmd.parent ? undefined : cmd.commands.find((c) => c.name() === DEFAULT_COMMAND);
      const word = flag.split('=')[0];
      const row = commandNamed(cmd.name());
      const foreign = row && foreignOption(row, word);
      if (foreign) throw foreign;
      const hint = suggestOption(word, [...known(cmd), ...(run ? known(run) : [])]);
      throw new UsageError(`unknown option "${word}"${hint ? ` (did you mean "${hint}"?)` : ''}`);
    },
    missingArgument(name: string): never {
      const usage = `secretrun ${cmd.name()} ${cmd.registeredArguments.map((a) => (a.required ? `<${a.name()}>` : `[${a.name()}]`)).join(' ')}`;
      const greedy = cmd.options.find((o) => o.variadic && Array.isArray(cmd.getOptionValue(o.attributeName())));
      if (greedy) {
        const words = (cmd.getOptionValue(greedy.attributeName()) as string[]).join(' ');
        throw new UsageError(`${cmd.name()}: ${greedy.long} takes every word after it (${words}), which left no <${name}>; put the arguments first: ${usage} ${greedy.long} ...`);
      }
      throw new UsageError(`${cmd.name()}: missing <${name}>: ${usage}`);
    },
    optionMissingArgument(option: { flags: string; long?: string; short?: string }): never {
      throw new UsageError(`${option.long ?? option.short} needs a value: ${option.flags}`);
    },
    _excessArguments(received: string[]): never {
      const row = commandNamed(cmd.name());
      if (!row) throw new UsageError(`unexpected argument${received.length === 1 ? '' : 's'}`);
      throw excessArgumentsError(row, received.slice(row.arguments.length));
    },
  });
}

const GET_STARTED = `
Get started:
  1. secretrun init                 write a commented starter secretrun.yaml that reads .env
  2. put your values in .env        KEY=value lines, as dotenv reads them
  3. secretrun -- node server.js    run your program with them as environment variables
`;

/** The default command's options, as `secretrun run --help` lists them (without its --help). */
function runOptionsHelp(program: Command): string {
  const text = program.commands.find((c) => c.name() === DEFAULT_COMMAND)?.helpInformation() ?? '';
  const start = text.indexOf('Options:\n');
  if (start < 0) return '';
  const end = text.indexOf('\n\n', start);
  const lines = text.slice(start + 'Options:\n'.length, end < 0 ? undefined : end).trimEnd().split('\n');
  const help = lines.findIndex((l) => l.trimStart().startsWith('-h, --help'));
  if (help >= 0) lines.splice(help, 1);
  return `\nRun options (secretrun [options] -- <command> [args...]):\n${lines.join('\n')}\n`;
}

function examples(rows: [string, string][]): string {
  const width = Math.max(...rows.map(([cmd, what]) => (what ? cmd.length : 0)));
  return '\nExamples:\n' + rows.map(([cmd, what]) => `  ${what ? cmd.padEnd(width) + '   # ' + what : cmd}`).join('\n') + '\n';
}

export async function main(argv: string[]): Promise<void> {
  let pending: Promise<Outcome> | undefined;
  try {
    if (argv.length === 1 && VERSION_WORDS.includes(argv[0])) {
      current = 'version';
      return await finish(await commandNamed('version')!.action([], {}));
    }
    const plain = plainArgs(argv);
    if (plain) {
      current = plain.command.name;
      return await finish(await plain.command.action(plain.args, plain.opts));
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

/**
 * The one process-level handler for what nothing else caught: a bug, or a user `module` that throws from a
 * timer or leaves a promise rejected. One redacted line, never a stack (unless SECRETRUN_DEBUG=1), and the
 * command's own failure code. Once `run` has a child running, secretrun does not exit: it keeps relaying
 * signals and waiting, and ends with the child's code (contract, signals section).
 */
function onCrash(err: unknown): void {
  printInternalError(err);
  const children = liveChildren();
  if (children.length === 0) return exit(failureExit(current));
  // The normal path usually still finishes with the child's code; if the error broke it, exit with that code
  // once the event loop has nothing left to do.
  for (const child of children) {
    child.once('exit', (code, signal) => {
      // node:os only now: a plain run never needs it (src/process/signal-number.ts).
      process.exitCode = code ?? 128 + (signal ? (process.getBuiltinModule('node:os').constants.signals[signal] ?? 0) : 0);
    });
  }
}

/** Not one of our messages (a bug, a library's own error): one redacted line describing it, never its stack. */
function printInternalError(err: unknown): void {
  process.stderr.write(`secretrun: internal error: ${redact(describeError(err))} (rerun with SECRETRUN_DEBUG=1 for details)\n`);
  if (process.env.SECRETRUN_DEBUG === '1' && err instanceof Error && err.stack) process.stderr.write(redact(err.stack) + '\n');
}

ownProcessWarnings();
process.on('uncaughtException', onCrash);
process.on('unhandledRejection', onCrash);

function fail(err: unknown): void {
  if (isCommanderError(err)) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return exit(0);
    // One `secretrun:` line per line of commander's message (its suggestion comes on a second line).
    for (const line of err.message.replace(/^error: /, '').split('\n')) process.stderr.write(`secretrun: ${line}\n`);
    return exit(2);
  }
  const code = err instanceof SecretrunError && err.exitCode !== undefined ? err.exitCode : failureExit(current);
  if (!(err instanceof SecretrunError)) {
    printInternalError(err);
    return exit(code);
  }
  // One line per problem: a line break a message quotes from the input is printed escaped, as every control character.
  const lines = err instanceof ConfigErrors ? err.errors.map((e) => e.message) : [err.message];
  for (const line of lines) process.stderr.write(`secretrun: ${printable(line)}\n`);
  if (process.env.SECRETRUN_DEBUG === '1' && err instanceof Error && err.stack) process.stderr.write(redact(err.stack) + '\n');
  exit(code);
}

function exit(code: number): void {
  whenStdioFlushed(() => process.exit(code));
}

main(process.argv.slice(2));
