/**
 * `secretrun [run] [options] -- <command> [args...]`: resolve, then run the child with the merged set.
 * Where Node has process.execve and no feature needs a resident parent, the child takes over our process
 * (`execChild`); otherwise we spawn it and relay signals. `--mask` pipes its output through the redactor;
 * `--watch` / `--listen` keep re-resolving and restart it on change (src/process/watch.ts).
 */
import { execChild, findExecutable, spawnChild, startChild, type ChildEnd, type SignalPolicy } from '../../process/child.js';
import { ttyModule } from '../../process/builtins.js';
import { UsageError } from '../../core/errors.js';
import { valuesOf, type Resolution } from '../../core/resolve.js';
import type { WatchFlags } from '../watch-flags.js';
import { actOnFindings, handOnPolicy, parentEnv, resolveEnvironment, type CommonOptions, type Resolved } from './common.js';
import { info, warn } from '../output.js';
import { heldStates, leaseParentReason, releaseAtExit, releaseResolution, startRenewals } from '../../core/leases.js';

export interface RunOptions extends CommonOptions, WatchFlags {
  pristine?: boolean;
  /** Risky names set by a layer are an error, not a warning. */
  strict?: boolean;
  /** `--mask` (true) or `--mask=names`. */
  mask?: string | true;
  /** `--no-exec` (false): keep the spawning parent even where execve could hand our process over. */
  exec?: boolean;
}

export type MaskMode = 'stars' | 'names';

export async function run(command: string[], opts: RunOptions): Promise<ChildEnd> {
  if (command.length === 0) throw new UsageError('run: no command given (usage: secretrun [options] -- <command> [args...])');
  const maskMode = parseMaskMode(opts.mask);
  // Load the watch code only when a watch flag is present; the flags are checked before anything is resolved.
  const watchFlags = [opts.watch, opts.onChange, opts.restartSignal, opts.grace, opts.listen, opts.jitter];
  const watching = watchFlags.some((f) => f !== undefined);
  const watch = watching ? (await import('../watch-flags.js')).watchSettings(opts) : undefined;
  // Watch mode keeps what lets a poll ask "changed since?" (ETags) from one resolution to the next.
  const cache = watch ? new Map<string, Map<string, unknown>>() : undefined;
  // One session per run: a login is shared by the layers and by every re-resolve.
  const session = new Map<string, unknown>();

  const initial = await resolveEnvironment(opts, opts.env, undefined, { cache, session });
  try {
    actOnFindings(initial, handOnPolicy(opts), opts.quiet);
  } catch (err) {
    // A failed start throws its resolution away: what it obtained (leases, logins) is revoked first.
    for (const m of await releaseResolution(initial.resolution, { session: true })) warn(m, opts.quiet);
    throw err;
  }
  const envFor = (r: Resolution) => childEnvironment(valuesOf(r), r.environment, parentEnv, !!opts.pristine);
  const cwd = process.cwd();
  // Look the program up on the parent's PATH with --pristine (the child's env may have none), else on the child's.
  // Watch mode keeps this first answer for every restart.
  let file: string;
  try {
    file = findExecutable(command[0], opts.pristine ? parentEnv.PATH : initial.resolution.entries.get('PATH')?.value ?? parentEnv.PATH, cwd);
  } catch (err) {
    for (const m of await releaseResolution(initial.resolution, { session: true })) warn(m, opts.quiet);
    throw err;
  }
  // Whether a terminal delivers Ctrl-C matters only when a SIGINT arrives, so it is asked then (our stdio does not
  // change while we run), and node:tty is not loaded at start-up. isatty() answers the same question as
  // process.stdin.isTTY without building stdin's stream machinery (~4 ms).
  const pid1 = process.pid === 1;
  let terminal: boolean | undefined;
  const signalPolicy = (): SignalPolicy => ({
    get terminal() {
      return (terminal ??= [0, 1, 2].some((fd) => ttyModule().isatty(fd)));
    },
    pid1,
  });
  const spawnOptions = ({ resolution }: Resolved) => ({ env: envFor(resolution), cwd, mask: maskMode && maskedValues(resolution, maskMode) });

  if (watch) {
    const { runWatched } = await import('../../process/watch.js');
    return runWatched(initial, {
      ...watch,
      log: { info: (m) => info(m, opts.quiet), warn: (m) => warn(m, opts.quiet) },
      policy: signalPolicy(),
      processEnv: parentEnv,
      // Later resolutions are quiet: no spinner over the child's output, no repeated layer warnings. Findings
      // that refuse the set (require, --strict) fail the re-resolve, and the current child keeps running.
      resolve: async (signal) => {
        const again = await resolveEnvironment({ ...opts, quiet: true }, opts.env, undefined, { signal, cache, session });
        actOnFindings(again, handOnPolicy(opts), true);
        return again;
      },
      start: (resolved) => spawnChild(file, command.slice(1), spawnOptions(resolved)),
      maskFor: maskMode ? ({ resolution }) => maskedValues(resolution, maskMode) : undefined,
    });
  }
  const options = spawnOptions(initial);
  // What the resolution holds may need us to stay (a lease read with a login token, revoke_on_exit).
  const leaseReason = leaseParentReason(initial.resolution);
  if (leaseReason && parentEnv.SECRETRUN_DEBUG === '1') process.stderr.write(`secretrun: debug: staying the parent: ${leaseReason}\n`);
  // Returns only if the handover did not happen; then spawn as usual.
  if (!keepsParent(opts, pid1) && !leaseReason) await execChild(file, command.slice(1), options.env, cwd);
  // Not spread: that would read the lazy `terminal` now.
  const child = startChild(file, command.slice(1), Object.assign(signalPolicy(), options));
  // We stay the parent: renew the login token and leases at about two thirds of their TTL for the child's life.
  const renewals = startRenewals(heldStates(initial.resolution), (m) => warn(m, opts.quiet), { warnEnding: true });
  try {
    return await child.ended;
  } catch (err) {
    // The command could not be started: its resolution is thrown away.
    for (const m of await releaseResolution(initial.resolution, { session: true })) warn(m, opts.quiet);
    throw err;
  } finally {
    renewals.stop();
    child.release();
    for (const m of await releaseAtExit(initial.resolution)) warn(m, opts.quiet);
  }
}

/**
 * Does this run need secretrun to stay, as the child's parent? `--mask` (we copy the output), `--watch` and
 * `--listen` (we restart the child), `--no-exec`, and PID 1: a program exec'd as PID 1 gets no default signal
 * actions (SIGTERM would not stop a child that never installed a handler) and must reap every orphan in the
 * container, which few programs do; our relaying parent does both jobs.
 */
export function keepsParent(opts: Pick<RunOptions, 'mask' | 'watch' | 'listen' | 'exec'>, pid1: boolean): boolean {
  return opts.mask !== undefined || opts.watch !== undefined || opts.listen !== undefined || opts.exec === false || pid1;
}

/**
 * The parent environment overlaid by the merged layers (or only the layers with --pristine), plus SECRETRUN_ENV.
 * The webhook signing secret is secretrun's own: the child never sees it.
 */
export function childEnvironment(
  merged: Record<string, string>,
  environment: string,
  parent: Readonly<Record<string, string | undefined>>,
  pristine: boolean,
): Record<string, string> {
  const env: Record<string, string> = {};
  if (!pristine) for (const [k, v] of Object.entries(parent)) if (v !== undefined) env[k] = v;
  Object.assign(env, merged);
  env.SECRETRUN_ENV = environment;
  delete env.SECRETRUN_WEBHOOK_SECRET;
  return env;
}

export function parseMaskMode(flag: string | true | undefined): MaskMode | undefined {
  if (flag === undefined) return undefined;
  if (flag === true) return 'stars';
  if (flag === 'names') return 'names';
  throw new UsageError(`--mask: expected nothing or "names" (--mask=names), got "${flag}"`);
}

/**
 * What `--mask` replaces: value → `****` or `<KEY>`, for every key of the merged set except those the winning
 * layer marks `public`. (The redactor itself skips values shorter than 6 characters.) When two keys share a
 * value, the first in sorted order names it.
 */
export function maskedValues(resolution: Resolution, mode: MaskMode): Map<string, string> {
  const winner = new Map<string, { value: string; isPublic: boolean }>();
  for (const layer of resolution.layers) {
    const publicKeys = new Set(layer.publicKeys);
    for (const [key, value] of Object.entries(layer.keys)) winner.set(key, { value, isPublic: publicKeys.has(key) });
  }
  const out = new Map<string, string>();
  for (const key of [...winner.keys()].sort()) {
    const { value, isPublic } = winner.get(key)!;
    if (!isPublic && !out.has(value)) out.set(value, mode === 'names' ? `<${key}>` : '****');
  }
  return out;
}
