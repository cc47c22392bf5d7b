/**
 * The `decode` / `decode_prefixed` layer options: values stored base64-encoded (binary keys, certificates, values
 * with awkward characters) are decoded after the layer loads, before `only` and `prefix` apply.
 *
 *   decode: { TLS_KEY: base64, "CERT_*": base64 }   decodes the values of matching keys (names or `*`/`?` globs)
 *   decode_prefixed: true                           decodes any value written as `base64:<data>`
 *
 * A value matched both ways is decoded once (the prefixed form wins, its prefix removed).
 * Errors name the layer and the key, never the value.
 */
import { LayerError, SourceError } from '../core/errors.js';
import { matchesAny } from '../core/glob.js';

export interface DecodeOptions {
  decode?: Record<string, string>;
  decode_prefixed?: boolean;
}

export const BASE64_PREFIX = 'base64:';

/**
 * Return a new map with the selected values decoded; the input is not modified.
 * Failures are `LayerError`s (`layer "<name>" (secretrun.yaml:L:C): decode: key "K": ...`; the core adds the
 * position), like the core's other post-load checks.
 */
export function applyDecode(values: Readonly<Record<string, string>>, options: DecodeOptions, layerName: string): Record<string, string> {
  try {
    return decodeValues(values, options);
  } catch (err) {
    if (err instanceof SourceError) throw new LayerError(layerName, err.message);
    throw err;
  }
}

function decodeValues(values: Readonly<Record<string, string>>, options: DecodeOptions): Record<string, string> {
  const patterns = checkedPatterns(options.decode ?? {});
  const prefixed = options.decode_prefixed === true;
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) {
    if (prefixed && value.startsWith(BASE64_PREFIX)) out[key] = decodeBase64Text(value.slice(BASE64_PREFIX.length), key);
    else if (patterns.length > 0 && matchesAny(key, patterns)) out[key] = decodeBase64Text(value, key);
    else out[key] = value;
  }
  return out;
}

function checkedPatterns(decode: Record<string, string>): string[] {
  for (const [pattern, encoding] of Object.entries(decode)) {
    // The schema already restricts encodings; this guards callers that bypass it (tests, the library API).
    if (encoding !== 'base64') throw new SourceError(`decode: "${pattern}" has unsupported encoding "${encoding}" (supported: base64)`);
  }
  return Object.keys(decode);
}

/** Decode base64 to UTF-8 text, or throw a `SourceError` naming the key. */
export function decodeBase64Text(encoded: string, key: string): string {
  const bytes = decodeBase64Strict(encoded, key);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new SourceError(
      `decode: key "${key}": the decoded bytes are not valid UTF-8 text; environment variables hold text, not binary data (keep the value base64-encoded and decode it in your program)`,
    );
  }
  if (text.includes('\0')) throw new SourceError(`decode: key "${key}": the decoded value contains a NUL byte, which an environment variable cannot hold`);
  return text;
}

/**
 * Strict base64 (RFC 4648): the standard or the URL-safe alphabet (not mixed), padding optional but correct when
 * present, and canonical trailing bits. ASCII whitespace is ignored because `base64` wraps its output at 76
 * columns. Buffer.from(…, 'base64') alone accepts garbage silently, so every rule is checked here first.
 */
export function decodeBase64Strict(encoded: string, key: string): Buffer {
  const fail = (why: string): never => {
    throw new SourceError(`decode: key "${key}": invalid base64 (${why})`);
  };
  const compact = encoded.replace(/[ \t\r\n]/g, '');
  const padStart = compact.indexOf('=');
  const data = padStart === -1 ? compact : compact.slice(0, padStart);
  const padding = padStart === -1 ? '' : compact.slice(padStart);
  if (!/^[A-Za-z0-9+/_-]*$/.test(data)) fail('a character outside the base64 alphabet');
  if (/[+/]/.test(data) && /[-_]/.test(data)) fail('it mixes the standard and URL-safe alphabets');
  if (data.length % 4 === 1) fail('wrong length; the value looks truncated');
  if (padding !== '' && (!/^={1,2}$/.test(padding) || (data.length + padding.length) % 4 !== 0)) fail('misplaced or wrong amount of "=" padding');
  const standard = data.replace(/-/g, '+').replace(/_/g, '/');
  const bytes = Buffer.from(standard, 'base64');
  // Non-zero unused bits in the last character mean the text was not produced by a base64 encoder.
  if (bytes.toString('base64').replace(/=+$/, '') !== standard) fail('non-canonical final character; the value looks corrupted');
  return bytes;
}
