/**
 * What every command that reads secrets shares: the core pipeline (src/core/pipeline.ts, also behind the library's
 * `loadSecrets`) with the CLI's edges (process.cwd(), the parent environment, a progress spinner on a TTY), and
 * `actOnFindings`, where a command's policy turns the pipeline's findings into warnings, errors or nothing.
 * The pipeline itself prints nothing.
 */
import type { ExtraDotenv, OptionNames, SourcesFile } from '../../core/config.js';
import { SecretrunError } from '../../core/errors.js';
import { findAndLoadSourcesFile, missingRequiredMessage, resolveSecrets, riskyNameMessage, type Resolved } from '../../core/pipeline.js';
import { ttyModule } from '../../process/builtins.js';
import { warn } from '../output.js';
import { releaseResolution } from '../../core/leases.js';

export type { Resolved };

/**
 * The parent environment, copied once: what the layers, `${...}` and the child all see. Each read of
 * `process.env` goes through Node's environment interceptor (a getenv and a new string per key), and one run
 * reads it for every layer lookup and again to build the child's environment. Nothing here changes it.
 */
export const parentEnv: Readonly<Record<string, string | undefined>> = { ...process.env };

/** How core messages name the CLI's options. */
export const CLI_OPTION_NAMES: OptionNames = {
  config: '-c',
  configHint: 'pass -c FILE, --dotenv PATH or --dotenv-optional .env',
  envHint: 'pass -e NAME',
  env: '-e',
  dotenv: '--dotenv',
  override: '--override',
};

export interface CommonOptions {
  config?: string;
  env?: string;
  quiet?: boolean;
  /** `--dotenv PATH` and `--dotenv-optional PATH`, in the order given. */
  dotenv?: ExtraDotenv[];
  /** `--override`: with no sources file, the `--dotenv` files win over the environment. */
  override?: boolean;
}

export async function loadFile(opts: CommonOptions): Promise<SourcesFile> {
  return findAndLoadSourcesFile({ config: opts.config, cwd: process.cwd(), processEnv: parentEnv, dotenv: opts.dotenv, override: opts.override, names: CLI_OPTION_NAMES });
}

export interface ResolveExtras {
  signal?: AbortSignal;
  /** `check --resolve`: record each failing layer and go on (see the pipeline). */
  keepGoing?: boolean;
  /** Kept across re-resolves in watch mode (see PipelineOptions.cache). */
  cache?: Map<string, Map<string, unknown>>;
  /** One per CLI run: logins shared by layers and by re-resolves (see PipelineOptions.session). */
  session?: Map<string, unknown>;
  /** Where `envName` came from, for messages (default: -e). */
  envFrom?: string;
  /** `run`: the inherited environment goes to the child (its references; see PipelineOptions). */
  inheritedReferences?: boolean;
}

/** The pipeline, called once, with a spinner on stderr while remote layers load (on a TTY, unless --quiet). */
export async function resolveEnvironment(opts: CommonOptions, envName = opts.env, file?: SourcesFile, { signal, keepGoing, cache, session, envFrom, inheritedReferences }: ResolveExtras = {}): Promise<Resolved> {
  let progress: { done(name: string): void; stop(): void } | undefined;
  const pending = new Set<string>();
  let finished = false;
  try {
    return await resolveSecrets({
      config: opts.config,
      env: envName,
      envFrom,
      file,
      dotenv: opts.dotenv,
      override: opts.override,
      names: CLI_OPTION_NAMES,
      cwd: process.cwd(),
      processEnv: parentEnv,
      signal,
      keepGoing,
      cache,
      session,
      inheritedReferences,
      onRemoteStart: async (names) => {
        // isatty(2), not process.stderr.isTTY: the getter builds the stderr stream (a socket for a pipe), about
        // 1 ms that a run with nobody watching never needs.
        if (opts.quiet || !ttyModule().isatty(2)) return;
        for (const n of names) pending.add(n);
        const { startProgress } = await import('../progress.js');
        if (!finished) progress = startProgress([...pending], { stream: process.stderr, quiet: !!opts.quiet });
      },
      onLayerDone: (name) => {
        pending.delete(name);
        progress?.done(name);
      },
    });
  } finally {
    finished = true;
    progress?.stop();
  }
}

/**
 * A resolution the command shows and throws away (`ls`, `diff`): revoke the leases and logins it obtained before
 * secretrun exits; a failure is a warning.
 */
export async function throwAway(resolved: readonly Resolved[], quiet?: boolean): Promise<void> {
  for (const r of resolved) for (const message of await releaseResolution(r.resolution, { session: true })) warn(message, quiet);
}

/**
 * A command's answer to the findings (docs/commands.md). The layers' own warnings are always shown (unless
 * --quiet); file permissions are `check`'s alone.
 */
export interface FindingPolicy {
  /** A `require`d key no layer set is an error. */
  require?: boolean;
  /** Risky names set by a layer: a warning, or an error (--strict). Not mentioned when absent. */
  riskyNames?: 'warn' | 'refuse';
}

/** `run` and `export` hand the merged set on, to a child or a file: `require` holds, risky names matter. */
export function handOnPolicy(opts: { strict?: boolean }): FindingPolicy {
  return { require: true, riskyNames: opts.strict ? 'refuse' : 'warn' };
}

export function actOnFindings({ plan, findings }: Resolved, policy: FindingPolicy, quiet?: boolean): void {
  for (const message of findings.warnings) warn(message, quiet);
  if (policy.riskyNames) {
    for (const risky of findings.riskyNames) {
      if (policy.riskyNames === 'refuse') throw new SecretrunError(`${riskyNameMessage(risky)} (refused by --strict)`);
      warn(`${riskyNameMessage(risky)}; pass --strict to refuse this`, quiet);
    }
  }
  if (policy.require && findings.missingRequired.length > 0) throw new SecretrunError(missingRequiredMessage(plan, findings.missingRequired));
}
