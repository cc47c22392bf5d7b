/**
 * A spinner on stderr naming the remote layers still being fetched.
 *
 * It exists only for people watching a terminal: when the stream is not a TTY, with `-q`, or with TERM=dumb it
 * does nothing and loads nothing (ora is external to the bundle and imported only when it will be shown).
 * It also waits `delayMs` before appearing, so fetches that finish at once never flash a spinner.
 */
import { importExternal } from '../core/import-external.js';

export interface ProgressOptions {
  stream: NodeJS.WriteStream;
  quiet: boolean;
  /** For TERM; defaults to process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Pause before the spinner appears. Default 150 ms. */
  delayMs?: number;
}

export interface Progress {
  /** A layer finished (loaded or failed); the spinner stops by itself when none is pending. */
  done(name: string): void;
  /** Remove the spinner now (before printing an error, or before the child starts). Idempotent. */
  stop(): void;
  /** Settles once the spinner has been shown or it is certain it won't be; for tests. */
  readonly settled: Promise<void>;
}

const DEFAULT_DELAY_MS = 150;

export function startProgress(layerNames: string[], opts: ProgressOptions): Progress {
  const pending = new Set(layerNames);
  const env = opts.env ?? process.env;
  if (pending.size === 0 || !shouldShow(opts.stream, opts.quiet, env)) {
    return { done: () => {}, stop: () => {}, settled: Promise.resolve() };
  }

  let stopped = false;
  let spinner: { text: string; stop(): unknown } | undefined;
  const label = () => `fetching ${[...pending].join(', ')}`;

  const stop = () => {
    stopped = true;
    spinner?.stop();
    spinner = undefined;
  };
  const settled = new Promise<void>((resolve) => setTimeout(resolve, opts.delayMs ?? DEFAULT_DELAY_MS).unref())
    .then(() => (stopped ? undefined : importExternal<typeof import('ora')>('ora')))
    .then((mod) => {
      if (!mod || stopped || pending.size === 0) return;
      // Colour only when wanted: NO_COLOR disables it (https://no-color.org), FORCE_COLOR keeps it.
      const color = env.NO_COLOR !== undefined && env.NO_COLOR !== '' && !env.FORCE_COLOR ? false : 'cyan';
      spinner = mod.default({ text: label(), stream: opts.stream, isEnabled: true, discardStdin: false, color }).start();
    })
    // A spinner is decoration: failing to show one must never fail the run.
    .catch(() => {});

  return {
    done(name) {
      pending.delete(name);
      if (pending.size === 0) stop();
      else if (spinner) spinner.text = label();
    },
    stop,
    settled,
  };
}

/**
 * The decision is ours, not ora's: ora also hides itself in CI, but then prints a plain `- text` line instead,
 * which is exactly the noise we avoid when nobody watches.
 *
 * A pseudo-terminal that reports 0 columns (`script`, `docker exec -t` before the size is set) gets nothing:
 * ora 9 divides by the width when it clears its line and would loop forever.
 */
export function shouldShow(stream: NodeJS.WriteStream, quiet: boolean, env: Readonly<Record<string, string | undefined>>): boolean {
  return !quiet && stream.isTTY === true && env.TERM !== 'dumb' && (stream.columns ?? 80) > 0;
}
