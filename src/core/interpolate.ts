/**
 * `${NAME}` / `${NAME:-default}` interpolation (contract section 3), and `$VAR` for dotenv `expand: true`.
 *
 * Pure: the caller supplies the lookup function, so the same code serves the sources file (vars, earlier
 * layers, process env) and dotenv expansion (the file's own keys first). `$${` writes a literal `${`.
 * Command substitution `$(...)` is never interpreted: it is ordinary text.
 */
import { SecretrunError } from './errors.js';
import { envNameEnd } from './names.js';

export type Part = { text: string } | { name: string; fallback?: Part[] };

/** Thrown for a malformed template or an unresolved name. `name` is the variable, never a value. */
export class InterpolationError extends SecretrunError {
  static {
    this.prototype.name = 'InterpolationError';
  }
  readonly variable?: string;
  constructor(message: string, variable?: string) {
    super(message);
    this.variable = variable;
  }
}


export interface ParseOptions {
  /** Also accept bare `$NAME` (dotenv expansion). */
  bare?: boolean;
}

export function parseTemplate(input: string, options: ParseOptions = {}): Part[] {
  const [parts, end] = parseParts(input, 0, false, options);
  if (end !== input.length) throw new InterpolationError(`unexpected "}" at offset ${end}`);
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
    if (ch === '$' && input.startsWith('$${', i)) {
      text += '${';
      i += 3;
      continue;
    }
    if (ch === '$' && input[i + 1] === '{') {
      const nameEnd = envNameEnd(input, i + 2);
      if (nameEnd === i + 2) throw new InterpolationError(`invalid variable reference at offset ${i}: expected a name after "\${"`);
      const name = input.slice(i + 2, nameEnd);
      let j = nameEnd;
      let fallback: Part[] | undefined;
      if (input.startsWith(':-', j)) {
        [fallback, j] = parseParts(input, j + 2, true, options);
      }
      if (input[j] !== '}') throw new InterpolationError(`unterminated "\${${name}" at offset ${i}: expected "}"`);
      if (text) parts.push({ text });
      text = '';
      parts.push(fallback ? { name, fallback } : { name });
      i = j + 1;
      continue;
    }
    if (ch === '$' && options.bare) {
      const nameEnd = envNameEnd(input, i + 1);
      if (nameEnd > i + 1) {
        if (text) parts.push({ text });
        text = '';
        parts.push({ name: input.slice(i + 1, nameEnd) });
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
  return render(parseTemplate(input, options), lookup);
}

function render(parts: Part[], lookup: Lookup): string {
  let out = '';
  for (const p of parts) {
    if ('text' in p) {
      out += p.text;
      continue;
    }
    const value = lookup(p.name);
    // `:-` semantics, as in POSIX shells: the default also applies to an empty value.
    if (value !== undefined && value !== '') out += value;
    else if (p.fallback) out += render(p.fallback, lookup);
    else if (value === '') out += '';
    else throw new InterpolationError(`\${${p.name}} is not set (looked up in vars, earlier layers and the environment)`, p.name);
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
