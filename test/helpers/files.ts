/**
 * Helpers for the secrets-as-files tests: a child that records what it read, and a look at the private directory.
 */
import { lstatSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

/**
 * A child program (`node RECORDER KEY...`): for each variable it opens the file the variable names `reads`
 * times (READS, default 2) and prints JSON: { KEY: { path, kind: 'fifo'|'file'|..., mode, uid, reads: [base64...] } },
 * plus SECRETRUN_MOUNT and the variables named in SHOW when set.
 */
export const RECORDER = `
const fs = require('node:fs');
const out = {};
const reads = Number(process.env.READS || 2);
for (const key of process.argv.slice(2)) {
  const path = process.env[key];
  if (path === undefined) { out[key] = null; continue; }
  const st = fs.lstatSync(path);
  const kind = st.isFIFO() ? 'fifo' : st.isFile() ? 'file' : 'other';
  const got = [];
  for (let i = 0; i < reads; i++) got.push(fs.readFileSync(path).toString('base64'));
  const d = fs.statSync(require('node:path').dirname(path));
  out[key] = { path, kind, mode: st.mode & 0o7777, uid: st.uid, dirMode: d.mode & 0o7777, dirUid: d.uid, reads: got };
}
for (const k of (process.env.SHOW || '').split(',').filter(Boolean)) out['$' + k] = process.env[k] ?? null;
process.stdout.write(JSON.stringify(out));
`;

export interface Recorded {
  path: string;
  kind: 'fifo' | 'file' | 'other';
  mode: number;
  uid: number;
  dirMode: number;
  dirUid: number;
  reads: string[];
}

/** The recorder's JSON with each read decoded to a string. */
export function recorded(stdout: string): Record<string, Recorded & { text: string[] }> {
  const parsed = JSON.parse(stdout) as Record<string, Recorded | null | string>;
  const out: Record<string, Recorded & { text: string[] }> = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (v && typeof v === 'object') out[k] = { ...v, text: v.reads.map((b) => Buffer.from(b, 'base64').toString('utf8')) };
  }
  return out;
}

/** A fresh XDG_RUNTIME_DIR for one test: on disk (pipes), or under /dev/shm (tmpfs kind). */
export function runtimeDir(ram = false): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(ram ? '/dev/shm' : tmpdir(), 'secretrun-xdg-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Our private directories left under `base`, with what each holds. */
export function leftovers(base: string): { name: string; entries: string[] }[] {
  return readdirSync(base)
    .filter((n) => n.startsWith('secretrun-files-'))
    .map((name) => {
      let entries: string[] = [];
      try {
        entries = readdirSync(join(base, name));
      } catch {
        /* unreadable */
      }
      return { name, entries };
    });
}

export function modeOf(path: string): number {
  return lstatSync(path).mode & 0o7777;
}
