/**
 * Content parsers shared by every source that reads text (files, HTTP bodies, command output):
 * dotenv, JSON and YAML, each turned into a flat map of strings.
 *
 * JSON/YAML rules (contract section 1): `select` picks a sub-object by dot path; strings stay as they are,
 * numbers and booleans become their JSON text, nested objects and arrays become compact JSON text unless
 * `flatten` gives a separator, and `null` values are omitted.
 */
import dotenv from 'dotenv';
import { SourceError } from '../core/errors.js';
import { parseSimpleYamlValue } from './simple-yaml.js';

export type ContentFormat = 'json' | 'dotenv' | 'yaml';

export interface ParseOptions {
  select?: string;
  flatten?: string;
  /** Where the text came from, for messages: a file path or a URL. */
  origin: string;
}

export function parseContent(text: string, format: ContentFormat, opts: ParseOptions): Promise<Record<string, string>> | Record<string, string> {
  if (format === 'dotenv') return parseDotenv(text, opts.origin);
  if (format === 'json') return structuredToEnv(parseJson(text, opts.origin), opts);
  return parseYaml(text, opts.origin).then((doc) => structuredToEnv(doc, opts));
}

export function parseDotenv(text: string, origin: string): Record<string, string> {
  if (text.includes('\0')) throw new SourceError(`${origin}: contains a NUL byte; environment values cannot hold NUL`);
  return ownMap(parseSimpleDotenv(text) ?? dotenv.parse(text));
}

/**
 * A fast path for the dotenv files most projects have, read exactly as `dotenv.parse` reads them; anything else
 * returns undefined and `dotenv.parse` reads it. Written for speed: `dotenv.parse` runs one large regex, a trim
 * and one to three replaces per line, which for a 3,000-line file is a noticeable part of `export`.
 *
 * Accepted: text without CR, U+2028 or U+2029, every line empty, a `#` comment, or `KEY=value` with a plain value
 * (PLAIN_DOTENV_CHAR), `KEY='value'` or `KEY="value"` with neither that quote nor a backslash
 * inside. Why the readings agree: dotenv scans with one multiline regex (`^\s*(export\s+)?KEY(=|:)VALUE\s*(#.*)?$`,
 * VALUE a quoted string or the rest of the line up to `#`). A match starting at a key line reads that key and
 * value: the key stops at `=`, a quoted value at its closing quote (nothing inside pairs with it), a plain one at
 * the end of the line, and the result is trimmed and unquoted exactly as written here. It may go on over empty
 * lines and one comment line (the trailing `\s*(#.*)?$`), which hold no key; empty and comment lines match
 * nothing on their own. So the scan meets every key line at its start, in order, and reads nothing else.
 * Without CR there is no line-ending rewrite, and without U+2028/9 no other line starts or ends.
 */
export function parseSimpleDotenv(text: string): Record<string, string> | undefined {
  if (DOTENV_UNUSUAL.test(text)) return undefined;
  const out: Record<string, string> = {};
  const line = SIMPLE_DOTENV_LINE;
  for (let start = 0; start < text.length; start = line.lastIndex) {
    // test, then slices by position: no match array per line.
    line.lastIndex = start;
    if (!line.test(text)) return undefined;
    const first = text.charCodeAt(start);
    if (first === 10 || first === 35) continue; // an empty line or a comment
    const eq = text.indexOf('=', start);
    const end = text.charCodeAt(line.lastIndex - 1) === 10 ? line.lastIndex - 1 : line.lastIndex;
    const quote = text.charCodeAt(eq + 1);
    out[text.slice(start, eq)] = quote === 39 || quote === 34 ? text.slice(eq + 2, end - 1) : text.slice(eq + 1, end);
  }
  return out;
}

/** A character of a dotenv key, as `dotenv.parse` reads keys. */
export const DOTENV_KEY_CHAR = '[\\w.-]';
/** A character of a value that needs no quotes: read as written by dotenv and by every other dotenv reader. */
export const PLAIN_DOTENV_CHAR = '[A-Za-z0-9_.,:/@%+=-]';

const DOTENV_UNUSUAL = /[\r\u2028\u2029]/;
/** One whole line (sticky): `KEY=plain`, `KEY='single'`, `KEY="double"`, a comment or nothing, then LF or the end. */
const SIMPLE_DOTENV_LINE = new RegExp(`(?:${DOTENV_KEY_CHAR}+=(?:${PLAIN_DOTENV_CHAR}+|'[^'\\\\\\n]*'|"[^"\\\\\\n]*")|#[^\\n]*|)(?:\\n|$)`, 'y');

/**
 * Maps built by these parsers and the built-in sources: plain objects of strings, fresh for each load and held
 * by nothing else. The core keeps such a map as the layer's result instead of copying it (resolve.ts).
 */
const ownMaps = new WeakSet<object>();

export function ownMap<T extends object>(map: T): T {
  ownMaps.add(map);
  return map;
}

export function isOwnMap(map: object): boolean {
  return ownMaps.has(map);
}

/** The object a stored value (an SSM parameter, a secret) holds as JSON text, or undefined: text that merely looks like JSON stays text. */
export function jsonObject(text: string): Record<string, unknown> | undefined {
  if (!text.trimStart().startsWith('{')) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function parseJson(text: string, origin: string): unknown {
  try {
    return JSON.parse(stripBom(text));
  } catch {
    throw new SourceError(`${origin}:${jsonErrorWhere(text)}`);
  }
}

/**
 * V8's JSON.parse messages quote part of the input (which may be a secret) and, on Node 20, often give no
 * position. So on failure we find the position ourselves with a small scanner and describe it in our own words.
 */
function jsonErrorWhere(text: string): string {
  const body = stripBom(text);
  const { offset, reason } = scanJson(body);
  const { line, col } = lineCol(body, offset);
  return `${line}:${col}: invalid JSON: ${reason}`;
}

/**
 * Recursive-descent JSON scanner that returns where and why the text stops being JSON. With `duplicates`, it
 * also collects every key that repeats within one object (JSON.parse silently keeps the last one).
 */
export function scanJson(text: string, duplicates?: { offset: number; key: string }[]): { offset: number; reason: string } {
  let i = 0;
  class Stop {
    constructor(readonly offset: number, readonly reason: string) {}
  }
  const fail = (reason: string): never => {
    throw new Stop(i, i >= text.length ? 'unexpected end of input' : reason);
  };
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  // What was found, by kind: JSON's own punctuation is shown, any other character only as its kind (the
  // text is a secrets file; not even one character of a value is quoted).
  const describe = () => {
    if (i >= text.length) return 'end of input';
    const c = text[i];
    if ('{}[]:,"'.includes(c)) return `"${c}"`;
    if (/[A-Za-z]/.test(c)) return 'a letter';
    if (/[0-9]/.test(c)) return 'a digit';
    if (c === "'") return 'a single quote (JSON strings use double quotes)';
    return /[\x20-\x7e]/.test(c) ? 'a punctuation character' : 'a non-ASCII or control character';
  };
  const literal = (word: string) => {
    if (text.startsWith(word, i)) i += word.length;
    else fail(`found ${describe()} where a JSON value was expected${/[A-Za-z]/.test(text[i] ?? '') ? ' (strings need double quotes; words are only true, false and null)' : ''}`);
  };
  const string = () => {
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text.charCodeAt(i) < 0x20) fail('control character in a string (escape it)');
      if (text[i] === '\\') {
        i++;
        if (text[i] === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail('invalid \\u escape');
          i += 5;
          continue;
        }
        if (!'"\\/bfnrt'.includes(text[i] ?? '')) fail('invalid escape in a string');
      }
      i++;
    }
    if (i >= text.length) fail('unterminated string');
    i++;
  };
  let depth = 0;
  const value = (): void => {
    ws();
    if (text[i] !== '{' && text[i] !== '[') return scalar();
    if (++depth > MAX_DEPTH) fail(`nested more than ${MAX_DEPTH} levels deep`);
    container();
    depth--;
  };
  const container = (): void => {
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      const seen = duplicates && new Set<string>();
      for (;;) {
        ws();
        if (text[i] !== '"') fail(`expected a key in double quotes, found ${describe()}`);
        const keyStart = i;
        string();
        if (seen) {
          const key = JSON.parse(text.slice(keyStart, i)) as string;
          if (seen.has(key)) duplicates!.push({ offset: keyStart, key });
          seen.add(key);
        }
        ws();
        if (text[i] !== ':') fail(`expected ":" after a key, found ${describe()}`);
        i++;
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') return void i++;
        fail(`expected "," or "}", found ${describe()}`);
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') return void i++;
        fail(`expected "," or "]", found ${describe()}`);
      }
    }
  };
  const scalar = (): void => {
    const c = text[i];
    if (c === '"') return string();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (m && m[0] !== '-' && m[0] !== '') return void (i += m[0].length);
    fail(`found ${describe()} where a JSON value was expected${/[A-Za-z]/.test(c ?? '') ? ' (strings need double quotes)' : ''}`);
  };
  try {
    value();
    ws();
    if (i < text.length) fail(`found ${describe()} after the end of the JSON value`);
    return { offset: i, reason: 'invalid JSON' };
  } catch (stop) {
    if (stop instanceof Stop) return { offset: stop.offset, reason: stop.reason };
    throw stop;
  }
}

/** Keys repeated within one object of a JSON document, with their positions (the later occurrences). */
export function jsonDuplicateKeys(text: string): { line: number; col: number; key: string }[] {
  const found: { offset: number; key: string }[] = [];
  const body = stripBom(text);
  scanJson(body, found);
  // One pass over the text for every position: 10,000 duplicates in a 1.6 MB file are not 10,000 scans of it.
  const position = lineColIndex(body);
  return found.map(({ offset, key }) => ({ ...position(offset), key }));
}

export function lineCol(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let last = -1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) { line++; last = i; }
  return { line, col: offset - last };
}

/**
 * `lineCol` for many offsets of one text: the line starts are found once, then each offset is a binary search
 * (linear in the text plus log per offset, where repeated `lineCol` calls are text length times offsets).
 */
export function lineColIndex(text: string): (offset: number) => { line: number; col: number } {
  const newlines: number[] = [];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) newlines.push(i);
  return (offset) => {
    const at = Math.min(offset, text.length);
    // How many newlines lie before `at`.
    let lo = 0;
    let hi = newlines.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (newlines[mid] < at) lo = mid + 1;
      else hi = mid;
    }
    return { line: lo + 1, col: offset - (lo > 0 ? newlines[lo - 1] : -1) };
  };
}

export interface YamlOptions {
  /** Extra tags, e.g. ansible's `!vault`. */
  customTags?: import('yaml').Tags;
  /** A tag that must resolve: if the yaml package only warns about it, that is an error with this message. */
  requiredTag?: { tag: string; message: string };
}

export async function parseYaml(text: string, origin: string, options: YamlOptions = {}): Promise<unknown> {
  // A plain data file (the common case) is read by the small subset parser; anything else by the yaml package.
  if (!options.customTags) {
    const fast = parseSimpleYamlValue(stripBom(text));
    if (fast) return fast.value;
  }
  const yaml = await import('yaml');
  const lineCounter = new yaml.LineCounter();
  // yaml's own uniqueKeys check scans the whole map for every key (quadratic: ~0.5 s for 3,000 keys); do it
  // with a Set below instead.
  const doc = yaml.parseDocument(stripBom(text), { ...YAML_QUIET, lineCounter, prettyErrors: false, uniqueKeys: false, customTags: options.customTags });
  const required = options.requiredTag;
  const misplaced = required && doc.warnings.find((w) => w.code === 'TAG_RESOLVE_FAILED' && w.message.includes(required.tag));
  const problem = doc.errors[0] ?? misplaced;
  const fail = (offset: number, reason: string): never => {
    const pos = lineCounter.linePos(offset);
    throw new SourceError(`${origin}:${pos.line}:${pos.col}: invalid YAML: ${reason}`);
  };
  if (problem) fail(problem.pos[0], problem === misplaced ? required!.message : yamlMessage(problem.code));
  const shape = yamlShapeProblem(yaml, doc, { duplicateKeys: true });
  if (shape) fail(shape.offset, shape.reason);
  return yamlToJs(doc, origin);
}

/**
 * Options for every `parseDocument`: the yaml package reports some problems (a list or map used as a key) with
 * `process.emitWarning`, which Node prints as two lines quoting the input; we find them ourselves instead.
 */
export const YAML_QUIET = { logLevel: 'error' } as const;

type YamlModule = typeof import('yaml');
type YamlDocument = import('yaml').Document.Parsed;

/**
 * What the yaml package accepts but secretrun cannot use, found on the syntax tree (never by converting it): an
 * alias inside the node it names (`only: &a [*a]`, a cycle that recursion over the value never leaves), a key that
 * is a list or a map (yaml would stringify it, quoting the input in a warning), and, with `duplicateKeys`, a key
 * repeated within one mapping (with a Set: yaml's own check is quadratic). The first one, with its offset.
 */
export function yamlShapeProblem(yaml: YamlModule, doc: YamlDocument, { duplicateKeys = false } = {}): { offset: number; reason: string } | undefined {
  let found: { offset: number; reason: string } | undefined;
  // A block mapping's range may start after its first key (yaml 2.9); the first key is where it is written.
  const at = (node: unknown): number => {
    let offset = Infinity;
    for (let n = node; n; n = yaml.isCollection(n) ? (yaml.isPair(n.items[0]) ? n.items[0].key : n.items[0]) : undefined) {
      offset = Math.min(offset, (n as { range?: number[] }).range?.[0] ?? Infinity);
    }
    return offset === Infinity ? 0 : offset;
  };
  const stop = (node: unknown, reason: string) => {
    found = { offset: at(node), reason };
    return yaml.visit.BREAK;
  };
  yaml.visit(doc, {
    Alias(_, alias, path) {
      const target = alias.resolve(doc);
      if (target && path.includes(target)) return stop(alias, 'an alias inside the node it refers to (a cycle)');
    },
    Map(_, map) {
      const seen = duplicateKeys ? new Set<unknown>() : undefined;
      for (const pair of map.items) {
        const key = yaml.isAlias(pair.key) ? pair.key.resolve(doc) : pair.key;
        if (yaml.isCollection(key)) return stop(pair.key, 'a key that is a list or a mapping (keys are strings)');
        if (!seen) continue;
        const value = yaml.isScalar(key) ? key.value : key;
        if (seen.has(value)) return stop(pair.key, yamlMessage('DUPLICATE_KEY'));
        seen.add(value);
      }
    },
  });
  return found;
}

/** At most this many alias expansions: a "billion laughs" document is refused instead of exhausting memory. */
export const MAX_YAML_ALIASES = 100;

/** `doc.toJS()` with the alias cap turned into our own error (the yaml package throws a bare ReferenceError). */
export function yamlToJs(doc: { toJS(opts: { maxAliasCount: number }): unknown }, origin: string): unknown {
  try {
    return doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (err) {
    if (err instanceof ReferenceError && /alias/i.test(err.message)) {
      throw new SourceError(`${origin}: invalid YAML: too many aliases (at most ${MAX_YAML_ALIASES} alias uses; this looks like an alias bomb)`);
    }
    throw err;
  }
}

/**
 * Our own words for each of the yaml package's error codes. Its prose is never shown: it quotes the input
 * (`Invalid escape sequence \\Uhunter2...`), and the input is a secrets file. Code + position is all we pass on.
 */
const YAML_CODE_TEXT: Record<string, string> = {
  ALIAS_PROPS: 'an alias cannot have an anchor or a tag',
  BAD_ALIAS: 'invalid alias',
  BAD_DIRECTIVE: 'invalid directive',
  BAD_DQ_ESCAPE: 'invalid escape sequence in a double-quoted string',
  BAD_INDENT: 'bad indentation',
  BAD_PROP_ORDER: 'anchor and tag in the wrong place',
  BAD_SCALAR_START: 'a plain value cannot start with this character (quote the value)',
  BLOCK_AS_IMPLICIT_KEY: 'a block value cannot be a key',
  BLOCK_IN_FLOW: 'a block value inside a flow collection ([...] or {...})',
  DUPLICATE_KEY: 'duplicate key (each key may appear once in a mapping)',
  IMPOSSIBLE: 'malformed document',
  KEY_OVER_1024_CHARS: 'a key longer than 1024 characters',
  MISSING_CHAR: 'a character is missing here (a "-" before a list item, a closing quote, bracket or brace?)',
  MULTILINE_IMPLICIT_KEY: 'a key spans several lines (a missing ":" or an unclosed quote above?)',
  MULTIPLE_ANCHORS: 'more than one anchor on a node',
  MULTIPLE_DOCS: 'more than one document (a "---" line); expected one',
  MULTIPLE_TAGS: 'more than one tag on a node',
  NON_STRING_KEY: 'a key that is not a string',
  RESOURCE_EXHAUSTION: 'the document is too large or nested too deep',
  TAB_AS_INDENT: 'tab used for indentation (YAML indents with spaces)',
  TAG_RESOLVE_FAILED: 'unknown or misplaced tag',
  UNEXPECTED_TOKEN: 'unexpected text (a missing ":", quote or indentation?)',
  BAD_COLLECTION_TYPE: 'a collection of the wrong type for its tag',
};

/** The message for a yaml error code: never the package's own text, which quotes the input. */
export function yamlMessage(code: string): string {
  return YAML_CODE_TEXT[code] ?? `syntax error (${code || 'unknown'})`;
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** Deeper data is refused: nothing legitimate nests this far, and recursion on it would overflow the stack. */
export const MAX_DEPTH = 100;

/**
 * Apply `select` and flatten a parsed JSON/YAML value into env-style string pairs. `doc` is consumed: callers pass
 * a document they just parsed, and a flat one becomes the result itself.
 */
export function structuredToEnv(doc: unknown, opts: ParseOptions): Record<string, string> {
  if (!opts.select && stringifyFlatInPlace(doc)) return ownMap(doc as Record<string, string>);
  if (depthExceeds(doc, MAX_DEPTH)) throw new SourceError(`${opts.origin}: nested more than ${MAX_DEPTH} levels deep`);
  let node = doc;
  if (opts.select) {
    for (const part of opts.select.split('.')) {
      if (node === null || typeof node !== 'object' || Array.isArray(node) || !(part in node)) {
        throw new SourceError(`${opts.origin}: select "${opts.select}": no key "${part}"`);
      }
      node = (node as Record<string, unknown>)[part];
    }
  }
  if (node === null || typeof node !== 'object' || Array.isArray(node)) {
    const what = opts.select ? `select "${opts.select}" points at ${typeName(node)}` : `the top level is ${typeName(node)}`;
    throw new SourceError(`${opts.origin}: ${what}; expected an object of key/value pairs`);
  }
  const out: Record<string, string> = {};
  flattenInto(out, '', node as Record<string, unknown>, opts.flatten, opts.origin);
  return ownMap(out);
}

/**
 * The usual data file, an object of scalars, turned into the result in place, in one pass: with nothing nested
 * there is no depth to check, nothing to flatten and no key collision, and a 10,000-key copy is saved. Returns
 * false at the first value that is not a scalar (an object, array or Date), or if `doc` is no object, for the
 * general path, which reads the scalars already converted exactly as it would have converted them.
 */
function stringifyFlatInPlace(doc: unknown): boolean {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return false;
  const obj = doc as Record<string, unknown>;
  const keys = Object.keys(obj);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    const v = obj[key];
    if (typeof v === 'object' && v !== null) return false;
    if (typeof v === 'function' || typeof v === 'symbol') return false;
    // What `out[key] = ...` would do: an own `__proto__` key (JSON.parse makes one) sets nothing.
    if (v === null || v === undefined || key === '__proto__') delete obj[key];
    else if (typeof v !== 'string') obj[key] = String(v);
  }
  return true;
}

/** Iterative, so the check itself cannot overflow the stack. */
function depthExceeds(root: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[root, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth >= max) return true;
    for (const child of Object.values(node)) if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
  return false;
}

function flattenInto(out: Record<string, string>, prefix: string, obj: Record<string, unknown>, sep: string | undefined, origin: string): void {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix + k;
    if (v === null || v === undefined) continue;
    if (Object.hasOwn(out, key)) throw new SourceError(`${origin}: two entries become the key ${key} with flatten "${sep}"`);
    if (typeof v === 'string') out[key] = v;
    else if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') out[key] = String(v);
    else if (v instanceof Date) out[key] = v.toISOString();
    else if (sep !== undefined && typeof v === 'object' && !Array.isArray(v)) flattenInto(out, key + sep, v as Record<string, unknown>, sep, origin);
    else out[key] = JSON.stringify(v);
  }
}
