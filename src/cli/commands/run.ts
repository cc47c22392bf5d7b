/**
 * `secretrun [run] [options] -- <command> [args...]`: resolve, then run the child with the merged set.
 * Where Node has process.execve and no feature needs a resident parent (src/process/resident.ts), the child
 * takes over our process (`execChild`); otherwise we spawn it and relay signals. `--mask` pipes its output through
 * the redactor; `--watch` / `--listen` keep re-resolving and restart it on change (src/process/watch.ts);
 * `as_file` / `--mount` serve secrets as files (src/process/files/). What must happen after the child has exited
 * (removing those files, ...) is one ordered list of exit tasks (src/process/exit-tasks.ts), run before we exit.
 */
import { execChild, findExecutable, spawnChild, startChild, type ChildEnd, type SignalPolicy } from '../../process/child.js';
import { resolve } from 'node:path';
import { ttyModule } from '../../process/builtins.js';
import { addExitTask, exitTaskNames, guardEarlySignals, runExitTasks } from '../../process/exit-tasks.js';
import { residentParentReason } from '../../process/resident.js';
import { SecretrunError, UsageError } from '../../core/errors.js';
import { locateSourcesFile, noSourcesFile, type SourcesFile } from '../../core/config.js';
import { valuesOf, type Resolution } from '../../core/resolve.js';
import { SOURCES } from '../../sources/index.js';
import type { WatchFlags } from '../watch-flags.js';
import { actOnFindings, handOnPolicy, parentEnv, resolveEnvironment, type CommonOptions, type Resolved } from './common.js';
import { info, warn } from '../output.js';
import type { FilesContent, FilesPlan, SecretFiles } from '../../process/files/index.js';
import { heldStates, leaseParentReason, releaseAtExit, releaseResolution, startRenewals } from '../../core/leases.js';

export interface RunOptions extends CommonOptions, WatchFlags {
  pristine?: boolean;
  /** Risky names set by a layer are an error, not a warning. */
  strict?: boolean;
  /** `--mask` (true) or `--mask=names`. */
  mask?: string | true;
  /** `--no-exec` (false): keep the spawning parent even where execve could hand our process over. */
  exec?: boolean;
  /** `--as-file KEY` (repeatable): added to the sources file's `as_file`. */
  asFile?: string[];
  /** `--mount PATH`, `--mount-format`, `--mount-max-reads`. */
  mount?: string;
  mountFormat?: string;
  mountMaxReads?: string;
  /** `--file-kind pipe|tmpfs`: overrides the sources file's `file_kind`. */
  fileKind?: string;
}

/** What the command line asks of secret files, checked before anything resolves (usage errors, exit 2). */
interface FileFlags {
  mount?: FilesPlan['mount'];
  maxReads?: number;
}

export async function run(command: string[], opts: RunOptions): Promise<ChildEnd> {
  // The exit tasks run however this ends, even when resolving failed after a task was added (a lease obtained).
  try {
    return await resolveAndRun(command, opts);
  } finally {
    if (exitTaskNames().length > 0) debug(`exit tasks: ${exitTaskNames().join(', ')}`);
    await runExitTasks((m) => warn(m, opts.quiet));
  }
}

async function resolveAndRun(command: string[], opts: RunOptions): Promise<ChildEnd> {
  if (command.length === 0) throw new UsageError('run: no command given (usage: secretrun [options] -- <command> [args...])');
  const maskMode = parseMaskMode(opts.mask);
  const fileFlags = await parseFileFlags(opts);
  // Load the watch code only when a watch flag is present; the flags are checked before anything is resolved.
  const watchFlags = [opts.watch, opts.onChange, opts.restartSignal, opts.grace, opts.listen, opts.jitter];
  const watching = watchFlags.some((f) => f !== undefined);
  const watch = watching ? (await import('../watch-flags.js')).watchSettings(opts) : undefined;
  // Watch mode keeps what lets a poll ask "changed since?" (ETags) from one resolution to the next.
  const cache = watch ? new Map<string, Map<string, unknown>>() : undefined;
  // `--as-file KEY` alone is enough to run without a sources file: the key then comes from our environment.
  const standIn = standInSourcesFile(opts);
  // One session per run: a login is shared by the layers and by every re-resolve.
  const session = new Map<string, unknown>();

  const initial = await resolveEnvironment(opts, opts.env, standIn, { cache, session, inheritedReferences: true });
  // What the layers hold (leases, logins): a start that fails throws it away (revoked); after the child's end only
  // what asks for it (`revoke_on_exit`) is revoked. Watch mode revokes its own current set (process/watch.ts).
  let started = false;
  if (heldStates(initial.resolution).length > 0) {
    addExitTask(
      'revoking leases',
      async () => {
        for (const m of started ? await releaseAtExit(initial.resolution) : await releaseResolution(initial.resolution, { session: true })) warn(m, opts.quiet);
      },
      5000,
    );
  }
  actOnFindings(initial, handOnPolicy(opts), opts.quiet);
  const asFileKeys = [...new Set([...initial.plan.asFile, ...(opts.asFile ?? [])])];
  const fileKind = opts.fileKind ?? initial.plan.fileKind ?? 'pipe';
  if (fileKind === 'tmpfs' && fileFlags.maxReads !== undefined) throw new UsageError('--mount-max-reads applies to pipes only, not to --file-kind tmpfs (file_kind: tmpfs)');
  const usesFiles = asFileKeys.length > 0 || fileFlags.mount !== undefined;
  const filesContent = (r: Resolved): FilesContent => fileContentOf(r, asFileKeys);
  const cwd = process.cwd();
  const pid1 = process.pid === 1;

  // Until the child's relay is up, a signal removes the files before it ends us (see guardEarlySignals).
  let releaseEarlySignals = () => {};
  try {
    let files: SecretFiles | undefined;
    if (usesFiles) {
      const { openSecretFiles } = await import('../../process/files/index.js');
      const plan: FilesPlan = { kind: fileKind as FilesPlan['kind'], keys: asFileKeys, ...fileFlags, env: parentEnv, cwd, onProblem: (m) => warn(m, opts.quiet) };
      const opened = openSecretFiles(plan, filesContent(initial));
      files = opened;
      addExitTask('removing the secret files', () => opened.close(), 5000);
      // Should the normal way out break, the files still go with the process.
      process.once('exit', () => opened.close());
      releaseEarlySignals = guardEarlySignals(() => opened.close());
    }
    // With no sources file, the inherited environment's references are resolved too (contract section 3b).
    const envFor = (r: Resolution) =>
      withFiles(childEnvironment(fileFlags.mount ? {} : valuesOf(r), r.environment, r.inherited ? { ...parentEnv, ...r.inherited } : parentEnv, !!opts.pristine), files);
    // Look the program up on the parent's PATH with --pristine (the child's env may have none) and with --mount (the
    // child's env is the parent's), else on the child's. Watch mode keeps this first answer for every restart.
    const parentPath = opts.pristine || fileFlags.mount;
    const file = findExecutable(command[0], parentPath ? parentEnv.PATH : initial.resolution.entries.get('PATH')?.value ?? parentEnv.PATH, cwd);
    // Whether a terminal delivers Ctrl-C matters only when a SIGINT arrives, so it is asked then (our stdio does not
    // change while we run), and node:tty is not loaded at start-up. isatty() answers the same question as
    // process.stdin.isTTY without building stdin's stream machinery (~4 ms).
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
      started = true;
      return await runWatched(initial, {
        ...watch,
        log: { info: (m) => info(m, opts.quiet), warn: (m) => warn(m, opts.quiet) },
        policy: signalPolicy(),
        processEnv: parentEnv,
        // Later resolutions are quiet: no spinner over the child's output, no repeated layer warnings. Findings
        // that refuse the set (require, --strict) fail the re-resolve, and the current child keeps running.
        // The files take the new values at once: the next read gets them.
        resolve: async (signal) => {
          const again = await resolveEnvironment({ ...opts, quiet: true }, opts.env, standIn, { signal, cache, session, inheritedReferences: true });
          actOnFindings(again, handOnPolicy(opts), true);
          files?.update(filesContent(again));
          return again;
        },
        // Called once the watch session's relay is up.
        start: (resolved) => {
          releaseEarlySignals();
          return spawnChild(file, command.slice(1), spawnOptions(resolved));
        },
        maskFor: maskMode ? ({ resolution }) => maskedValues(resolution, maskMode) : undefined,
      });
    }
    const options = spawnOptions(initial);
    const reason = residentParentReason({ pid1, noExec: opts.exec === false, mask: opts.mask !== undefined, watch: watching, files: usesFiles, held: leaseParentReason(initial.resolution) });
    debug(reason ? `staying as the command's parent: ${reason}` : 'handing the process to the command (execve) where Node can');
    const held = leaseParentReason(initial.resolution);
    if (held) debug(`held by the layers: ${held}`);
    // Returns only if the handover did not happen; then spawn as usual.
    if (!reason) await execChild(file, command.slice(1), options.env, cwd);
    // Not spread: that would read the lazy `terminal` now.
    const child = startChild(file, command.slice(1), Object.assign(signalPolicy(), options));
    releaseEarlySignals();
    // We stay the parent: renew the login token and leases at about two thirds of their TTL for the child's life.
    const renewals = startRenewals(heldStates(initial.resolution), (m) => warn(m, opts.quiet), { warnEnding: true });
    try {
      const end = await child.ended;
      started = true;
      return end;
    } finally {
      renewals.stop();
      child.release();
    }
  } finally {
    releaseEarlySignals();
  }
}

/** A line on stderr only with SECRETRUN_DEBUG=1. Never a value. */
function debug(message: string): void {
  if (parentEnv.SECRETRUN_DEBUG === '1') process.stderr.write(`secretrun: debug: ${message}\n`);
}

/** `--mount`, `--mount-format`, `--mount-max-reads`: usage errors (2) before anything resolves. */
async function parseFileFlags(opts: RunOptions): Promise<FileFlags> {
  const out: FileFlags = {};
  if (opts.fileKind !== undefined && opts.fileKind !== 'pipe' && opts.fileKind !== 'tmpfs') throw new UsageError(`--file-kind: expected pipe or tmpfs, got "${opts.fileKind}"`);
  if (opts.mount === undefined) {
    if (opts.mountFormat !== undefined) throw new UsageError('--mount-format needs --mount PATH');
  } else {
    if (opts.pristine) throw new UsageError('--mount and --pristine do not go together: with --mount the command gets the parent environment and SECRETRUN_MOUNT');
    const { mountFormat } = await import('../../process/files/mount.js');
    out.mount = { path: resolve(process.cwd(), opts.mount), format: mountFormat(opts.mount, opts.mountFormat) };
  }
  if (opts.mountMaxReads !== undefined) {
    const n = Number(opts.mountMaxReads);
    if (!/^[0-9]+$/.test(opts.mountMaxReads) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`--mount-max-reads: expected a whole number of reads, 1 or more, got "${opts.mountMaxReads}"`);
    if (opts.fileKind === 'tmpfs') throw new UsageError('--mount-max-reads applies to pipes only, not to --file-kind tmpfs');
    out.maxReads = n;
  }
  return out;
}

/**
 * With `--as-file` and neither a sources file nor `--dotenv`, the run has no layers: the stand-in for no sources
 * file, whose `--as-file` keys are taken from the process environment. Undefined when there is a file to load.
 */
function standInSourcesFile(opts: RunOptions): SourcesFile | undefined {
  if (!opts.asFile?.length || opts.dotenv?.length) return undefined;
  const cwd = process.cwd();
  if (locateSourcesFile({ config: opts.config, cwd, env: parentEnv })) return undefined;
  return noSourcesFile(cwd, SOURCES);
}

/**
 * Each `as_file` key's value (from the merged set; with no sources file, else from the process environment, its
 * reference resolved when it is one) and
 * the merged set for `--mount`. A listed key found nowhere is an error naming it (125).
 */
function fileContentOf({ resolution, file }: Resolved, keys: readonly string[]): FilesContent {
  const merged = valuesOf(resolution);
  delete merged.SECRETRUN_WEBHOOK_SECRET;
  const values: Record<string, string> = {};
  const missing: string[] = [];
  for (const key of keys) {
    const value = resolution.entries.get(key)?.value ?? (file.path ? undefined : (resolution.inherited?.[key] ?? parentEnv[key]));
    if (value === undefined) missing.push(key);
    else values[key] = value;
  }
  if (missing.length > 0) {
    const where = file.path ? `the merged set of ${file.shown}` : 'the --dotenv files or the environment';
    throw new SecretrunError(`as_file: ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not in ${where}`);
  }
  return { values, merged };
}

/** The child's environment with each `as_file` key holding its file's path, and SECRETRUN_MOUNT. */
function withFiles(env: Record<string, string>, files: SecretFiles | undefined): Record<string, string> {
  if (!files) return env;
  Object.assign(env, files.paths);
  if (files.mountPath) env.SECRETRUN_MOUNT = files.mountPath;
  return env;
}

export type MaskMode = 'stars' | 'names';

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
  // for-in, not Object.entries: no array of pairs on the way to the handover (young-generation allocation,
  // docs/performance.md "Fourth session"); `parent` is a plain snapshot with no inherited keys.
  if (!pristine) {
    for (const k in parent) {
      const v = parent[k];
      if (v !== undefined) env[k] = v;
    }
  }
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
  for (const [key, value] of Object.entries(resolution.inherited ?? {})) winner.set(key, { value, isPublic: false });
  const out = new Map<string, string>();
  for (const key of [...winner.keys()].sort()) {
    const { value, isPublic } = winner.get(key)!;
    if (!isPublic && !out.has(value)) out.set(value, mode === 'names' ? `<${key}>` : '****');
  }
  return out;
}
