/**
 * The retry policy of every remote layer (ssm, secretsmanager, doppler, http), one loop for all of them:
 *
 * - **Throttling** (AWS throttling errors, HTTP 429, 503 with Retry-After) is not an error while time remains: it is
 *   retried with full-jitter exponential backoff (or the server's Retry-After) until the layer's `deadline`.
 * - **Timeouts and other transient failures** (connection errors, 5xx) are retried at most `retries` times.
 * - **A connection that is never established** (a blackholed host, a firewall that drops packets) is given up
 *   after `timeout` and tried again on a new connection, `timeout` each time, without doubling: with the defaults
 *   about 40 s in all (4 × 10 s), not the deadline.
 * - **A request without an answer on an established connection is not abandoned**: `timeout` is the first wait;
 *   each retry of a timeout waits twice as long again for the same request, bounded by the deadline, so a backend
 *   that is slow because it is busy finishes the work it has instead of being sent a second copy.
 * - **Pacing.** After a throttle, the next requests of this process to the same backend are spaced out (a
 *   `Pacer` per backend, shared by the layers of one run), and the spacing relaxes again with each success.
 * - Giving up names the attempts and the seconds spent; with SECRETRUN_DEBUG=1 each retry is printed on stderr.
 */
import { SourceError } from '../../core/errors.js';

/** `unconnected`: no connection was established (retried at `timeout` each, no doubling, no backoff). */
export type FailureKind = 'throttled' | 'timeout' | 'unconnected' | 'transient' | 'final';

/** What one attempt came to. `describe` is our own one-line wording, never the server's text. */
export type AttemptOutcome<T> =
  | { ok: true; value: T }
  | { ok: false; kind: FailureKind; error: unknown; describe: string; retryAfterMs?: number };

export interface RetryOptions {
  /** The first attempt's time limit, in ms; each retry doubles it. */
  timeoutMs: number;
  /** Retries of timeouts and transient failures. */
  retries: number;
  /** Total time for throttled retries (and the bound of every wait), in ms from the start. */
  deadlineMs: number;
  signal?: AbortSignal;
  /** Spaces requests to one backend apart after throttles. */
  pacer?: Pacer;
  /** Backoff base in ms (tests may lower it). */
  backoffBaseMs?: number;
  /** Receives one line per retry (SECRETRUN_DEBUG=1). */
  debug?: (message: string) => void;
  /** The request, for debug lines: `GetParametersByPath`, `GET https://host`. */
  what: string;
  /** The failure to report when a request had no answer within `waitedMs` in all. */
  onTimeout(waitedMs: number): { error: unknown; describe: string };
  /**
   * Attempts report `connected()` once their connection is established. Then an attempt whose connection is still
   * not established when its `timeout` runs out is abandoned and tried again (`onNoConnection` says so), instead
   * of being waited for twice as long. Without it, every attempt counts as connected.
   */
  onNoConnection?(waitedMs: number): { error: unknown; describe: string };
}

export interface Attempt {
  /** 1 for the first attempt. */
  number: number;
  /** Aborted when the request is abandoned (retries or deadline used up) or the run is cancelled. */
  signal: AbortSignal;
  /** Call when the attempt's connection is established (see `RetryOptions.onNoConnection`). */
  connected(): void;
}

/** How the retries ended, for the caller's message. */
export class GaveUp extends Error {
  constructor(
    /** The last attempt's failure. */
    readonly last: { kind: FailureKind; error: unknown; describe: string },
    readonly attempts: number,
    readonly elapsedMs: number,
    /** `deadline`: throttled until the deadline; `retries`: timeouts or transient failures used every retry. */
    readonly reason: 'deadline' | 'retries',
    /** A request was waited for longer than its first limit (retries spent waiting, not sending). */
    readonly waitedLonger = false,
  ) {
    super(last.describe);
    this.name = 'GaveUp';
  }

  /** `gave up after 4 attempts in 3.2 s`, or for throttling `still throttled after 12 attempts in 120 s: \`deadline\` reached`. */
  get suffix(): string {
    const attempts = `${this.attempts} attempt${this.attempts === 1 ? '' : 's'} in ${formatSeconds(this.elapsedMs)}`;
    return this.reason === 'deadline' ? `still throttled after ${attempts}: \`deadline\` reached` : `gave up after ${attempts}`;
  }
}

/** Seconds rounded to one decimal, as messages give them: `3 s`, `10.5 s`, `120 s` (never `119.983 s`). */
export function formatSeconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

const BACKOFF_BASE_MS = 200;
/** Transient failures: a short cap, `retries` bounds them anyway. */
const BACKOFF_CAP_MS = 5_000;
/** Throttling: a fleet backing off must spread over seconds, not pile up again after 5 s. */
const THROTTLE_CAP_MS = 10_000;
/** The shortest attempt worth starting close to the deadline. */
const MIN_ATTEMPT_MS = 250;
/** A server asking for a longer pause than this gets this pause: a run should never hang for minutes. */
export const RETRY_AFTER_CAP_MS = 30_000;

/** Full jitter: a uniform pause in [0, min(cap, base * 2^(n-1))]. Spreads retries of many clients apart. */
export function backoffMs(n: number, baseMs = BACKOFF_BASE_MS, random: () => number = Math.random, capMs = BACKOFF_CAP_MS): number {
  return Math.round(random() * Math.min(capMs, baseMs * 2 ** (n - 1)));
}

/** `Retry-After: 120` or `Retry-After: Wed, 21 Oct 2015 07:28:00 GMT`, in ms from now; undefined if unparseable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date) || !/[a-z]/i.test(trimmed)) return undefined;
  return Math.max(0, date - now);
}

const TIMED_OUT = Symbol('timed out');

/** `p`, or TIMED_OUT if it has not settled within `ms`. */
function within<T>(p: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const clock = new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(() => resolve(TIMED_OUT), ms)));
  return Promise.race([p, clock]).finally(() => clearTimeout(timer));
}

/**
 * Run `attempt` until it succeeds, fails for good, or the policy gives up (`GaveUp`). A final failure is rethrown
 * as it came (its `error`); cancellation (`signal`) rejects with the signal's reason at once.
 *
 * A request that has no answer within its limit is not sent again: the backend may be working on it, and a second
 * copy would only queue behind the first. It keeps waiting for that answer, twice as long each time, and each wait
 * counts as a retry; when `retries` or the deadline run out, it is abandoned (its `signal` aborts). Requests that
 * failed (throttled, refused, reset, 5xx, never connected) are sent again after a backoff.
 */
export async function withRetries<T>(attempt: (a: Attempt) => Promise<AttemptOutcome<T>>, opts: RetryOptions): Promise<T> {
  const started = Date.now();
  const deadline = started + opts.deadlineMs;
  let retriesLeft = opts.retries;
  let throttles = 0;
  let failures = 0;
  let lastThrottle: (AttemptOutcome<T> & { ok: false }) | undefined;
  for (let n = 1; ; n++) {
    throwIfCancelled(opts.signal);
    await opts.pacer?.acquire(opts.signal);
    // A backend that needed a longer wait earlier in this run gets it from the start.
    const firstMs = Math.max(opts.timeoutMs, opts.pacer?.timeoutMs ?? 0);
    // Too little time left for an attempt to mean anything: the throttling that used the time up is the answer.
    if (lastThrottle && deadline - Date.now() < Math.min(firstMs, MIN_ATTEMPT_MS)) throw new GaveUp(lastThrottle, n - 1, Date.now() - started, 'deadline');
    const controller = new AbortController();
    const onCancel = () => controller.abort(opts.signal?.reason);
    opts.signal?.addEventListener('abort', onCancel, { once: true });
    let outcome: AttemptOutcome<T>;
    let connected = opts.onNoConnection === undefined;
    try {
      const pending = attempt({ number: n, signal: controller.signal, connected: () => void (connected = true) });
      pending.catch(() => {}); // abandoned below: its late failure is nobody's business
      // A connection not yet established gets `timeout` (what a backend that was slow before needed is for answers).
      let limitMs = Math.max(1, Math.min(connected ? firstMs : opts.timeoutMs, deadline - Date.now()));
      let waitedMs = 0;
      for (;;) {
        const result = await within(pending, limitMs);
        if (result !== TIMED_OUT) {
          outcome = result;
          break;
        }
        waitedMs += limitMs;
        if (!connected) {
          // Nobody is working on this request: try a new connection, `timeout` again (no doubling, no pause).
          controller.abort();
          const { error, describe } = opts.onNoConnection!(limitMs);
          outcome = { ok: false, kind: 'unconnected', error, describe };
          break;
        }
        const remainingMs = deadline - Date.now();
        if (retriesLeft <= 0 || remainingMs < MIN_ATTEMPT_MS) {
          controller.abort();
          if (lastThrottle && remainingMs < MIN_ATTEMPT_MS) throw new GaveUp(lastThrottle, n, Date.now() - started, 'deadline');
          const { error, describe } = opts.onTimeout(waitedMs);
          throw new GaveUp({ kind: 'timeout', error, describe }, n, Date.now() - started, 'retries', waitedMs > firstMs);
        }
        retriesLeft--;
        limitMs = Math.min(limitMs * 2, remainingMs);
        opts.debug?.(`${opts.what}: attempt ${n} has no answer after ${formatSeconds(waitedMs)}; waiting up to ${formatSeconds(limitMs)} more for it`);
        // The answer, if it comes, came from a backend that needed this long: later requests start with it.
        pending.then((o) => o.ok && opts.pacer?.slow(waitedMs + limitMs), () => {});
      }
    } finally {
      opts.signal?.removeEventListener('abort', onCancel);
    }
    if (outcome.ok) {
      opts.pacer?.succeeded();
      return outcome.value;
    }
    if (outcome.kind === 'final') throw outcome.error;
    let waitMs: number;
    if (outcome.kind === 'throttled') {
      lastThrottle = outcome;
      opts.pacer?.throttled();
      throttles++;
      waitMs = outcome.retryAfterMs !== undefined ? Math.min(outcome.retryAfterMs, RETRY_AFTER_CAP_MS) : backoffMs(throttles, opts.backoffBaseMs, Math.random, THROTTLE_CAP_MS);
      if (Date.now() + waitMs >= deadline) throw new GaveUp(outcome, n, Date.now() - started, 'deadline');
    } else {
      failures++;
      // A connection never established already cost `timeout`: the next attempt starts at once.
      waitMs = outcome.kind === 'unconnected' ? 0 : outcome.retryAfterMs ?? backoffMs(failures, opts.backoffBaseMs);
      if (retriesLeft-- <= 0 || Date.now() + waitMs >= deadline) throw new GaveUp(outcome, n, Date.now() - started, 'retries');
    }
    opts.debug?.(`${opts.what}: attempt ${n} ${outcome.kind === 'throttled' ? 'throttled' : 'failed'} (${outcome.describe}); retrying in ${waitMs} ms`);
    await sleep(waitMs, opts.signal);
  }
}

/**
 * What this process learned about one backend. Pacing, the idea of the AWS SDK's adaptive retry mode: after a
 * throttle, requests to that backend start at least `interval` apart, the interval doubling with each throttle (up
 * to 2 s) and shrinking by a quarter with each success (to nothing); without throttles it costs nothing. And the
 * time limit that worked after a timeout, which later requests start with instead of abandoning the next answer
 * that is as slow.
 */
export class Pacer {
  private intervalMs = 0;
  private nextStart = 0;
  /** The wait that a slow answer needed (0: none learned). */
  timeoutMs = 0;

  async acquire(signal?: AbortSignal): Promise<void> {
    if (this.intervalMs === 0) return;
    const now = Date.now();
    const at = Math.max(now, this.nextStart);
    this.nextStart = at + this.intervalMs;
    if (at > now) await sleep(at - now, signal);
  }

  throttled(): void {
    this.intervalMs = Math.min(2_000, Math.max(100, this.intervalMs * 2));
  }

  succeeded(): void {
    this.intervalMs = this.intervalMs < 20 ? 0 : Math.round(this.intervalMs * 0.75);
  }

  /** An answer came only within `waitMs`: later requests wait that long before counting a retry. */
  slow(waitMs: number): void {
    this.timeoutMs = Math.max(this.timeoutMs, waitMs);
  }

  get interval(): number {
    return this.intervalMs;
  }
}

const pacers = new Map<string, Pacer>();

/** The pacer of one backend (an origin, or a service and region), shared by every layer of this process. */
export function pacerFor(backend: string): Pacer {
  let pacer = pacers.get(backend);
  if (!pacer) pacers.set(backend, (pacer = new Pacer()));
  return pacer;
}

/** A debug channel: lines on stderr only with SECRETRUN_DEBUG=1. Never pass a value. */
export function debugChannel(env: Readonly<Record<string, string | undefined>>, layer: string): ((message: string) => void) | undefined {
  if (env.SECRETRUN_DEBUG !== '1') return undefined;
  return (message) => process.stderr.write(`secretrun: debug: layer "${layer}": ${message}\n`);
}

export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  throwIfCancelled(signal);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason ?? new SourceError('cancelled'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason ?? new SourceError('cancelled');
}
