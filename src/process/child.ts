/**
 * Start the child: hand it our process with execve, or spawn it, relay signals, and report how it ended.
 *
 * - execve (`execChild`), where Node has it and nothing needs a resident parent: the child takes over our PID,
 *   stdio and terminal, its exit status is its own by construction, and no relay is needed. Only when every check
 *   says the system call will succeed: a failed `process.execve` aborts Node 22/24 (exit 134) instead of throwing.
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
import type { ChildProcess } from 'node:child_process';
import { childProcessModule } from './builtins.js';
import { accessSync, closeSync, constants, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { SecretrunError } from '../core/errors.js';
import { createRedactor } from './mask.js';
import { settleStdioForExec } from './stdio.js';

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
  /** Is there a terminal that delivers Ctrl-C to our process group? (Read when a SIGINT arrives; may be a getter.) */
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
  // The relay first: the child may be running (and its parent asked to stop) before spawn() returns; with no
  // listener yet, such a signal would end secretrun by default, orphaning the child. (No signal listener can
  // run between these two lines: they are one synchronous step.)
  let running: RunningChild | undefined;
  const stopRelay = relaySignals(opts, (sig, forward) => forward && running?.signal(sig));
  try {
    running = spawnChild(file, args, opts);
  } catch (err) {
    stopRelay();
    throw err;
  }
  // A child that could not start has nothing to relay to.
  running.ended.catch(stopRelay);
  return Object.assign(running, { release: stopRelay });
}

/** Spawn the child with inherited stdin (and stdout/stderr unless masked). Does not touch our signal handlers. */
export function spawnChild(file: string, args: string[], opts: SpawnOptions): RunningChild {
  // argv[0] is the file, as spawn passes it.
  const tooLarge = execSizeProblem(file, [file, ...args], opts.env);
  if (tooLarge) throw tooLarge;
  let child: ChildProcess;
  try {
    child = childProcessModule().spawn(file, args, { env: opts.env, cwd: opts.cwd, stdio: opts.mask ? ['inherit', 'pipe', 'pipe'] : 'inherit' });
  } catch (err) {
    // Node throws some failures of the system call at once; E2BIG past our estimate (another kernel's rules).
    const code = (err as NodeJS.ErrnoException)?.code;
    if (code === 'E2BIG') throw new SecretrunError(`cannot start ${file}: its arguments and environment are too large for the system (E2BIG); pass large values as files (--as-file KEY)`);
    throw err;
  }
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

type Execve = (file: string, args: string[], env: Record<string, string>) => never;

/** `process.execve`, on Node ≥ 22.15 / 23.11 (the types we build against are Node 20's). */
function nodeExecve(): Execve | undefined {
  const execve = (process as unknown as { execve?: Execve }).execve;
  return typeof execve === 'function' ? execve : undefined;
}

/** What Node ignores, and an exec'd program would inherit as ignored (spawn resets them in the child). */
const IGNORED_BY_NODE: NodeJS.Signals[] = ['SIGPIPE', 'SIGXFSZ'];

/**
 * Replace this process with `file args...` in environment `env`. Returns (false) only when it did not happen:
 * a check says the system call might fail, or Node refused before making it; the caller then spawns the child
 * as usual, which reports 126/127 and every other failure the familiar way.
 */
export async function execChild(file: string, args: string[], env: Record<string, string>, cwd: string): Promise<boolean> {
  const execve = nodeExecve();
  const path = resolve(cwd, file);
  if (!execve || !execWillStart(path) || !fitsExecLimits(path, [file, ...args], env)) return false;
  await settleStdioForExec();
  // Node ignores SIGPIPE and SIGXFSZ, and an ignored signal stays ignored across execve: `yes | head -1` would
  // see EPIPE instead of dying of SIGPIPE (141). Adding and removing a listener leaves libuv's default in place.
  for (const sig of IGNORED_BY_NODE) {
    const noop = () => {};
    process.on(sig, noop);
    process.removeListener(sig, noop);
  }
  // Node marks process.execve experimental; the warning goes out on a later tick, so it shows only when the call
  // failed and we carry on (Node ≥ 26 throws), and then it is noise above the spawn path's own answer.
  const emitWarning = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
    if (type !== 'ExperimentalWarning') (emitWarning as (...a: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    // argv[0] is the path, as spawn gives it.
    execve(path, [file, ...args], env);
  } catch {
    /* Node ≥ 26 throws on a failed call; before the call (bad argument) every version does. Spawn instead. */
  } finally {
    process.emitWarning = emitWarning;
  }
  // Still here: put back what spawn expects of us.
  for (const sig of IGNORED_BY_NODE) process.on(sig, () => {});
  return false;
}

/**
 * Linux's limit on one string passed to a program, an argument or a `KEY=value` variable, its NUL included:
 * MAX_ARG_STRLEN, 32 pages of 4 KiB (fs/exec.c counts `strnlen_user`, which includes the NUL).
 */
export const MAX_ARG_STRLEN = 32 * 4096;
/**
 * Linux's floor for all of them together (ARG_MAX, also 32 pages): whatever the stack limit, at least this much
 * fits, so a smaller total needs no look at the limits.
 */
const MIN_ARG_SPACE = 32 * 4096;
/** What we do not count: a `#!` interpreter's own name and argument, which the kernel adds. */
const EXEC_MARGIN = 8 * 1024;
const POINTER_BYTES = 8;
const asFileHint = (key: string) => `; pass it as a file instead (--as-file ${key})`;

/**
 * The room Linux gives one exec for its strings and their pointers (fs/exec.c `bprm_stack_limits`): a quarter of
 * the stack's soft limit, at most 6 MiB (three quarters of _STK_LIM), at least 128 KiB. What `getconf ARG_MAX`
 * reports comes from the same quarter of the stack limit. Undefined when the limit cannot be read.
 */
export function linuxArgSpace(limits = readProcLimits()): number | undefined {
  const stack = limits && /^Max stack size\s+(\d+|unlimited)\s/m.exec(limits)?.[1];
  if (!stack) return undefined;
  const quarter = stack === 'unlimited' ? Infinity : Number(stack) / 4;
  return Math.max(Math.min(quarter, 6 * 1024 * 1024), MIN_ARG_SPACE);
}

function readProcLimits(): string | undefined {
  try {
    return readFileSync('/proc/self/limits', 'latin1');
  } catch {
    return undefined;
  }
}

/** The bytes exec copies for these strings (each with its NUL) and their pointers, and the largest variable. */
function execFootprint(file: string, args: string[], env: Record<string, string>) {
  let total = Buffer.byteLength(file) + 1;
  let largest = { key: '', bytes: 0 };
  let longArg: { index: number; bytes: number } | undefined;
  args.forEach((a, index) => {
    const bytes = Buffer.byteLength(a) + 1;
    total += bytes + POINTER_BYTES;
    if (bytes > MAX_ARG_STRLEN && !longArg) longArg = { index, bytes };
  });
  for (const key in env) {
    const bytes = Buffer.byteLength(key) + Buffer.byteLength(env[key]) + 2;
    total += bytes + POINTER_BYTES;
    if (bytes > largest.bytes) largest = { key, bytes };
  }
  return { total: total + POINTER_BYTES, largest, longArg };
}

/**
 * Would exec refuse these (E2BIG)? Checked before spawning or handing over our process, so the answer names the
 * variable instead of Node's bare `spawn E2BIG`. Linux only: other systems have other rules (macOS has no limit
 * per string), and there Node's own error is what we report.
 */
export function execSizeProblem(
  file: string,
  args: string[],
  env: Record<string, string>,
  { platform = process.platform, argSpace = linuxArgSpace }: { platform?: string; argSpace?: () => number | undefined } = {},
): SecretrunError | undefined {
  if (platform !== 'linux') return undefined;
  const { total, largest, longArg } = execFootprint(file, args, env);
  if (largest.bytes > MAX_ARG_STRLEN) {
    return new SecretrunError(`${largest.key} is too large for a program's environment: ${sizeText(largest.bytes)} as ${largest.key}=value, over the ${sizeText(MAX_ARG_STRLEN)} Linux allows one variable${asFileHint(largest.key)}`);
  }
  if (longArg) {
    // args[0] is the program's own name, so the index is the argument's number ($1 is 1).
    return new SecretrunError(`argument ${longArg.index} of the command is ${sizeText(longArg.bytes)}, over the ${sizeText(MAX_ARG_STRLEN)} Linux allows one argument`, { exitCode: EXIT_NOT_EXECUTABLE });
  }
  if (total + EXEC_MARGIN <= MIN_ARG_SPACE) return undefined;
  const space = argSpace();
  if (space === undefined || total + EXEC_MARGIN <= space) return undefined;
  const biggest = largest.key ? `; the largest variable is ${largest.key} (${sizeText(largest.bytes)})${asFileHint(largest.key)}` : '';
  return new SecretrunError(`the command's arguments and environment add up to ${sizeText(total)}, over the ${sizeText(space - EXEC_MARGIN)} this system lets a program start with (ARG_MAX, a quarter of the stack limit)${biggest}`);
}

/** Bytes, exact below 10 KiB, else in KiB or MiB with one decimal. */
function sizeText(n: number): string {
  if (n < 10 * 1024) return `${n} bytes`;
  return n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}

/**
 * Can execve take these strings? No size problem (above), and at most 1 MiB in all: a failed `process.execve`
 * aborts Node 22/24, so the handover keeps well inside the limit and a larger set takes the spawn path. A NUL in
 * a string is refused by Node before the call.
 */
function fitsExecLimits(file: string, args: string[], env: Record<string, string>): boolean {
  if (execSizeProblem(file, args, env, { platform: 'linux', argSpace: () => 1024 * 1024 }) !== undefined) return false;
  // Loops, not arrays of every key and value: this runs on every handover (young-generation allocation,
  // docs/performance.md "Fourth session").
  for (const s of args) if (s.includes('\0')) return false;
  for (const k in env) if (k.includes('\0') || env[k].includes('\0')) return false;
  return true;
}

/** ELF machine numbers of the architectures we recognise (e_machine). */
const ELF_MACHINE: Record<string, number | undefined> = { x64: 62, arm64: 183, ppc64: 21, s390x: 22, riscv64: 243, loong64: 258 };

/** How many bytes of a file we read to decide: the kernel itself reads the #! line from the first 256. */
const HEAD_BYTES = 4096;

function readHead(path: string, position = 0, length = HEAD_BYTES): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const buf = Buffer.alloc(length);
    return buf.subarray(0, readSync(fd, buf, 0, length, position));
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Will execve(2) of `path` start a program? Only definite yeses: an executable regular file that is a native
 * 64-bit little-endian ELF whose loader (PT_INTERP) exists, or a `#!` script whose interpreter is such an ELF.
 * Anything else (an executable without `#!`, which spawn runs through sh; another architecture; a file we cannot
 * read) takes the spawn path.
 */
export function execWillStart(path: string, depth = 0): boolean {
  if (!isAbsolute(path) || !isExecutableFile(path)) return false;
  const head = readHead(path);
  if (!head) return false;
  if (head[0] === 0x23 && head[1] === 0x21 && depth === 0) {
    const end = head.indexOf(0x0a);
    // The kernel reads at most 255 bytes of the #! line; a longer one is cut, and we don't guess how.
    if (end < 0 || end > 255) return false;
    const interpreter = head.toString('latin1', 2, end).trim().split(/[ \t]/)[0];
    return interpreter !== undefined && interpreter.length > 0 && execWillStart(interpreter, depth + 1);
  }
  return nativeElf(path, head);
}

function nativeElf(path: string, head: Buffer): boolean {
  // \x7fELF, 64-bit (class 2), little-endian (data 1), an executable or a shared object (PIE), our machine.
  if (head.length < 64 || head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2 || head[5] !== 1) return false;
  const type = head.readUInt16LE(16);
  if ((type !== 2 && type !== 3) || head.readUInt16LE(18) !== ELF_MACHINE[process.arch]) return false;
  const phoff = Number(head.readBigUInt64LE(32));
  const phentsize = head.readUInt16LE(54);
  const phnum = head.readUInt16LE(56);
  if (phentsize < 56 || phnum === 0 || phnum > 256) return false;
  const table = phoff + phentsize * phnum <= head.length ? head.subarray(phoff) : readHead(path, phoff, phentsize * phnum);
  if (!table || table.length < phentsize * phnum) return false;
  for (let i = 0; i < phnum; i++) {
    const entry = table.subarray(i * phentsize);
    if (entry.readUInt32LE(0) !== 3 /* PT_INTERP */) continue;
    const size = Number(entry.readBigUInt64LE(32));
    const name = size > 1 && size <= 4096 ? readHead(path, Number(entry.readBigUInt64LE(8)), size) : undefined;
    if (!name || name.length !== size || name[size - 1] !== 0) return false;
    const loader = name.toString('latin1', 0, size - 1);
    return isAbsolute(loader) && isExecutableFile(loader);
  }
  return true;
}
