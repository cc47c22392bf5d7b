/**
 * The retry policy of every remote layer (ssm, secretsmanager, doppler, http), one loop for all of them:
 *
 * - **Throttling** (AWS throttling errors, HTTP 429, 503 with Retry-After) is not an error while time remains: it is
 *   retried with full-jitter exponential backoff (or the server's Retry-After) until the layer's `deadline`.
 * - **Timeouts and other transient failures** (connection errors, 5xx) are retried at most `retries` times.
 * - **Each retry doubles the attempt's time limit** (`timeout` is the first attempt's), bounded by the deadline: a
 *   backend that is slow because it is busy gets the time to finish the request it is already working on, instead
 *   of being sent the same request again.
 * - **Pacing.** After a throttle, the next requests of this process to the same backend are spaced out (a
 *   `Pacer` per backend, shared by the layers of one run), and the spacing relaxes again with each success.
 * - Giving up names the attempts and the seconds spent; with SECRETRUN_DEBUG=1 each retry is printed on stderr.
 */
import { SourceError } from '../../core/errors.js';
import { DEFAULT_DEADLINE_SECONDS } from '../options.js';

export { DEFAULT_DEADLINE_SECONDS };

export type FailureKind = 'throttled' | 'timeout' | 'transient' | 'final';

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
}

export interface Attempt {
  /** 1 for the first attempt. */
  number: number;
  /** This attempt's time limit in ms. */
  timeoutMs: number;
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

export function formatSeconds(ms: number): string {
  return ms >= 10_000 ? `${Math.round(ms / 1000)} s` : `${(ms / 1000).toFixed(1)} s`;
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

/** The time limit of attempt `n`: `timeout` doubled on each retry, never past the deadline. */
export function attemptTimeoutMs(n: number, timeoutMs: number, remainingMs: number): number {
  return Math.max(1, Math.min(timeoutMs * 2 ** (n - 1), remainingMs));
}

/**
 * Run `attempt` until it succeeds, fails for good, or the policy gives up (`GaveUp`). A final failure is rethrown
 * as it came (its `error`); cancellation (`signal`) rejects with the signal's reason at once.
 */
export async function withRetries<T>(attempt: (a: Attempt) => Promise<AttemptOutcome<T>>, opts: RetryOptions): Promise<T> {
  const started = Date.now();
  const deadline = started + opts.deadlineMs;
  let retriesLeft = opts.retries;
  let throttles = 0;
  let failures = 0;
  let lastThrottle: (AttemptOutcome<T> & { ok: false }) | undefined;
  let timedOut = false;
  for (let n = 1; ; n++) {
    throwIfCancelled(opts.signal);
    await opts.pacer?.acquire(opts.signal);
    // A backend that needed a longer limit earlier in this run gets it from the first attempt on.
    const firstMs = Math.max(opts.timeoutMs, opts.pacer?.timeoutMs ?? 0);
    const nominalMs = firstMs * 2 ** (n - 1);
    // Too little time left for an attempt to mean anything: the throttling that used the time up is the answer.
    if (lastThrottle && deadline - Date.now() < Math.min(nominalMs, MIN_ATTEMPT_MS)) throw new GaveUp(lastThrottle, n - 1, Date.now() - started, 'deadline');
    const timeoutMs = attemptTimeoutMs(n, firstMs, deadline - Date.now());
    const outcome = await attempt({ number: n, timeoutMs });
    if (outcome.ok) {
      opts.pacer?.succeeded(timedOut ? timeoutMs : undefined);
      return outcome.value;
    }
    if (outcome.kind === 'final') throw outcome.error;
    // An attempt cut short by the deadline after throttles: the deadline is what ended it, not the backend.
    if (outcome.kind === 'timeout' && lastThrottle && timeoutMs < nominalMs) throw new GaveUp(lastThrottle, n, Date.now() - started, 'deadline');
    let waitMs: number;
    if (outcome.kind === 'timeout') timedOut = true;
    if (outcome.kind === 'throttled') {
      lastThrottle = outcome;
      opts.pacer?.throttled();
      throttles++;
      waitMs = outcome.retryAfterMs !== undefined ? Math.min(outcome.retryAfterMs, RETRY_AFTER_CAP_MS) : backoffMs(throttles, opts.backoffBaseMs, Math.random, THROTTLE_CAP_MS);
      if (Date.now() + waitMs >= deadline) throw new GaveUp(outcome, n, Date.now() - started, 'deadline');
    } else {
      failures++;
      waitMs = outcome.retryAfterMs ?? backoffMs(failures, opts.backoffBaseMs);
      if (retriesLeft-- <= 0 || Date.now() + waitMs >= deadline) throw new GaveUp(outcome, n, Date.now() - started, 'retries');
    }
    opts.debug?.(`${opts.what}: attempt ${n} ${outcome.kind === 'throttled' ? 'throttled' : outcome.kind === 'timeout' ? 'timed out' : 'failed'} (${outcome.describe}); retrying in ${waitMs} ms`);
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
  /** The attempt limit that a slow answer needed (0: none learned). */
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

  /** `afterTimeoutMs`: the limit of an attempt that succeeded after an earlier one timed out. */
  succeeded(afterTimeoutMs?: number): void {
    this.intervalMs = this.intervalMs < 20 ? 0 : Math.round(this.intervalMs * 0.75);
    if (afterTimeoutMs !== undefined) this.timeoutMs = Math.max(this.timeoutMs, afterTimeoutMs);
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
