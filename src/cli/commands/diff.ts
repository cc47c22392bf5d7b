/**
 * `secretrun diff <envA> <envB> [--reveal] [--json] [--only KEY|GLOB...]`: what differs between two
 * environments, without printing secrets. Exit 0 when identical, 1 when they differ; a failure exits 2 (the CLI
 * maps any error thrown here to 2), so `diff` can gate CI.
 */
import { matchesAny } from '../../core/glob.js';
import type { ResolvedEntry, Resolution } from '../../core/resolve.js';
import { actOnFindings, loadFile, resolveEnvironment, throwAway } from './common.js';
import { alignColumns, displayValue, isPublic, type InspectOptions } from './ls.js';

export interface DiffOptions extends InspectOptions {
  only?: string[];
  /** `--keys`: compare the key sets only; values are not compared (exit 1 only when a key is missing on one side). */
  keys?: boolean;
}

export interface EnvironmentComparison {
  onlyInA: string[];
  onlyInB: string[];
  changed: string[];
  same: string[];
  /** `--keys`: a key in both is `same`, whatever its values. */
  keysOnly?: boolean;
}

/**
 * The `--json` shape (stable; add fields, never rename or remove them):
 * ```
 * {
 *   "a": "dev", "b": "prod", "file": "secretrun.yaml",
 *   "identical": false,
 *   "onlyInA": [ { "key": "DEBUG", "layer": "dotenv .env", "value"?: "..." } ],
 *   "onlyInB": [ { "key": "SENTRY_DSN", "layer": "json config/prod.json", "value"?: "..." } ],
 *   "changed": [ { "key": "DATABASE_URL", "a": { "layer": "...", "value"?: "..." }, "b": { "layer": "...", "value"?: "..." } } ],
 *   "same": [ "APP_NAME" ],
 *   "summary": { "onlyInA": 1, "onlyInB": 1, "changed": 1, "same": 1 }
 * }
 * ```
 * Every list is sorted by key. `value` appears only with `--reveal`: without it the output holds no value, nor
 * anything derived from one (not even a length), except that `changed` says two values differ.
 */
export interface DiffJson {
  a: string;
  b: string;
  file: string;
  identical: boolean;
  /** Present (true) with `--keys`: `identical` then means the same key sets, and `changed` is empty. */
  keysOnly?: true;
  onlyInA: { key: string; layer: string; value?: string }[];
  onlyInB: { key: string; layer: string; value?: string }[];
  changed: { key: string; a: { layer: string; value?: string }; b: { layer: string; value?: string } }[];
  same: string[];
  summary: { onlyInA: number; onlyInB: number; changed: number; same: number };
}

export async function diff(envA: string, envB: string, opts: DiffOptions): Promise<number> {
  const file = await loadFile(opts);
  // diff shows what an environment lacks rather than failing on `require`.
  // One session for both sides (a login is shared); whatever either side obtained is revoked before we exit.
  const session = new Map<string, unknown>();
  const envFrom = "diff's arguments";
  const sides = await Promise.allSettled([resolveEnvironment(opts, envA, file, { session, envFrom }), resolveEnvironment(opts, envB, file, { session, envFrom })]);
  const resolved = sides.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  try {
    for (const s of sides) if (s.status === 'rejected') throw s.reason;
    return compareAndShow(resolved[0], resolved[1], file.shown, opts);
  } finally {
    await throwAway(resolved, opts.quiet);
  }
}

function compareAndShow(a: Awaited<ReturnType<typeof resolveEnvironment>>, b: Awaited<ReturnType<typeof resolveEnvironment>>, fileShown: string, opts: DiffOptions): number {
  for (const side of [a, b]) actOnFindings(side, {}, opts.quiet);
  const only = opts.only && opts.only.length > 0 ? opts.only : undefined;
  const comparison = compareEntries(a.resolution.entries, b.resolution.entries, only, !!opts.keys);
  const reveal = !!opts.reveal;
  if (opts.json) process.stdout.write(JSON.stringify(diffJson(comparison, a.resolution, b.resolution, fileShown, reveal), null, 2) + '\n');
  else process.stdout.write(diffReport(comparison, a.resolution, b.resolution, reveal, !!only));
  return isIdentical(comparison) ? 0 : 1;
}

/** The three groups plus the keys that are equal, each sorted; `only` restricts every group to matching keys. */
export function compareEntries(a: ReadonlyMap<string, ResolvedEntry>, b: ReadonlyMap<string, ResolvedEntry>, only?: readonly string[], keysOnly = false): EnvironmentComparison {
  const result: EnvironmentComparison = { onlyInA: [], onlyInB: [], changed: [], same: [], ...(keysOnly ? { keysOnly } : {}) };
  const keys = [...new Set([...a.keys(), ...b.keys()])].filter((k) => !only || matchesAny(k, only)).sort();
  for (const key of keys) {
    const inA = a.get(key);
    const inB = b.get(key);
    if (!inB) result.onlyInA.push(key);
    else if (!inA) result.onlyInB.push(key);
    // A leased value (a Vault lease) is new on every read: present on both sides is the same.
    else if (!keysOnly && inA.value !== inB.value && !(inA.leased && inB.leased)) result.changed.push(key);
    else result.same.push(key);
  }
  return result;
}

export function isIdentical(c: EnvironmentComparison): boolean {
  return c.onlyInA.length === 0 && c.onlyInB.length === 0 && c.changed.length === 0;
}

/** `3 only in dev, 1 only in prod, 2 changed, 40 same` */
export function summaryLine(c: EnvironmentComparison, nameA: string, nameB: string): string {
  if (c.keysOnly) return `${c.onlyInA.length} only in ${nameA}, ${c.onlyInB.length} only in ${nameB}, ${c.same.length} in both (values not compared: --keys)`;
  return `${c.onlyInA.length} only in ${nameA}, ${c.onlyInB.length} only in ${nameB}, ${c.changed.length} changed, ${c.same.length} same`;
}

export function diffJson(c: EnvironmentComparison, a: Resolution, b: Resolution, fileShown: string, reveal: boolean): DiffJson {
  const side = (r: Resolution, key: string) => {
    const e = r.entries.get(key)!;
    return { layer: e.layer, ...(reveal ? { value: e.value } : {}) };
  };
  return {
    a: a.environment,
    b: b.environment,
    file: fileShown,
    identical: isIdentical(c),
    ...(c.keysOnly ? { keysOnly: true } : {}),
    onlyInA: c.onlyInA.map((key) => ({ key, ...side(a, key) })),
    onlyInB: c.onlyInB.map((key) => ({ key, ...side(b, key) })),
    changed: c.changed.map((key) => ({ key, a: side(a, key), b: side(b, key) })),
    same: c.same,
    summary: { onlyInA: c.onlyInA.length, onlyInB: c.onlyInB.length, changed: c.changed.length, same: c.same.length },
  };
}

/**
 * The human report: one block per non-empty group, each row `marker KEY  layer  value`, columns aligned across
 * all groups, then the summary line. `-` only in A, `+` only in B, `~` changed (layer and value shown as A → B).
 */
export function diffReport(c: EnvironmentComparison, a: Resolution, b: Resolution, reveal: boolean, filtered = false): string {
  const show = (r: Resolution, key: string) => displayValue(r.entries.get(key)!.value, reveal, isPublic(r, key));
  const layer = (r: Resolution, key: string) => r.entries.get(key)!.layer;
  const groups: { title: string; rows: string[][] }[] = [
    { title: `only in ${a.environment}`, rows: c.onlyInA.map((k) => [`- ${k}`, layer(a, k), show(a, k)]) },
    { title: `only in ${b.environment}`, rows: c.onlyInB.map((k) => [`+ ${k}`, layer(b, k), show(b, k)]) },
    {
      title: 'changed',
      rows: c.changed.map((k) => {
        const [la, lb] = [layer(a, k), layer(b, k)];
        return [`~ ${k}`, la === lb ? la : `${la} → ${lb}`, `${show(a, k)} → ${show(b, k)}`];
      }),
    },
  ];
  const aligned = alignColumns(groups.flatMap((g) => g.rows), '  ');
  let out = '';
  let next = 0;
  for (const g of groups) {
    if (g.rows.length === 0) continue;
    out += `${g.title} (${g.rows.length}):\n`;
    for (let i = 0; i < g.rows.length; i++) out += aligned[next++] + '\n';
    out += '\n';
  }
  return out + (isIdentical(c) ? identicalLine(c, a.environment, b.environment, filtered) : summaryLine(c, a.environment, b.environment)) + '\n';
}

/** `dev and prod are identical (12 keys)`, which is also what `diff dev dev` says; with --only, for the chosen keys. */
export function identicalLine(c: EnvironmentComparison, nameA: string, nameB: string, filtered = false): string {
  const keys = `${c.same.length} key${c.same.length === 1 ? '' : 's'}`;
  if (c.keysOnly) return filtered ? `${nameA} and ${nameB} have the same keys among the ${keys} chosen by --only` : `${nameA} and ${nameB} have the same keys (${keys}; values not compared)`;
  return filtered ? `${nameA} and ${nameB} are identical in the ${keys} chosen by --only` : `${nameA} and ${nameB} are identical (${keys})`;
}
