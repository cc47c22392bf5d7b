/**
 * `run`'s watch flags (--watch, --listen, --jitter, --on-change, --restart-signal, --grace) → the settings the watch
 * engine runs with (src/process/watch.ts). Command-line words are the CLI's to read: the engine never sees a flag.
 * Imported lazily by `run`, only when a watch flag is on the line.
 */
import { constants } from 'node:os';
import { UsageError } from '../core/errors.js';
import { DEFAULT_POLL_SECONDS, MAX_POLL_SECONDS } from '../process/watch-engine.js';
import { parseListen } from '../process/webhook.js';
import type { WatchSettings } from '../process/watch.js';

export const MIN_INTERVAL_SECONDS = 2;
export const DEFAULT_GRACE_SECONDS = 10;
export const MAX_JITTER_SECONDS = 3600;

export interface WatchFlags {
  watch?: string | true;
  onChange?: string;
  restartSignal?: string;
  grace?: string;
  listen?: string;
  jitter?: string;
}

/**
 * Validate the watch flags; undefined when neither `--watch` nor `--listen` is given (and then no other watch flag
 * may be). `--listen` alone is push only; with `--watch=SECONDS` too, polls run as a safety net.
 */
export function watchSettings(flags: WatchFlags): WatchSettings | undefined {
  if (flags.watch === undefined && flags.listen === undefined) {
    const stray = [flags.onChange && '--on-change', flags.restartSignal && '--restart-signal', flags.grace && '--grace', flags.jitter && '--jitter'].filter(Boolean);
    if (stray.length > 0) throw new UsageError(`${stray.join(', ')} only applies with --watch or --listen`);
    return undefined;
  }
  const intervalMs =
    flags.watch === undefined ? undefined : parseSeconds(flags.watch === true ? String(DEFAULT_POLL_SECONDS) : flags.watch, '--watch', MIN_INTERVAL_SECONDS, MAX_POLL_SECONDS, ' (put the command after --)');
  const listen = flags.listen === undefined ? undefined : parseListen(flags.listen);
  const jitterMs = flags.jitter === undefined ? undefined : parseSeconds(flags.jitter, '--jitter', 0, MAX_JITTER_SECONDS);
  const common = { intervalMs, ...(listen && { listen }), ...(jitterMs !== undefined && { jitterMs }) };
  const onChange = flags.onChange ?? 'restart';
  if (onChange === 'restart') {
    const signal = flags.restartSignal === undefined ? 'SIGTERM' : parseSignal(flags.restartSignal, '--restart-signal');
    const graceMs = flags.grace === undefined ? DEFAULT_GRACE_SECONDS * 1000 : parseSeconds(flags.grace, '--grace', 0, MAX_POLL_SECONDS);
    return { ...common, onChange: { action: 'restart', signal, graceMs } };
  }
  const m = /^signal:(.*)$/.exec(onChange);
  if (!m) throw new UsageError(`--on-change: expected "restart" or "signal:NAME" (e.g. signal:SIGHUP), got "${onChange}"`);
  if (flags.restartSignal !== undefined || flags.grace !== undefined) throw new UsageError('--restart-signal and --grace only apply with --on-change=restart');
  return { ...common, onChange: { action: 'signal', signal: parseSignal(m[1], '--on-change') } };
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

