/**
 * Writers for `secretrun export --format dotenv|json|yaml|shell` (contract section 4).
 *
 * Every writer is pure: a flat map of strings in, text out, keys in the map's own order. A value a format
 * cannot express is an error that names the key, never the value.
 */
import dotenv from 'dotenv';
import { SecretrunError } from './errors.js';

export const EXPORT_FORMATS = ['dotenv', 'json', 'yaml', 'shell'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

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

/** POSIX `export` accepts only these names; anything else is a syntax error in sh. */
const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Single quotes make every byte literal in bash and dash alike (newlines included); `'` itself is written `'\''`. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

export function formatShell(map: Record<string, string>): string {
  let out = '';
  for (const [key, value] of Object.entries(map)) {
    if (!SHELL_NAME.test(key)) throw cannotExpress(key, 'shell', 'not a valid shell variable name');
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

const YAML_PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const YAML_RESERVED_WORDS = /^(?:true|false|yes|no|on|off|y|n|null)$/i;

function yamlKey(key: string): string {
  return YAML_PLAIN_KEY.test(key) && !YAML_RESERVED_WORDS.test(key) ? key : yamlDoubleQuoted(key);
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

const DOTENV_KEY = /^[\w.-]+$/;
const QUOTES = ["'", '"', '`'] as const;
type Quote = (typeof QUOTES)[number];
/** Unquoted only when the value is obviously plain, so the file stays unsurprising to other dotenv readers. */
const PLAIN_DOTENV_VALUE = /^[A-Za-z0-9_.,:/@%+=-]+$/;

interface DotenvCandidate {
  text: string;
  /** Set when a later line holding this quote character could change how this line reads. */
  dependsOnLaterQuote?: Quote;
}

export function formatDotenv(map: Record<string, string>): string {
  const entries = Object.entries(map);
  const lines: string[] = new Array(entries.length);
  const quotesInLaterLines = new Set<string>();
  for (let k = entries.length - 1; k >= 0; k--) {
    const [key, value] = entries[k];
    // The common case, a plain value, needs no per-line read-back (the whole output is read back at the end
    // anyway) and holds no quote character that could affect an earlier line.
    if (PLAIN_DOTENV_VALUE.test(value) && DOTENV_KEY.test(key)) {
      lines[k] = `${key}=${value}`;
      continue;
    }
    const line = dotenvLine(key, value, { quotes: quotesInLaterLines, text: () => lines.slice(k + 1).join('\n') });
    lines[k] = line;
    for (const q of QUOTES) if (line.includes(q)) quotesInLaterLines.add(q);
  }
  const text = lines.join('\n') + (lines.length > 0 ? '\n' : '');
  assertReadsBack(text, entries);
  return text;
}

interface LaterLines {
  quotes: ReadonlySet<string>;
  text: () => string;
}

function dotenvLine(key: string, value: string, later: LaterLines): string {
  if (!DOTENV_KEY.test(key)) throw cannotExpress(key, 'dotenv', 'dotenv only reads keys made of letters, digits, "_", "." and "-"');
  for (const candidate of dotenvCandidates(value)) {
    const line = `${key}=${candidate.text}`;
    if (!readsBackAs(line, key, value)) continue;
    const quote = candidate.dependsOnLaterQuote;
    // Rare (e.g. a quoted value ending in a backslash, its quote used further down): check it in its context.
    if (quote && later.quotes.has(quote) && dotenv.parse(`${line}\n${later.text()}`)[key] !== value) continue;
    return line;
  }
  throw cannotExpress(key, 'dotenv', "dotenv's syntax cannot express this value; use --format json, yaml or shell");
}

/** Candidates in order of preference; the first that reads back correctly wins. */
function* dotenvCandidates(value: string): Generator<DotenvCandidate> {
  const doubleQuoted = quoted('"', value.replaceAll('\n', '\\n').replaceAll('\r', '\\r'));
  // Escaped line breaks keep one key per line, which is what people grep for.
  const byTaste = /[\r\n]/.test(value) ? [doubleQuoted, quoted("'", value)] : [quoted("'", value), doubleQuoted];
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
function assertReadsBack(text: string, entries: [string, string][]): void {
  const parsed = dotenv.parse(text);
  for (const [key, value] of entries) {
    if (!Object.hasOwn(parsed, key) || parsed[key] !== value) {
      throw cannotExpress(key, 'dotenv', 'could not write this value so that dotenv reads it back unchanged; use --format json, yaml or shell');
    }
  }
  if (Object.keys(parsed).length !== entries.length) {
    throw new SecretrunError('export --format dotenv: the output would not read back to the same keys', { exitCode: 1 });
  }
}
