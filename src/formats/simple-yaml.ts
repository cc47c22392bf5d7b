/**
 * A fast path for the small YAML subset that sources files are almost always written in.
 *
 * Why: start-up is measured against a bare `node` spawn, and loading the `yaml` package for a 40-line
 * secretrun.yaml costs a noticeable part of it. This parser handles block mappings and sequences, one-line
 * plain/quoted scalars, one-line flow collections of scalars and comments, and returns exactly what
 * `parseDocument(text).toJS()` returns, with the same node positions.
 *
 * It is deliberately timid: ANYTHING outside the subset (tabs, `\r`, anchors, tags, block scalars, multi-line
 * scalars or flow, odd numbers like `0x1F`, duplicate keys, anything yaml would report as an error...) makes it
 * return `undefined`, and the caller falls back to the real `yaml` package, which also produces the error
 * messages. Being wrong here would silently change configuration, so when in doubt it declines.
 */

export interface SimpleYaml {
  value: unknown;
  /** Position (1-based line, col) of the node at `path` (['sources', 0, 'path']); with atKey, of its key. Undefined if no such node. */
  position(path: (string | number)[], atKey?: boolean): { line: number; col: number } | undefined;
}

type Pos = { line: number; col: number };
interface Node {
  value: unknown;
  pos: Pos;
  entries?: Map<string, { keyPos: Pos; node: Node }>;
  items?: Node[];
}
/** A line holding content; `indent` is where its node starts (moved past `- ` for a compact `- key: v`). */
interface Line {
  no: number;
  indent: number;
  text: string;
}

class NotSimple extends Error {}
const decline = (): never => {
  throw new NotSimple();
};

/** Control characters, NEL, Unicode line separators, BOM and non-characters: rare, and yaml treats some specially. */
const UNUSUAL_CHAR = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]/;
// Regex or character test: V8 compiles each regex twice in every new process (bytecode, then native code on its
// second use), about 50 µs, which a 10-line sources file notices; a character loop is slower for the thousands
// of lines of a data file. So the test run on every key is a regex, and the rarer per-value checks are loops.
/** A plain key at `start`: where it ends, or `start` if none starts there. */
const PLAIN_KEY = /[A-Za-z0-9_$][A-Za-z0-9_.$/-]*/y;
function plainKeyEnd(text: string, start: number): number {
  PLAIN_KEY.lastIndex = start;
  return PLAIN_KEY.test(text) ? PLAIN_KEY.lastIndex : start;
}
/** Characters that give a scalar's first character a meaning we do not handle: one of these, or `-` then a space, `,`, `]`, `}` or the end. */
const INDICATORS = '&*!|>@`%?:,]}#';
function startsWithIndicator(text: string, start: number): boolean {
  const c = text[start];
  if (INDICATORS.includes(c)) return true;
  if (c !== '-') return false;
  const next = text[start + 1];
  return next === undefined || next === ' ' || next === ',' || next === ']' || next === '}';
}
const ESCAPES: Record<string, string> = { '\\': '\\', '"': '"', '/': '/', n: '\n', t: '\t', r: '\r' };

export function parseSimpleYaml(text: string): SimpleYaml | undefined {
  const root = parseRoot(text, true);
  return root && { value: root.value, position: (path, atKey) => positionOf(root, path, atKey ?? false) };
}

/**
 * The same parse (same value, same declines) for a data file, whose value is all that is used: block mappings
 * record no key positions, which saves a map entry and two objects per line of a 10,000-line file.
 */
export function parseSimpleYamlValue(text: string): { value: unknown } | undefined {
  const root = parseRoot(text, false);
  return root && { value: root.value };
}

function parseRoot(text: string, positions: boolean): Node | undefined {
  if (UNUSUAL_CHAR.test(text)) return undefined;
  try {
    const lines = contentLines(text);
    if (lines.length === 0) return undefined;
    const parser = new BlockParser(lines, positions);
    const root = parser.block();
    return parser.done() ? root : undefined;
  } catch (err) {
    if (err instanceof NotSimple) return undefined;
    throw err;
  }
}

function positionOf(root: Node, path: (string | number)[], atKey: boolean): Pos | undefined {
  let node = root;
  let keyPos: Pos | undefined;
  for (const seg of path) {
    const entry = node.entries?.get(String(seg));
    const item = typeof seg === 'number' ? node.items?.[seg] : undefined;
    if (entry) [node, keyPos] = [entry.node, entry.keyPos];
    else if (item) [node, keyPos] = [item, undefined];
    else return undefined;
  }
  return atKey ? keyPos : node.pos;
}

/** Lines with content: blank and comment-only lines dropped; directives and document markers declined. */
function contentLines(text: string): Line[] {
  const lines: Line[] = [];
  const all = text.split('\n');
  for (let n = 0; n < all.length; n++) {
    const line = all[n];
    const c = line.charCodeAt(0);
    if (c === 37 /* % */ || ((c === 45 || c === 46) && (line.startsWith('---') || line.startsWith('...')))) decline();
    const indent = skipSpaces(line, 0);
    if (indent < line.length && line[indent] !== '#') lines.push({ no: n + 1, indent, text: line });
  }
  return lines;
}

const isSeqItem = (line: Line) => line.text[line.indent] === '-' && (line.text.length === line.indent + 1 || line.text[line.indent + 1] === ' ');
const skipSpaces = (text: string, i: number) => {
  while (text[i] === ' ') i++;
  return i;
};
/** Only spaces and a comment may follow a value on its line: the rest is empty, or spaces, then the end or `#`. */
function restIsBlank(text: string, end: number): boolean {
  if (end === text.length) return true;
  if (text[end] !== ' ') return false;
  const i = skipSpaces(text, end);
  return i === text.length || text[i] === '#';
}

class BlockParser {
  private i = 0;
  constructor(
    private readonly lines: Line[],
    /** Record where each key is (`entries`); without, duplicates are found in the value itself. */
    private readonly positions: boolean,
  ) {}

  done(): boolean {
    return this.i === this.lines.length;
  }

  block(): Node {
    const line = this.lines[this.i];
    return isSeqItem(line) ? this.sequence(line.indent) : this.mapping(line.indent);
  }

  private mapping(indent: number): Node {
    const first = this.lines[this.i];
    const node: Node = { value: {}, pos: { line: first.no, col: indent + 1 }, entries: this.positions ? new Map() : undefined };
    const value = node.value as Record<string, unknown>;
    for (let line = first; line && line.indent >= indent; line = this.lines[this.i]) {
      if (line.indent > indent) decline(); // a continuation line or a stray indentation
      const key = parseKey(line.text, indent) ?? decline();
      // Every key set is an own property of the value (`__proto__` is declined), so either check finds it.
      if (node.entries ? node.entries.has(key.name) : Object.hasOwn(value, key.name)) decline();
      const quoted = this.positions ? undefined : this.quotedValue(line, key.end);
      if (quoted !== undefined) {
        value[key.name] = quoted;
        continue;
      }
      const entry = this.entryValue(line, key.end, indent);
      node.entries?.set(key.name, { keyPos: { line: line.no, col: indent + 1 }, node: entry });
      value[key.name] = entry.value;
    }
    return node;
  }

  /**
   * Without positions, a quoted scalar after `key:` (the commonest line of a data file) read without building its
   * node: what entryValue would return the value of, or undefined for any other value.
   */
  private quotedValue(line: Line, afterColon: number): string | undefined {
    const start = skipSpaces(line.text, afterColon);
    const c = line.text[start];
    if (c !== '"' && c !== "'") return undefined;
    this.i++;
    const quoted = parseQuoted(line.text, start);
    if (!restIsBlank(line.text, quoted[1])) decline();
    return quoted[0];
  }

  /** The value after `key:`: on the same line, else the next more-indented block or a same-indent sequence, else null. */
  private entryValue(line: Line, afterColon: number, indent: number): Node {
    const start = skipSpaces(line.text, afterColon);
    this.i++;
    if (start < line.text.length && line.text[start] !== '#') return inlineValue(line, start);
    const next = this.lines[this.i];
    if (next && (next.indent > indent || (next.indent === indent && isSeqItem(next)))) return this.block();
    return { value: null, pos: { line: line.no, col: start + 1 } };
  }

  private sequence(indent: number): Node {
    const first = this.lines[this.i];
    const node: Node = { value: [], pos: { line: first.no, col: indent + 1 }, items: [] };
    for (let line = first; line && line.indent === indent && isSeqItem(line); line = this.lines[this.i]) {
      const start = skipSpaces(line.text, indent + 1);
      if (start === line.text.length || line.text[start] === '#') decline(); // an empty item
      let item: Node;
      if (parseKey(line.text, start)) {
        line.indent = start; // compact `- key: v`: the mapping's indentation is its first key's column
        item = this.mapping(start);
      } else {
        item = inlineValue(line, start);
        this.i++;
      }
      node.items!.push(item);
      (node.value as unknown[]).push(item.value);
    }
    if (this.lines[this.i] && this.lines[this.i].indent > indent) decline();
    return node;
  }
}

/** `key:` at `start` followed by a space or the end of the line; `end` is just past the colon. */
function parseKey(text: string, start: number): { name: string; end: number } | undefined {
  let name: string;
  let end: number;
  if (text[start] === '"' || text[start] === "'") {
    const quoted = parseQuoted(text, start);
    name = quoted[0];
    end = quoted[1];
  } else {
    end = plainKeyEnd(text, start);
    if (end === start) return undefined;
    name = text.slice(start, end);
  }
  if (text[end] !== ':' || (end + 1 < text.length && text[end + 1] !== ' ')) return undefined;
  // Keys that resolve to null/bool/number, prototype pollution and yaml's 1024-char implicit key limit.
  if (text[start] !== '"' && text[start] !== "'" && resolvePlain(name) !== name) decline();
  if (name === '__proto__' || end - start > 1000) decline();
  return { name, end: end + 1 };
}

/** A scalar or one-line flow collection that must be the last thing on its line (bar a comment). */
function inlineValue(line: Line, start: number): Node {
  // Tuples returned here are indexed, not destructured: destructuring runs the iterator protocol, which costs
  // an allocation per step until the code is optimized, and this runs once per line of a data file.
  const scalar = parseScalarOrFlow(line, start, 'block');
  if (!restIsBlank(line.text, scalar[1])) decline();
  return scalar[0];
}

function parseScalarOrFlow(line: Line, start: number, context: 'block' | 'flow'): [Node, number] {
  const text = line.text;
  const pos = { line: line.no, col: start + 1 };
  const c = text[start];
  if (c === '"' || c === "'") {
    const quoted = parseQuoted(text, start);
    return [{ value: quoted[0], pos }, quoted[1]];
  }
  if ((c === '[' || c === '{') && context === 'block') return parseFlow(line, start);
  if (startsWithIndicator(text, start) || c === '[' || c === '{') decline();
  let raw: string;
  if (context === 'block') {
    const comment = text.indexOf(' #', start);
    let end = comment < 0 ? text.length : comment;
    while (end > start && text.charCodeAt(end - 1) === 32) end--; // trailing spaces
    raw = text.slice(start, end);
    if (raw.includes(': ') || raw.endsWith(':')) decline(); // `a: b: c` is an error in YAML
  } else {
    raw = /^[^,[\]{}#:"']*/.exec(text.slice(start))![0].replace(/ +$/, '');
  }
  if (raw === '') decline();
  return [{ value: resolvePlain(raw), pos }, start + raw.length];
}

/** `[a, "b"]` or `{ K: v }` of scalars, on one line; no nesting, no empty entries, no trailing comma. */
function parseFlow(line: Line, start: number): [Node, number] {
  const text = line.text;
  const isMap = text[start] === '{';
  const close = isMap ? '}' : ']';
  const node: Node = isMap ? { value: {}, pos: { line: line.no, col: start + 1 }, entries: new Map() } : { value: [], pos: { line: line.no, col: start + 1 }, items: [] };
  let i = skipSpaces(text, start + 1);
  if (text[i] === close) return [node, i + 1];
  for (;;) {
    if (isMap) {
      const key = parseKey(text, i) ?? decline();
      if (text[key.end] !== ' ' || node.entries!.has(key.name)) decline();
      const scalar = parseScalarOrFlow(line, skipSpaces(text, key.end), 'flow');
      node.entries!.set(key.name, { keyPos: { line: line.no, col: i + 1 }, node: scalar[0] });
      (node.value as Record<string, unknown>)[key.name] = scalar[0].value;
      i = skipSpaces(text, scalar[1]);
    } else {
      const scalar = parseScalarOrFlow(line, i, 'flow');
      node.items!.push(scalar[0]);
      (node.value as unknown[]).push(scalar[0].value);
      i = skipSpaces(text, scalar[1]);
    }
    if (text[i] === close) return [node, i + 1];
    if (text[i] !== ',') decline();
    i = skipSpaces(text, i + 1);
    if (text[i] === close) decline(); // trailing comma
  }
}

/** A single- or double-quoted scalar closed on the same line; returns the value and the index past the quote. */
function parseQuoted(text: string, start: number): [string, number] {
  const quote = text[start];
  // Written for speed: most quoted scalars have no escape and are one slice, not a string built char by char.
  const close = text.indexOf(quote, start + 1);
  if (close >= 0 && (quote === "'" ? text[close + 1] !== "'" : !hasBackslash(text, start + 1, close))) return [text.slice(start + 1, close), close + 1];
  let value = '';
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i];
    if (c === quote && quote === "'" && text[i + 1] === "'") {
      value += "'";
      i++;
    } else if (c === quote) {
      return [value, i + 1];
    } else if (c === '\\' && quote === '"') {
      const e = text[i + 1];
      const hex = text.slice(i + 2, i + 6);
      if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(hex)) {
        value += String.fromCharCode(parseInt(hex, 16));
        i += 5;
      } else {
        value += ESCAPES[e] ?? decline();
        i++;
      }
    } else {
      value += c;
    }
  }
  return decline(); // multi-line quoted scalar
}

function hasBackslash(text: string, from: number, to: number): boolean {
  const at = text.indexOf('\\', from);
  return at >= 0 && at < to;
}

const NULLS = new Set(['~', 'null', 'Null', 'NULL']);
const BOOLS = new Set(['true', 'True', 'TRUE', 'false', 'False', 'FALSE']);
const SPECIAL_FLOATS = new Set(['.inf', '.Inf', '.INF', '.nan', '.NaN', '.NAN']);
const isDigit = (c: number) => c >= 48 && c <= 57;

/**
 * YAML 1.2 core schema, as the `yaml` package resolves plain scalars; the rare forms are left to it. Keys and
 * most values are plain words, so words are told apart by lookups and their first character before any pattern.
 */
function resolvePlain(s: string): unknown {
  if (NULLS.has(s)) return null;
  if (BOOLS.has(s)) return s[0] === 't' || s[0] === 'T';
  const body = s[0] === '-' || s[0] === '+' ? 1 : 0;
  const c = s.charCodeAt(body);
  // Only a digit or `.` after an optional sign can start a number, `.inf` or `.nan` (`.env`, `./x`: neither).
  if (c === 46 && !isDigit(s.charCodeAt(body + 1))) {
    if (SPECIAL_FLOATS.has(s.slice(body))) decline();
    return s;
  }
  if (!isDigit(c) && c !== 46) return s;
  if (/^[-+]?[0-9]+$/.test(s)) return parseInt(s, 10);
  if (/^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/.test(s)) return parseFloat(s);
  if (s[0] === '0' && (s[1] === 'x' || s[1] === 'o')) decline();
  return s;
}
