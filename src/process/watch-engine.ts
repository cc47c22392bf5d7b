/**
 * The reload engine shared by `run --watch` (src/process/watch.ts) and the library's `watchSecrets`
 * (src/process/watch-secrets.ts). Triggers (an interval poll, local file changes, a webhook, an explicit reload) are
 * pluggable inputs that all call one `requestCheck(reason)`. The engine coalesces them and re-resolves:
 *
 * - A trigger opens a settle window: the check starts after SETTLE_QUIET_MS without a new trigger, and never
 *   later than SETTLE_MAX_MS after the first. A burst of webhooks over a second is one re-resolve.
 * - Webhook- and poll-triggered checks then wait a random time in [0, jitter] (a fleet gets the same webhook at
 *   once). Triggers during either wait join the pending check.
 * - One check runs at a time; triggers during a check queue one more (with its own settle window).
 * - A failed check keeps the last good set and retries with backoff; a check that finds a changed set hands it
 *   to the owner (restart the child, emit 'change') before the next one may start.
 *
 * Sets are compared by a keyed hash (HMAC-SHA256, random key per engine): the engine holds digests, not values.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { watch as watchFs, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { SecretrunError } from '../core/errors.js';
import { interpolate, lookupIn, mapStrings } from '../core/interpolate.js';
import { valuesOf } from '../core/resolve.js';
import type { Resolved } from '../core/pipeline.js';

/** What asked for a re-resolve; shown in log lines. */
export type TriggerReason = 'poll' | 'file' | 'webhook' | 'reload' | 'retry' | 'lease';

/** A trigger waits for this much quiet before its check starts... */
export const SETTLE_QUIET_MS = 200;
/** ...but never longer than this after the first trigger of the window. */
export const SETTLE_MAX_MS = 1000;
/** File events come in bursts (an editor writes a temp file, renames it, touches it): wait for quiet. */
export const FILE_DEBOUNCE_MS = 250;
/** The poll interval when none is given: `run --watch` and `watchSecrets()` alike. */
export const DEFAULT_POLL_SECONDS = 30;
/** The longest poll interval, one day; also keeps the delay far below setTimeout's 24.8-day limit (beyond it Node fires at once). */
export const MAX_POLL_SECONDS = 86_400;
/** With no poll interval (push only), failed checks are retried no less often than this. */
export const PUSH_RETRY_CAP_MS = 30_000;

/** Reasons a whole fleet receives at the same moment: their checks wait the jitter. */
const JITTERED: ReadonlySet<TriggerReason> = new Set(['webhook', 'poll']);
/** Reasons that already waited for quiet (file events are debounced) or ask for now (reload()). */
const IMMEDIATE: ReadonlySet<TriggerReason> = new Set(['file', 'reload', 'lease']);

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

/** Every key name in a change, sorted. */
export function changedNames(changes: KeyChanges | undefined): string[] {
  return changes ? [...changes.changed, ...changes.added, ...changes.removed].sort() : [];
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
 * `capMs` (the poll interval). A short outage is noticed to be over quickly, and a long one is polled no faster
 * than usual (each remote layer already retries with its own backoff inside one attempt).
 */
export function retryDelay(failures: number, capMs: number): number {
  return Math.min(capMs, 1000 * 2 ** Math.max(0, Math.min(failures - 1, 20)));
}

// ---- the engine ----------------------------------------------------------------------------------------------

export interface CheckResult<R> {
  /** The triggers this check answers, in the order they arrived. */
  reasons: TriggerReason[];
  resolved: R;
  /** Undefined when the set is unchanged. */
  changes?: KeyChanges;
}

export interface EngineHooks<R> {
  /** Resolve every layer again; throws on any failure. */
  resolve(signal: AbortSignal): Promise<R>;
  values(resolved: R): Readonly<Record<string, string>>;
  /** A successful check, changed or not. Awaited: the next check starts after it (e.g. after a restart). */
  onChecked(result: CheckResult<R>): void | Promise<void>;
  /** A failed check; `failures` counts the failures in a row. The last good set stays. */
  onFailure(err: unknown, reasons: TriggerReason[], failures: number): void;
  /** A check succeeded after failures. */
  onRecovered?(): void;
  /** `onChecked` threw: a bug in the owner, not a source failure. */
  onInternalError?(err: unknown): void;
  /** --jitter, in ms. */
  jitterMs?: number;
  /** Cap of the retry backoff after failures (the poll interval). */
  retryCapMs?: number;
  random?: () => number;
}

/** An input of the engine. `start` may be async (a listener that must bind before the child starts). */
export interface Trigger<R> {
  start(request: (reason: TriggerReason) => void): void | Promise<void>;
  /** After every check, successful (with its resolution) or not. */
  checked?(resolved: R | undefined): void;
  close(): void | Promise<void>;
}

interface Waiter {
  resolve(names: string[]): void;
  reject(err: unknown): void;
}

interface Pending {
  reasons: TriggerReason[];
  waiters: Waiter[];
  firstAt: number;
  timer?: NodeJS.Timeout;
  phase: 'settle' | 'jitter' | 'ready';
}

export class WatchEngine<R> {
  private readonly hmacKey = randomBytes(32);
  private baseline: Fingerprint;
  private readonly triggers: Trigger<R>[] = [];
  private pending?: Pending;
  private running = false;
  private inFlight?: AbortController;
  private retryTimer?: NodeJS.Timeout;
  private failures = 0;
  private closed = false;
  /** For health reports: when the last check (or the initial resolution) ended, and how. */
  lastCheck: { at: Date; ok: boolean };

  constructor(
    initial: R,
    private readonly hooks: EngineHooks<R>,
  ) {
    this.baseline = fingerprint(hooks.values(initial), this.hmacKey);
    // The initial resolution is the first successful check.
    this.lastCheck = { at: new Date(), ok: true };
  }

  /** Number of keys in the last good set. */
  get keyCount(): number {
    return this.baseline.perKey.size;
  }

  /** Start the triggers; rejects (and closes the ones started) if one cannot start, e.g. a port in use. */
  async start(triggers: Trigger<R>[]): Promise<void> {
    for (const t of triggers) {
      this.triggers.push(t);
      await t.start((reason) => void this.requestCheck(reason).catch(() => {}));
    }
  }

  /**
   * Ask for a re-resolve. Joins the check that has not started yet, if any; otherwise opens a new one. Resolves
   * to the names of the keys that check found changed, and rejects if it failed.
   */
  requestCheck(reason: TriggerReason): Promise<string[]> {
    if (this.closed) return Promise.reject(new SecretrunError('the watcher is closed'));
    return new Promise<string[]>((resolve, reject) => {
      let p = this.pending;
      if (!p) p = this.pending = { reasons: [], waiters: [], firstAt: Date.now(), phase: 'settle' };
      if (!p.reasons.includes(reason)) p.reasons.push(reason);
      p.waiters.push({ resolve, reject });
      if (p.phase === 'ready') return;
      if (IMMEDIATE.has(reason)) return this.ready(p);
      if (p.phase === 'settle') {
        const wait = Math.min(SETTLE_QUIET_MS, p.firstAt + SETTLE_MAX_MS - Date.now());
        this.arm(p, Math.max(0, wait), () => this.settled(p));
      }
    });
  }

  private arm(p: Pending, ms: number, then: () => void): void {
    clearTimeout(p.timer);
    p.timer = setTimeout(then, ms);
    // Never hold a process open (a library's host application must be able to exit).
    p.timer.unref();
  }

  private settled(p: Pending): void {
    const jitter = this.hooks.jitterMs ?? 0;
    if (jitter > 0 && p.reasons.some((r) => JITTERED.has(r))) {
      p.phase = 'jitter';
      this.arm(p, Math.round((this.hooks.random ?? Math.random)() * jitter), () => this.ready(p));
    } else this.ready(p);
  }

  private ready(p: Pending): void {
    clearTimeout(p.timer);
    p.phase = 'ready';
    if (!this.running) void this.run();
  }

  private async run(): Promise<void> {
    const p = this.pending;
    if (!p || p.phase !== 'ready' || this.running || this.closed) return;
    this.pending = undefined;
    this.running = true;
    clearTimeout(this.retryTimer);
    let names: string[] | undefined;
    let failure: { err: unknown } | undefined;
    let resolved: R | undefined;
    try {
      ({ names, resolved } = await this.check(p.reasons));
    } catch (err) {
      failure = { err };
    } finally {
      this.running = false;
    }
    if (failure) for (const w of p.waiters) w.reject(failure.err);
    else for (const w of p.waiters) w.resolve(names!);
    if (this.closed) return;
    for (const t of this.triggers) t.checked?.(resolved);
    // A check that became ready while this one ran (TS cannot see that `pending` changed during the awaits).
    if ((this.pending as Pending | undefined)?.phase === 'ready') void this.run();
  }

  private async check(reasons: TriggerReason[]): Promise<{ names: string[]; resolved?: R }> {
    const controller = new AbortController();
    this.inFlight = controller;
    let resolved: R;
    try {
      resolved = await this.hooks.resolve(controller.signal);
    } catch (err) {
      if (this.closed) throw err;
      this.failures++;
      this.lastCheck = { at: new Date(), ok: false };
      this.hooks.onFailure(err, reasons, this.failures);
      this.scheduleRetry();
      throw err;
    } finally {
      this.inFlight = undefined;
    }
    if (this.closed) return { names: [] };
    this.lastCheck = { at: new Date(), ok: true };
    if (this.failures > 0) {
      this.failures = 0;
      this.hooks.onRecovered?.();
    }
    const next = fingerprint(this.hooks.values(resolved), this.hmacKey);
    const changes = compareFingerprints(this.baseline, next);
    if (changes) this.baseline = next;
    try {
      await this.hooks.onChecked({ reasons, resolved, changes });
    } catch (err) {
      this.hooks.onInternalError?.(err);
      throw err;
    }
    return { names: changedNames(changes), resolved };
  }

  private scheduleRetry(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.requestCheck('retry').catch(() => {}), retryDelay(this.failures, this.hooks.retryCapMs ?? PUSH_RETRY_CAP_MS));
    this.retryTimer.unref();
  }

  /** No more checks: cancel the one in flight, reject the pending one, stop every trigger. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.inFlight?.abort();
    const p = this.pending;
    this.pending = undefined;
    if (p) {
      clearTimeout(p.timer);
      for (const w of p.waiters) w.reject(new SecretrunError('the watcher is closed'));
    }
    await Promise.allSettled(this.triggers.map(async (t) => t.close()));
  }
}

// ---- triggers ------------------------------------------------------------------------------------------------

/** Re-resolve `intervalMs` after the last check, whatever triggered it. */
export function pollTrigger<R>(intervalMs: number): Trigger<R> {
  let timer: NodeJS.Timeout | undefined;
  let request: ((reason: TriggerReason) => void) | undefined;
  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(() => request?.('poll'), intervalMs);
    timer.unref();
  };
  return {
    start(r) {
      request = r;
      schedule();
    },
    checked: schedule,
    close() {
      request = undefined;
      clearTimeout(timer);
    },
  };
}

/**
 * Re-resolve when something the current resolution holds ends for good (a lease at its max TTL, one that can't be
 * renewed): `dueAt` asks the sources (the `refreshAt` lease hook, via src/core/leases.ts) for the earliest such
 * instant, re-asked after every successful check. In every watch mode, `--listen` alone included.
 */
export function leaseTrigger<R>(initial: R, dueAt: (resolved: R) => number | undefined): Trigger<R> {
  let timer: NodeJS.Timeout | undefined;
  let request: ((reason: TriggerReason) => void) | undefined;
  const schedule = (resolved: R) => {
    clearTimeout(timer);
    const at = dueAt(resolved);
    if (at === undefined || !request) return;
    // setTimeout fires at once beyond 24.8 days; a lease that long is re-asked after a day.
    timer = setTimeout(() => request?.('lease'), Math.min(Math.max(0, at - Date.now()), MAX_POLL_SECONDS * 1000));
    timer.unref();
  };
  return {
    start(r) {
      request = r;
      schedule(initial);
    },
    checked(resolved) {
      if (resolved !== undefined) schedule(resolved);
    },
    close() {
      request = undefined;
      clearTimeout(timer);
    },
  };
}

/** Watch the local files a resolution read (`filesOf`), re-reading that list after every successful check. */
export function fileTrigger<R>(initial: R, filesOf: (resolved: R) => Promise<string[]>): Trigger<R> {
  let files: FileWatch | undefined;
  let closed = false;
  const update = (resolved: R) =>
    filesOf(resolved).then(
      (paths) => void (!closed && files?.set(paths)),
      () => {},
    );
  return {
    /** Resolves once the files are watched: a change from then on is seen. */
    start(request) {
      files = watchFiles(() => request('file'));
      return update(initial);
    },
    checked(resolved) {
      if (resolved !== undefined) void update(resolved);
    },
    close() {
      closed = true;
      files?.close();
    },
  };
}

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
    timer.unref();
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
  const lookup = lookupIn(plan.vars, values, processEnv);
  const paths = new Set(resolved.file.path ? [resolved.file.path] : []);
  for (const spec of plan.layers) {
    try {
      const { watchPaths } = spec.source;
      if (!watchPaths) continue;
      const options = mapStrings(spec.options, (s) => interpolate(s, lookup)) as Record<string, unknown>;
      for (const p of watchPaths(options, { configDir: spec.dir ?? plan.file.dir })) paths.add(p);
    } catch {
      /* left to the poll */
    }
  }
  return [...paths];
}
