/**
 * Find, read, parse and validate the sources file, and select an environment.
 * Every problem carries `file:line:col`. Pure apart from reading the file.
 */
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { ConfigError, ConfigErrors, SourceError, UsageError, type Location } from './errors.js';
import { readTextFile, statOrUndefined } from './files.js';
import { YAML_QUIET, yamlMessage, yamlShapeProblem, yamlToJs } from '../formats/parse.js';
import { parseSimpleYaml } from '../formats/simple-yaml.js';
import { formatPath, sourcesFileIssues, suggest, type Path } from './validate.js';
import { interpolate, InterpolationError, lookupIn } from './interpolate.js';
import type { SourceDescriptor } from '../sources/descriptor.js';
import type { SourceContext, SourceOptions } from '../sources/types.js';

export const SOURCES_FILE_NAMES = ['secretrun.yaml', 'secretrun.yml'];
const MAX_SOURCES_FILE_BYTES = 1024 * 1024;

/** The source types a sources file may use (src/sources/index.ts `SOURCES`, or a test's own list). */
export type SourceTypes = readonly SourceDescriptor[];

export interface RawLayer {
  type: string;
  [option: string]: unknown;
}

export interface RawConfig {
  default_environment?: string;
  sources?: RawLayer[];
  environments?: Record<string, { vars?: Record<string, string | number | boolean>; sources?: RawLayer[]; require?: string[]; as_file?: string[]; file_kind?: FileKindName }>;
  require?: string[];
  /** `false`: no value of the file's layers is a reference (contract section 3b). */
  references?: boolean;
  as_file?: string[];
  file_kind?: FileKindName;
}

/** `file_kind`: how `run` serves secrets as files. */
export type FileKindName = 'pipe' | 'tmpfs';

export interface SourcesFile {
  /** Absolute path; '' when there is no sources file (only layers given on the command line). */
  path: string;
  /** Path as shown in messages (relative to the cwd when below it). */
  shown: string;
  /** Directory that relative paths resolve from. */
  dir: string;
  data: RawConfig;
  /** The source types the file was checked against; its layers are loaded by these. */
  sources: SourceTypes;
  locate(path: Path, atKey?: boolean): Location;
}

export interface LayerSpec {
  index: number;
  type: string;
  /** The descriptor of `type`. */
  source: SourceDescriptor;
  /** Options as written (not yet interpolated), including the common keys. */
  options: Record<string, unknown>;
  /** Where the layer is written in the sources file; none for a layer given on the command line. */
  location?: Location;
  locate(sub: Path): Location | undefined;
  /** Directory its relative paths resolve from, when not the sources file's (command-line layers: the cwd). */
  dir?: string;
}

/** A dotenv layer given outside the sources file (`--dotenv PATH`, `--dotenv-optional PATH`). */
export interface ExtraDotenv {
  path: string;
  /** A missing file gives an empty layer, as `optional: true` does. */
  optional?: boolean;
}

export interface EnvironmentPlan {
  name: string;
  /** `vars` of the environment, interpolated, plus SECRETRUN_ENV. */
  vars: Record<string, string>;
  /** The values `${...}` filled into `vars` from the process environment: the only part of `vars` that is not the file's own text. */
  varsFilled?: string[];
  layers: LayerSpec[];
  require: string[];
  /** `as_file` keys, file-wide then the environment's (`run`). */
  asFile: string[];
  /** `file_kind`: the environment's, else the file's. */
  fileKind?: FileKindName;
  file: SourcesFile;
  /** True when the file has no `environments` (the implicit `default`). */
  implicit: boolean;
}

/**
 * How messages name the caller's options: the CLI's flags, or the library's option names. The core knows
 * neither; a library user should never be told to "pass -c".
 */
export interface OptionNames {
  /** e.g. `-c` or `the "config" option` */
  config: string;
  /** e.g. `pass -c FILE` */
  configHint: string;
  /** e.g. `pass -e NAME` */
  envHint: string;
  /** e.g. `-e` or `the "env" option` */
  env: string;
  /** e.g. `--dotenv` or `the "dotenv" option` */
  dotenv: string;
  /** e.g. `--override` or `the "override" option` */
  override: string;
}

const LIBRARY_OPTION_NAMES: OptionNames = {
  config: 'the "config" option',
  configHint: 'pass the "config" option',
  envHint: 'pass the "env" option',
  env: 'the "env" option',
  dotenv: 'the "dotenv" option',
  override: 'the "override" option',
};

export interface FindOptions {
  config?: string;
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
  names?: OptionNames;
}

/** `-c`, else SECRETRUN_CONFIG, else the nearest secretrun.yaml in the cwd or a parent directory. */
export function findSourcesFile(options: FindOptions): string {
  const found = locateSourcesFile(options);
  if (found) return found;
  const { cwd, names = LIBRARY_OPTION_NAMES } = options;
  throw new ConfigError(`no secretrun.yaml in ${cwd} or any parent directory (create one with "secretrun init", or ${names.configHint})`);
}

/** As `findSourcesFile`, but undefined instead of an error when no file is named and none is found. */
export function locateSourcesFile({ config, cwd, env, names = LIBRARY_OPTION_NAMES }: FindOptions): string | undefined {
  const explicit = config ?? env.SECRETRUN_CONFIG;
  if (explicit) {
    const p = resolve(cwd, explicit);
    const how = config ? names.config : 'SECRETRUN_CONFIG';
    const kind = fileKind(p);
    if (kind === 'missing') throw new ConfigError(`sources file ${explicit} (from ${how}) not found`);
    if (kind === 'directory') throw new ConfigError(`sources file ${explicit} (from ${how}) is a directory, expected a file`);
    return p;
  }
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    for (const name of SOURCES_FILE_NAMES) {
      const candidate = join(dir, name);
      if (fileKind(candidate) === 'file') return candidate;
    }
    if (dirname(dir) === dir) break;
  }
  return undefined;
}

/**
 * Standing in for a sources file when there is none and the layers all come from the command line
 * (`secretrun --dotenv .env -- cmd`): no layers of its own, no `require`, the implicit `default` environment.
 */
export function noSourcesFile(cwd: string, sources: SourceTypes): SourcesFile {
  return { path: '', shown: '(no sources file)', dir: cwd, data: {}, sources, locate: () => ({ file: '(no sources file)', line: 1, col: 1 }) };
}

/** One stat call, and no exception for the usual miss while walking up the directories. */
function fileKind(p: string): 'missing' | 'directory' | 'file' {
  // Undefined also for ENOTDIR or EACCES on a parent: no readable file here.
  const stats = statOrUndefined(p);
  return !stats ? 'missing' : stats.isDirectory() ? 'directory' : 'file';
}

export function showPath(p: string, cwd: string): string {
  const rel = relative(cwd, p);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : p;
}

/** Read, parse and check the sources file against the source types. Throws `ConfigErrors` with every problem found. */
export async function loadSourcesFile(path: string, cwd: string, sources: SourceTypes): Promise<SourcesFile> {
  const { file, problems } = await parseSourcesFile(path, cwd, sources);
  if (problems.length > 0) throw new ConfigErrors(problems);
  return file!;
}

/** `loadSourcesFile` that returns the problems instead of throwing (`check` reports them all). */
export async function parseSourcesFile(path: string, cwd: string, sources: SourceTypes): Promise<{ file?: SourcesFile; problems: ConfigError[] }> {
  const shown = showPath(path, cwd);
  let text: string;
  try {
    text = readTextFile(path, shown, MAX_SOURCES_FILE_BYTES);
  } catch (err) {
    if (err instanceof SourceError) return { problems: [new ConfigError(err.message)] };
    throw err;
  }
  // Most sources files are a small YAML subset: parse those without loading the yaml package (start-up time);
  // anything unusual, including every malformed file, goes to the real parser and its messages.
  const parsed = parseFast(text, shown) ?? (await parseWithYaml(text, shown));
  if ('problems' in parsed) return { problems: parsed.problems };
  const { data, locate } = parsed;
  const at = (line: number, col: number): Location => ({ file: shown, line, col });
  if (data === null || data === undefined) {
    return { problems: [new ConfigError('the sources file is empty: expected a mapping with "sources" (run "secretrun init" for a starter file)', at(1, 1))] };
  }
  const problems = sourcesFileIssues(data, sources).map((issue) => new ConfigError(`${formatPath(issue.path)}: ${issue.message}`, locate(issue.path, issue.atKey)));
  const raw = data as RawConfig;
  problems.push(...semanticProblems(raw, locate));
  const file: SourcesFile = { path, shown, dir: dirname(path), data: raw, sources, locate };
  return { file, problems };
}

type Parsed = { data: unknown; locate: SourcesFile['locate'] } | { problems: ConfigError[] };

function parseFast(text: string, shown: string): Parsed | undefined {
  const fast = parseSimpleYaml(text);
  if (!fast) return undefined;
  // The nearest existing node, as the yaml-based locate does; an item of a list has no key of its own.
  const locate = (p: Path, atKey = false): Location => {
    for (let n = p.length; n >= 0; n--) {
      const sub = p.slice(0, n);
      const pos = (atKey && n === p.length ? fast.position(sub, true) : undefined) ?? fast.position(sub);
      if (pos) return { file: shown, ...pos };
    }
    return { file: shown, line: 1, col: 1 };
  };
  return { data: fast.value, locate };
}

async function parseWithYaml(text: string, shown: string): Promise<Parsed> {
  const yaml = await import('yaml');
  const { isMap, isSeq, isPair, isScalar } = yaml;
  const lineCounter = new yaml.LineCounter();
  const doc = yaml.parseDocument(text, { ...YAML_QUIET, lineCounter, uniqueKeys: false, prettyErrors: false, strict: true });
  const at = (offset: number): Location => ({ file: shown, ...lineCounter.linePos(offset) });
  if (text.includes('\0')) return { problems: [new ConfigError('contains a NUL byte', at(text.indexOf('\0')))] };
  if (doc.errors.length > 0) {
    // The first syntax error only: the parser's later ones are mostly consequences of it (one broken quote gives
    // three messages), and a failure is one line.
    const first = doc.errors[0];
    const problems = [new ConfigError(`invalid YAML: ${yamlMessage(first.code)}`, at(first.pos[0]))];
    return { problems };
  }
  // Before converting: a self-referencing alias would make every walk over the value recurse for ever. Duplicate
  // keys are found here too, with a Set (yaml's uniqueKeys compares each key with all before it).
  const shape = yamlShapeProblem(yaml, doc, { duplicateKeys: true });
  if (shape) return { problems: [new ConfigError(`invalid YAML: ${shape.reason}`, at(shape.offset))] };
  let data: unknown;
  try {
    data = yamlToJs(doc, shown);
  } catch (err) {
    if (err instanceof SourceError) return { problems: [new ConfigError(err.message.slice(shown.length + 2), at(0))] };
    throw err;
  }

  const locate = (p: Path, atKey = false): Location => {
    let node: unknown = doc.contents;
    let offset = 0;
    for (let i = 0; i < p.length; i++) {
      const seg = p[i];
      if (isMap(node)) {
        const pair = node.items.find((it) => isPair(it) && isScalar(it.key) && String(it.key.value) === String(seg));
        if (!pair) break;
        const keyNode = pair.key as { range?: [number, number, number] };
        offset = keyNode.range?.[0] ?? offset;
        if (i === p.length - 1 && atKey) return at(offset);
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        node = node.items[seg];
      } else break;
      const range = (node as { range?: [number, number, number] } | null)?.range;
      if (range) offset = range[0];
    }
    const range = (node as { range?: [number, number, number] } | null)?.range;
    return at(range ? range[0] : offset);
  };

  return { data, locate };
}

/** Checks across keys of the file. */
function semanticProblems(data: RawConfig, locate: SourcesFile['locate']): ConfigError[] {
  const problems: ConfigError[] = [];
  const envNames = data.environments && typeof data.environments === 'object' ? Object.keys(data.environments) : [];
  const envs = data.environments;
  const plainObject = envs !== null && typeof envs === 'object' && !Array.isArray(envs);
  if (typeof data.default_environment === 'string' && plainObject && !envNames.includes(data.default_environment)) {
    problems.push(new ConfigError(`default_environment: "${data.default_environment}" is not defined (defined: ${envNames.join(', ') || 'none'})`, locate(['default_environment'])));
  }
  return problems;
}

/**
 * An environment's `vars`, interpolated in order from the earlier vars (and SECRETRUN_ENV) and the process
 * environment. Every var that cannot be resolved is a problem (`check` reports them all; a run stops at the first).
 */
export function environmentVars(
  file: SourcesFile,
  name: string,
  processEnv: Readonly<Record<string, string | undefined>>,
  { unresolvedOnly = false } = {},
): { vars: Record<string, string>; problems: ConfigError[]; filled: string[] } {
  // Null prototype: a var named `__proto__` or `constructor` is an own key like any other (interpolate.ts `lookupIn`).
  const vars: Record<string, string> = Object.assign(Object.create(null), { SECRETRUN_ENV: name });
  const problems: ConfigError[] = [];
  const filled: string[] = [];
  const fromEnv = (n: string) => {
    const value = lookupIn(processEnv)(n);
    if (value !== undefined) filled.push(value);
    return value;
  };
  for (const [k, raw] of Object.entries(file.data.environments?.[name]?.vars ?? {})) {
    // `PORT: 8080` and `DEBUG: true` mean their text, as numbers and booleans do in json and yaml layers.
    const v = typeof raw === 'number' || typeof raw === 'boolean' ? String(raw) : raw;
    if (typeof v !== 'string') continue;
    try {
      vars[k] = interpolate(v, (n) => lookupIn(vars)(n) ?? fromEnv(n));
    } catch (err) {
      if (!(err instanceof InterpolationError)) throw err;
      if (unresolvedOnly && err.variable === undefined) continue;
      problems.push(new ConfigError(`environments.${name}.vars.${k}: ${err.message.replace('vars, earlier layers and', 'earlier vars and')}`, file.locate(['environments', name, 'vars', k])));
    }
  }
  return { vars, problems, filled };
}

export interface SelectOptions {
  env?: string;
  processEnv: Readonly<Record<string, string | undefined>>;
  names?: OptionNames;
  /** Dotenv layers appended after the file's own, in order, resolved from `cwd`. */
  dotenv?: readonly ExtraDotenv[];
  /** With no sources file: the `dotenv` files win over the process environment (see `dotenvPrecedence`). */
  override?: boolean;
  cwd?: string;
  /** Where `env` came from, for messages (default: `names.env`); `diff` names its arguments. */
  envFrom?: string;
}

/**
 * `override` is meaningful only where secretrun adds the `env` layer itself: `dotenv` files and no sources file.
 * Anywhere else it is a usage error saying why (`sourcesFile`: the file found, or undefined before looking).
 */
export function overrideProblem(override: boolean | undefined, dotenv: readonly ExtraDotenv[] | undefined, sourcesFile: string | undefined, names: OptionNames = LIBRARY_OPTION_NAMES): UsageError | undefined {
  if (!override) return undefined;
  if (!dotenv?.length) return new UsageError(`${names.override} needs ${names.dotenv} and no sources file (it lets the dotenv files win over the process environment)`);
  if (sourcesFile !== undefined) {
    return new UsageError(`${names.override} only applies without a sources file, and ${sourcesFile} is used: there, ${names.dotenv} layers already come after all of its layers (its env layer included)`);
  }
  return undefined;
}

/**
 * With no sources file, the `dotenv` files are followed by an `env` layer limited to their keys, so a variable
 * already set in the process environment (even to '') wins, as with `dotenv run` and `node --env-file`; `ls`
 * shows that layer shadowing the file. The layer is the registry's own `env` source, waiting for the earlier
 * layers and keeping only the names they set.
 */
function shellWinsLayer(file: SourcesFile, index: number, cwd: string): LayerSpec | undefined {
  const env = file.sources.find((d) => d.type === 'env');
  if (!env) return undefined;
  const source: SourceDescriptor = {
    ...env,
    usesEarlierKeys: true,
    async load(options: SourceOptions, context: SourceContext) {
      const all = await env.load(options, context);
      const kept: Record<string, string> = {};
      for (const key of Object.keys(context.keys)) if (Object.hasOwn(all, key)) kept[key] = all[key];
      return kept;
    },
  };
  return { index, type: 'env', source, options: { type: 'env' }, locate: () => undefined, dir: cwd };
}

/** Pick the environment (`-e`, SECRETRUN_ENV, default_environment) and lay out its layers in order. */
export function selectEnvironment(file: SourcesFile, { env, processEnv, names = LIBRARY_OPTION_NAMES, dotenv = [], override, cwd = file.dir, envFrom }: SelectOptions): EnvironmentPlan {
  const data = file.data;
  const misused = overrideProblem(override, dotenv, file.path ? file.shown : undefined, names);
  if (misused) throw misused;
  const defined = data.environments ? Object.keys(data.environments) : undefined;
  const requested = env ?? processEnv.SECRETRUN_ENV ?? data.default_environment;
  // A name from the command line or SECRETRUN_ENV that the file lacks is the caller's mistake (exit 2); one from
  // default_environment is the file's, located there.
  const from = env !== undefined ? (envFrom ?? names.env) : processEnv.SECRETRUN_ENV !== undefined ? 'SECRETRUN_ENV' : undefined;
  const unknown = (detail: string) =>
    from !== undefined ? new ConfigError(`unknown environment "${requested}" given by ${from}${detail}`, undefined, { exitCode: 2 }) : new ConfigError(`default_environment: "${requested}"${detail}`, file.locate(['default_environment']));
  const listing = (names: string[]) => (names.length ? names.join(', ') : 'none');
  let name: string;
  if (!defined) {
    if (requested !== undefined && requested !== 'default') {
      const where = file.path ? `${file.shown} defines no environments` : 'there is no sources file';
      throw unknown(`${suggest(requested, ['default'])}: ${where} (only the implicit "default")`);
    }
    name = 'default';
  } else {
    if (requested === undefined) throw new ConfigError(`no environment selected: ${names.envHint}, set SECRETRUN_ENV or default_environment (defined: ${listing(defined)})`);
    if (!defined.includes(requested)) throw unknown(`${suggest(requested, defined)} (defined: ${listing(defined)})`);
    name = requested;
  }
  const envDef = data.environments?.[name] ?? {};
  const { vars, problems, filled: varsFilled } = environmentVars(file, name, processEnv);
  if (problems.length > 0) throw problems[0];
  const layers: LayerSpec[] = [];
  const add = (list: RawLayer[] | undefined, base: Path) => {
    (list ?? []).forEach((options, i) => {
      const path = [...base, i];
      const source = file.sources.find((d) => d.type === options.type);
      if (!source) throw new ConfigError(`unknown source type "${options.type}"`, file.locate([...path, 'type']));
      layers.push({
        index: layers.length,
        type: options.type,
        source,
        options,
        location: file.locate(path),
        locate: (sub: Path) => file.locate([...path, ...sub]),
      });
    });
  };
  add(data.sources, ['sources']);
  add(envDef.sources, ['environments', name, 'sources']);
  const dotenvSource = file.sources.find((d) => d.type === 'dotenv');
  for (const extra of dotenv) {
    if (!dotenvSource) throw new ConfigError('dotenv files were given, but the "dotenv" source type is not available');
    // A path typed on the command line is taken literally: the shell has already expanded what it meant to.
    const options = { type: 'dotenv', path: extra.path.replaceAll('${', '$${'), ...(extra.optional ? { optional: true } : {}) };
    layers.push({ index: layers.length, type: 'dotenv', source: dotenvSource, options, locate: () => undefined, dir: cwd });
  }
  if (!file.path && dotenv.length > 0 && !override) {
    const shellWins = shellWinsLayer(file, layers.length, cwd);
    if (shellWins) layers.push(shellWins);
  }
  const require = [...new Set([...(data.require ?? []), ...(envDef.require ?? [])])];
  const asFile = [...new Set([...(data.as_file ?? []), ...(envDef.as_file ?? [])])];
  return { name, vars, varsFilled, layers, require, asFile, fileKind: envDef.file_kind ?? data.file_kind, file, implicit: !defined };
}
