/**
 * `type: exec` — run a command (argv list, never a shell) and parse its stdout as json (default), dotenv or yaml.
 * The escape hatch for `op`, `sops -d`, `gcloud secrets versions access` and any other secrets CLI.
 *
 * - A program written with a `/` (`./bin/fetch-secrets`) resolves from the sources file's directory, which is
 *   also the command's working directory. A bare name is looked up on PATH.
 * - The command inherits the parent environment plus the layer's `env:` map: the place for tokens, which must
 *   never go on the command line (any user on the machine can read argv in `ps`).
 * - stdin is closed; stderr is captured, and only its last line is shown, when the command fails.
 * - stdout may be full of secrets, so no message ever quotes it, not even a parse error.
 * - `timeout` (seconds, default 30: a CLI that has to reach a vault or a cloud API can be slow to start) sends
 *   SIGTERM, then SIGKILL after a grace period.
 * - Timeouts, kill escalation, cancellation and the output cap are execa's; execa is imported only when an exec
 *   layer runs (the CLI bundle requires a prebuilt CommonJS copy of it, see scripts/build.mjs).
 */
import { isAbsolute, resolve } from 'node:path';
import { NotFoundError, SourceError } from '../core/errors.js';
import { parseContent, type ContentFormat } from '../formats/parse.js';
import { STRUCTURED_OPTIONS, defineSource, type LayerOptions } from './descriptor.js';
import type { SourceContext } from './types.js';

export const DEFAULT_TIMEOUT_SECONDS = 30;
export const MAX_OUTPUT_BYTES = 10 * 1024 * 1024;
/** Time a command gets to exit after SIGTERM before it is killed outright. */
const KILL_GRACE_MS = 2_000;
const STDERR_TAIL_BYTES = 16 * 1024;
const STDERR_LINE_MAX = 200;

export interface ExecOptions {
  command: string[];
  format: ContentFormat;
  select?: string;
  flatten?: string;
  timeoutMs: number;
  env: Record<string, string>;
}

export interface ExecResult {
  stdout: Buffer;
}

const OPTIONS = {
  command: { type: 'list', items: { type: 'string', description: 'The program, then each argument.' }, minItems: 1, required: true, description: 'argv: program and arguments.' },
  format: { type: 'enum', values: ['json', 'dotenv', 'yaml'], default: 'json', description: 'Format of the content (default json).' },
  ...STRUCTURED_OPTIONS,
  timeout: {
    type: 'number',
    exclusiveMinimum: 0,
    default: DEFAULT_TIMEOUT_SECONDS,
    is: 'seconds the command may run',
    description: `Seconds the command may run before it is killed (default ${DEFAULT_TIMEOUT_SECONDS}).`,
  },
  env: {
    type: 'map',
    values: { type: 'string', description: 'The value, interpolated.' },
    credential: { when: 'always', is: 'variable' },
    description: 'Extra environment variables for the command, e.g. `OP_SERVICE_ACCOUNT_TOKEN: ${OP_TOKEN}`. Pass tokens here, never in `command` (argv is visible to every user in `ps`).',
  },
} as const;

/** The options as `runCommand` uses them. */
export function execOptions(o: LayerOptions<typeof OPTIONS>): ExecOptions {
  if (o.command[0] === '') throw new SourceError('`command[0]`: the program must not be empty');
  return { command: o.command, format: o.format, select: o.select, flatten: o.flatten, timeoutMs: o.timeout * 1000, env: o.env ?? {} };
}

/** `./tool` and `bin/tool` are relative to the sources file; `op` is looked up on PATH; `/usr/bin/op` is as written. */
export function resolveProgram(program: string, configDir: string): string {
  return program.includes('/') && !isAbsolute(program) ? resolve(configDir, program) : program;
}

/** The last STDERR_TAIL_BYTES of a stream, kept as it passes: a chatty command's stderr is never held whole. */
function stderrTail(): { transform: (chunk: unknown) => Generator<never>; binary: true; text(): string } {
  let tail = Buffer.alloc(0);
  return {
    binary: true,
    *transform(chunk: unknown) {
      // With `binary: true` every chunk is a Uint8Array.
      tail = Buffer.concat([tail, chunk as Uint8Array]);
      if (tail.length > STDERR_TAIL_BYTES) tail = tail.subarray(tail.length - STDERR_TAIL_BYTES);
    },
    text: () => tail.toString('utf8'),
  };
}

/**
 * Run the command with execa (loaded only when an exec layer runs); resolves with its stdout when it exits 0,
 * otherwise throws a `SourceError` built from execa's result fields, never from its message (which quotes the
 * command line and the output).
 */
export async function runCommand(opts: ExecOptions, context: Pick<SourceContext, 'configDir' | 'env' | 'signal'>): Promise<ExecResult> {
  const [program, ...args] = opts.command;
  const label = `command "${program}"`;
  if (context.signal.aborted) throw new SourceError(`${label}: cancelled`);
  const { execa } = await import('execa');
  const tail = stderrTail();
  const subprocess = execa(resolveProgram(program, context.configDir), args, {
    cwd: context.configDir,
    env: commandEnv(context.env, opts.env),
    extendEnv: false,
    stdin: 'ignore',
    stderr: tail,
    encoding: 'buffer',
    stripFinalNewline: false,
    timeout: opts.timeoutMs,
    killSignal: 'SIGTERM',
    forceKillAfterDelay: KILL_GRACE_MS,
    cancelSignal: context.signal,
    maxBuffer: { stdout: MAX_OUTPUT_BYTES },
    reject: false,
    windowsHide: true,
  });
  // After we killed it (timeout, cancel, output cap), don't wait for a grandchild that may still hold the pipes
  // open: execa would wait for their end, which comes only when that grandchild exits.
  subprocess.once('exit', () => {
    if (subprocess.killed) for (const stream of [subprocess.stdout, subprocess.stderr]) stream?.destroy();
  });
  const result = await subprocess;
  if (!result.failed) return { stdout: Buffer.from(result.stdout) };
  if (result.timedOut) throw new SourceError(`${label} timed out after ${opts.timeoutMs / 1000}s (option "timeout")`);
  if (result.isCanceled) throw new SourceError(`${label}: cancelled`);
  if (result.isMaxBuffer) throw new SourceError(`${label}: output exceeds ${MAX_OUTPUT_BYTES / 1024 / 1024} MiB`);
  if (result.exitCode === undefined && result.signal === undefined) {
    // It never ran: the spawn error's code says why.
    const code = spawnErrorCode(result);
    if (code === 'ENOENT') throw new NotFoundError(`${label} not found${program.includes('/') ? '' : ' on PATH'}`);
    if (code === 'EACCES') throw new SourceError(`${label} cannot be executed (permission denied)`);
    throw new SourceError(`${label} could not be started: ${code ?? 'error'}`);
  }
  const how = result.exitCode !== undefined ? `exited with code ${result.exitCode}` : `was killed by ${result.signal}`;
  const last = lastLine(tail.text());
  throw new SourceError(`${label} ${how}${last ? `: ${last}` : ' (no stderr output)'}`);
}

function spawnErrorCode(result: { code?: unknown; cause?: unknown }): string | undefined {
  for (const e of [result, result.cause]) {
    const code = (e as { code?: unknown } | undefined)?.code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

function commandEnv(parent: Readonly<Record<string, string | undefined>>, extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(parent)) if (value !== undefined) env[name] = value;
  return { ...env, ...extra };
}

/** The last non-empty stderr line, trimmed and capped: usually the tool's own error message. */
export function lastLine(text: string): string {
  const lines = text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '');
  const last = lines.at(-1) ?? '';
  return last.length > STDERR_LINE_MAX ? `${last.slice(0, STDERR_LINE_MAX)}…` : last;
}

export default defineSource({
  type: 'exec',
  description: 'Run a command (no shell) and parse its stdout.',
  options: OPTIONS,
  // Not network in itself, but the commands it runs usually are (op, gcloud, sops with KMS): shows the spinner.
  remote: true,
  label: (o) => (Array.isArray(o.command) && o.command.length > 0 ? String(o.command[0]) : undefined),
  async load(options, context) {
    const opts = execOptions(options);
    const { stdout } = await runCommand(opts, context);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(stdout);
    } catch {
      throw new SourceError(`output of command "${opts.command[0]}" is not valid UTF-8 text`);
    }
    return parseContent(text, opts.format, { select: opts.select, flatten: opts.flatten, origin: `output of command "${opts.command[0]}"` });
  },
});
