/**
 * A small JSON Schema interpreter for the subset `schema.json` uses: type, properties, required,
 * additionalProperties, enum, const, items, minItems, minimum/maximum/exclusiveMinimum, pattern, local $ref,
 * and oneOf with an OpenAPI-style `discriminator` (how source layers are told apart by `type`).
 *
 * A full validator (ajv) costs tens of milliseconds to load and compile on every start; this one costs
 * nothing measurable and lets every message say what was expected, with "did you mean" suggestions.
 * It collects every problem, not only the first (`secretrun check` prints them all).
 */

export type Path = (string | number)[];

export interface SchemaIssue {
  path: Path;
  message: string;
  /** Point at the key itself rather than its value (unknown keys). */
  atKey?: boolean;
}

export interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  enum?: unknown[];
  const?: unknown;
  items?: Schema;
  minItems?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  pattern?: string;
  $ref?: string;
  oneOf?: Schema[];
  discriminator?: { propertyName: string };
  $defs?: Record<string, Schema>;
  description?: string;
}

export function validate(value: unknown, root: Schema): SchemaIssue[] {
  const issues: SchemaIssue[] = [];
  check(value, root, root, [], issues);
  return issues;
}

export function formatPath(path: Path): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out || '(top level)';
}

function deref(schema: Schema, root: Schema): Schema {
  let s = schema;
  while (s.$ref) {
    const name = s.$ref.replace(/^#\/\$defs\//, '');
    const target = root.$defs?.[name];
    if (!target) throw new Error(`schema: unresolved $ref ${s.$ref}`);
    s = { ...target, ...withoutRef(s) };
  }
  return s;
}

function withoutRef(s: Schema): Schema {
  const { $ref: _ref, description: _d, ...rest } = s;
  return rest;
}

export function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

const ARTICLE: Record<string, string> = {
  string: 'a string', number: 'a number', integer: 'an integer', boolean: 'a boolean (true or false)',
  object: 'a mapping', array: 'a list', null: 'null',
};

function typeMatches(v: unknown, t: string): boolean {
  const actual = typeOf(v);
  return actual === t || (t === 'number' && actual === 'integer');
}

function check(value: unknown, schemaIn: Schema, root: Schema, path: Path, issues: SchemaIssue[]): void {
  const schema = deref(schemaIn, root);
  if (schema.type) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => typeMatches(value, t))) {
      issues.push({ path, message: `expected ${types.map((t) => ARTICLE[t] ?? t).join(' or ')}, got ${ARTICLE[typeOf(value)] ?? typeOf(value)}` });
      return;
    }
  }
  if (schema.const !== undefined && value !== schema.const) {
    issues.push({ path, message: `must be ${JSON.stringify(schema.const)}` });
    return;
  }
  if (schema.enum && !schema.enum.includes(value)) {
    const shown = typeof value === 'string' ? ` "${value}"` : '';
    issues.push({ path, message: `unknown value${shown} (expected one of ${schema.enum.join(', ')})${suggest(value, schema.enum)}` });
    return;
  }
  if (typeof value === 'string' && schema.pattern && !new RegExp(schema.pattern).test(value)) {
    issues.push({ path, message: `"${value}" is not a valid environment variable name (letters, digits and _, not starting with a digit)` });
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) issues.push({ path, message: `must be at least ${schema.minimum}` });
    if (schema.maximum !== undefined && value > schema.maximum) issues.push({ path, message: `must be at most ${schema.maximum}` });
    if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) issues.push({ path, message: `must be greater than ${schema.exclusiveMinimum}` });
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) issues.push({ path, message: `must list at least ${schema.minItems} item${schema.minItems === 1 ? '' : 's'}` });
    if (schema.items) value.forEach((item, i) => check(item, schema.items!, root, [...path, i], issues));
  }
  if (schema.oneOf) {
    checkOneOf(value, schema, root, path, issues);
    return;
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) checkObject(value as Record<string, unknown>, schema, root, path, issues);
}

function checkObject(obj: Record<string, unknown>, schema: Schema, root: Schema, path: Path, issues: SchemaIssue[]): void {
  const props = schema.properties ?? {};
  for (const req of schema.required ?? []) {
    if (!(req in obj)) issues.push({ path, message: `missing required key "${req}"` });
  }
  for (const [key, v] of Object.entries(obj)) {
    if (key in props) check(v, props[key], root, [...path, key], issues);
    else if (schema.additionalProperties === false) {
      issues.push({ path: [...path, key], atKey: true, message: `unknown key "${key}"${suggest(key, Object.keys(props)) || ` (allowed: ${Object.keys(props).join(', ')})`}` });
    } else if (typeof schema.additionalProperties === 'object') check(v, schema.additionalProperties, root, [...path, key], issues);
  }
}

/** oneOf with a discriminator: pick the branch by the discriminating property, then validate against it alone. */
function checkOneOf(value: unknown, schema: Schema, root: Schema, path: Path, issues: SchemaIssue[]): void {
  const prop = schema.discriminator?.propertyName;
  if (!prop) throw new Error('schema: oneOf without discriminator is not supported');
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
  const tag = (value as Record<string, unknown>)[prop];
  const branches = schema.oneOf!.map((b) => deref(b, root));
  const names = branches.map((b) => b.properties?.[prop]?.const as string);
  if (tag === undefined) {
    issues.push({ path, message: `missing required key "${prop}" (one of ${names.join(', ')})` });
    return;
  }
  const index = names.indexOf(tag as string);
  if (index < 0) {
    const shown = typeof tag === 'string' ? `"${tag}"` : `(${ARTICLE[typeOf(tag)] ?? typeOf(tag)})`;
    issues.push({ path: [...path, prop], message: `unknown source ${prop} ${shown} (expected one of ${names.join(', ')})${suggest(tag, names)}` });
    return;
  }
  check(value, branches[index], root, path, issues);
}

/** ` (did you mean "x"?)` when a candidate is close enough, else ''. */
export function suggest(input: unknown, candidates: unknown[]): string {
  const best = closest(String(input), candidates.map(String));
  return best ? ` (did you mean "${best}"?)` : '';
}

export function closest(input: string, candidates: string[]): string | undefined {
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
  return bestDistance <= limit && bestDistance > 0 ? best : bestDistance === 0 ? best : undefined;
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
