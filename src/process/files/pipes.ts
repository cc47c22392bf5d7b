/**
 * Named pipes served by secretrun. Each reader that opens a pipe gets the whole content; no byte is written to a
 * file. Three rules keep it safe and never in anyone's way:
 *
 * - **Never block a thread on a pipe.** A blocking open of a FIFO waits for a reader and would hold one of
 *   libuv's four threadpool threads (a few pipes nobody opens would starve every fs, dns.lookup and crypto
 *   call), and a pending asynchronous open keeps Node from exiting. So we poll instead: one unref'd timer tries
 *   `open(O_WRONLY | O_NONBLOCK)` on every pipe, which returns at once, failing with ENXIO while no reader has it
 *   open. Once a reader is there, the content goes out through a non-blocking stream (epoll, no thread).
 * - **One copy per open.** Reopening the same pipe while the previous reader still holds it would hand that
 *   reader the content again. So as soon as a reader is found, a fresh pipe is renamed over the path (atomic, same
 *   directory): the next reader opens the new one, and the lingering one gets EOF on the old one when we are done.
 *   The fresh pipe is a spare made ahead of time (`.NAME.secretrun-PID-N` next to the path; mkfifo in the
 *   background), so no reader waits for a process to start; only reads in quick succession make one on the spot.
 *   Measured with a reader every 300 ms on this (heavily loaded) 2-core machine: median open-to-EOF 56 ms with
 *   spares against 78 ms making each pipe on the spot.
 * - **Only our own pipe.** Every open for writing is checked with fstat against what we created (device, inode,
 *   owner, mode); anything else stops serving that path with an error.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, renameSync, unlinkSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Socket } from 'node:net';
import { SecretrunError } from '../../core/errors.js';
import { childProcessModule } from '../builtins.js';

/**
 * How often the pipes are tried: every 30 ms while reads are likely (the first seconds of a run, after a read and
 * after a new value), so a reader's open waits at most that long; then every 120 ms, which costs a waiting service
 * little CPU. Measured idle on this 2-core machine: 1.4-1.5% of a core at a steady 30 ms (1 or 5 pipes alike: the
 * wake-ups cost, not the opens; under a load average of 20); too small to measure at the 120 ms rate.
 */
export const POLL_MS = 30;
export const IDLE_POLL_MS = 120;
const BUSY_FOR_MS = 5000;

/** What we created at a path: an open for writing must find exactly this. */
export interface Identity {
  dev: number;
  ino: number;
  uid: number;
  mode: number;
}

const uid = () => process.getuid?.() ?? -1;

export function identityOf(st: Stats): Identity {
  return { dev: st.dev, ino: st.ino, uid: st.uid, mode: st.mode };
}

function sameFile(st: Stats, id: Identity): boolean {
  return st.dev === id.dev && st.ino === id.ino && st.uid === id.uid && st.mode === id.mode;
}

/** Create FIFOs with mode 0600 in the creating call, using the `mkfifo` found on the parent's PATH. */
export function makeFifos(mkfifo: string, paths: string[]): Identity[] {
  // No environment: mkfifo needs none, and nothing of ours should reach another program.
  const r = childProcessModule().spawnSync(mkfifo, ['-m', '600', '--', ...paths], { stdio: ['ignore', 'ignore', 'ignore'], env: {} });
  if (r.status !== 0) {
    for (const p of paths) safeUnlink(p);
    throw new SecretrunError(`${mkfifo} could not create a named pipe in ${dirname(paths[0])}${r.error ? ` (${(r.error as NodeJS.ErrnoException).code})` : ''}`);
  }
  return paths.map((p) => {
    const st = lstatSync(p);
    if (!st.isFIFO() || st.uid !== uid() || (st.mode & 0o077) !== 0) {
      for (const q of paths) safeUnlink(q);
      throw new SecretrunError(`${p}: not the private named pipe secretrun asked ${mkfifo} to create`);
    }
    return identityOf(st);
  });
}

function removeIfSame(path: string, id: Identity): void {
  try {
    if (sameFile(lstatSync(path), id)) unlinkSync(path);
  } catch {
    /* gone */
  }
}

function safeUnlink(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* gone */
  }
}

interface ServedPipe {
  path: string;
  content: Buffer;
  identity?: Identity;
  /** A fresh pipe made ahead of time, renamed over `path` as a reader arrives (no mkfifo on the way to the reader). */
  spare?: { path: string; identity: Identity };
  refilling: boolean;
  reads: number;
  stopped: boolean;
}

export interface PipeServerOptions {
  mkfifo: string;
  /** `--mount-max-reads`: after this many reads a pipe is removed. */
  maxReads?: number;
  /** Serving a path stopped (replaced, removed by someone else): one line, no value. */
  onProblem(message: string): void;
}

let spareCounter = 0;
/** A name next to `path` for the fresh pipe that replaces it (same directory, so the rename is atomic). */
function spareName(path: string): string {
  return join(dirname(path), `.${basename(path)}.secretrun-${process.pid}-${++spareCounter}`);
}

export class PipeServer {
  private readonly pipes: ServedPipe[] = [];
  private readonly writers = new Set<Socket>();
  private timer?: NodeJS.Timeout;
  private busyUntil = 0;
  /** Background mkfifo calls still running (refill): `close` stops them and waits, so none leaves a spare behind. */
  private readonly refills = new Set<{ child: ChildProcess; finished: Promise<void> }>();
  /** Set by `close`: what it waits for. */
  private closing?: Promise<void>;
  private get closed(): boolean {
    return this.closing !== undefined;
  }

  constructor(private readonly o: PipeServerOptions) {}

  /** Create a pipe at each path (replacing a pipe of ours already there) and start serving it. */
  serve(entries: { path: string; content: Buffer }[]): void {
    // One mkfifo call for every pipe and its first spare.
    const names = entries.flatMap((e) => [spareName(e.path), spareName(e.path)]);
    const ids = makeFifos(this.o.mkfifo, names);
    entries.forEach((e, i) => {
      renameSync(names[2 * i], e.path);
      const spare = { path: names[2 * i + 1], identity: ids[2 * i + 1] };
      this.pipes.push({ path: e.path, content: e.content, identity: ids[2 * i], spare, refilling: false, reads: 0, stopped: false });
    });
    this.wake();
  }

  /** Poll at the fast rate for a while from now. */
  private wake(): void {
    this.busyUntil = Date.now() + BUSY_FOR_MS;
    if (!this.timer) this.schedule();
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(
      () => {
        this.poll();
        this.schedule();
      },
      Date.now() < this.busyUntil ? POLL_MS : IDLE_POLL_MS,
    );
    this.timer.unref();
  }

  /** The next reader of `path` gets `content` (a read already under way finishes with what it started). */
  update(path: string, content: Buffer): void {
    const pipe = this.pipes.find((p) => p.path === path);
    if (pipe) pipe.content = content;
    // A program told of a change (--on-change signal:NAME) reads again soon.
    this.wake();
  }

  /** How many times each path was read so far. */
  reads(path: string): number {
    return this.pipes.find((p) => p.path === path)?.reads ?? 0;
  }

  private poll(): void {
    for (const pipe of this.pipes) {
      if (!pipe.stopped && !this.closed) this.tryServe(pipe);
    }
  }

  private stop(pipe: ServedPipe, why: string): void {
    pipe.stopped = true;
    this.o.onProblem(`${pipe.path}: ${why}; no longer serving it`);
  }

  private tryServe(pipe: ServedPipe): void {
    let fd: number;
    try {
      fd = openSync(pipe.path, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENXIO') return; // no reader yet
      return this.stop(pipe, code === 'ENOENT' ? 'removed by someone else' : `cannot open it (${code})`);
    }
    let st: Stats;
    try {
      st = fstatSync(fd);
    } catch {
      closeSync(fd);
      return this.stop(pipe, 'cannot check it');
    }
    if (!st.isFIFO() || !pipe.identity || !sameFile(st, pipe.identity)) {
      closeSync(fd);
      return this.stop(pipe, 'replaced by something secretrun did not create');
    }
    pipe.reads++;
    this.busyUntil = Date.now() + BUSY_FOR_MS;
    const content = pipe.content;
    try {
      if (this.o.maxReads !== undefined && pipe.reads >= this.o.maxReads) {
        // The last read: remove the path now, so a later open fails at once.
        unlinkSync(pipe.path);
        pipe.stopped = true;
        pipe.identity = undefined;
      } else {
        // The spare made ahead, or (reads in quick succession) one made now.
        let spare = pipe.spare;
        if (!spare) {
          const name = spareName(pipe.path);
          spare = { path: name, identity: makeFifos(this.o.mkfifo, [name])[0] };
        }
        pipe.spare = undefined;
        renameSync(spare.path, pipe.path);
        pipe.identity = spare.identity;
        this.refill(pipe);
      }
    } catch (err) {
      closeSync(fd);
      return this.stop(pipe, `cannot replace it after a read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    this.write(fd, content);
  }

  /**
   * Make the next spare in the background: mkfifo runs as a child process, so neither the event loop nor a
   * threadpool thread waits for it.
   */
  private refill(pipe: ServedPipe): void {
    if (pipe.refilling || pipe.stopped || this.closed) return;
    pipe.refilling = true;
    const name = spareName(pipe.path);
    const done = (ok: boolean) => {
      pipe.refilling = false;
      let st: Stats | undefined;
      try {
        st = ok && !this.closed && !pipe.stopped && !pipe.spare ? lstatSync(name) : undefined;
      } catch {
        st = undefined;
      }
      if (st && st.isFIFO() && st.uid === uid() && (st.mode & 0o077) === 0) pipe.spare = { path: name, identity: identityOf(st) };
      else safeUnlink(name);
    };
    try {
      let settle!: () => void;
      const finished = new Promise<void>((resolve) => (settle = resolve));
      const child = childProcessModule().execFile(this.o.mkfifo, ['-m', '600', '--', name], { env: {} }, (err) => {
        this.refills.delete(refill);
        done(!err);
        settle();
      });
      const refill = { child, finished };
      this.refills.add(refill);
      child.on('error', () => {});
    } catch {
      done(false);
    }
  }

  /** Write the whole content to the reader without blocking any thread, then close (the reader sees EOF). */
  private write(fd: number, content: Buffer): void {
    const writer = new Socket({ fd, readable: false, writable: true });
    writer.unref();
    this.writers.add(writer);
    // A reader that closes early gives EPIPE: its loss, nothing to report.
    writer.on('error', () => writer.destroy());
    writer.on('close', () => this.writers.delete(writer));
    writer.end(content);
  }

  /**
   * Stop serving and remove every pipe (only if it is still the one we created). A reader blocked in open() on a
   * pipe is let go with EOF first: once the path is gone nobody else could ever open it for writing.
   *
   * A spare still being made in the background is stopped (SIGKILL) and, once its mkfifo has exited, removed if it
   * was made: the returned promise settles then. An exit task awaits it; without the wait, a mkfifo that outlived
   * secretrun left its `.NAME.secretrun-PID-N` pipe next to the path. A second call returns the same promise.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    for (const { child } of this.refills) child.kill('SIGKILL');
    this.closing = Promise.all([...this.refills].map((r) => r.finished)).then(() => undefined);
    clearTimeout(this.timer);
    for (const w of this.writers) w.destroy();
    this.writers.clear();
    for (const pipe of this.pipes) {
      if (pipe.spare) removeIfSame(pipe.spare.path, pipe.spare.identity);
      const id = pipe.identity;
      if (!id) continue;
      try {
        if (!sameFile(lstatSync(pipe.path), id)) continue;
        try {
          closeSync(openSync(pipe.path, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW));
        } catch {
          /* no reader waiting */
        }
        unlinkSync(pipe.path);
      } catch {
        /* gone */
      }
    }
    return this.closing;
  }
}
