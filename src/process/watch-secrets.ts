/**
 * The library's reload API: `watchSecrets(options)` resolves like `loadSecrets` and keeps the result current,
 * on the same engine as `secretrun run --watch` (src/process/watch-engine.ts): an interval poll, the local files
 * the layers read, and `reload()`.
 *
 * Unlike a bare EventEmitter, an 'error' without a listener is dropped, never thrown: a failed poll must not
 * crash the host application. Every timer and file watch is unref'd, so a forgotten watcher never holds the
 * process open.
 */
import { EventEmitter } from 'node:events';
import { UsageError } from '../core/errors.js';
import { valuesOf } from '../core/resolve.js';
import type { Resolved } from '../core/pipeline.js';
import { resolveForLibrary, type LoadSecretsOptions, type Secrets } from '../core/secrets.js';
import { changedNames, DEFAULT_POLL_SECONDS, fileTrigger, leaseTrigger, localFilesOf, MAX_POLL_SECONDS, pollTrigger, WatchEngine, type Trigger } from './watch-engine.js';
import { heldStates, refreshDueAt, releaseAtExit, releaseHeld, startRenewals } from '../core/leases.js';

export interface WatchSecretsOptions extends LoadSecretsOptions {
  /**
   * Seconds between re-resolves (default 30); `0` turns polling off, leaving file changes and `reload()`.
   * `signal`, if given, closes the watcher when it aborts.
   */
  interval?: number;
}

export interface SecretsChange {
  /** Names of the keys added, removed or changed, sorted. Never values. */
  changed: string[];
  /** The new set (also `watcher.current` from now on). */
  current: Secrets;
}

interface Snapshot {
  resolved: Resolved;
  secrets: Secrets;
}

/** A live view of an environment's secrets. Get one from `watchSecrets()`. */
export class SecretsWatcher extends EventEmitter<{ change: [SecretsChange]; error: [Error] }> {
  #current: Secrets;
  readonly #engine: WatchEngine<Snapshot>;
  readonly #triggers: Trigger<Snapshot>[];
  #closing?: Promise<void>;
  readonly #stopOnAbort?: () => void;
  readonly #signal?: AbortSignal;
  /** The latest good resolution, and the renewals of what it holds (leases, logins). */
  #resolved: Resolved;
  #renewals: { stop(): void };
  readonly #onWarning: (message: string) => void;

  /** @internal Use `watchSecrets()`. */
  constructor(initial: Snapshot, options: WatchSecretsOptions, intervalMs: number, cache: Map<string, Map<string, unknown>>, session: Map<string, unknown>) {
    super();
    this.#current = initial.secrets;
    this.#resolved = initial.resolved;
    const onWarning = (this.#onWarning = options.onWarning ?? ((m: string) => process.emitWarning(m, 'SecretrunWarning')));
    this.#renewals = startRenewals(heldStates(initial.resolved.resolution), onWarning);
    const processEnv = options.processEnv ?? process.env;
    const again: LoadSecretsOptions = { ...options, signal: undefined };
    this.#engine = new WatchEngine<Snapshot>(initial, {
      resolve: (signal) => resolveForLibrary(again, { signal, cache, session }),
      values: (s) => valuesOf(s.resolved.resolution),
      onChecked: async ({ resolved, changes }) => {
        // Renew what the new resolution holds; revoke what only the old one held (a lease replaced before its end).
        const kept = new Set(heldStates(resolved.resolved.resolution).map((h) => h.state));
        const gone = heldStates(this.#resolved.resolution).filter((h) => !kept.has(h.state));
        this.#resolved = resolved.resolved;
        this.#renewals.stop();
        this.#renewals = startRenewals(heldStates(resolved.resolved.resolution), onWarning);
        for (const m of await releaseHeld(gone)) onWarning(m);
        if (!changes) return;
        this.#current = resolved.secrets;
        this.emit('change', { changed: changedNames(changes), current: resolved.secrets });
      },
      onFailure: (err) => this.emit('error', err as Error),
      onInternalError: (err) => this.emit('error', err as Error),
      retryCapMs: intervalMs > 0 ? intervalMs : undefined,
    });
    this.#triggers = [fileTrigger(initial, (s) => localFilesOf(s.resolved, processEnv)), leaseTrigger(initial, (s) => refreshDueAt(s.resolved.resolution))];
    if (intervalMs > 0) this.#triggers.push(pollTrigger(intervalMs));
    if (options.signal) {
      this.#signal = options.signal;
      this.#stopOnAbort = () => void this.close();
      options.signal.addEventListener('abort', this.#stopOnAbort, { once: true });
    }
  }

  /** @internal Resolves once every trigger runs (the files are watched). */
  async start(): Promise<this> {
    await this.#engine.start(this.#triggers);
    return this;
  }

  /** The latest successfully resolved set. A failed re-resolve leaves it as it was. */
  get current(): Secrets {
    return this.#current;
  }

  /** Re-resolve now. Resolves to the names of the keys that changed (empty when none); rejects, and emits 'error', on failure. */
  reload(): Promise<string[]> {
    return this.#engine.requestCheck('reload');
  }

  /** Stop watching: cancels a re-resolve in flight; later `reload()` calls reject. */
  close(): Promise<void> {
    if (this.#stopOnAbort) this.#signal?.removeEventListener('abort', this.#stopOnAbort);
    return (this.#closing ??= this.#engine.close().then(async () => {
      this.#renewals.stop();
      // `revoke_on_exit`: the watcher's end is the session's.
      for (const m of await releaseAtExit(this.#resolved.resolution)) this.#onWarning(m);
    }));
  }

  override emit<K extends 'change' | 'error'>(event: K, ...args: K extends 'change' ? [SecretsChange] : [Error]): boolean {
    if (event === 'error' && this.listenerCount('error') === 0) return false;
    return super.emit(event as 'change', ...(args as [SecretsChange]));
  }
}

/**
 * Resolve like `loadSecrets(options)` (and throw as it does), then keep watching: `current`, the events 'change'
 * and 'error', `reload()` and `close()`.
 */
export async function watchSecrets(options: WatchSecretsOptions = {}): Promise<SecretsWatcher> {
  const interval = options.interval ?? DEFAULT_POLL_SECONDS;
  if (typeof interval !== 'number' || !Number.isFinite(interval) || interval < 0 || interval > MAX_POLL_SECONDS) {
    throw new UsageError(`watchSecrets: \`interval\` must be a number of seconds from 0 (no polling) to ${MAX_POLL_SECONDS}`);
  }
  // Every re-resolve repeats the same warnings (a world-readable file): pass each one on once.
  const warned = new Set<string>();
  const onWarning = options.onWarning ?? ((m: string) => process.emitWarning(m, 'SecretrunWarning'));
  const once: WatchSecretsOptions = { ...options, onWarning: (m) => void (!warned.has(m) && (warned.add(m), onWarning(m))) };
  const cache = new Map<string, Map<string, unknown>>();
  // One session for the watcher's life: a login is shared by its layers and its re-resolves.
  const session = new Map<string, unknown>();
  const initial = await resolveForLibrary(once, { cache, session });
  return new SecretsWatcher(initial, once, Math.round(interval * 1000), cache, session).start();
}
