/**
 * `secretrun check [--resolve] [--strict]`: validate the sources file offline and report every problem at once,
 * each as `file:line:col: ...`, not only the first. With `--resolve`, also load every layer of the chosen
 * environment and report each unreachable layer and the missing `require` keys. Layer files that other users can
 * read are reported here (and only here): a warning, or with `--strict` an error. Values are never printed.
 */
import { environmentVars, findSourcesFile, locateSourcesFile, noSourcesFile, overrideProblem, parseSourcesFile, selectEnvironment, showPath, type EnvironmentPlan, type SourcesFile } from '../../core/config.js';
import { InterpolationError, mapStrings, references } from '../../core/interpolate.js';
import { resolve as resolvePath } from 'node:path';
import { jsonDuplicateKeys } from '../../formats/parse.js';
import { readTextFile } from '../../core/files.js';
import { formatPath, type Path } from '../../core/validate.js';
import { ConfigError, ConfigErrors, SecretrunError, positionText } from '../../core/errors.js';
import { missingRequiredMessage, offlinePermissionFindings, offlineReferenceProblems, permissionMessage, type PermissionFinding } from '../../core/pipeline.js';
import { info, warn } from '../output.js';
import { SOURCES, type SourceRegistry } from '../../sources/index.js';
import { CLI_OPTION_NAMES, parentEnv, resolveEnvironment, type CommonOptions } from './common.js';
import { localFindings } from './check-local.js';

export interface CheckOptions extends CommonOptions {
  resolve?: boolean;
  /** File-permission findings are errors (exit 1), not warnings. */
  strict?: boolean;
  /** The source types to check against (default: the built-in registry); `--resolve` loads layers with them. */
  sources?: SourceRegistry;
}

export async function check(opts: CheckOptions): Promise<number> {
  const cwd = process.cwd();
  const find = { config: opts.config, cwd, env: parentEnv, names: CLI_OPTION_NAMES };
  // With --dotenv layers a sources file is optional, as for every other command.
  const early = overrideProblem(opts.override, opts.dotenv, undefined, CLI_OPTION_NAMES);
  if (early) throw early;
  const path = opts.dotenv?.length ? locateSourcesFile(find) : findSourcesFile(find);
  const misused = path === undefined ? undefined : overrideProblem(opts.override, opts.dotenv, showPath(path, cwd), CLI_OPTION_NAMES);
  if (misused) throw misused;
  const valid = path ? await validFile(path, cwd, opts) : noSourcesFile(cwd, opts.sources ?? SOURCES);
  const references = await eachPlan(valid, opts, (plan) => offlineReferenceProblems(plan, parentEnv), (p) => p.message);
  if (references.length > 0) throw withSummary(references, valid.shown);
  let permissions: PermissionFinding[];
  let loaded: string | undefined;
  if (opts.resolve) {
    const outcome = await resolveProblems(valid, opts);
    if (outcome.failures.length > 0) throw new ConfigErrors(outcome.failures.map((e) => (e instanceof ConfigError ? e : new ConfigError(e.message))));
    ({ permissions, loaded } = outcome);
  } else {
    permissions = await offlinePermissions(valid, opts);
  }
  reportLocal(valid, opts, cwd);
  reportPermissions(permissions, valid.shown, opts);
  if (loaded) info(loaded, opts.quiet);
  info(summary(valid, opts.dotenv?.length ?? 0), opts.quiet);
  return 0;
}

async function validFile(path: string, cwd: string, opts: CheckOptions): Promise<SourcesFile> {
  const { file, problems } = await parseSourcesFile(path, cwd, opts.sources ?? SOURCES);
  if (file) {
    problems.push(...templateProblems(file));
    problems.push(...varsProblems(file, parentEnv));
    problems.push(...jsonDuplicateProblems(file));
    // Selecting an environment assumes the file has the schema's shape; only try once it does.
    // An unknown name from -e or SECRETRUN_ENV is a usage error (2), thrown from there; default_environment's is located.
    if (problems.length === 0 && (opts.env ?? parentEnv.SECRETRUN_ENV) !== undefined) problems.push(...selectionProblems(file, opts.env, parentEnv));
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

/**
 * Missing layer files and non-http(s) URLs (offline only: `--resolve` loads the layers and reports them as they
 * fail), and what dotenv would silently misread (check-local.ts): problems of the selected environment fail,
 * another environment's are notes, dotenv findings are warnings (errors with --strict).
 */
function reportLocal(file: SourcesFile, opts: CheckOptions, cwd: string): void {
  const selected = opts.env ?? parentEnv.SECRETRUN_ENV ?? file.data.default_environment;
  const found = localFindings(file, { processEnv: parentEnv, names: CLI_OPTION_NAMES, dotenv: opts.dotenv, cwd, selected });
  const problems = [...(opts.resolve ? [] : found.problems), ...(opts.strict ? found.warnings : [])];
  if (problems.length > 0) throw withSummary(problems, file.shown);
  if (!opts.resolve) for (const note of found.notes) info(note, opts.quiet);
  for (const w of found.warnings) warn(w.message, opts.quiet);
}

/** Each finding as `file:line:col: .env is readable by ...`, at the layer that reads it: warnings, or errors with --strict. */
function reportPermissions(found: PermissionFinding[], shown: string, opts: CheckOptions): void {
  const problems = found.map((p) => new ConfigError(permissionMessage(p), p.definedAt));
  if (opts.strict && problems.length > 0) throw withSummary(problems, shown);
  for (const p of problems) warn(p.message, opts.quiet);
}

/**
 * Without --resolve nothing is loaded, but file modes are local facts: look at the files of every environment's
 * layers (or the one named with -e) whose paths need no layer's value. A layer shared by every environment is
 * reported once.
 */
async function offlinePermissions(file: SourcesFile, opts: CheckOptions): Promise<PermissionFinding[]> {
  return eachPlan(file, opts, (plan) => offlinePermissionFindings(plan, parentEnv), (p) => `${p.definedAt ? positionText(p.definedAt) : p.layer}|${p.role ?? ''}|${p.shown}`);
}

/** What `find` reports for every environment (or the one named with -e), once for a layer every environment shares. */
async function eachPlan<T>(file: SourcesFile, { env, dotenv }: CheckOptions, find: (plan: EnvironmentPlan) => Promise<T[]>, idOf: (found: T) => string): Promise<T[]> {
  const names = env !== undefined ? [env] : file.data.environments ? Object.keys(file.data.environments) : ['default'];
  const seen = new Set<string>();
  const found: T[] = [];
  for (const name of names) {
    let plan;
    try {
      plan = selectEnvironment(file, { env: name, processEnv: parentEnv, names: CLI_OPTION_NAMES, dotenv, cwd: process.cwd() });
    } catch {
      continue; // reported above as a problem of the file
    }
    for (const p of await find(plan)) if (!seen.has(idOf(p)) && seen.add(idOf(p))) found.push(p);
  }
  return found;
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
 * Local `json` layers whose path is written literally: a key repeated within one object is reported where it
 * repeats (JSON.parse keeps the last one silently, so a run uses it; `check` tells the user). A file that is
 * missing, unreadable, too large or not UTF-8 is left to `check --resolve` and to the run.
 */
export function jsonDuplicateProblems(file: SourcesFile): ConfigError[] {
  const problems: ConfigError[] = [];
  const seen = new Set<string>();
  for (const { layers } of layerLists(file)) {
    for (const layer of layers) {
      if (!isMapping(layer) || layer.type !== 'json' || typeof layer.path !== 'string' || layer.path.includes('$')) continue;
      const abs = resolvePath(file.dir, layer.path);
      if (seen.has(abs)) continue;
      seen.add(abs);
      let text: string;
      try {
        // As the json layer reads it (size limit, UTF-8, BOM dropped), so the positions match what the run parses.
        text = readTextFile(abs, layer.path);
      } catch {
        continue;
      }
      const label = typeof layer.name === 'string' && layer.name ? layer.name : `json ${layer.path}`;
      for (const dup of jsonDuplicateKeys(text)) {
        const key = JSON.stringify(dup.key.length > 60 ? `${dup.key.slice(0, 60)}…` : dup.key);
        problems.push(new ConfigError(`duplicate key ${key} in layer "${label}" (the last one wins at run time; keep one)`, { file: layer.path, line: dup.line, col: dup.col }));
      }
    }
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

function selectionProblems(file: SourcesFile, env: string | undefined, processEnv: NodeJS.ProcessEnv): ConfigError[] {
  try {
    selectEnvironment(file, { env, processEnv, names: CLI_OPTION_NAMES });
    return [];
  } catch (err) {
    if (err instanceof ConfigError && err.exitCode === undefined) return [err];
    throw err;
  }
}

/**
 * Load every layer of the chosen environment. A failing layer does not stop the others (the pipeline's
 * `keepGoing`: each failure is recorded and the layer counts as empty), so one run reports every unreachable
 * layer, and those that fail only because an earlier one did (a token it should have provided); then `require`.
 */
async function resolveProblems(file: SourcesFile, opts: CheckOptions): Promise<{ failures: SecretrunError[]; permissions: PermissionFinding[]; loaded?: string }> {
  let resolved;
  try {
    resolved = await resolveEnvironment({ ...opts, quiet: true }, opts.env, file, { keepGoing: true });
  } catch (err) {
    if (err instanceof ConfigError && err.exitCode === undefined) return { failures: [err], permissions: [] };
    throw err;
  }
  const { plan, resolution, findings } = resolved;
  for (const message of findings.warnings) warn(message, opts.quiet);
  const failures = [...findings.failures];
  if (findings.missingRequired.length > 0) failures.push(new SecretrunError(missingRequiredMessage(plan, findings.missingRequired)));
  const where = `environment "${plan.name}": `;
  const required = plan.require.length > 0 ? `, all ${plan.require.length} required present` : '';
  const loaded = `${where}${plural(resolution.layers.length, 'layer')} loaded, ${plural(resolution.entries.size, 'key')}${required}`;
  return { failures, permissions: findings.permissions, loaded };
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
