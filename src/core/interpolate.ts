/**
 * `${NAME}` / `${NAME:-default}` interpolation (contract section 3), and `$VAR` for dotenv `expand: true`.
 *
 * Pure: the caller supplies the lookup function, so the same code serves the sources file (vars, earlier
 * layers, process env) and dotenv expansion (the file's own keys first). `$${` writes a literal `${`.
 * Command substitution `$(...)` is never interpreted: it is ordinary text.
 */
import { SecretrunError } from './errors.js';
import { envNameEnd } from './names.js';

/**
 * A template part. `op` is the operator between the name and its `fallback`: `:-` everywhere; in dotenv
 * expansion (`bare`) also `-` (same as `:-`, as dotenv-expand reads it), `:+` and `+` (the fallback when the
 * name is set and non-empty, else nothing).
 */
export type Part = { text: string } | { name: string; op?: Operator; fallback?: Part[]; column?: number };
type Operator = ':-' | '-' | ':+' | '+';

/**
 * Thrown for a malformed template or an unresolved name. The message holds a variable name or a column, never
 * text of the template: in a dotenv file with `expand: true` the template is a value, often a password.
 */
export class InterpolationError extends SecretrunError {
  static {
    this.prototype.name = 'InterpolationError';
  }
  readonly variable?: string;
  /** 1-based column in the template of the reference or the malformed text. */
  readonly column?: number;
  constructor(message: string, variable?: string, column?: number) {
    super(message);
    this.variable = variable;
    this.column = column;
  }
}

export interface ParseOptions {
  /**
   * dotenv expansion: also accept bare `$NAME`, `\$` as a literal `$` (bcrypt hashes), and the operators
   * `-`, `:+` and `+` as dotenv-expand reads them.
   */
  bare?: boolean;
}

export function parseTemplate(input: string, options: ParseOptions = {}): Part[] {
  const [parts, end] = parseParts(input, 0, false, options);
  if (end !== input.length) throw new InterpolationError(`unexpected "}" at column ${end + 1}`, undefined, end + 1);
  return parts;
}

/** Parse until the end of input, or (inside a default) until the matching `}`. Returns the parts and the stop offset. */
function parseParts(input: string, start: number, inDefault: boolean, options: ParseOptions): [Part[], number] {
  const parts: Part[] = [];
  let text = '';
  let i = start;
  while (i < input.length) {
    const ch = input[i];
    if (inDefault && ch === '}') break;
    if (ch === '\\' && options.bare && input[i + 1] === '$') {
      text += '$';
      i += 2;
      continue;
    }
    if (ch === '$' && input.startsWith('$${', i)) {
      text += '${';
      i += 3;
      continue;
    }
    if (ch === '$' && input[i + 1] === '{') {
      const nameEnd = envNameEnd(input, i + 2);
      if (nameEnd === i + 2) throw new InterpolationError(`invalid variable reference at column ${i + 1}: expected a name after "\${"`, undefined, i + 1);
      const name = input.slice(i + 2, nameEnd);
      let j = nameEnd;
      let fallback: Part[] | undefined;
      const op = operatorAt(input, j);
      if (op) {
        if (op !== ':-' && !options.bare) throw new InterpolationError(`unsupported operator "${op}" in \${${name}...} at column ${i + 1} (only \${NAME} and \${NAME:-default})`, undefined, i + 1);
        [fallback, j] = parseParts(input, j + op.length, true, options);
      }
      if (input[j] !== '}') {
        const found = j < input.length ? 'unsupported character' : 'end of text';
        throw new InterpolationError(`unterminated "\${" at column ${i + 1}: expected "}" or ":-", found ${found}`, undefined, i + 1);
      }
      if (text) parts.push({ text });
      text = '';
      parts.push(fallback ? { name, op, fallback, column: i + 1 } : { name, column: i + 1 });
      i = j + 1;
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
  if (text) parts.push({ text });
  return [parts, i];
}

function operatorAt(input: string, j: number): Operator | undefined {
  if (input.startsWith(':-', j)) return ':-';
  if (input.startsWith(':+', j)) return ':+';
  if (input[j] === '-') return '-';
  if (input[j] === '+') return '+';
  return undefined;
}

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
    const set = value !== undefined && value !== '';
    if (p.op === ':+' || p.op === '+') {
      if (set) out += render(p.fallback!, lookup, filled, base + out.length);
      continue;
    }
    // `:-` semantics, as in POSIX shells: the default also applies to an empty value.
    if (set) {
      filled?.push([base + out.length, base + out.length + value.length]);
      out += value;
    } else if (p.fallback) out += render(p.fallback, lookup, filled, base + out.length);
    else if (value === '') out += '';
    else throw new InterpolationError(`\${${p.name}} is not set (looked up in vars, earlier layers and the environment)`, p.name, p.column);
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
