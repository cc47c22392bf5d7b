/**
 * The one way down and back for every command and the library: sources file → selected environment → layers
 * resolved and merged → the resolution **with its findings** (required keys no layer set, risky names, files
 * others can read, the layers' warnings). Nothing here prints, exits or decides: each caller looks at the findings
 * and chooses what is an error, a warning or nothing (`run` refuses a missing required key, `get` does not; only
 * `check` reports file permissions). Nothing here reads `process.env` or `process.cwd()` either: they are passed in.
 */
import { findSourcesFile, loadSourcesFile, locateSourcesFile, noSourcesFile, overrideProblem, selectEnvironment, showPath, type EnvironmentPlan, type ExtraDotenv, type OptionNames, type SourcesFile, type SourceTypes } from './config.js';
import { ConfigError, LayerError, NotFoundError, SecretrunError, describeError, registerSecret } from './errors.js';
import { interpolate, lookupIn, mapStrings } from './interpolate.js';
import { filePermissionFindings, type PermissionFinding } from './permissions.js';
import { holdsReference, layerReferences, ReferenceProblem, schemesOf } from './references.js';
import { layerName, resolveLayers, type Resolution, type ResolveHooks } from './resolve.js';
import { withDefaults } from './validate.js';
import { SOURCES } from '../sources/index.js';
import type { SourceDescriptor } from '../sources/descriptor.js';

export type { PermissionFinding };
type ProcessEnv = Readonly<Record<string, string | undefined>>;

export interface LocateOptions {
  /** The sources file (`-c`), relative to `cwd`. Default: `SECRETRUN_CONFIG`, else the nearest secretrun.yaml. */
  config?: string;
  cwd: string;
  processEnv: ProcessEnv;
  /** The source types (default: the built-in registry, src/sources/index.ts). */
  sources?: SourceTypes;
  /** Dotenv layers after the sources file's own (relative to `cwd`); with them, no sources file is needed. */
  dotenv?: readonly ExtraDotenv[];
  /**
   * With `dotenv` files and no sources file, the files win over the process environment (the CLI's `--override`).
   * By default an `env` layer limited to their keys follows them, so the environment wins, as with `dotenv run`.
   * Anywhere else it is a UsageError.
   */
  override?: boolean;
  /** How messages name the caller's options (the CLI's flags); default: the library's option names. */
  names?: OptionNames;
  /**
   * The inherited environment goes to a child (`run`): with no sources file, a reference in it is enough to run,
   * and its references are resolved (contract section 3b; see ResolveHooks).
   */
  inheritedReferences?: boolean;
}

/** `signal`, `cache` and the progress hooks are handed to the resolver as they are (see ResolveHooks). */
export interface PipelineOptions extends LocateOptions, Pick<ResolveHooks, 'signal' | 'cache' | 'session' | 'onRemoteStart' | 'onLayerDone'> {
  /** The environment (`-e`). Default: `SECRETRUN_ENV`, else `default_environment`. */
  env?: string;
  /** Where `env` came from, for messages (default: the `-e` option); `diff` names its arguments. */
  envFrom?: string;
  /** An already-loaded sources file, so `diff` reads the file once for two environments. */
  file?: SourcesFile;
  /**
   * `check --resolve`: a failing layer does not stop the others; it is recorded in `findings.failures` and
   * counts as empty, so one run reports every unreachable layer (and those that fail because of it).
   */
  keepGoing?: boolean;
}

export interface RiskyName {
  key: string;
  layer: string;
}

export interface Findings {
  /** Keys listed under `require` (file-wide and the environment's) that no layer set. */
  missingRequired: string[];
  /** Risky names (PATH, LD_PRELOAD, NODE_OPTIONS, ...) set by a layer other than `env`. */
  riskyNames: RiskyName[];
  /** Layer files holding plain secrets that group or others can read. */
  permissions: PermissionFinding[];
  /** What the layers had to say (never a value), in the order they said it. */
  warnings: string[];
  /** With `keepGoing` only: each layer that failed, and the resolution's own failure if there was one. */
  failures: SecretrunError[];
}

export interface Resolved {
  file: SourcesFile;
  plan: EnvironmentPlan;
  resolution: Resolution;
  findings: Findings;
}

/** The sources file; with `dotenv` layers and no file named or found, the stand-in for none. */
export async function findAndLoadSourcesFile({ config, cwd, processEnv, sources = SOURCES, dotenv, override, names, inheritedReferences }: LocateOptions): Promise<SourcesFile> {
  const find = { config, cwd, env: processEnv, names };
  const early = overrideProblem(override, dotenv, undefined, names);
  if (early) throw early;
  if (!dotenv?.length && !(inheritedReferences && holdsReference(processEnv, schemesOf(sources)))) return loadSourcesFile(findSourcesFile(find), cwd, sources);
  const path = locateSourcesFile(find);
  const misused = path === undefined ? undefined : overrideProblem(override, dotenv, showPath(path, cwd), names);
  if (misused) throw misused;
  return path ? loadSourcesFile(path, cwd, sources) : noSourcesFile(cwd, sources);
}

/** Sources file → selected environment → merged layers with provenance, and what was found on the way. */
export async function resolveSecrets(options: PipelineOptions): Promise<Resolved> {
  const file = options.file ?? (await findAndLoadSourcesFile(options));
  const selected = selectEnvironment(file, {
    env: options.env,
    envFrom: options.envFrom,
    processEnv: options.processEnv,
    names: options.names,
    dotenv: options.dotenv,
    override: options.override,
    cwd: options.cwd,
  });
  const findings: Findings = { missingRequired: [], riskyNames: [], permissions: [], warnings: [], failures: [] };
  const plan = options.keepGoing ? recordingFailures(selected, findings.failures) : selected;
  const hooks = {
    processEnv: options.processEnv,
    warn: (message: string) => void findings.warnings.push(message),
    onPermissions: (found: PermissionFinding) => void findings.permissions.push(found),
    signal: options.signal,
    cache: options.cache,
    session: options.session,
    onRemoteStart: options.onRemoteStart,
    onLayerDone: options.onLayerDone,
    inheritedReferences: options.inheritedReferences,
    checking: options.keepGoing,
  };
  let resolution: Resolution;
  try {
    resolution = await resolveLayers(plan, hooks);
  } catch (err) {
    if (!options.keepGoing) throw err;
    findings.failures.push(err instanceof SecretrunError ? err : new SecretrunError(describeError(err)));
    // Nothing merged: what is required can't be judged, and nothing was set.
    return { file, plan, resolution: { environment: plan.name, entries: new Map(), layers: [] }, findings };
  }
  findings.missingRequired = plan.require.filter((k) => !resolution.entries.has(k));
  findings.riskyNames = riskyNames(resolution, plan);
  return { file, plan, resolution, findings };
}

/**
 * The plan with each layer's source wrapped so a failure is recorded and the layer counts as empty (for `keepGoing`,
 * which is `check --resolve`: the sources are told they are checked, `context.checking`).
 */
function recordingFailures(plan: EnvironmentPlan, failures: SecretrunError[]): EnvironmentPlan {
  // Where each layer is defined, by the label the core gives it (the label is all a source's context carries).
  const definedAt = new Map(plan.layers.map((spec) => [layerName(spec, plan.vars, plan.varsFilled), spec.location]));
  const recording = (source: SourceDescriptor): SourceDescriptor => ({
    ...source,
    async load(options, context) {
      try {
        return await source.load(options, { ...context, checking: true });
      } catch (err) {
        // Left to the core: a missing optional layer (it becomes empty) and the fallout of an abort.
        if ((err instanceof NotFoundError && options.optional === true) || context.signal.aborted) throw err;
        // Our own message whole (describeError keeps a first line, and a path may hold a line break, printed escaped).
        const reason = err instanceof SecretrunError ? err.message : describeError(err);
        failures.push(new LayerError(context.layer, reason, { definedAt: definedAt.get(context.layer) }));
        return {};
      }
    },
  });
  return { ...plan, layers: plan.layers.map((spec) => ({ ...spec, source: recording(spec.source) })) };
}

/**
 * Variables that change which binaries run or which code a runtime loads. A layer that sets one is not an
 * error by default (a `.env` with PATH is legitimate), but never silent where the set is handed on (run, export).
 */
export const RISKY_NAMES = [
  'PATH', 'LD_PRELOAD', 'LD_LIBRARY_PATH', 'LD_AUDIT', 'DYLD_INSERT_LIBRARIES', 'DYLD_LIBRARY_PATH',
  'NODE_OPTIONS', 'NODE_PATH', 'PYTHONPATH', 'PYTHONHOME', 'PYTHONSTARTUP', 'PERL5LIB', 'PERL5OPT',
  'RUBYOPT', 'RUBYLIB', 'JAVA_TOOL_OPTIONS', '_JAVA_OPTIONS', 'BASH_ENV', 'ENV', 'SHELLOPTS', 'IFS',
  'GIT_SSH_COMMAND', 'GIT_EXEC_PATH',
];

/** Risky names set by a layer, except one that only repeats the parent environment (its descriptor says so). */
export function riskyNames(resolution: Resolution, plan: Pick<EnvironmentPlan, 'layers'>): RiskyName[] {
  const found: RiskyName[] = [];
  // The `env` layer secretrun itself puts after `--dotenv` files with no sources file (written nowhere): a name it
  // takes back from the parent environment reaches the child as the parent had it, so the file's is no finding.
  const shellWins = resolution.layers.find((_, i) => plan.layers[i]?.source.passesParentEnvironment && !plan.layers[i].location);
  // One outcome per layer of the plan, in file order.
  for (const [i, layer] of resolution.layers.entries()) {
    if (plan.layers[i]?.source.passesParentEnvironment) continue;
    for (const key of RISKY_NAMES) if (key in layer.keys && !(shellWins && key in shellWins.keys)) found.push({ key, layer: layer.name });
  }
  return found;
}

/**
 * File-permission findings without resolving anything (`check`, offline): each layer of the environment whose
 * file paths can be filled in from the environment's vars and the parent environment alone. A path that needs
 * an earlier layer's value is skipped; `check --resolve` sees it.
 */
export async function offlinePermissionFindings(plan: EnvironmentPlan, processEnv: ProcessEnv): Promise<PermissionFinding[]> {
  const found: PermissionFinding[] = [];
  for (const spec of plan.layers) {
    const { source } = spec;
    if (spec.options.allow_world_readable === true || !source.privateFiles) continue;
    try {
      const options = mapStrings(withDefaults(source, spec.options), (s) => interpolate(s, lookupIn(plan.vars, processEnv))) as Record<string, unknown>;
      found.push(...filePermissionFindings(source, options, layerName(spec, plan.vars, plan.varsFilled), spec.dir ?? plan.file.dir, spec.location));
    } catch {
      continue; // a path that needs an earlier layer's value, or that only interpolation made invalid: left to --resolve
    }
  }
  return found;
}

/**
 * References in the local layer files (`check`, offline): syntax, schemes and parameters, and a dotenv `#` cutting
 * one; nothing is read from a store. Layers of plain local files (a descriptor with `privateFiles`, not remote)
 * whose options need no layer's value; any other failure is left to `check --resolve` and the run.
 */
export async function offlineReferenceProblems(plan: EnvironmentPlan, processEnv: ProcessEnv): Promise<ConfigError[]> {
  const schemes = schemesOf(plan.file.sources);
  const found: ConfigError[] = [];
  for (const spec of plan.layers) {
    const { source } = spec;
    if (source.remote || !source.privateFiles || spec.options.references === false || (spec.location && plan.file.data.references === false)) continue;
    const name = layerName(spec, plan.vars);
    const problems: string[] = [];
    try {
      const options = mapStrings(withDefaults(source, spec.options), (s) => interpolate(s, lookupIn(plan.vars, processEnv))) as Record<string, unknown>;
      const context = { layer: name, configDir: spec.dir ?? plan.file.dir, keys: {}, env: processEnv, signal: new AbortController().signal, warn: () => {}, secret: registerSecret };
      layerReferences(await source.load(options, context), schemes, source.passesParentEnvironment ? 'skip' : 'error', problems);
    } catch (err) {
      if (err instanceof ReferenceProblem) problems.push(err.message);
    }
    for (const p of problems) found.push(new ConfigError(`layer "${name}": ${p}`, spec.location));
  }
  return found;
}

// ---- the words for each finding (the caller decides whether it is an error or a warning) ----------------------

export function missingRequiredMessage(plan: EnvironmentPlan, missing: string[]): string {
  const where = plan.implicit ? '' : ` in environment "${plan.name}"`;
  return `missing required key${missing.length > 1 ? 's' : ''}${where}: ${missing.join(', ')} (listed under "require" in ${plan.file.shown})`;
}

export function riskyNameMessage({ key, layer }: RiskyName): string {
  return `layer "${layer}" sets ${key}, which changes which programs or code the child runs`;
}

export { permissionMessage } from './permissions.js';
