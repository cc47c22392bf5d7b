/**
 * One small typed option reader, driven by the source descriptors (src/sources/descriptor.ts): it checks the
 * sources file (every problem, each with its path, for `secretrun check`) and a layer's options before its source
 * runs (`readOptions`), with messages taken from the option specs. It replaces a JSON Schema interpreter: the
 * schema (schema.json, for editors) is generated from the same specs (./schema.ts), never read at run time.
 * It costs nothing measurable on start-up (no schema to load, compile or walk).
 */
import { SourceError } from './errors.js';
import { ENV_NAME_PATTERN } from './names.js';

export type Path = (string | number)[];

export function formatPath(path: Path): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out || '(top level)';
}

// ---- options ------------------------------------------------------------------------------------------------

interface OptionBase {
  /** One sentence for editors (schema.json) and docs. */
  description: string;
  /** The layer is invalid without it. */
  required?: boolean;
  /** The value is, or may hold, a credential (see CredentialSpec). */
  credential?: CredentialSpec;
  /**
   * Where (or how) the layer sends credentials secretrun finds itself (a cloud credential chain's token): such a
   * value filled from an earlier layer's keys is an error naming the option and that layer (contract, "Where found
   * credentials go"). Checked by `defineSource` before `load` runs.
   */
  destination?: boolean;
}

/**
 * When an option's value is a credential, and what to call it. The descriptor is the one place that says so:
 * the transport rule (a credential never goes over plain http:// beyond loopback; `credentialCarried` in
 * src/sources/descriptor.ts) reads it, and a value that is `always` a credential is marked secret before the
 * source runs.
 */
export interface CredentialSpec {
  /**
   * `always`: the value is a credential (a token, a password; for a map, every entry). `filled`: the parts that
   * `${...}` filled in are (a header, a request body). `url`: the URL's userinfo or query, where `${...}` filled
   * part of them.
   */
  when: 'always' | 'filled' | 'url';
  /** Its name in messages (`the Doppler token`, `the request body`); for a map, the noun before an entry's name (`header`). */
  is: string;
  /** Of a map: entries that are credentials even when written literally (matched case-insensitively), e.g. `Authorization`. */
  literalKeys?: readonly string[];
}

export interface StringOption extends OptionBase {
  type: 'string';
  /** Applied before interpolation, so a template default (`${DOPPLER_TOKEN}`) takes part in the dependency graph. */
  default?: string;
  /** An empty string is refused (after interpolation too). */
  nonEmpty?: boolean;
  /** An http:// or https:// URL: offline `check` reports a literal value (or one `vars` fill) with another scheme. */
  httpUrl?: boolean;
  /** A regular expression the value must match, and what a matching value is, for the message. */
  pattern?: { regex: string; is: string };
  /** Numbers and booleans are accepted too, and taken as their text (`PORT: 8080` in `vars`). */
  scalars?: boolean;
}
export interface BooleanOption extends OptionBase {
  type: 'boolean';
  default?: boolean;
}
export interface NumberOption extends OptionBase {
  type: 'number' | 'integer';
  default?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  /** What the number means, for messages: "seconds per attempt". */
  is?: string;
}
export interface EnumOption<V extends string = string> extends OptionBase {
  type: 'enum';
  values: readonly V[];
  default?: V;
}
export interface ListOption extends OptionBase {
  type: 'list';
  items: StringOption;
  minItems?: number;
}
export interface MapOption extends OptionBase {
  type: 'map';
  values: StringOption | EnumOption;
}

export type OptionSpec = StringOption | BooleanOption | NumberOption | EnumOption | ListOption | MapOption;
export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/** The TypeScript type of an option's value as a source receives it. */
type ValueOf<S> = S extends { type: 'string' }
  ? string
  : S extends { type: 'boolean' }
    ? boolean
    : S extends { type: 'number' | 'integer' }
      ? number
      : S extends { type: 'enum'; values: readonly (infer V)[] }
        ? V
        : S extends { type: 'list' }
          ? string[]
          : S extends { type: 'map'; values: { type: 'enum'; values: readonly (infer V)[] } }
            ? Record<string, V>
            : S extends { type: 'map' }
              ? Record<string, string>
              : never;

/** The options a source's `read` gives it: an option with a default or marked required is always present. */
export type OptionsOf<O extends OptionSpecs> = {
  -readonly [K in keyof O]: O[K] extends { default: unknown } | { required: true } ? ValueOf<O[K]> : ValueOf<O[K]> | undefined;
};

// ---- the options every layer accepts, defined once ----------------------------------------------------------

const KEY_LIST: StringOption = { type: 'string', description: 'A key name or a `*` glob.' };

/** The keys every layer accepts besides `type`; the core handles them, a source never needs to read them. */
export const COMMON_OPTIONS = {
  name: { type: 'string', description: 'Label used in errors, `ls` and `diff` (default: derived from type and path/url).' },
  optional: { type: 'boolean', description: 'A missing file, missing parameter or HTTP 404 gives an empty layer instead of an error.' },
  only: { type: 'list', items: KEY_LIST, description: 'Keep only these keys (names or `*` globs), matched before `prefix` is added.' },
  prefix: { type: 'string', description: 'String prepended to every key of the layer.' },
  rename: {
    type: 'map',
    values: { type: 'string', nonEmpty: true, description: 'The new name of the key.' },
    description: 'Rename keys, `{ FROM: TO }`, after `only` and before `case` and `prefix`; a `FROM` the layer lacks is ignored, and two keys given one name is an error.',
  },
  case: {
    type: 'enum',
    values: ['upper', 'lower'],
    description: 'Convert the key names to upper or lower case, after `rename` and before `prefix`; two keys that become one name is an error.',
  },
  decode: {
    type: 'map',
    values: { type: 'enum', values: ['base64'], description: 'The encoding of the matching values.' },
    description: 'Decode values of matching keys (names or `*` globs): `{ KEY_OR_GLOB: base64 }`.',
  },
  decode_prefixed: { type: 'boolean', description: 'Decode values written as `base64:<data>`.' },
  public: { type: 'list', items: KEY_LIST, description: 'Keys (names or globs) that are not secret: never masked by `run --mask`.' },
  references: { type: 'boolean', description: '`false`: values of this layer are never read as references (`ref+awsssm://...`); default true.' },
} as const satisfies OptionSpecs;

export const COMMON_OPTION_NAMES: readonly string[] = ['type', ...Object.keys(COMMON_OPTIONS)];

/** What the reader needs of a source descriptor. */
export interface OptionShape {
  /** The type's own options; the common ones are implied. */
  readonly options: OptionSpecs;
  /**
   * Groups of options of which exactly one (`exactlyOne`) or at most one may be given; `why` replaces the generic
   * message when both are given (say what each option is for).
   */
  readonly exclusive?: readonly { keys: readonly string[]; exactlyOne?: boolean; why?: string }[];
  /** Keys beyond `options` are accepted and passed through (a user module's own options). */
  readonly openOptions?: boolean;
  /**
   * Problems the option specs can't express (the fields of a nested setting such as vault's `auth:`), found
   * without I/O; paths relative to the layer. `written`: see `checkOption`.
   */
  moreIssues?(layer: Readonly<Record<string, unknown>>, written: boolean): OptionIssue[];
}

// ---- reading options ----------------------------------------------------------------------------------------

export interface OptionIssue {
  /** The option (and item or key below it) the problem is at. */
  path: Path;
  message: string;
  /** Point at the key itself rather than its value (unknown keys). */
  atKey?: boolean;
}

const ARTICLE: Record<string, string> = {
  string: 'a string', number: 'a number', integer: 'an integer', boolean: 'a boolean (true or false)',
  object: 'a mapping', array: 'a list', null: 'null',
};

export function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function article(t: string): string {
  return ARTICLE[t] ?? t;
}

const compiled = new Map<string, RegExp>();
function regex(source: string): RegExp {
  let r = compiled.get(source);
  if (!r) compiled.set(source, (r = new RegExp(source)));
  return r;
}

/**
 * Check one option value against its spec, pushing every problem. `written` is true for the sources file as
 * written: a string holding `${` is not checked beyond its type then, since only interpolation gives its value.
 */
function checkOption(value: unknown, spec: OptionSpec, path: Path, issues: OptionIssue[], written = false): void {
  const got = typeOf(value);
  const wrongType = (expected: string) => issues.push({ path, message: `expected ${expected}, got ${article(got)}` });
  switch (spec.type) {
    case 'string': {
      if (spec.scalars && (typeof value === 'number' || typeof value === 'boolean')) return;
      if (typeof value !== 'string') return void wrongType(spec.scalars ? 'a string, a number or a boolean' : 'a string');
      if (written && value.includes('${')) return;
      if (spec.nonEmpty && value === '') issues.push({ path, message: 'must not be empty' });
      else if (spec.pattern && !regex(spec.pattern.regex).test(value)) issues.push({ path, message: `${spec.credential ? 'the value' : showWord(value)} is not ${spec.pattern.is}` });
      return;
    }
    case 'boolean':
      if (typeof value !== 'boolean') wrongType('a boolean (true or false)');
      return;
    case 'number':
    case 'integer': {
      if (typeof value !== 'number' || !Number.isFinite(value) || (spec.type === 'integer' && !Number.isInteger(value))) {
        if (got === 'number' && spec.type === 'integer') issues.push({ path, message: `expected an integer${spec.is ? ` (${spec.is})` : ''}, got a fraction` });
        else wrongType(`${article(spec.type)}${spec.is ? ` (${spec.is})` : ''}`);
        return;
      }
      if (spec.minimum !== undefined && value < spec.minimum) issues.push({ path, message: `must be at least ${spec.minimum}` });
      if (spec.maximum !== undefined && value > spec.maximum) issues.push({ path, message: `must be at most ${spec.maximum}` });
      if (spec.exclusiveMinimum !== undefined && value <= spec.exclusiveMinimum) issues.push({ path, message: `must be greater than ${spec.exclusiveMinimum}` });
      return;
    }
    case 'enum':
      if (!(spec.values as readonly unknown[]).includes(value)) {
        const shown = typeof value === 'string' ? ` ${showWord(value)}` : '';
        issues.push({ path, message: `unknown value${shown} (expected one of ${spec.values.join(', ')})${typeof value === 'string' ? suggest(value, spec.values) : ''}` });
      }
      return;
    case 'list':
      if (!Array.isArray(value)) return void wrongType('a list');
      if (spec.minItems !== undefined && value.length < spec.minItems) issues.push({ path, message: `must list at least ${spec.minItems} item${spec.minItems === 1 ? '' : 's'}` });
      value.forEach((item, i) => checkOption(item, spec.items, [...path, i], issues, written));
      return;
    case 'map':
      if (got !== 'object') return void wrongType('a mapping');
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) checkOption(v, spec.values, [...path, k], issues, written);
      return;
  }
}

/** A word from the file in a message: quoted, capped, control characters escaped. Only used for non-secret options. */
function showWord(value: string): string {
  return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
}

/**
 * Every problem with a layer's options against its descriptor: unknown keys, missing required ones, bad values,
 * exclusive groups. Paths are relative to the layer. `written`: see `checkOption`.
 */
export function layerIssues(d: OptionShape, layer: Record<string, unknown>, written = false): OptionIssue[] {
  const issues: OptionIssue[] = [];
  for (const [key, value] of Object.entries(layer)) {
    if (key === 'type') continue;
    const spec = (COMMON_OPTIONS as OptionSpecs)[key] ?? d.options[key];
    if (spec) checkOption(value, spec, [key], issues, written);
    else if (!d.openOptions) {
      const allowed = [...COMMON_OPTION_NAMES, ...Object.keys(d.options)];
      issues.push({ path: [key], atKey: true, message: `unknown key "${key}"${suggest(key, allowed) || ` (allowed: ${allowed.join(', ')})`}` });
    }
  }
  for (const [key, spec] of Object.entries(d.options)) {
    if (spec.required && layer[key] === undefined) issues.push({ path: [], message: `missing required key "${key}"` });
  }
  for (const group of d.exclusive ?? []) {
    const given = group.keys.filter((k) => layer[k] !== undefined);
    const list = group.keys.map((k) => `"${k}"`).join(group.keys.length === 2 ? ' or ' : ', ');
    if (given.length > 1) issues.push({ path: [given[1]], atKey: true, message: group.why ?? `give ${group.exactlyOne ? 'exactly' : 'at most'} one of ${list}, not both` });
    else if (given.length === 0 && group.exactlyOne) issues.push({ path: [], message: `missing required key: give one of ${list}` });
  }
  if (d.moreIssues) issues.push(...d.moreIssues(layer, written));
  return issues;
}

/**
 * A layer's options as its source receives them: checked (the first problem throws a `SourceError` naming the
 * option) and with the defaults of absent options filled in.
 */
export function readOptions(d: OptionShape, raw: Record<string, unknown>): Record<string, unknown> {
  const problems = layerIssues(d, raw);
  if (problems.length > 0) {
    const { path, message } = problems[0];
    throw new SourceError(path.length > 0 ? `\`${formatPath(path)}\`: ${message}` : message);
  }
  return withDefaults(d, raw, false);
}

/**
 * The options with the defaults of absent ones filled in. A template default (`${DOPPLER_TOKEN}`) is applied
 * before interpolation, by the resolver (`templates`); after it, an absent option stays absent.
 */
export function withDefaults(d: Pick<OptionShape, 'options'>, options: Record<string, unknown>, templates = true): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const [key, spec] of Object.entries(d.options)) {
    const value = 'default' in spec ? spec.default : undefined;
    if (value === undefined || options[key] !== undefined) continue;
    if (!templates && typeof value === 'string' && value.includes('${')) continue;
    (out ??= { ...options })[key] = value;
  }
  return out ?? options;
}

// ---- "did you mean" ----------------------------------------------------------------------------------------------

/** ` (did you mean "x"?)` when a candidate is close enough, else ''. */
export function suggest(input: unknown, candidates: readonly unknown[]): string {
  const best = closest(String(input), candidates.map(String));
  return best ? ` (did you mean "${best}"?)` : '';
}

export function closest(input: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = levenshtein(input.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  const limit = Math.max(1, Math.floor(input.length / 3));
  return bestDistance <= limit ? best : undefined;
}

/** Edit distance counting a swap of two neighbours as one edit (`prdo` -> `prod`), as people mistype. */
function levenshtein(a: string, b: string): number {
  let before = Array.from({ length: b.length + 1 }, () => 0);
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      let d = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2] + 1);
      row.push(d);
    }
    [before, prev] = [prev, row];
  }
  return prev[b.length];
}

// ---- the sources file ---------------------------------------------------------------------------------------------

const ENV_NAME: StringOption = {
  type: 'string',
  description: 'An environment variable name.',
  pattern: { regex: ENV_NAME_PATTERN, is: 'a valid environment variable name (letters, digits and _, not starting with a digit)' },
};

/** The keys of the sources file besides `sources` and `environments`, and of an environment besides `sources`. */
export const TOP_LEVEL_OPTIONS = {
  default_environment: { type: 'string', description: 'Environment used when neither --env nor SECRETRUN_ENV is given.' },
  require: { type: 'list', items: ENV_NAME, description: 'Keys that must be present after resolution.' },
  references: { type: 'boolean', description: '`false`: values of the layers this file defines are never read as references (`ref+awsssm://...`); default true.' },
  as_file: { type: 'list', items: ENV_NAME, description: "Keys the child gets as a file: the variable holds the file's absolute path, the file holds the value (`run`; also `--as-file KEY`)." },
  file_kind: { type: 'enum', values: ['pipe', 'tmpfs'], description: '`as_file` and `--mount` files: named pipes served by secretrun (pipe, the default), or regular files on a RAM-backed filesystem (tmpfs) for programs that refuse a pipe.' },
} as const satisfies OptionSpecs;

export const ENVIRONMENT_OPTIONS = {
  vars: {
    type: 'map',
    values: { type: 'string', scalars: true, description: 'The value, interpolated; a number or boolean is taken as its text.' },
    description: 'Names visible to `${...}` in this environment only. Numbers and booleans are taken as their text (8080, true).',
  },
  require: TOP_LEVEL_OPTIONS.require,
  as_file: TOP_LEVEL_OPTIONS.as_file,
  file_kind: TOP_LEVEL_OPTIONS.file_kind,
} as const satisfies OptionSpecs;

export const FILE_DESCRIPTIONS = {
  title: 'secretrun sources file',
  sources: 'Layers shared by every environment, in order; later layers win.',
  environments: 'Named environments.',
  environmentSources: 'Layers appended after the shared layers.',
};

/** A source type as the file checker sees it. */
export interface TypedShape extends OptionShape {
  readonly type: string;
}

/** Every problem of the sources file (already parsed) against the source types, in document order. */
export function sourcesFileIssues(data: unknown, types: readonly TypedShape[]): OptionIssue[] {
  const issues: OptionIssue[] = [];
  if (!isMapping(data)) return [{ path: [], message: `expected a mapping, got ${article(typeOf(data))}` }];
  for (const [key, value] of Object.entries(data)) {
    if (key === 'sources') layerListIssues(value, ['sources'], types, issues);
    else if (key === 'environments') {
      if (!isMapping(value)) issues.push({ path: [key], message: `expected a mapping, got ${article(typeOf(value))}` });
      else for (const [name, env] of Object.entries(value)) environmentIssues(env, [key, name], types, issues);
    } else mappingKeyIssues(key, value, TOP_LEVEL_OPTIONS, ['sources', 'environments'], [], issues);
  }
  return issues;
}

function environmentIssues(env: unknown, path: Path, types: readonly TypedShape[], issues: OptionIssue[]): void {
  if (!isMapping(env)) return void issues.push({ path, message: `expected a mapping, got ${article(typeOf(env))}` });
  for (const [key, value] of Object.entries(env)) {
    if (key === 'sources') layerListIssues(value, [...path, key], types, issues);
    else mappingKeyIssues(key, value, ENVIRONMENT_OPTIONS, ['sources'], path, issues);
  }
}

/** One key of a fixed mapping: checked by its spec, or unknown. */
function mappingKeyIssues(key: string, value: unknown, specs: OptionSpecs, others: string[], base: Path, issues: OptionIssue[]): void {
  const spec = specs[key];
  if (spec) return checkOption(value, spec, [...base, key], issues);
  const allowed = [...Object.keys(specs), ...others];
  issues.push({ path: [...base, key], atKey: true, message: `unknown key "${key}"${suggest(key, allowed) || ` (allowed: ${allowed.join(', ')})`}` });
}

function layerListIssues(list: unknown, path: Path, types: readonly TypedShape[], issues: OptionIssue[]): void {
  if (!Array.isArray(list)) return void issues.push({ path, message: `expected a list, got ${article(typeOf(list))}` });
  list.forEach((layer, i) => {
    const at = [...path, i];
    if (!isMapping(layer)) return void issues.push({ path: at, message: `expected a mapping, got ${article(typeOf(layer))}` });
    const names = types.map((t) => t.type);
    const tag = layer.type;
    if (tag === undefined) return void issues.push({ path: at, message: `missing required key "type" (one of ${names.join(', ')})` });
    const d = types.find((t) => t.type === tag);
    if (!d) {
      const shown = typeof tag === 'string' ? JSON.stringify(tag) : `(${article(typeOf(tag))})`;
      return void issues.push({ path: [...at, 'type'], message: `unknown source type ${shown} (expected one of ${names.join(', ')})${suggest(tag, names)}` });
    }
    for (const issue of layerIssues(d, layer, true)) issues.push({ ...issue, path: [...at, ...issue.path] });
  });
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
