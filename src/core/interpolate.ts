/**
 * `${NAME}` / `${NAME:-default}` interpolation (contract section 3), and dotenv `expand: true` (contract section 1).
 *
 * Pure: the caller supplies the lookup function, so the same code serves the sources file (vars, earlier
 * layers, process env) and dotenv expansion (the file's own keys first). Every caller builds its lookup with
 * `lookupIn`, the one rule for where a name is found: own properties only, so an unset `constructor` or
 * `__proto__` is unset, never `Object.prototype`'s member.
 *
 * Two dialects:
 * - the sources file: `${NAME}`, `${NAME:-default}`; `$${` writes a literal `${`; any other `$` is text;
 * - dotenv files (`bare`), as `sh` and dotenv-expand 1000.0.0 read them: also `$NAME`, `${NAME-default}`,
 *   `${NAME:+alt}`, `${NAME+alt}`; `\$` is a literal `$`; `$$` is two dollars (so `$${A}` is `$` and A's value,
 *   as dotenv-expand gives it). A colon tests "set and non-empty", no colon tests "set".
 * Command substitution `$(...)` is never interpreted: it is ordinary text.
 */
import { SecretrunError } from './errors.js';
import { envNameEnd } from './names.js';

/** A template part: text, or a reference with the operator between its name and its `fallback`. */
export type Part = { text: string } | { name: string; op?: Operator; fallback?: Part[]; column?: number };
type Operator = ':-' | '-' | ':+' | '+';

/**
 * What is wrong, as a code: a message is built from it and a column, never from the template's text (in a dotenv
 * file the template is a value, often a password).
 * - `unset`: a name without a default that no map holds;
 * - `no-name`: `${` not followed by a variable name;
 * - `dotted-name`: a name followed by `.` (`${POSTGRESQL.BASE.USER}`): names are letters, digits and `_`;
 * - `unsupported-operator`: a shell operator secretrun does not implement (`:=`, `:?`, `#`, `%`, ...) or, in the
 *   sources file, one of dotenv's;
 * - `unexpected-character`: something else where `}` or an operator belongs;
 * - `unterminated`: the text ends before the `}` that closes a `${`.
 */
export type InterpolationCode = 'unset' | 'no-name' | 'dotted-name' | 'unsupported-operator' | 'unexpected-character' | 'unterminated';

/** The forms each dialect accepts, for messages. */
export const SOURCES_FILE_FORMS = '${NAME} and ${NAME:-default}; $${ for a literal ${';
export const DOTENV_FORMS = '${NAME}, $NAME, ${NAME:-default}, ${NAME-default}, ${NAME:+alt}, ${NAME+alt}; \\$ for a literal $';

/**
 * Thrown for a malformed template or an unresolved name. The message holds a variable name or a column, never
 * text of the template (and a dotenv file shows neither: it builds its own message from `code` and `column`).
 */
export class InterpolationError extends SecretrunError {
  static {
    this.prototype.name = 'InterpolationError';
  }
  readonly code: InterpolationCode;
  /** The unset name (`code` `unset`). */
  readonly variable?: string;
  /** 1-based column in the template of the `${` or `$` concerned. */
  readonly column?: number;
  /** The column of what was found there, for `unexpected-character`, `dotted-name` and `unsupported-operator`. */
  readonly foundAt?: number;
  /** The unsupported operator, one of `UNSUPPORTED_OPERATORS` (our own text, not the template's). */
  readonly operator?: string;
  constructor(message: string, code: InterpolationCode, at: { variable?: string; column?: number; foundAt?: number; operator?: string } = {}) {
    super(message);
    this.code = code;
    this.variable = at.variable;
    this.column = at.column;
    this.foundAt = at.foundAt;
    this.operator = at.operator;
  }
}

export interface ParseOptions {
  /** dotenv expansion: `$NAME`, `\$`, the operators `-`, `:+` and `+`, and `$$` as two dollars (see above). */
  bare?: boolean;
}

export function parseTemplate(input: string, options: ParseOptions = {}): Part[] {
  return parseParts(input, 0, undefined, options)[0];
}

/**
 * Parse until the end of input, or (inside a default, `opened` the column of its `${`) until the matching `}`.
 * Returns the parts and the stop offset.
 */
function parseParts(input: string, start: number, opened: number | undefined, options: ParseOptions): [Part[], number] {
  const parts: Part[] = [];
  let text = '';
  let i = start;
  while (i < input.length) {
    const ch = input[i];
    if (opened !== undefined && ch === '}') break;
    if (ch === '\\' && options.bare && input[i + 1] === '$') {
      text += '$';
      i += 2;
      continue;
    }
    if (ch === '$' && !options.bare && input.startsWith('$${', i)) {
      text += '${';
      i += 3;
      continue;
    }
    if (ch === '$' && input[i + 1] === '{') {
      const [part, next] = parseBraced(input, i, options);
      if (text) parts.push({ text });
      text = '';
      parts.push(part);
      i = next;
      continue;
    }
    if (ch === '$' && options.bare) {
      const nameEnd = envNameEnd(input, i + 1);
      if (nameEnd > i + 1) {
        if (text) parts.push({ text });
        text = '';
        parts.push({ name: input.slice(i + 1, nameEnd), column: i + 1 });
        i = nameEnd;
        continue;
      }
    }
    text += ch;
    i++;
  }
  if (opened !== undefined && i >= input.length) throw unterminated(opened, options);
  if (text) parts.push({ text });
  return [parts, i];
}

/** `${...}` starting at offset `i`: the part and the offset after its `}`. */
function parseBraced(input: string, i: number, options: ParseOptions): [Part, number] {
  const column = i + 1;
  const nameEnd = envNameEnd(input, i + 2);
  if (nameEnd === i + 2) {
    const found = i + 2 >= input.length ? 'the end of the text' : input[i + 2] === '}' ? '"}"' : 'a character that cannot start a name';
    throw new InterpolationError(`invalid variable reference at column ${column}: expected a name after "\${", found ${found} (${forms(options)})`, 'no-name', { column, foundAt: i + 3 });
  }
  const name = input.slice(i + 2, nameEnd);
  const shown = options.bare ? '' : ` in \${${name}...}`;
  let j = nameEnd;
  if (input[j] === '.' && envNameEnd(input, j + 1) > j + 1) {
    throw new InterpolationError(`a dotted name${shown} at column ${column}: variable names are letters, digits and _ (${forms(options)})`, 'dotted-name', { column, foundAt: j + 1 });
  }
  // No `}` anywhere after the name: a `${` left open (`${STAGE/app`), whatever follows the name.
  if (input.indexOf('}', j) === -1) throw unterminated(column, options);
  const op = operatorAt(input, j);
  let fallback: Part[] | undefined;
  if (op && (options.bare || op === ':-')) {
    [fallback, j] = parseParts(input, j + op.length, column, options);
  } else {
    const unsupported = op ?? UNSUPPORTED_OPERATORS.find((o) => input.startsWith(o, j));
    if (unsupported) {
      throw new InterpolationError(`unsupported operator "${unsupported}"${shown} at column ${column} (${forms(options)})`, 'unsupported-operator', { column, foundAt: j + 1, operator: unsupported });
    }
  }
  if (j >= input.length) throw unterminated(column, options);
  if (input[j] !== '}') {
    throw new InterpolationError(`unexpected character at column ${j + 1} in the "\${" at column ${column}: expected "}" or an operator (${forms(options)})`, 'unexpected-character', { column, foundAt: j + 1 });
  }
  return [fallback ? { name, op, fallback, column } : { name, column }, j + 1];
}

function unterminated(column: number, options: ParseOptions): InterpolationError {
  const hint = options.bare ? '; write \\$ for a literal $' : '; write $${ for a literal ${';
  return new InterpolationError(`unterminated "\${" at column ${column}: the text ends before its "}"${hint}`, 'unterminated', { column });
}

function forms(options: ParseOptions): string {
  return `accepted: ${options.bare ? DOTENV_FORMS : SOURCES_FILE_FORMS}`;
}

function operatorAt(input: string, j: number): Operator | undefined {
  if (input.startsWith(':-', j)) return ':-';
  if (input.startsWith(':+', j)) return ':+';
  if (input[j] === '-') return '-';
  if (input[j] === '+') return '+';
  return undefined;
}

/** Shell parameter operators that are not implemented, longest first (`:=` assigns, `:?` fails, `#` `%` trim, ...). */
const UNSUPPORTED_OPERATORS = [':=', ':?', '##', '%%', '//', '^^', ',,', '=', '?', '#', '%', '/', '^', ',', '@', ':'];

/** Every name a template refers to, including names inside defaults. */
export function references(input: string, options: ParseOptions = {}): string[] {
  const out = new Set<string>();
  const walk = (parts: Part[]) => {
    for (const p of parts) {
      if ('name' in p) {
        out.add(p.name);
        if (p.fallback) walk(p.fallback);
      }
    }
  };
  walk(parseTemplate(input, options));
  return [...out];
}

export type Lookup = (name: string) => string | undefined;

/** A map `${...}` reads: a plain record (its own properties only) or a `Map`. */
export type LookupMap = Readonly<Record<string, string | undefined>> | ReadonlyMap<string, string>;

/** `name`'s value in `map`, from its own properties only: `constructor` or `__proto__` never reach a prototype. */
export function ownValue(map: LookupMap, name: string): string | undefined {
  if (map instanceof Map) return map.get(name);
  return Object.hasOwn(map, name) ? (map as Readonly<Record<string, string | undefined>>)[name] : undefined;
}

/**
 * The one lookup rule for `${...}`, everywhere it is read (the sources file, `vars`, dotenv expansion, labels,
 * watch mode): the first map, in the order given, that holds `name` as its own property.
 */
export function lookupIn(...maps: readonly LookupMap[]): Lookup {
  return (name) => {
    for (let i = 0; i < maps.length; i++) {
      const value = ownValue(maps[i], name);
      if (value !== undefined) return value;
    }
    return undefined;
  };
}

/** Interpolate a template. An unresolved name without a default throws `InterpolationError` naming it. */
export function interpolate(input: string, lookup: Lookup, options: ParseOptions = {}): string {
  if (!input.includes('$')) return input;
  return render(parseTemplate(input, options), lookup, undefined);
}

/** The interpolated text and where in it `${...}` filled something in: `[start, end)` ranges of the result. */
export interface Tracked {
  text: string;
  filled: [number, number][];
}

/** `interpolate`, also reporting which characters of the result came from a lookup (not from the template). */
export function interpolateTracked(input: string, lookup: Lookup, options: ParseOptions = {}): Tracked {
  if (!input.includes('$')) return { text: input, filled: [] };
  const filled: [number, number][] = [];
  return { text: render(parseTemplate(input, options), lookup, filled), filled };
}

function render(parts: Part[], lookup: Lookup, filled: [number, number][] | undefined, base = 0): string {
  let out = '';
  for (const p of parts) {
    if ('text' in p) {
      out += p.text;
      continue;
    }
    const value = lookup(p.name);
    // As in sh: with a colon the test is "set and non-empty", without one "set".
    const chosen = p.op === ':-' || p.op === ':+' ? value !== undefined && value !== '' : value !== undefined;
    if (p.op === ':+' || p.op === '+') {
      if (chosen) out += render(p.fallback!, lookup, filled, base + out.length);
    } else if (chosen) {
      if (value) filled?.push([base + out.length, base + out.length + value.length]);
      out += value;
    } else if (p.fallback) out += render(p.fallback, lookup, filled, base + out.length);
    else throw new InterpolationError(`\${${p.name}} is not set (looked up in vars, earlier layers and the environment)`, 'unset', { variable: p.name, column: p.column });
  }
  return out;
}

/** Apply `fn` to every string inside a JSON-like value (objects, arrays), returning a new value. */
export function mapStrings(value: unknown, fn: (s: string, path: (string | number)[]) => string, path: (string | number)[] = []): unknown {
  if (typeof value === 'string') return fn(value, path);
  if (Array.isArray(value)) return value.map((v, i) => mapStrings(v, fn, [...path, i]));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapStrings(v, fn, [...path, k])]));
  }
  return value;
}
