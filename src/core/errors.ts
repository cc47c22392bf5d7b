/**
 * Typed errors. Nothing here prints or exits: the CLI's single exit handler (src/cli/main.ts) turns an error into
 * one `secretrun: ...` line on stderr and an exit code.
 *
 * Messages must never contain a secret value. As a second line of defence every value a layer loads, and
 * every token a source marks with `context.secret()`, is registered here and scrubbed from any message that
 * reaches the user (`redact`).
 */

/**
 * Base class. `exitCode` overrides the command's own failure code (125 for run, 1 for most, 2 for diff).
 *
 * Every class names itself on its prototype, in a literal: the bundles are minified, so the class's own name is
 * a letter there, and `err.name` must stay `LayerError` for the code that catches it. Set before `super()`
 * runs, the name is also the one at the head of `err.stack`.
 */
export class SecretrunError extends Error {
  static {
    this.prototype.name = 'SecretrunError';
  }
  readonly exitCode?: number;
  constructor(message: string, options: { exitCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.exitCode = options.exitCode;
  }
}

/** Wrong command line: always exit 2. */
export class UsageError extends SecretrunError {
  static {
    this.prototype.name = 'UsageError';
  }
  constructor(message: string) {
    super(message, { exitCode: 2 });
  }
}

export interface Location {
  file: string;
  line: number;
  col: number;
}

/** `file:line:col`, as editors and compilers write a position. */
export function positionText(loc: Location): string {
  return `${loc.file}:${loc.line}:${loc.col}`;
}

export function formatLocation(loc: Location | undefined): string {
  return loc ? `${positionText(loc)}: ` : '';
}

/** A problem in the sources file (or a data file), with its position. */
export class ConfigError extends SecretrunError {
  static {
    this.prototype.name = 'ConfigError';
  }
  readonly location?: Location;
  readonly detail: string;
  constructor(detail: string, location?: Location, options: { exitCode?: number } = {}) {
    super(formatLocation(location) + detail, options);
    this.location = location;
    this.detail = detail;
  }
}

/** Several config problems at once (`check` prints them all; other commands print them all too). */
export class ConfigErrors extends SecretrunError {
  static {
    this.prototype.name = 'ConfigErrors';
  }
  readonly errors: ConfigError[];
  constructor(errors: ConfigError[]) {
    super(errors.map((e) => e.message).join('\n'));
    this.errors = errors;
  }
}

/** A source failed. Raised by a source with a bare cause; the core wraps it with the layer name. */
export class SourceError extends SecretrunError {
  static {
    this.prototype.name = 'SourceError';
  }
}

/** The thing a layer reads does not exist (missing file, HTTP 404, missing parameter). `optional: true` turns it into an empty layer. */
export class NotFoundError extends SourceError {
  static {
    this.prototype.name = 'NotFoundError';
  }
}

/**
 * Failure inside a named layer: `layer "dotenv .env" (secretrun.yaml:4:5): reason`. The position is where the
 * layer is defined in the sources file; the core adds it (a source only knows its own name).
 */
export class LayerError extends SecretrunError {
  static {
    this.prototype.name = 'LayerError';
  }
  readonly layer: string;
  readonly reason: string;
  readonly definedAt?: Location;
  constructor(layer: string, reason: string, options: { exitCode?: number; cause?: unknown; definedAt?: Location } = {}) {
    const at = options.definedAt;
    super(`layer "${layer}"${at ? ` (${positionText(at)})` : ''}: ${reason}`, options);
    this.layer = layer;
    this.reason = reason;
    this.definedAt = at;
  }
}

// ---- redaction ---------------------------------------------------------------------------------------------
//
// Messages are built from positions, codes, key names and layer labels, never from values; this is the net
// under that rule, and the ONE redaction rule of secretrun (docs/security.md):
//   a value of MIN_REDACT_LENGTH or more characters, loaded by any layer or filled in by `${...}` (vars,
//   earlier layers, the parent environment), unless its key is listed in `public:`, is blanked wherever it
//   appears in a message, also JSON-escaped or URL-encoded.
// Shorter values are not worth garbling a message for (`prod`, `json`, `true`); by construction they never
// appear in one anyway. The CLI's exit handler and the library's `loadSecrets` both print through `redact`.

const secrets = new Set<string>();
/** Shortest value the net blanks (see above). */
export const MIN_REDACT_LENGTH = 8;
const REDACTED = '[redacted]';
/**
 * Every registered value and its escaped forms, longest first (so a secret that contains another is removed
 * whole). Built when something is printed, not at registration: a 10,000-key layer registers 10,000 values,
 * and most runs print nothing.
 */
let ordered: string[] | undefined;

/** Does the one redaction rule apply to this value (ignoring `public:`, which the caller decides)? */
export function isRedactable(value: string | undefined): value is string {
  return typeof value === 'string' && value.length >= MIN_REDACT_LENGTH;
}

export function registerSecret(value: string | undefined): void {
  if (!isRedactable(value) || secrets.has(value)) return;
  secrets.add(value);
  ordered = undefined;
}

/**
 * How a value may appear in a message besides verbatim: JSON-escaped (quotes, backslashes, control characters;
 * also with every non-ASCII character as `\uXXXX`), URL-encoded (`%XX`, upper or lower case hex, and form
 * encoding with `+` for spaces).
 */
export function escapedForms(value: string): string[] {
  const json = JSON.stringify(value).slice(1, -1);
  const jsonAscii = json.replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
  const forms = [json, jsonAscii, jsonAscii.replace(/\\u[0-9a-f]{4}/g, (e) => e.toUpperCase().replace('\\U', '\\u'))];
  try {
    const url = encodeURIComponent(value);
    forms.push(url, url.replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase()), new URLSearchParams({ v: value }).toString().slice(2));
  } catch {
    // A lone surrogate cannot be URL-encoded; nothing to add.
  }
  return [...new Set(forms)].filter((f) => f !== value && f.length >= MIN_REDACT_LENGTH);
}

/**
 * Text that messages show by construction and the net never blanks: a layer's label (the sources file's own text,
 * with `vars` filled in and what `${...}` filled inside `vars` already blanked), an environment name, a
 * destination's `scheme://host:port`. Only what was built to be shown is registered here, never a value.
 */
const shownTexts = new Set<string>();
let orderedShown: string[] | undefined;

/** Mark `text` as shown by construction (see above) and return it, so a message can be written `${shown(x)}`. */
export function shown(text: string): string {
  if (text.length >= MIN_REDACT_LENGTH && !shownTexts.has(text)) {
    shownTexts.add(text);
    orderedShown = undefined;
  }
  return text;
}

/**
 * Blank every registered value (and its escaped forms) where it appears in `text`, except an occurrence that lies
 * wholly inside an occurrence of a text shown by construction (a label, a destination). A value that merely
 * contains a shown text is still blanked whole.
 */
export function redact(text: string): string {
  if (secrets.size === 0) return text;
  ordered ??= [...new Set([...secrets].flatMap((v) => [v, ...escapedForms(v)]))].sort((a, b) => b.length - a.length);
  orderedShown ??= [...shownTexts].sort((a, b) => b.length - a.length);
  const kept = occurrences(text, orderedShown);
  const blanked: [number, number][] = [];
  for (const s of ordered) {
    for (const [start, end] of occurrences(text, [s])) {
      if (!kept.some(([a, b]) => a <= start && end <= b)) blanked.push([start, end]);
    }
  }
  if (blanked.length === 0) return text;
  blanked.sort((x, y) => x[0] - y[0] || y[1] - x[1]);
  let out = '';
  let at = 0;
  for (const [start, end] of blanked) {
    if (end <= at) continue;
    if (start >= at) out += text.slice(at, start) + REDACTED;
    at = end;
  }
  return out + text.slice(at);
}

/** Every `[start, end)` where one of `needles` occurs in `text` (overlapping occurrences included). */
function occurrences(text: string, needles: readonly string[]): [number, number][] {
  const found: [number, number][] = [];
  for (const needle of needles) {
    for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + 1)) found.push([i, i + needle.length]);
  }
  return found;
}

/** C0 controls (line breaks and tabs included), DEL, C1 controls, and the Unicode line and paragraph separators. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/**
 * Text from the input (a key name, a path, a `require` entry) made safe to print on one line: every control
 * character as an escape (`\x1b`, `\u2028`), so no message clears a terminal, rings its bell or breaks a line.
 */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (c) => {
    const code = c.charCodeAt(0);
    return code > 0xff ? `\\u${code.toString(16)}` : `\\x${code.toString(16).padStart(2, '0')}`;
  });
}

/**
 * A message as it is printed: redacted, then escaped (in that order: a secret holding a control character is still
 * found). One line, whatever the message quotes.
 */
export function printable(message: string): string {
  return escapeControl(redact(message));
}

/**
 * A short, single-line description of an unknown thrown value, without any stack. A module may throw a string
 * or an object with line breaks (a whole response, a config dump): only its first non-empty line is kept.
 */
export function describeError(err: unknown): string {
  if (err instanceof Error) return firstLine(err.message) || err.name;
  if (typeof err === 'string') return firstLine(err) || 'an empty string was thrown';
  if (err === null || err === undefined) return `${err} was thrown`;
  if (typeof err === 'object') {
    const message = (err as { message?: unknown }).message;
    return typeof message === 'string' && firstLine(message) ? firstLine(message) : 'a non-Error object was thrown';
  }
  return `a ${typeof err} was thrown`;
}

const MAX_DESCRIBED = 300;

function firstLine(text: string): string {
  const line = text.split(/\r\n|[\r\n\u2028\u2029]/).map((l) => l.trim()).find((l) => l !== '') ?? '';
  // Control characters (colour codes, a bell) never reach the terminal from a thrown value.
  const clean = line.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').trim();
  return clean.length > MAX_DESCRIBED ? `${clean.slice(0, MAX_DESCRIBED)}…` : clean;
}
