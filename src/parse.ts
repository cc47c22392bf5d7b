/**
 * Content parsers shared by every source that reads text (files, HTTP bodies, command output):
 * dotenv, JSON and YAML, each turned into a flat map of strings.
 *
 * JSON/YAML rules (contract section 1): `select` picks a sub-object by dot path; strings stay as they are,
 * numbers and booleans become their JSON text, nested objects and arrays become compact JSON text unless
 * `flatten` gives a separator, and `null` values are omitted.
 */
import dotenv from 'dotenv';
import { SourceError } from './errors.js';

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
  return dotenv.parse(text);
}

export function parseJson(text: string, origin: string): unknown {
  try {
    return JSON.parse(stripBom(text));
  } catch (err) {
    throw new SourceError(`${origin}: invalid JSON: ${jsonErrorWhere(text, err)}`);
  }
}

/** JSON.parse messages differ across Node versions; turn "position N" into line:col when present. */
function jsonErrorWhere(text: string, err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const m = /position (\d+)/.exec(message);
  // Drop any excerpt of the input that V8 quotes (it may hold a secret): keep only the description.
  const reason = message.replace(/ in JSON at position \d+.*$/s, '').replace(/, ".*$/s, '').replace(/\s*\(line \d+ column \d+\)/, '');
  if (!m) return reason;
  const { line, col } = lineCol(text, Number(m[1]));
  return `line ${line} column ${col}: ${reason}`;
}

export function lineCol(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let last = -1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) { line++; last = i; }
  return { line, col: offset - last };
}

export async function parseYaml(text: string, origin: string): Promise<unknown> {
  const { parseDocument, LineCounter } = await import('yaml');
  const lineCounter = new LineCounter();
  const doc = parseDocument(stripBom(text), { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const pos = lineCounter.linePos(e.pos[0]);
    throw new SourceError(`${origin}:${pos.line}:${pos.col}: invalid YAML: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`);
  }
  return doc.toJS({ maxAliasCount: 100 });
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** Apply `select` and flatten a parsed JSON/YAML value into env-style string pairs. */
export function structuredToEnv(doc: unknown, opts: ParseOptions): Record<string, string> {
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
  flattenInto(out, '', node as Record<string, unknown>, opts.flatten);
  return out;
}

function flattenInto(out: Record<string, string>, prefix: string, obj: Record<string, unknown>, sep: string | undefined): void {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix + k;
    if (v === null || v === undefined) continue;
    if (typeof v === 'string') out[key] = v;
    else if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') out[key] = String(v);
    else if (v instanceof Date) out[key] = v.toISOString();
    else if (sep !== undefined && typeof v === 'object' && !Array.isArray(v)) flattenInto(out, key + sep, v as Record<string, unknown>, sep);
    else out[key] = JSON.stringify(v);
  }
}
