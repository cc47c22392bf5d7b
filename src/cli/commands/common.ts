/**
 * What every command that reads secrets does first: the shared resolver (src/core/secrets.ts, also behind the library's
 * `loadSecrets`) with the CLI's own edges: process.cwd()/process.env, warnings on stderr, a progress spinner on a
 * TTY, and the risky-name check for the child's environment.
 */
import type { ExtraDotenv, OptionNames, SourcesFile } from '../../core/config.js';
import { SecretrunError } from '../../core/errors.js';
import { riskyKeys, type Resolution } from '../../core/resolve.js';
import { checkRequired, findAndLoadSourcesFile, resolveSecrets, type Resolved } from '../../core/secrets.js';
import { warn } from '../output.js';

export { checkRequired, type Resolved };

/**
 * The parent environment, copied once: what the layers, `${...}` and the child all see. Each read of
 * `process.env` goes through Node's environment interceptor (a getenv and a new string per key), and one run
 * reads it for every layer lookup and again to build the child's environment. Nothing here changes it.
 */
export const parentEnv: Readonly<Record<string, string | undefined>> = { ...process.env };

/** How core messages name the CLI's options. */
export const CLI_OPTION_NAMES: OptionNames = { config: '-c', configHint: 'pass -c FILE or --dotenv PATH', envHint: 'pass -e NAME' };

export interface CommonOptions {
  config?: string;
  env?: string;
  quiet?: boolean;
  /** `--dotenv PATH` and `--dotenv-optional PATH`, in the order given. */
  dotenv?: ExtraDotenv[];
  /** Risky variable names (PATH, LD_PRELOAD, NODE_OPTIONS, ...) set by a layer are an error, not a warning. */
  strict?: boolean;
}

export async function loadFile(opts: CommonOptions): Promise<SourcesFile> {
  return findAndLoadSourcesFile({ config: opts.config, cwd: process.cwd(), processEnv: parentEnv, dotenv: opts.dotenv, names: CLI_OPTION_NAMES });
}

export interface ResolveExtras {
  signal?: AbortSignal;
  /** `diff` and `ls` show what an environment lacks instead of failing on `require`. */
  checkRequire?: boolean;
}

export async function resolveEnvironment(opts: CommonOptions, envName = opts.env, file?: SourcesFile, { signal, checkRequire = true }: ResolveExtras = {}): Promise<Resolved> {
  let progress: { done(name: string): void; stop(): void } | undefined;
  const pending = new Set<string>();
  let finished = false;
  try {
    const resolved = await resolveSecrets({
      config: opts.config,
      env: envName,
      file,
      dotenv: opts.dotenv,
      names: CLI_OPTION_NAMES,
      cwd: process.cwd(),
      processEnv: parentEnv,
      signal,
      // require is checked after the risky-name check, as before.
      checkRequire: false,
      warn: (m) => warn(m, opts.quiet),
      onRemoteStart: async (names) => {
        if (!process.stderr.isTTY || opts.quiet) return;
        for (const n of names) pending.add(n);
        const { startProgress } = await import('../progress.js');
        if (!finished) progress = startProgress([...pending], { stream: process.stderr, quiet: !!opts.quiet });
      },
      onLayerDone: (name) => {
        pending.delete(name);
        progress?.done(name);
      },
    });
    checkRisky(resolved.resolution, opts);
    if (checkRequire) checkRequired(resolved.plan, resolved.resolution);
    return resolved;
  } finally {
    finished = true;
    progress?.stop();
  }
}

function checkRisky(resolution: Resolution, opts: CommonOptions): void {
  for (const { key, layer } of riskyKeys(resolution)) {
    const what = `layer "${layer}" sets ${key}, which changes which programs or code the child runs`;
    if (opts.strict) throw new SecretrunError(`${what} (refused by --strict)`);
    warn(`${what}; pass --strict to refuse this`, opts.quiet);
  }
}
