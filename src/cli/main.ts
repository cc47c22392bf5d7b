/**
 * The command table and the single exit path. Each command's module is imported only when it runs.
 * No command calls process.exit: they return an exit code (or how the child ended) or throw, and `finish`
 * / `fail` below are the only places that end the process.
 */
import type { Command } from 'commander';
import { ConfigErrors, SecretrunError, describeError, redact } from '../core/errors.js';
import { liveChildren } from '../process/live-children.js';
import { whenStdioFlushed } from '../process/stdio.js';
import { normaliseArgv, plainArgs } from './argv.js';
import { COMMANDS, DEFAULT_COMMAND, PROGRAM_OPTIONS, failureExit, parseFlags, type CommandDef, type OptionDef, type Outcome } from './command-table.js';
import pkg from '../../package.json' with { type: 'json' };

/** The command running, for the exit code of a failure (the table's `failureExit`). */
let current = DEFAULT_COMMAND;

/** The commander program, built from the command table. */
function buildProgram(commander: typeof import('commander'), outcome: (o: Promise<Outcome>) => void): Command {
  const program = new commander.Command('secretrun')
    .description('Resolve layered secrets and run a command with them as environment variables. Nothing is written to disk.')
    .enablePositionalOptions()
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ outputError: () => {} })
    .addHelpText('after', examples([
      ['secretrun -- node server.js', 'resolve the layers, then run the command with them as env vars'],
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
  cmd.description(row.description);
  for (const a of row.arguments) {
    const arg = new commander.Argument(a.name, a.description);
    cmd.addArgument(a.choices ? arg.choices(a.choices) : arg);
  }
  for (const def of row.options) cmd.addOption(commanderOption(commander, def));
  if (row.passThrough) cmd.passThroughOptions();
  return cmd
    .addHelpText('after', examples(row.examples))
    .hook('preAction', () => {
      current = row.name;
    })
    .action((...params: unknown[]) => {
      // commander passes each argument, then the options, then the command itself.
      const args = params.slice(0, row.arguments.length);
      const opts = params[row.arguments.length] as Record<string, unknown>;
      outcome(row.action(args, opts));
    });
}

function commanderOption(commander: typeof import('commander'), def: OptionDef) {
  const option = new commander.Option(def.flags, def.description);
  if (def.choices) option.choices(def.choices);
  if (def.default !== undefined) option.default(def.default);
  if (def.repeatable) option.argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]);
  if (def.hidden) option.hideHelp();
  return option;
}

function examples(rows: [string, string][]): string {
  const width = Math.max(...rows.map(([cmd, what]) => (what ? cmd.length : 0)));
  return '\nExamples:\n' + rows.map(([cmd, what]) => `  ${what ? cmd.padEnd(width) + '   # ' + what : cmd}`).join('\n') + '\n';
}

export async function main(argv: string[]): Promise<void> {
  let pending: Promise<Outcome> | undefined;
  try {
    const plain = plainArgs(argv);
    if (plain) {
      current = plain.command.name;
      return await finish(await plain.command.action(plain.args, plain.opts));
    }
    const program = buildProgram(await import('commander'), (o) => (pending = o));
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
  const lines = err instanceof ConfigErrors ? err.errors.map((e) => e.message) : err.message.split('\n');
  for (const line of lines) process.stderr.write(`secretrun: ${redact(line)}\n`);
  if (process.env.SECRETRUN_DEBUG === '1' && err instanceof Error && err.stack) process.stderr.write(redact(err.stack) + '\n');
  exit(code);
}

function exit(code: number): void {
  whenStdioFlushed(() => process.exit(code));
}

main(process.argv.slice(2));
