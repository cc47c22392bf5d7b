/**
 * Spawn the child, relay signals, and report how it ended.
 *
 * - No shell: argv passes through untouched.
 * - SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 are forwarded once per delivery.
 * - SIGINT is forwarded only when no terminal delivered it already: a Ctrl-C on a terminal goes to the whole
 *   foreground process group, child included. We decide from definite facts (is any stdio a TTY, are we PID 1),
 *   never from timing.
 * - We always wait for the child; the caller turns its end into our exit (code, or 128+n by re-raising).
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { SecretrunError } from './errors.js';

export const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGINT'];

export type ChildEnd = { code: number } | { signal: NodeJS.Signals };

/** Exit codes a shell uses when it cannot start a command. */
export const EXIT_NOT_EXECUTABLE = 126;
export const EXIT_NOT_FOUND = 127;

/**
 * Find the program the way execvp would, but on a PATH we choose: with `--pristine` the child's environment may
 * have no PATH, and the contract says the command is still looked up on the parent's PATH.
 */
export function findExecutable(command: string, pathVar: string | undefined, cwd: string): string {
  const check = (candidate: string): 'ok' | 'missing' | 'denied' => {
    try {
      if (statSync(candidate).isDirectory()) return 'denied';
    } catch {
      return 'missing';
    }
    try {
      accessSync(candidate, constants.X_OK);
      return 'ok';
    } catch {
      return 'denied';
    }
  };
  if (command.includes('/')) {
    const full = isAbsolute(command) ? command : resolve(cwd, command);
    const state = check(full);
    if (state === 'ok') return command;
    throw spawnError(command, state);
  }
  let denied = false;
  for (const dir of (pathVar ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)) {
    const candidate = join(dir || '.', command);
    const state = check(candidate);
    if (state === 'ok') return candidate;
    if (state === 'denied') denied = true;
  }
  throw spawnError(command, denied ? 'denied' : 'missing');
}

function spawnError(command: string, state: 'missing' | 'denied'): SecretrunError {
  return state === 'missing'
    ? new SecretrunError(`command not found: ${command}`, { exitCode: EXIT_NOT_FOUND })
    : new SecretrunError(`permission denied: ${command} is not executable`, { exitCode: EXIT_NOT_EXECUTABLE });
}

export interface SpawnOptions {
  env: Record<string, string>;
  cwd: string;
  stdio?: StdioOptions;
  /** Is there a terminal that delivers Ctrl-C to our process group? */
  terminal: boolean;
  /** Are we PID 1 (a container entrypoint)? */
  pid1: boolean;
}

export interface RunningChild {
  child: ChildProcess;
  /** Resolves when the child has exited, with how it ended. */
  ended: Promise<ChildEnd>;
  /** Send a signal to the child if it is still running. */
  signal(sig: NodeJS.Signals): void;
  /** Stop relaying signals (the caller re-raises or exits next). */
  release(): void;
}

export function startChild(file: string, args: string[], opts: SpawnOptions, onSignal?: (sig: NodeJS.Signals) => boolean): RunningChild {
  const child = spawn(file, args, { env: opts.env, cwd: opts.cwd, stdio: opts.stdio ?? 'inherit' });
  let exited = false;
  const handlers = new Map<NodeJS.Signals, () => void>();
  const send = (sig: NodeJS.Signals) => {
    if (!exited) {
      try {
        child.kill(sig);
      } catch {
        /* already gone */
      }
    }
  };
  for (const sig of FORWARDED_SIGNALS) {
    const handler = () => {
      // The caller (watch mode) may take over a signal; otherwise relay it.
      if (onSignal?.(sig)) return;
      if (sig === 'SIGINT' && opts.terminal && !opts.pid1) return;
      send(sig);
    };
    handlers.set(sig, handler);
    process.on(sig, handler);
  }
  const release = () => {
    for (const [sig, handler] of handlers) process.removeListener(sig, handler);
    handlers.clear();
  };
  const ended = new Promise<ChildEnd>((resolvePromise, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      exited = true;
      release();
      if (err.code === 'ENOENT') reject(spawnError(file, 'missing'));
      else if (err.code === 'EACCES' || err.code === 'ENOEXEC') reject(spawnError(file, 'denied'));
      else reject(new SecretrunError(`cannot start ${file}: ${err.code ?? err.message}`, { exitCode: EXIT_NOT_EXECUTABLE }));
    });
    child.once('exit', (code, signal) => {
      exited = true;
      resolvePromise(signal ? { signal } : { code: code ?? 0 });
    });
  });
  return { child, ended, signal: send, release };
}
