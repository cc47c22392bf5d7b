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
 */
import type { ChildProcess } from 'node:child_process';
import { isAbsolute, resolve } from 'node:path';
import { NotFoundError, SourceError } from '../core/errors.js';
import { loadPackage } from '../core/import-external.js';
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
    credential: true,
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

/** Run the command; resolves with its stdout when it exits 0, otherwise throws a `SourceError` that never quotes stdout. */
export async function runCommand(opts: ExecOptions, context: Pick<SourceContext, 'configDir' | 'env' | 'signal'>): Promise<ExecResult> {
  // Loaded here, not with the descriptor: `export` and a run without an exec layer never need it.
  const { spawn } = await loadPackage<typeof import('node:child_process')>('node:child_process');
  const [program, ...args] = opts.command;
  const label = `command "${program}"`;
  return new Promise((resolvePromise, reject) => {
    if (context.signal.aborted) return reject(new SourceError(`${label}: cancelled`));
    let child: ChildProcess;
    try {
      child = spawn(resolveProgram(program, context.configDir), args, {
        cwd: context.configDir,
        env: commandEnv(context.env, opts.env),
        stdio: ['ignore', 'pipe', 'pipe'],
        windowsHide: true,
      });
    } catch (err) {
      return reject(new SourceError(`${label}: could not start: ${(err as NodeJS.ErrnoException).code ?? 'error'}`));
    }

    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderrTail = Buffer.alloc(0);
    let failure: SourceError | undefined;
    let killTimer: NodeJS.Timeout | undefined;

    const stop = (reason: SourceError) => {
      if (failure) return;
      failure = reason;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
      killTimer.unref();
    };
    const timeoutTimer = setTimeout(() => stop(new SourceError(`${label} timed out after ${opts.timeoutMs / 1000}s (option "timeout")`)), opts.timeoutMs);
    const onAbort = () => stop(new SourceError(`${label}: cancelled`));
    context.signal.addEventListener('abort', onAbort, { once: true });

    child.stdout!.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes > MAX_OUTPUT_BYTES) return stop(new SourceError(`${label}: output exceeds ${MAX_OUTPUT_BYTES / 1024 / 1024} MiB`));
      stdout.push(chunk);
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      stderrTail = Buffer.concat([stderrTail, chunk]);
      if (stderrTail.length > STDERR_TAIL_BYTES) stderrTail = stderrTail.subarray(stderrTail.length - STDERR_TAIL_BYTES);
    });

    const finish = () => {
      clearTimeout(timeoutTimer);
      context.signal.removeEventListener('abort', onAbort);
    };
    child.on('error', (err: NodeJS.ErrnoException) => {
      finish();
      if (killTimer) clearTimeout(killTimer);
      if (err.code === 'ENOENT') reject(new NotFoundError(`${label} not found${program.includes('/') ? '' : ' on PATH'}`));
      else if (err.code === 'EACCES') reject(new SourceError(`${label} cannot be executed (permission denied)`));
      else reject(new SourceError(`${label} could not be started: ${err.code ?? err.message.split('\n')[0]}`));
    });
    // After a kill, don't wait for a grandchild that may still hold the pipes open: drop them, 'close' follows.
    child.on('exit', () => {
      if (failure) for (const stream of [child.stdout, child.stderr]) stream?.destroy();
    });
    // 'close' waits for both pipes to drain, so the whole of stdout has been read.
    child.on('close', (code, signal) => {
      finish();
      if (killTimer) clearTimeout(killTimer);
      if (failure) return reject(failure);
      if (code === 0) return resolvePromise({ stdout: Buffer.concat(stdout) });
      const how = code !== null ? `exited with code ${code}` : `was killed by ${signal}`;
      const last = lastLine(stderrTail.toString('utf8'));
      reject(new SourceError(`${label} ${how}${last ? `: ${last}` : ' (no stderr output)'}`));
    });
  });
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
    for (const value of Object.values(opts.env)) context.secret(value);
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
