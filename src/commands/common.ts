/**
 * What every command that reads secrets does first: find and load the sources file, pick the environment,
 * resolve the layers (with a progress spinner on a TTY), and check `require`.
 */
import { findSourcesFile, loadSourcesFile, selectEnvironment, type EnvironmentPlan, type SourcesFile } from '../config/load.js';
import { SecretrunError } from '../errors.js';
import { resolveLayers, riskyKeys, type Resolution } from '../resolve.js';
import { loadSource, OPTION_DEFAULTS } from '../sources/index.js';
import { warn } from '../output.js';

export interface CommonOptions {
  config?: string;
  env?: string;
  quiet?: boolean;
  /** Risky variable names (PATH, LD_PRELOAD, NODE_OPTIONS, ...) set by a layer are an error, not a warning. */
  strict?: boolean;
}

export interface Resolved {
  file: SourcesFile;
  plan: EnvironmentPlan;
  resolution: Resolution;
}

export async function loadFile(opts: CommonOptions): Promise<SourcesFile> {
  const cwd = process.cwd();
  return loadSourcesFile(findSourcesFile({ config: opts.config, cwd, env: process.env }), cwd);
}

export interface ResolveExtras {
  signal?: AbortSignal;
  /** `diff` and `ls` show what an environment lacks instead of failing on `require`. */
  checkRequire?: boolean;
}

export async function resolveEnvironment(opts: CommonOptions, envName = opts.env, file?: SourcesFile, { signal, checkRequire = true }: ResolveExtras = {}): Promise<Resolved> {
  const sourcesFile = file ?? (await loadFile(opts));
  const plan = selectEnvironment(sourcesFile, { env: envName, processEnv: process.env });
  let progress: { done(name: string): void; stop(): void } | undefined;
  const pending = new Set<string>();
  let finished = false;
  try {
    const resolution = await resolveLayers(plan, {
      processEnv: process.env,
      loadSource,
      optionDefaults: OPTION_DEFAULTS,
      warn: (m) => warn(m, opts.quiet),
      signal,
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
    checkRisky(resolution, opts);
    if (checkRequire) checkRequired(plan, resolution);
    return { file: sourcesFile, plan, resolution };
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

export function checkRequired(plan: EnvironmentPlan, resolution: Resolution): void {
  const missing = plan.require.filter((k) => !resolution.entries.has(k));
  if (missing.length > 0) {
    const where = plan.implicit ? '' : ` in environment "${plan.name}"`;
    throw new SecretrunError(`missing required key${missing.length > 1 ? 's' : ''}${where}: ${missing.join(', ')} (listed under "require" in ${plan.file.shown})`);
  }
}
