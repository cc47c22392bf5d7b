/**
 * Writers for `secretrun export --format dotenv|json|yaml|shell` (contract section 4).
 *
 * Every writer is pure: a flat map of strings in, text out, keys in the map's own order. A value a format
 * cannot express is an error that names the key, never the value.
 */
import dotenv from 'dotenv';
import { SecretrunError } from '../core/errors.js';
import { isEnvName } from '../core/names.js';
import { DOTENV_KEY_CHAR, PLAIN_DOTENV_CHAR } from './parse.js';
import { EXPORT_FORMATS, type ExportFormat } from './export-formats.js';

export { EXPORT_FORMATS, type ExportFormat };

export function formatEnv(map: Record<string, string>, format: ExportFormat): string {
  switch (format) {
    case 'dotenv':
      return formatDotenv(map);
    case 'json':
      return formatJson(map);
    case 'yaml':
      return formatYaml(map);
    case 'shell':
      return formatShell(map);
    default:
      throw new SecretrunError(`unknown export format "${String(format)}" (expected ${EXPORT_FORMATS.join(', ')})`, { exitCode: 1 });
  }
}

function cannotExpress(key: string, format: ExportFormat, why: string): SecretrunError {
  return new SecretrunError(`export --format ${format}: key "${key}": ${why}`, { exitCode: 1 });
}

// ---- json ---------------------------------------------------------------------------------------------------

export function formatJson(map: Record<string, string>): string {
  return JSON.stringify(map, null, 2) + '\n';
}

// ---- shell --------------------------------------------------------------------------------------------------


/** Single quotes make every byte literal in bash and dash alike (newlines included); `'` itself is written `'\''`. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

export function formatShell(map: Record<string, string>): string {
  let out = '';
  for (const [key, value] of Object.entries(map)) {
    // POSIX `export` accepts only these names; anything else is a syntax error in sh.
    if (!isEnvName(key)) throw cannotExpress(key, 'shell', 'not a valid shell variable name');
    // A shell string cannot hold NUL: bash drops it, dash truncates there.
    if (value.includes('\0')) throw cannotExpress(key, 'shell', 'the value contains a NUL character, which a shell variable cannot hold');
    out += `export ${key}=${shellQuote(value)}\n`;
  }
  return out;
}

// ---- yaml ---------------------------------------------------------------------------------------------------

/**
 * A hand-written writer, so export stays synchronous and does not load the yaml package. Values are always
 * double-quoted, so `true`, `0x10`, `null`, `~` and `1e3` stay strings. Keys are quoted unless they are plain
 * identifiers that no YAML schema (1.1 or 1.2) reads as anything but a string.
 */
export function formatYaml(map: Record<string, string>): string {
  const entries = Object.entries(map);
  if (entries.length === 0) return '{}\n';
  return entries.map(([key, value]) => `${yamlKey(key)}: ${yamlDoubleQuoted(value)}\n`).join('');
}

const YAML_RESERVED_WORDS = /^(?:true|false|yes|no|on|off|y|n|null)$/i;

function yamlKey(key: string): string {
  return isEnvName(key) && !YAML_RESERVED_WORDS.test(key) ? key : yamlDoubleQuoted(key);
}

/**
 * A YAML double-quoted scalar. Only printable characters are written raw (YAML 1.2 section 5.1); everything
 * else, including lone surrogates, DEL, C1 controls, the BOM and the Unicode line separators, is a `\uXXXX`
 * escape, so no parser can fold, trim or reject it.
 */
export function yamlDoubleQuoted(value: string): string {
  let out = '"';
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    const ch = value[i];
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (code >= 0xd800 && code <= 0xdbff && isLowSurrogate(value.charCodeAt(i + 1))) {
      out += ch + value[i + 1];
      i++;
    } else if (isYamlNonPrintable(code)) out += '\\u' + code.toString(16).padStart(4, '0');
    else out += ch;
  }
  return out + '"';
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

function isYamlNonPrintable(code: number): boolean {
  return (
    code < 0x20 ||
    (code >= 0x7f && code <= 0x9f) ||
    (code >= 0xd800 && code <= 0xdfff) || // a lone surrogate: paired ones were handled above
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0xfeff ||
    code === 0xfffe ||
    code === 0xffff
  );
}

// ---- dotenv -------------------------------------------------------------------------------------------------
//
// The reader is `dotenv.parse` (the regex parser, which secretrun's own dotenv source uses), and the only
// acceptable output is one that reads back to exactly the same map. What that parser does, and so what we must
// work around:
//   - The whole text has `\r\n` and lone `\r` turned into `\n` first: a CR survives only as the `\r` escape,
//     and escapes are expanded only inside double quotes (`\n` -> LF, then `\r` -> CR; nothing else, not even
//     `\\`). So a CR needs double quotes, and double quotes cannot hold a literal backslash-n or backslash-r.
//   - A quoted value is `'...'`, `"..."` or `` `...` `` with any character but its own quote inside, except
//     that backslash + quote is taken as a pair and kept as both characters. A quote may span lines.
//   - An unquoted value stops at `#` or the end of the line and is trimmed (JS `trim`, so Unicode spaces too);
//     if it starts and ends with the same quote character those are stripped.
//   - If the quoted content ends with a backslash, the closing quote pairs with it and the match may run on to
//     a later line that ends with the same quote. That one case depends on what follows, so lines are chosen
//     from the last key backwards, and such a line is checked together with the lines after it when its quote
//     character appears there. An unquoted value starting with a quote character has the same dependence.
//   - When the quoted reading fails (a bare quote inside), the line falls back to the unquoted reading, which
//     still strips a pair of surrounding quotes and, after `"`, still expands `\n` and `\r`. So `'it's'`
//     reads as `it's`, and a one-line value with all three quote kinds is expressible when it has no `#`.
// Each candidate line is checked by parsing it back, and the whole text is checked once more at the end.

const DOTENV_KEY = new RegExp(`^${DOTENV_KEY_CHAR}+$`);
const QUOTES = ["'", '"', '`'] as const;
type Quote = (typeof QUOTES)[number];
/** Unquoted only when the value is obviously plain, so the file stays unsurprising to other dotenv readers. */
const PLAIN_DOTENV_VALUE = new RegExp(`^${PLAIN_DOTENV_CHAR}+$`);

interface DotenvCandidate {
  text: string;
  /** Set when a later line holding this quote character could change how this line reads. */
  dependsOnLaterQuote?: Quote;
}

export function formatDotenv(map: Record<string, string>, onRunsInSh?: (key: string) => void): string {
  return formatDotenvLists(Object.keys(map), Object.values(map), onRunsInSh);
}

/**
 * `formatDotenv` over a map given as two parallel arrays (key i has value i), so a large export need not build a
 * 10,000-key object only to walk it again. `onRunsInSh` hears each key whose only exact spelling would run a
 * command in a POSIX shell that sources the file (`set -a; . ./.env`); the output still reads back exactly.
 */
export function formatDotenvLists(keys: readonly string[], values: readonly string[], onRunsInSh?: (key: string) => void): string {
  // Lines are chosen from the last key backwards; a line may need a quote character kept out of the lines after
  // it (a quoted value ending in a backslash reads on to the next line ending in that quote). Then the choice is
  // made again with that quote avoided after that line; if no later line can avoid it, that line moves to the end
  // (dotenv reads a map: line order is not part of it). Both are rare: the common case is one pass.
  let order = { keys, values };
  const moved = new Set<string>();
  const avoid = new Map<Quote, number>();
  for (;;) {
    const attempt = tryFormatDotenv(order.keys, order.values, avoid);
    if ('text' in attempt) {
      for (const key of attempt.runInSh) onRunsInSh?.(key);
      return attempt.text;
    }
    const retry = attempt.retry;
    if (retry === undefined) throw attempt.error;
    if (!avoid.has(retry.quote)) {
      avoid.set(retry.quote, retry.after);
      continue;
    }
    const key = order.keys[retry.after];
    if (moved.has(key)) throw attempt.error;
    moved.add(key);
    order = moveToEnd(order, retry.after);
    avoid.clear();
  }
}

function moveToEnd(lists: { keys: readonly string[]; values: readonly string[] }, index: number): { keys: string[]; values: string[] } {
  const keys = [...lists.keys.slice(0, index), ...lists.keys.slice(index + 1), lists.keys[index]];
  const values = [...lists.values.slice(0, index), ...lists.values.slice(index + 1), lists.values[index]];
  return { keys, values };
}

type Failure = { error: SecretrunError; retry?: { quote: Quote; after: number } };

/** One pass of the writer; `runInSh` lists the keys whose line runs a command in sh, in key order. */
function tryFormatDotenv(keys: readonly string[], values: readonly string[], avoid: ReadonlyMap<Quote, number>): { text: string; runInSh: string[] } | Failure {
  const runInSh: string[] = [];
  const n = keys.length;
  const lines: string[] = new Array(n);
  const quotesInLaterLines = new Set<string>();
  let firstContextual = n; // see readsBackWithoutReparsing
  let lastNotPlain = -1;
  for (let k = n - 1; k >= 0; k--) {
    const key = keys[k];
    const value = values[k];
    const kind = dotenvLineKind(key, value);
    if (kind !== LINE_PLAIN && lastNotPlain < 0) lastNotPlain = k;
    if (kind !== LINE_PLAIN && kind !== LINE_SINGLE_QUOTED) firstContextual = k;
    // The common case, a plain value, needs no per-line read-back and holds no quote character that could
    // affect an earlier line.
    if (kind === LINE_PLAIN || kind === LINE_PLAIN_PROTO) {
      lines[k] = key + '=' + value;
      continue;
    }
    // A single-quoted value without `'`, `\` or a line break is what `dotenvLine` would pick after parsing it
    // back; it reads back alone and in any context (see `readsBackWithoutReparsing`), and runs nothing in sh.
    let line: string;
    if (kind === LINE_SINGLE_QUOTED) line = key + "='" + value + "'";
    else {
      const avoided = [...avoid].filter(([, after]) => k > after).map(([q]) => q);
      const chosen = dotenvLine(key, value, { quotes: quotesInLaterLines, text: () => lines.slice(k + 1).join('\n') }, avoided);
      if ('error' in chosen) return chosen.blockedBy ? { error: chosen.error, retry: { quote: chosen.blockedBy, after: k } } : { error: chosen.error };
      line = chosen.line;
      if (chosen.runsInSh) runInSh.push(key);
    }
    lines[k] = line;
    for (let q = 0; q < QUOTES.length; q++) if (line.includes(QUOTES[q])) quotesInLaterLines.add(QUOTES[q]);
  }
  runInSh.reverse();
  const confirmed = readsBackWithoutReparsing(lines, keys, values, firstContextual, lastNotPlain);
  if (n > 0) lines.push(''); // the final line break, without concatenating it to a 400 KB string
  const text = lines.join('\n');
  if (!confirmed) assertReadsBack(text, keys, values);
  return { text, runInSh };
}

/** `KEY=value`: a valid key and a plain value. */
export const LINE_PLAIN = 0;
/** The same for the key `__proto__`, which `dotenv.parse` cannot return: written alike, never trusted. */
export const LINE_PLAIN_PROTO = 1;
/** `KEY='value'`: a valid key (not `__proto__`) and a value without `'`, `\`, CR or LF. */
export const LINE_SINGLE_QUOTED = 2;
/** Anything else: chosen by parsing candidates back, and read back again in its context. */
export const LINE_CONTEXTUAL = 3;

/** A value `'...'` holds verbatim whatever follows it: no closing quote, no backslash pairing, no line break. */
const SINGLE_QUOTABLE = /^[^'\\\r\n]*$/;

/** Which of the forms above the line for this key and value takes. */
export function dotenvLineKind(key: string, value: string): number {
  if (!DOTENV_KEY.test(key)) return LINE_CONTEXTUAL; // refused by dotenvLine, naming the key
  if (PLAIN_DOTENV_VALUE.test(value)) return key === '__proto__' ? LINE_PLAIN_PROTO : LINE_PLAIN;
  return SINGLE_QUOTABLE.test(value) && key !== '__proto__' ? LINE_SINGLE_QUOTED : LINE_CONTEXTUAL;
}

/**
 * The whole-output read-back of `assertReadsBack`, without re-parsing the lines whose reading is fixed by
 * construction; false means "not shown", and the caller then does the full read-back. Written for speed: the
 * full parse of a 10,000-key export costs more than writing it.
 *
 * Why it is exactly as strong. `dotenv.parse` scans with one multiline regex (`^\s*(export\s+)?KEY(=|:)VALUE
 * \s*(#.*)?$`, VALUE a quoted string that may span lines or the rest of the line up to `#`). Every line we write
 * starts with its key, so never with a space or `#`. Then:
 *   - A plain line (`KEY=value`, value from PLAIN_DOTENV_VALUE) or a single-quoted one (`KEY='value'`, value
 *     without `'`, `\`, CR or LF) whose scan starts at its own first character reads as exactly that key and
 *     value, and the match ends at its own end (the next line starts with a key, so the trailing `\s*(#.*)?$`
 *     cannot take it). So a leading run of such lines reads back line by line (LINE_PLAIN_PROTO excluded: the
 *     parser's `obj[key] = value` makes no own `__proto__`).
 *   - The scan then continues at the first other line exactly as a scan of the remaining text alone would (the
 *     regex looks at nothing before its start but the line break).
 *   - A trailing run of plain lines holds no quote, backslash, `#` or space. A match starting before it can run
 *     into it only through a quoted value (which would need a closing quote after it: there is none) or through
 *     `KEY:` plus spaces at the very end of the text before it (checked below); leading spaces or `export ` at
 *     that end would only make the first plain line's match start earlier, with the same reading. A match that
 *     stays before it ends there too (at the same `$`), provided a final CR is not folded into the line break.
 * So the output reads back if the middle part, from the first line not in the leading run (`first`: the first
 * line neither LINE_PLAIN nor LINE_SINGLE_QUOTED, or n) to the last line not in the trailing run (`last`: the last
 * line not LINE_PLAIN), parses alone to exactly its own keys and values. (Not only if: a middle line could also
 * set a key that a later line sets again. The full read-back then decides.)
 */
export function readsBackWithoutReparsing(lines: readonly string[], keys: readonly string[], values: readonly string[], first: number, last: number): boolean {
  const n = lines.length;
  if (first === n) return true;
  let middle = lines.slice(first, last + 1).join('\n');
  if (last === n - 1) middle += '\n';
  else if (middle.endsWith('\r') || middle.trimEnd().endsWith(':')) return false;
  const parsed = dotenv.parse(middle);
  for (let k = first; k <= last; k++) {
    if (!Object.hasOwn(parsed, keys[k]) || parsed[keys[k]] !== values[k]) return false;
  }
  return Object.keys(parsed).length === last - first + 1;
}

interface LaterLines {
  quotes: ReadonlySet<string>;
  text: () => string;
}

type Chosen = { line: string; runsInSh: boolean } | { error: SecretrunError; blockedBy?: Quote };

/**
 * The line for one key: the first candidate that reads back exactly, preferring one that a POSIX shell sourcing
 * the file reads as a plain assignment (no command substitution, nothing after the word). `avoid` lists quote
 * characters that must not end this line, so an earlier value cannot read on into it (see formatDotenvLists).
 */
function dotenvLine(key: string, value: string, later: LaterLines, avoid: readonly Quote[]): Chosen {
  if (!DOTENV_KEY.test(key)) return { error: cannotExpress(key, 'dotenv', 'dotenv only reads keys made of letters, digits, "_", "." and "-"') };
  let exact: string | undefined;
  let blockedBy: Quote | undefined;
  let avoidedExact: string | undefined;
  for (const candidate of dotenvCandidates(value)) {
    const line = `${key}=${candidate.text}`;
    if (!readsBackAs(line, key, value)) continue;
    const quote = candidate.dependsOnLaterQuote;
    // Rare (e.g. a quoted value ending in a backslash, its quote used further down): check it in its context.
    if (quote && later.quotes.has(quote) && dotenv.parse(`${line}\n${later.text()}`)[key] !== value) {
      blockedBy ??= quote;
      continue;
    }
    if (avoid.some((q) => closesALine(candidate.text, q))) {
      avoidedExact ??= line;
      continue;
    }
    if (!runsInSh(candidate.text)) return { line, runsInSh: false };
    exact ??= line;
  }
  const line = exact ?? avoidedExact;
  if (line !== undefined) return { line, runsInSh: runsInSh(line.slice(key.length + 1)) };
  return { error: cannotExpress(key, 'dotenv', "dotenv's syntax cannot express this value; use --format json, yaml or shell"), blockedBy };
}

/**
 * Does `text` hold `quote` where an earlier quoted value could end, as dotenv's regex ends one: followed by
 * nothing but spaces and an optional comment up to a line end?
 */
function closesALine(text: string, quote: Quote): boolean {
  for (let i = text.indexOf(quote); i >= 0; i = text.indexOf(quote, i + 1)) {
    LINE_END_AFTER_QUOTE.lastIndex = i + 1;
    if (LINE_END_AFTER_QUOTE.test(text)) return true;
  }
  return false;
}

const LINE_END_AFTER_QUOTE = /\s*(?:#.*)?$/my;

/**
 * Would a POSIX shell sourcing `KEY=<spelling>` do anything but assign one word? True for command substitution
 * (backticks, `$(`) outside single quotes, for an unterminated quote (it swallows the lines after it), and for
 * text after the word (`A=x y` runs `y`; `;`, `|`, `&`, `<`, `>` likewise). Conservative: when unsure, true.
 */
function runsInSh(spelling: string): boolean {
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < spelling.length; i++) {
    const c = spelling[i];
    if (quote === "'") {
      if (c === "'") quote = undefined;
      continue;
    }
    if (c === '`') return true;
    if (c === '$' && spelling[i + 1] === '(') return true;
    if (c === '\\') {
      i++;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = undefined;
      continue;
    }
    if (c === "'" || c === '"') quote = c;
    else if (' \t\n\r;&|<>()'.includes(c)) return true;
  }
  return quote !== undefined;
}

/** Candidates in order of preference; the first that reads back correctly wins. */
function* dotenvCandidates(value: string): Generator<DotenvCandidate> {
  const doubleQuoted = quoted('"', value.replaceAll('\n', '\\n').replaceAll('\r', '\\r'));
  // Escaped line breaks keep one key per line, which is what people grep for. A value holding both quote kinds
  // is written in double quotes (which dotenv reads back exactly and sh reads without running anything) before
  // single quotes; backticks, which sh would run, come last.
  const byTaste = /[\r\n']/.test(value) ? [doubleQuoted, quoted("'", value)] : [quoted("'", value), doubleQuoted];
  byTaste.push(quoted('`', value));
  // A quote that does not occur in the value reads most clearly; the others may still work (verified by parsing).
  yield* byTaste.filter((c) => !value.includes(c.text[0]));
  yield* byTaste.filter((c) => value.includes(c.text[0]));
  // Last resort, for values such as `a'b"c` + "`": fine unquoted as long as nothing forces quotes.
  const first = value[0] as Quote | undefined;
  yield { text: value, dependsOnLaterQuote: first && QUOTES.includes(first) ? first : undefined };
}

function quoted(quote: Quote, content: string): DotenvCandidate {
  return { text: quote + content + quote, dependsOnLaterQuote: content.endsWith('\\') ? quote : undefined };
}

function readsBackAs(line: string, key: string, value: string): boolean {
  const parsed = dotenv.parse(line);
  const keys = Object.keys(parsed);
  return keys.length === 1 && keys[0] === key && parsed[key] === value;
}

/** Belt and braces: the contract forbids output that reads back differently, whatever the argument above says. */
function assertReadsBack(text: string, keys: readonly string[], values: readonly string[]): void {
  const parsed = dotenv.parse(text);
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k];
    if (!Object.hasOwn(parsed, key) || parsed[key] !== values[k]) {
      throw cannotExpress(key, 'dotenv', 'could not write this value so that dotenv reads it back unchanged; use --format json, yaml or shell');
    }
  }
  if (Object.keys(parsed).length !== keys.length) {
    throw new SecretrunError('export --format dotenv: the output would not read back to the same keys', { exitCode: 1 });
  }
}
