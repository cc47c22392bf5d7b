/**
 * `run --watch`: keep the child running and re-resolve every layer on an interval, and promptly when a local
 * file changes. When the merged set changes, restart the child with the new environment (or only send it a
 * signal). A failed re-resolve keeps the current child: we never restart with a partial set.
 *
 * Sets are compared in memory by a keyed hash (HMAC-SHA256, random key per process): nothing is written to disk,
 * and the long-lived state holds digests, not values.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { watch as watchFs, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { constants } from 'node:os';
import { relaySignals, type ChildEnd, type RunningChild, type SignalPolicy } from './child.js';
import type { Resolved } from '../core/pipeline.js';
import { interpolate, mapStrings } from '../core/interpolate.js';
import { ConfigErrors, UsageError, describeError } from '../core/errors.js';
import { info, warn } from '../cli/output.js';
import { valuesOf } from '../core/resolve.js';
import { loadSource } from '../sources/index.js';

// ---- settings from the command line ------------------------------------------------------------------------

export const DEFAULT_INTERVAL_SECONDS = 30;
export const MIN_INTERVAL_SECONDS = 2;
/** One day; also keeps the delay far below setTimeout's 24.8-day limit (beyond it Node fires at once). */
export const MAX_INTERVAL_SECONDS = 86_400;
export const DEFAULT_GRACE_SECONDS = 10;
/** File events come in bursts (an editor writes a temp file, renames it, touches it): wait for quiet. */
export const FILE_DEBOUNCE_MS = 250;

export type OnChange = { action: 'restart'; signal: NodeJS.Signals; graceMs: number } | { action: 'signal'; signal: NodeJS.Signals };

export interface WatchSettings {
  intervalMs: number;
  onChange: OnChange;
}

export interface WatchFlags {
  watch?: string | true;
  onChange?: string;
  restartSignal?: string;
  grace?: string;
}

/** Validate the watch flags; undefined when `--watch` is absent (and then no other watch flag may be given). */
export function watchSettings(flags: WatchFlags): WatchSettings | undefined {
  if (flags.watch === undefined) {
    const stray = [flags.onChange && '--on-change', flags.restartSignal && '--restart-signal', flags.grace && '--grace'].filter(Boolean);
    if (stray.length > 0) throw new UsageError(`${stray.join(', ')} only applies with --watch`);
    return undefined;
  }
  const intervalMs = parseSeconds(flags.watch === true ? String(DEFAULT_INTERVAL_SECONDS) : flags.watch, '--watch', MIN_INTERVAL_SECONDS, MAX_INTERVAL_SECONDS, ' (put the command after --)');
  const onChange = flags.onChange ?? 'restart';
  if (onChange === 'restart') {
    const signal = flags.restartSignal === undefined ? 'SIGTERM' : parseSignal(flags.restartSignal, '--restart-signal');
    const graceMs = flags.grace === undefined ? DEFAULT_GRACE_SECONDS * 1000 : parseSeconds(flags.grace, '--grace', 0, MAX_INTERVAL_SECONDS);
    return { intervalMs, onChange: { action: 'restart', signal, graceMs } };
  }
  const m = /^signal:(.*)$/.exec(onChange);
  if (!m) throw new UsageError(`--on-change: expected "restart" or "signal:NAME" (e.g. signal:SIGHUP), got "${onChange}"`);
  if (flags.restartSignal !== undefined || flags.grace !== undefined) throw new UsageError('--restart-signal and --grace only apply with --on-change=restart');
  return { intervalMs, onChange: { action: 'signal', signal: parseSignal(m[1], '--on-change') } };
}

function parseSeconds(text: string, flag: string, min: number, max: number, hint = ''): number {
  if (!/^\d+(\.\d+)?$/.test(text)) throw new UsageError(`${flag}: expected a number of seconds, got "${text}"${hint}`);
  const seconds = Number(text);
  if (seconds < min) throw new UsageError(`${flag}: ${text} is below the minimum of ${min} seconds`);
  if (seconds > max) throw new UsageError(`${flag}: ${text} is above the maximum of ${max} seconds`);
  return Math.round(seconds * 1000);
}

/** `SIGHUP`, `HUP` or `hup` → `SIGHUP`, if this system knows it. */
export function parseSignal(text: string, flag: string): NodeJS.Signals {
  const name = (text.toUpperCase().startsWith('SIG') ? text.toUpperCase() : `SIG${text.toUpperCase()}`) as NodeJS.Signals;
  if (!(name in constants.signals)) throw new UsageError(`${flag}: unknown signal "${text}" (e.g. SIGHUP, SIGTERM, SIGUSR1)`);
  return name;
}

// ---- comparing merged sets ---------------------------------------------------------------------------------

export interface Fingerprint {
  /** Digest of the whole set, to tell "unchanged" at a glance. */
  digest: string;
  /** Digest per key, to name the keys that changed without keeping their values. */
  perKey: Map<string, string>;
}

/** A keyed hash of the sorted pairs. The key is random per process, so a digest reveals nothing outside it. */
export function fingerprint(values: Readonly<Record<string, string>>, key: Buffer): Fingerprint {
  const perKey = new Map<string, string>();
  const whole = createHmac('sha256', key);
  for (const name of Object.keys(values).sort()) {
    // JSON keeps the encoding unambiguous: no value can make two different sets hash alike.
    const pair = JSON.stringify([name, values[name]]);
    perKey.set(name, createHmac('sha256', key).update(pair).digest('hex'));
    whole.update(pair).update('\n');
  }
  return { digest: whole.digest('hex'), perKey };
}

export interface KeyChanges {
  added: string[];
  removed: string[];
  changed: string[];
}

/** Which keys differ between two fingerprints; undefined when the sets are equal. */
export function compareFingerprints(before: Fingerprint, after: Fingerprint): KeyChanges | undefined {
  if (before.digest === after.digest) return undefined;
  const changes: KeyChanges = { added: [], removed: [], changed: [] };
  for (const [name, digest] of after.perKey) {
    const old = before.perKey.get(name);
    if (old === undefined) changes.added.push(name);
    else if (old !== digest) changes.changed.push(name);
  }
  for (const name of before.perKey.keys()) if (!after.perKey.has(name)) changes.removed.push(name);
  return changes;
}

const MAX_NAMES_SHOWN = 10;

/** `2 keys changed (API_TOKEN, DATABASE_URL)`: names only, never values. */
export function describeChanges(changes: KeyChanges): string {
  const names = [
    ...changes.changed.map((n) => ({ n, label: n })),
    ...changes.added.map((n) => ({ n, label: `${n} added` })),
    ...changes.removed.map((n) => ({ n, label: `${n} removed` })),
  ].sort((a, b) => (a.n < b.n ? -1 : a.n > b.n ? 1 : 0));
  const shown = names.slice(0, MAX_NAMES_SHOWN).map((x) => x.label);
  if (names.length > MAX_NAMES_SHOWN) shown.push(`+${names.length - MAX_NAMES_SHOWN} more`);
  return `${names.length} key${names.length === 1 ? '' : 's'} changed (${shown.join(', ')})`;
}

/**
 * Delay before the next attempt after `failures` failed re-resolves in a row: 1 s, 2 s, 4 s... doubling up to
 * the interval. A short outage is noticed to be over quickly, and a long one is polled no faster than usual
 * (each remote layer already retries with its own backoff inside one attempt).
 */
export function retryDelay(failures: number, intervalMs: number): number {
  return Math.min(intervalMs, 1000 * 2 ** Math.max(0, Math.min(failures - 1, 20)));
}

/** One line for the failure warning. */
export function failureCause(err: unknown): string {
  if (err instanceof ConfigErrors && err.errors.length > 0) {
    const more = err.errors.length - 1;
    return err.errors[0].message + (more > 0 ? ` (+${more} more problem${more > 1 ? 's' : ''})` : '');
  }
  return describeError(err);
}

// ---- local files ---------------------------------------------------------------------------------------------

export interface FileWatch {
  /** Watch exactly these files from now on. */
  set(paths: string[]): void;
  close(): void;
}

/**
 * Watch files through their parent directories, filtered by name: editors and deploy tools replace a file by
 * renaming a new one over it, which a watch on the file itself would miss. Events are debounced. A directory
 * that can't be watched (missing, or out of inotify watches) is skipped: the interval poll still covers it.
 */
export function watchFiles(onChange: () => void, debounceMs = FILE_DEBOUNCE_MS): FileWatch {
  const dirs = new Map<string, { watcher: FSWatcher; names: Set<string> }>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const fire = () => {
    clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
  };
  const unwatch = (dir: string) => {
    dirs.get(dir)?.watcher.close();
    dirs.delete(dir);
  };
  return {
    set(paths) {
      if (closed) return;
      const wanted = new Map<string, Set<string>>();
      for (const p of paths) {
        const dir = dirname(p);
        if (!wanted.has(dir)) wanted.set(dir, new Set());
        wanted.get(dir)!.add(basename(p));
      }
      for (const dir of [...dirs.keys()]) if (!wanted.has(dir)) unwatch(dir);
      for (const [dir, names] of wanted) {
        const existing = dirs.get(dir);
        if (existing) {
          existing.names = names;
          continue;
        }
        try {
          const entry = { watcher: watchFs(dir, { persistent: false }), names };
          entry.watcher.on('change', (_event, filename) => {
            // Some platforms omit the name; then any change in the directory counts.
            if (filename === null || entry.names.has(String(filename))) fire();
          });
          entry.watcher.on('error', () => unwatch(dir));
          dirs.set(dir, entry);
        } catch {
          /* not watchable: polling covers it */
        }
      }
    },
    close() {
      closed = true;
      clearTimeout(timer);
      for (const dir of [...dirs.keys()]) unwatch(dir);
    },
  };
}

/**
 * The local files a resolution read: the sources file and every layer's `watchPaths`. A layer's options are
 * filled in with the environment's vars, the merged values and the process environment; a path we can't build
 * that way is left to the interval poll.
 */
export async function localFilesOf(resolved: Resolved, processEnv: Readonly<Record<string, string | undefined>>): Promise<string[]> {
  const { plan, resolution } = resolved;
  const values = valuesOf(resolution);
  const lookup = (n: string) => plan.vars[n] ?? values[n] ?? processEnv[n];
  const paths = new Set(resolved.file.path ? [resolved.file.path] : []);
  for (const spec of plan.layers) {
    try {
      const source = await loadSource(spec.type);
      if (!source.watchPaths) continue;
      const options = mapStrings(spec.options, (s) => interpolate(s, lookup)) as Record<string, unknown>;
      for (const p of source.watchPaths(options, { configDir: spec.dir ?? plan.file.dir })) paths.add(p);
    } catch {
      /* left to the poll */
    }
  }
  return [...paths];
}

// ---- the watch loop ------------------------------------------------------------------------------------------

export interface WatchRun extends WatchSettings {
  quiet: boolean;
  policy: SignalPolicy;
  processEnv: Readonly<Record<string, string | undefined>>;
  /** Resolve every layer again and check `require`; throws on any failure. */
  resolve(signal: AbortSignal): Promise<Resolved>;
  /** Start the child with the environment of this resolution. */
  start(resolved: Resolved): RunningChild;
  /** The `--mask` secrets of a resolution (for `--on-change=signal:...`, where the child stays). */
  maskFor?(resolved: Resolved): ReadonlyMap<string, string>;
}

/**
 * Signals after which secretrun is on its way out: they are forwarded as in plain `run`, no re-resolve or restart
 * happens any more, and secretrun exits when the child does. SIGHUP, SIGUSR1 and SIGUSR2 are only forwarded and
 * watching goes on: SIGHUP is how service managers ask for a reload (systemd's `ExecReload=kill -HUP $MAINPID`).
 * The signal named by `--on-change=signal:X` is never an ending one: for this child it means "reload".
 */
const ENDING_SIGNALS: ReadonlySet<NodeJS.Signals> = new Set(['SIGTERM', 'SIGINT', 'SIGQUIT']);

/** Run the child under watch; resolves with how the last child ended, like plain `run`. */
export function runWatched(initial: Resolved, settings: WatchRun): Promise<ChildEnd> {
  return new WatchSession(initial, settings).start();
}

class WatchSession {
  private readonly hmacKey = randomBytes(32);
  private child!: RunningChild;
  private baseline: Fingerprint;
  /** A terminating signal arrived, or the session is over: never start another child or re-resolve. */
  private stopping = false;
  private finished = false;
  private restarting = false;
  private busy = false;
  /** A re-resolve was asked for while one was running. */
  private again = false;
  private inFlight?: AbortController;
  private timer?: NodeJS.Timeout;
  private failures = 0;
  private readonly files: FileWatch;
  private releaseSignals: () => void = () => {};
  private settle!: { resolve: (end: ChildEnd) => void; reject: (err: unknown) => void };

  constructor(
    private readonly initial: Resolved,
    private readonly s: WatchRun,
  ) {
    this.baseline = this.fingerprintOf(initial);
    this.files = watchFiles(() => this.poll());
  }

  start(): Promise<ChildEnd> {
    const done = new Promise<ChildEnd>((resolve, reject) => (this.settle = { resolve, reject }));
    this.releaseSignals = relaySignals(this.s.policy, (sig, forward) => this.onSignal(sig, forward));
    this.launch(this.initial);
    void this.watchFilesOf(this.initial);
    this.schedule(this.s.intervalMs);
    return done;
  }

  private fingerprintOf(resolved: Resolved): Fingerprint {
    return fingerprint(valuesOf(resolved.resolution), this.hmacKey);
  }

  private launch(resolved: Resolved): void {
    let child: RunningChild;
    try {
      child = this.s.start(resolved);
    } catch (err) {
      return this.fail(err);
    }
    this.child = child;
    child.ended.then(
      (end) => {
        // A child stopped by our own restart is expected to end; anything else ends the session, as in plain run.
        if (this.child === child && !this.restarting) this.finish(end);
      },
      (err) => {
        if (this.child === child) this.fail(err);
      },
    );
  }

  private onSignal(sig: NodeJS.Signals, forward: boolean): void {
    if (forward) this.child.signal(sig);
    const reload = this.s.onChange.action === 'signal' && this.s.onChange.signal === sig;
    if (ENDING_SIGNALS.has(sig) && !reload) this.stop();
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    if (!this.stopping) this.timer = setTimeout(() => this.poll(), delayMs);
  }

  private poll(): void {
    this.check().catch((err) => {
      // A bug in watching must not take the application down: stop watching, keep waiting for the child.
      warn(`watch stopped after an internal error, the process keeps running: ${describeError(err)}`, this.s.quiet);
      this.stop();
    });
  }

  private async check(): Promise<void> {
    if (this.stopping) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    clearTimeout(this.timer);
    let nextDelay = this.s.intervalMs;
    try {
      do {
        this.again = false;
        nextDelay = await this.recheck();
      } while (this.again && !this.stopping);
    } finally {
      this.busy = false;
    }
    this.schedule(nextDelay);
  }

  /** One re-resolve and its consequences; returns the delay until the next one. */
  private async recheck(): Promise<number> {
    const controller = new AbortController();
    this.inFlight = controller;
    let resolved: Resolved;
    try {
      resolved = await this.s.resolve(controller.signal);
    } catch (err) {
      if (this.stopping) return 0;
      this.failures++;
      if (this.failures === 1) warn(`re-resolve failed, keeping the current process: ${failureCause(err)}; retrying`, this.s.quiet);
      return retryDelay(this.failures, this.s.intervalMs);
    } finally {
      this.inFlight = undefined;
    }
    if (this.stopping) return 0;
    if (this.failures > 0) {
      this.failures = 0;
      info('sources readable again', this.s.quiet);
    }
    void this.watchFilesOf(resolved);
    const next = this.fingerprintOf(resolved);
    const changes = compareFingerprints(this.baseline, next);
    if (changes) {
      this.baseline = next;
      await this.apply(changes, resolved);
    }
    return this.s.intervalMs;
  }

  private async watchFilesOf(resolved: Resolved): Promise<void> {
    const paths = await localFilesOf(resolved, this.s.processEnv);
    if (!this.stopping) this.files.set(paths);
  }

  private async apply(changes: KeyChanges, resolved: Resolved): Promise<void> {
    const what = describeChanges(changes);
    const onChange = this.s.onChange;
    if (onChange.action === 'signal') {
      info(`${what}; sent ${onChange.signal} (the running process keeps its old environment)`, this.s.quiet);
      if (this.s.maskFor) this.child.extendMask(this.s.maskFor(resolved));
      this.child.signal(onChange.signal);
      return;
    }
    info(`${what}; restarting`, this.s.quiet);
    await this.restart(resolved, onChange.signal, onChange.graceMs);
  }

  /** Stop the child (signal, then SIGKILL after the grace period) and start it again, unless we are stopping. */
  private async restart(resolved: Resolved, signal: NodeJS.Signals, graceMs: number): Promise<void> {
    const old = this.child;
    // It exited on its own meanwhile: that ends the session (see launch), as in plain run.
    if (old.exited) return;
    this.restarting = true;
    let end: ChildEnd;
    old.signal(signal);
    const kill = setTimeout(() => {
      if (old.exited) return;
      warn(`the process did not exit within ${graceMs / 1000}s of ${signal}; sending SIGKILL`, this.s.quiet);
      old.signal('SIGKILL');
    }, graceMs);
    try {
      end = await old.ended;
    } finally {
      clearTimeout(kill);
      this.restarting = false;
    }
    // A terminating signal during the restart cancels it: the old child's end is ours.
    if (this.stopping) return this.finish(end);
    this.launch(resolved);
  }

  /** A terminating signal arrived: no more re-resolves or restarts; the session ends when the child exits. */
  private stop(): void {
    this.stopping = true;
    clearTimeout(this.timer);
    this.files.close();
    this.inFlight?.abort();
  }

  private finish(end: ChildEnd): void {
    this.close(() => this.settle.resolve(end));
  }

  /** A child could not be started (e.g. the program was removed): there is no child left to wait for. */
  private fail(err: unknown): void {
    this.close(() => this.settle.reject(err));
  }

  private close(settle: () => void): void {
    if (this.finished) return;
    this.finished = true;
    this.stop();
    this.releaseSignals();
    settle();
  }
}
