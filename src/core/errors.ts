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

const secrets = new Set<string>();
/** Shortest value that is scrubbed from messages; shorter ones (`1`, `true`) would mangle ordinary words. */
export const MIN_REDACT_LENGTH = 4;

export function registerSecret(value: string | undefined): void {
  if (value && value.length >= MIN_REDACT_LENGTH) secrets.add(value);
}

export function redact(text: string): string {
  if (secrets.size === 0) return text;
  let out = text;
  // Longest first, so a secret that contains another is removed whole.
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) {
    if (out.includes(s)) out = out.split(s).join('[redacted]');
  }
  return out;
}

/** A short, single-line description of an unknown thrown value, without any stack. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0] || err.name;
  return String(err);
}
