/**
 * `secretrun ls [--reveal] [--json]`: every merged key with the layer that won, the layers it shadowed, and a
 * masked value. The "where does DATABASE_URL come from?" view.
 *
 * Also home to the small display helpers `diff` shares (how a value is shown, column alignment), so both
 * commands show values the same way.
 */
import { maskValue } from '../../core/mask-value.js';
import { info } from '../output.js';
import type { Resolution } from '../../core/resolve.js';
import { actOnFindings, resolveEnvironment, throwAway, type CommonOptions } from './common.js';

export interface InspectOptions extends CommonOptions {
  reveal?: boolean;
  json?: boolean;
}

/**
 * The `--json` shape (stable; add fields, never rename or remove them):
 * ```
 * {
 *   "environment": "dev",
 *   "file": "secretrun.yaml",
 *   "keys": [ { "key": "DATABASE_URL", "layer": "json config/dev.json", "via"?: "ref+awsssm", "shadowed": ["dotenv .env"], "value"?: "..." } ],
 *   "layers": [ { "name": "dotenv .env", "type": "dotenv", "keys": 3, "missing": false } ]
 * }
 * ```
 * `keys` is sorted by key; `via` is present when the value was read through a reference (`ref+SCHEME`); `shadowed` lists earlier layers in file order; `value` is present only with `--reveal`.
 * `layers` is in file order; `keys` counts what the layer contributed, `missing` is true for an absent optional layer.
 */
export interface LsJson {
  environment: string;
  file: string;
  keys: { key: string; layer: string; via?: string; shadowed: string[]; value?: string }[];
  layers: { name: string; type: string; keys: number; missing: boolean }[];
}

export async function ls(opts: InspectOptions): Promise<number> {
  const resolved = await resolveEnvironment(opts);
  try {
    return show(resolved, opts);
  } finally {
    await throwAway([resolved], opts.quiet);
  }
}

function show(resolved: Awaited<ReturnType<typeof resolveEnvironment>>, opts: InspectOptions): number {
  // ls shows what there is: a missing required key is visible by its absence, not an error.
  actOnFindings(resolved, {}, opts.quiet);
  const { file, resolution } = resolved;
  if (opts.json) {
    process.stdout.write(JSON.stringify(lsJson(resolution, file.shown, !!opts.reveal), null, 2) + '\n');
    return 0;
  }
  if (resolution.entries.size === 0) {
    info(`no keys in environment "${resolution.environment}" (${resolution.layers.length} layer${resolution.layers.length === 1 ? '' : 's'})`, opts.quiet);
    return 0;
  }
  process.stdout.write(lsTable(resolution, !!opts.reveal));
  return 0;
}

export function lsJson(resolution: Resolution, fileShown: string, reveal: boolean): LsJson {
  return {
    environment: resolution.environment,
    file: fileShown,
    keys: [...resolution.entries].map(([key, e]) => ({ key, layer: e.layer, ...(e.via ? { via: e.via } : {}), shadowed: e.shadowed, ...(reveal ? { value: e.value } : {}) })),
    layers: resolution.layers.map((l) => ({ name: l.name, type: l.type, keys: Object.keys(l.keys).length, missing: l.missing })),
  };
}

/** KEY, LAYER, SHADOWED, VALUE. The value comes last so a long revealed value never pushes the other columns. */
export function lsTable(resolution: Resolution, reveal: boolean): string {
  const rows = [['KEY', 'LAYER', 'SHADOWED', 'VALUE']];
  for (const [key, e] of resolution.entries) {
    rows.push([key, e.via ? `${e.layer} via ${e.via}` : e.layer, e.shadowed.length > 0 ? e.shadowed.join(', ') : '-', displayValue(e.value, reveal, isPublic(resolution, key))]);
  }
  return alignColumns(rows).map((line) => line + '\n').join('');
}

// ---- shared with diff ----------------------------------------------------------------------------------------

/**
 * How a value is shown to a person: masked (the one rule in src/process/mask.ts) unless revealed or marked `public:`
 * by its layer. A revealed value that would not read unambiguously on one line (empty, newlines or other
 * control characters, surrounding spaces, a leading quote) is shown as a JSON string.
 */
export function displayValue(value: string, reveal: boolean, publicKey = false): string {
  if (!reveal && !publicKey) return maskValue(value);
  // eslint-disable-next-line no-control-regex
  const plain = value !== '' && !/[\u0000-\u001f\u007f]|^\s|\s$|^"/.test(value);
  return plain ? value : JSON.stringify(value);
}

/** True when the layer that won `key` lists it under `public:` (not a secret, so never masked). */
export function isPublic(resolution: Resolution, key: string): boolean {
  const entry = resolution.entries.get(key);
  if (!entry) return false;
  for (let i = resolution.layers.length - 1; i >= 0; i--) {
    const layer = resolution.layers[i];
    if (layer.name === entry.layer && key in layer.keys) return layer.publicKeys.includes(key);
  }
  return false;
}

/** Pad every column but the last to its widest cell, two spaces apart. */
export function alignColumns(rows: string[][], indent = ''): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, [...cell].length)));
  return rows.map((row) => indent + row.map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat(widths[i] - [...cell].length))).join('  ').trimEnd());
}
