/**
 * `secretrun check [--resolve]`: validate the sources file offline and report every problem at once, each as
 * `file:line:col: ...`, not only the first. With `--resolve`, also load every layer of the chosen environment
 * and report each unreachable layer and the missing `require` keys. Values are never printed.
 */
import { environmentVars, findSourcesFile, locateSourcesFile, noSourcesFile, parseSourcesFile, selectEnvironment, showPath, type SourcesFile } from '../../core/config.js';
import { InterpolationError, mapStrings, references } from '../../core/interpolate.js';
import { formatPath, type Path } from '../../core/validate.js';
import { ConfigError, ConfigErrors, LayerError, NotFoundError, SecretrunError, describeError } from '../../core/errors.js';
import { info, warn } from '../output.js';
import { layerName, resolveLayers, type Resolution } from '../../core/resolve.js';
import { loadSource, OPTION_DEFAULTS } from '../../sources/index.js';
import type { Source } from '../../sources/types.js';
import { checkRequired, CLI_OPTION_NAMES, parentEnv, type CommonOptions } from './common.js';

export interface CheckOptions extends CommonOptions {
  resolve?: boolean;
}

export async function check(opts: CheckOptions): Promise<number> {
  const cwd = process.cwd();
  const find = { config: opts.config, cwd, env: parentEnv, names: CLI_OPTION_NAMES };
  // With --dotenv layers a sources file is optional, as for every other command.
  const path = opts.dotenv?.length ? locateSourcesFile(find) : findSourcesFile(find);
  const valid = path ? await validFile(path, cwd, opts) : noSourcesFile(cwd);
  if (opts.resolve) {
    const failures = await resolveProblems(valid, opts);
    if (failures.length > 0) throw new ConfigErrors(failures.map((e) => (e instanceof ConfigError ? e : new ConfigError(e.message))));
  }
  info(summary(valid, opts.dotenv?.length ?? 0), opts.quiet);
  return 0;
}

async function validFile(path: string, cwd: string, opts: CheckOptions): Promise<SourcesFile> {
  const { file, problems } = await parseSourcesFile(path, cwd);
  if (file) {
    problems.push(...templateProblems(file));
    problems.push(...varsProblems(file, parentEnv));
    // Selecting an environment assumes the file has the schema's shape; only try once it does.
    if (problems.length === 0 && opts.env !== undefined) problems.push(...selectionProblems(file, opts.env, parentEnv));
  }
  if (problems.length > 0) throw withSummary(byLocation(problems), file?.shown ?? showPath(path, cwd));
  return file!;
}

/** `secretrun.yaml: OK (4 layers, 2 environments: dev, prod)`; a file without `environments` has the implicit `default`. */
function summary(file: SourcesFile, extraLayers: number): string {
  const defined = Object.keys(file.data.environments ?? {});
  const envs = defined.length > 0 ? defined : ['default'];
  const layers = plural(countLayers(file), 'layer') + (extraLayers > 0 ? ` + ${extraLayers} from --dotenv` : '');
  const what = `${layers}, ${plural(envs.length, 'environment')}: ${envs.join(', ')}`;
  return file.path ? `${file.shown}: OK (${what})` : `OK: no sources file (${what})`;
}

/** In file order, so the report reads top to bottom; problems without a location go last. */
function byLocation(problems: ConfigError[]): ConfigError[] {
  const rank = (e: ConfigError) => (e.location ? e.location.line * 1e6 + e.location.col : Infinity);
  return problems.map((e, i) => ({ e, i })).sort((x, y) => rank(x.e) - rank(y.e) || x.i - y.i).map(({ e }) => e);
}

function withSummary(problems: ConfigError[], shown: string): ConfigErrors {
  return new ConfigErrors([...problems, new ConfigError(`${shown}: ${plural(problems.length, 'problem')}`)]);
}

/** Every layer list in the file, with its path: the shared `sources`, then each environment's. */
function layerLists(file: SourcesFile): { base: Path; layers: unknown[] }[] {
  const lists: { base: Path; layers: unknown[] }[] = [];
  const data = file.data as Record<string, unknown>;
  if (Array.isArray(data.sources)) lists.push({ base: ['sources'], layers: data.sources });
  const envs = data.environments;
  if (isMapping(envs)) {
    for (const [name, env] of Object.entries(envs)) {
      if (isMapping(env) && Array.isArray(env.sources)) lists.push({ base: ['environments', name, 'sources'], layers: env.sources });
    }
  }
  return lists;
}

function countLayers(file: SourcesFile): number {
  return layerLists(file).reduce((n, l) => n + l.layers.length, 0);
}

/** Every `${...}` template in layer options and in `vars` must parse; report each malformed one where it is written. */
export function templateProblems(file: SourcesFile): ConfigError[] {
  const problems: ConfigError[] = [];
  const visit = (value: unknown, base: Path) =>
    mapStrings(value, (s, sub) => {
      try {
        references(s);
      } catch (err) {
        if (!(err instanceof InterpolationError)) throw err;
        const path = [...base, ...sub];
        problems.push(new ConfigError(`${formatPath(path)}: ${err.message}`, file.locate(path)));
      }
      return s;
    });
  for (const { base, layers } of layerLists(file)) layers.forEach((layer, i) => visit(layer, [...base, i]));
  const envs = (file.data as Record<string, unknown>).environments;
  if (isMapping(envs)) {
    for (const [name, env] of Object.entries(envs)) if (isMapping(env) && isMapping(env.vars)) visit(env.vars, ['environments', name, 'vars']);
  }
  return problems;
}

/**
 * Each environment's `vars` must interpolate from earlier vars and the process environment, as selecting the
 * environment does; every var that doesn't is reported. Malformed templates are `templateProblems`' to report.
 */
export function varsProblems(file: SourcesFile, processEnv: Readonly<Record<string, string | undefined>>): ConfigError[] {
  const envs = (file.data as Record<string, unknown>).environments;
  if (!isMapping(envs)) return [];
  return Object.entries(envs)
    .filter(([, env]) => isMapping(env) && isMapping(env.vars))
    .flatMap(([name]) => environmentVars(file, name, processEnv, { unresolvedOnly: true }).problems);
}

function selectionProblems(file: SourcesFile, env: string, processEnv: NodeJS.ProcessEnv): ConfigError[] {
  try {
    selectEnvironment(file, { env, processEnv, names: CLI_OPTION_NAMES });
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return [err];
    throw err;
  }
}

/**
 * Load every layer of the chosen environment. A failing layer does not stop the others (each failure is
 * recorded and the layer counts as empty), so one run reports every unreachable layer; then `require`.
 * Layers that fail only because an earlier one did (a token it should have provided) are reported as well.
 */
async function resolveProblems(file: SourcesFile, opts: CheckOptions): Promise<SecretrunError[]> {
  let plan;
  try {
    plan = selectEnvironment(file, { env: opts.env, processEnv: parentEnv, names: CLI_OPTION_NAMES, dotenv: opts.dotenv, cwd: process.cwd() });
  } catch (err) {
    if (err instanceof ConfigError) return [err];
    throw err;
  }
  const failures: SecretrunError[] = [];
  // Where each layer is defined, by the label the core gives it (the label is all a source's context carries).
  const definedAt = new Map(plan.layers.map((spec) => [layerName(spec, plan.vars), spec.location]));
  const recordingLoader = async (type: string): Promise<Source> => {
    const source = await loadSource(type);
    const load: Source['load'] = async (options, context) => {
      try {
        return await source.load(options, context);
      } catch (err) {
        // Left to the core: a missing optional layer (it becomes empty) and the fallout of an abort.
        if ((err instanceof NotFoundError && options.optional === true) || context.signal.aborted) throw err;
        failures.push(new LayerError(context.layer, describeError(err), { definedAt: definedAt.get(context.layer) }));
        return {};
      }
    };
    // Inherit everything else (remote, usesEarlierKeys, ...) from the real source; it may be frozen.
    return Object.create(source, { load: { value: load } }) as Source;
  };
  let resolution: Resolution | undefined;
  try {
    resolution = await resolveLayers(plan, {
      processEnv: parentEnv,
      loadSource: recordingLoader,
      optionDefaults: OPTION_DEFAULTS,
      warn: (m) => warn(m, opts.quiet),
    });
  } catch (err) {
    failures.push(err instanceof SecretrunError ? err : new SecretrunError(describeError(err)));
  }
  if (resolution) {
    try {
      checkRequired(plan, resolution);
    } catch (err) {
      if (err instanceof SecretrunError) failures.push(err);
      else throw err;
    }
    if (failures.length === 0) {
      const where = `environment "${plan.name}": `;
      const required = plan.require.length > 0 ? `, all ${plan.require.length} required present` : '';
      info(`${where}${plural(resolution.layers.length, 'layer')} loaded, ${plural(resolution.entries.size, 'key')}${required}`, opts.quiet);
    }
  }
  return failures;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
