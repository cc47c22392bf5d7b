/**
 * Spawn the child, relay signals, and report how it ended.
 *
 * - No shell: argv passes through untouched.
 * - SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 are forwarded once per delivery.
 * - SIGINT is forwarded only when no terminal delivered it already: a Ctrl-C on a terminal goes to the whole
 *   foreground process group, child included. We decide from definite facts (is any stdio a TTY, are we PID 1),
 *   never from timing.
 * - We always wait for the child; the caller turns its end into our exit (code, or 128+n by re-raising).
 * - With `mask`, the child's stdout and stderr are pipes whose bytes pass through the streaming redactor
 *   (`run --mask`); the child has ended only once both pipes are drained.
 *
 * Spawning and signal relaying are separate (`spawnChild`, `relaySignals`) because watch mode keeps one relay
 * across several children; plain `run` uses `startChild`, which is both.
 */
import { trackChild } from './live-children.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { SecretrunError } from '../core/errors.js';
import { createRedactor } from './mask.js';

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
    let stats;
    try {
      // No exception for the common miss (most PATH entries lack the program): a thrown error costs ~0.1 ms.
      stats = statSync(candidate, { throwIfNoEntry: false });
    } catch {
      return 'missing';
    }
    if (!stats) return 'missing';
    if (stats.isDirectory()) return 'denied';
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
  /** Replace these values (value → replacement) in the child's stdout and stderr: `run --mask`. */
  mask?: ReadonlyMap<string, string>;
}

export interface SignalPolicy {
  /** Is there a terminal that delivers Ctrl-C to our process group? */
  terminal: boolean;
  /** Are we PID 1 (a container entrypoint)? */
  pid1: boolean;
}

export interface RunningChild {
  child: ChildProcess;
  /** Resolves when the child has exited and its masked output (if any) is drained, with how it ended. */
  ended: Promise<ChildEnd>;
  /** True once the process has exited (its output may still be draining). */
  readonly exited: boolean;
  /** Send a signal to the child if it is still running. */
  signal(sig: NodeJS.Signals): void;
  /** Mask these values from now on too (watch mode with `--on-change=signal:...`). No-op without a mask. */
  extendMask(secrets: ReadonlyMap<string, string>): void;
  /** Stop relaying signals (the caller re-raises or exits next). */
  release(): void;
}

/** Should a signal secretrun received be sent on to the child? (SIGINT from a terminal already reached it.) */
export function shouldForward(sig: NodeJS.Signals, policy: SignalPolicy): boolean {
  return !(sig === 'SIGINT' && policy.terminal && !policy.pid1);
}

/**
 * Listen for every forwarded signal until the returned function is called. `onSignal` gets the signal and whether
 * it should be sent to the child; while the listener is installed, the signals never kill secretrun itself.
 */
export function relaySignals(policy: SignalPolicy, onSignal: (sig: NodeJS.Signals, forward: boolean) => void): () => void {
  const handlers = new Map<NodeJS.Signals, () => void>();
  for (const sig of FORWARDED_SIGNALS) {
    const handler = () => onSignal(sig, shouldForward(sig, policy));
    handlers.set(sig, handler);
    process.on(sig, handler);
  }
  return () => {
    for (const [sig, handler] of handlers) process.removeListener(sig, handler);
    handlers.clear();
  };
}

/** Plain `run`: spawn the child and relay our signals to it until `release()`. */
export function startChild(file: string, args: string[], opts: SpawnOptions & SignalPolicy): RunningChild {
  const running = spawnChild(file, args, opts);
  const stopRelay = relaySignals(opts, (sig, forward) => forward && running.signal(sig));
  // A child that could not start has nothing to relay to.
  running.ended.catch(stopRelay);
  return Object.assign(running, { release: stopRelay });
}

/** Spawn the child with inherited stdin (and stdout/stderr unless masked). Does not touch our signal handlers. */
export function spawnChild(file: string, args: string[], opts: SpawnOptions): RunningChild {
  const child = spawn(file, args, { env: opts.env, cwd: opts.cwd, stdio: opts.mask ? ['inherit', 'pipe', 'pipe'] : 'inherit' });
  trackChild(child);
  let exited = false;
  const send = (sig: NodeJS.Signals) => {
    if (!exited) {
      try {
        child.kill(sig);
      } catch {
        /* already gone */
      }
    }
  };
  // Our reader went away (`| head`): the child would have met a broken pipe itself. Node's stdio pipes are socket
  // pairs, where closing our end gives the writer ECONNRESET instead, so deliver the SIGPIPE the kernel would have.
  let sentPipe = false;
  const brokenPipe = () => {
    if (!sentPipe) send('SIGPIPE');
    sentPipe = true;
  };
  const outputs = opts.mask ? [maskOutput(child.stdout!, process.stdout, opts.mask, brokenPipe), maskOutput(child.stderr!, process.stderr, opts.mask, brokenPipe)] : [];
  const exit = new Promise<ChildEnd>((resolvePromise, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      exited = true;
      for (const o of outputs) o.stop();
      if (err.code === 'ENOENT') reject(spawnError(file, 'missing'));
      else if (err.code === 'EACCES' || err.code === 'ENOEXEC') reject(spawnError(file, 'denied'));
      else reject(new SecretrunError(`cannot start ${file}: ${err.code ?? err.message}`, { exitCode: EXIT_NOT_EXECUTABLE }));
    });
    child.once('exit', (code, signal) => {
      exited = true;
      resolvePromise(signal ? { signal } : { code: code ?? 0 });
    });
  });
  const ended = exit.then(async (end) => {
    if (outputs.length > 0) await drainAfterExit(outputs);
    return end;
  });
  return {
    child,
    ended,
    get exited() {
      return exited;
    },
    signal: send,
    extendMask: (secrets) => outputs.forEach((o) => o.extend(secrets)),
    release: () => {},
  };
}

/**
 * After the child exits, its pipes normally end at once. A background process it started may hold them open for
 * ever, and secretrun must not hang on that, nor lose what the child itself wrote. So we keep copying until the
 * pipes end, and give up only when they have been quiet for a while (while we are not waiting on our own reader),
 * or when far more has arrived since the exit than a pipe can hold: the child can't have written that.
 */
const OUTPUT_QUIET_MS = 1000;
const OUTPUT_AFTER_EXIT_BYTES = 8 * 1024 * 1024;

async function drainAfterExit(outputs: MaskedOutput[]): Promise<void> {
  const allDone = Promise.all(outputs.map((o) => o.done)).then(() => true);
  const atExit = outputs.map((o) => o.bytesRead);
  const givenUp = (o: MaskedOutput, i: number) =>
    o.finished || (!o.blocked && Date.now() - o.lastActivity >= OUTPUT_QUIET_MS) || o.bytesRead - atExit[i] > OUTPUT_AFTER_EXIT_BYTES;
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const tick = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 100)));
    const done = await Promise.race([allDone, tick]);
    clearTimeout(timer);
    if (done || outputs.every(givenUp)) break;
  }
  for (const o of outputs) o.stop();
  await allDone;
}

const guarded = new WeakSet<Writable>();

/**
 * A broken stdout may report errors after a child's output has finished (watch mode runs several children); one
 * permanent listener keeps such a late error from crashing secretrun while its child is still running.
 */
function guardAgainstLateErrors(stream: Writable): void {
  if (guarded.has(stream)) return;
  guarded.add(stream);
  stream.on('error', () => {});
}

interface MaskedOutput {
  /** Resolves when the pipe has ended and everything, including what was held back, is flushed to `to`. */
  done: Promise<void>;
  /** We stopped reading (the pipe ended, or `stop()`); flushing may still be under way. */
  readonly finished: boolean;
  /** Bytes read from the child so far. */
  readonly bytesRead: number;
  /** When bytes last moved (read from the child, or our reader took some). */
  readonly lastActivity: number;
  /** Waiting for our own reader to take what we wrote (backpressure). */
  readonly blocked: boolean;
  /** Stop reading now and write what is held back (masked). */
  stop(): void;
  extend(secrets: ReadonlyMap<string, string>): void;
}

/**
 * Copy `from` to `to` through the redactor, with backpressure. Each chunk goes out as soon as it is read, except
 * a tail that could be the start of a secret. If `to` breaks (our reader went away: `| head`), we close `from`
 * and call `onBroken`.
 */
function maskOutput(from: Readable, to: Writable, initial: ReadonlyMap<string, string>, onBroken: () => void): MaskedOutput {
  guardAgainstLateErrors(to);
  let secrets = new Map(initial);
  let redactor = createRedactor(secrets);
  let broken = false;
  let finished = false;
  let markDone: () => void;
  const done = new Promise<void>((r) => (markDone = r));
  const write = (bytes: Buffer) => {
    if (broken || bytes.length === 0) return true;
    return to.write(bytes);
  };
  const onError = () => {
    broken = true;
    // Signal first: once our end is closed, a write that slips in before the signal would fail differently.
    onBroken();
    from.destroy();
  };
  to.on('error', onError);
  let bytesRead = 0;
  let lastActivity = Date.now();
  let blocked = false;
  from.on('data', (chunk: Buffer) => {
    bytesRead += chunk.length;
    const accepted = write(redactor.write(chunk));
    // After the write: writes to a pipe or file block until our reader takes the bytes, and that is not quiet time.
    lastActivity = Date.now();
    if (!accepted) {
      blocked = true;
      from.pause();
      to.once('drain', () => {
        blocked = false;
        lastActivity = Date.now();
        from.resume();
      });
    }
  });
  const finish = () => {
    if (finished) return;
    finished = true;
    const tail = redactor.end();
    to.removeListener('error', onError);
    if (broken) return markDone();
    // Done once the last write is flushed, and with it everything before it: when our stdout is a socket, writes
    // are queued, and exiting with a queue would lose output.
    to.write(tail, () => markDone());
  };
  from.once('end', finish);
  from.once('close', finish);
  return {
    done,
    get finished() {
      return finished;
    },
    get bytesRead() {
      return bytesRead;
    },
    get lastActivity() {
      return lastActivity;
    },
    get blocked() {
      return blocked;
    },
    /** Stop reading now; what was read is still flushed (`done`). */
    stop() {
      if (finished) return;
      from.removeAllListeners('data');
      from.destroy();
      finish();
    },
    extend(more) {
      for (const [value, replacement] of more) if (!secrets.has(value)) secrets.set(value, replacement);
      // Carry over what the old redactor held back: its end() output is only the undecided tail (with whole
      // secrets masked), and the new redactor, knowing every old secret too, decides it again with what follows.
      const tail = redactor.end();
      redactor = createRedactor(secrets);
      write(redactor.write(tail));
    },
  };
}
