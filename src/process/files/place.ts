/**
 * Where secret files live: a private directory (mode 0700, set by the mkdir call itself) under
 * `$XDG_RUNTIME_DIR`, else the system temp directory; for the tmpfs kind only a RAM-backed filesystem
 * (`$XDG_RUNTIME_DIR`, else `/dev/shm`), checked with statfs. And the cleanup of directories a killed run left:
 * only our own prefix, owned by us, mode 0700, whose process is gone; only the pipes and regular files inside,
 * never following a symlink, never recursing.
 */
import { lstatSync, mkdirSync, readdirSync, rmdirSync, statfsSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SecretrunError } from '../../core/errors.js';

export type FileKind = 'pipe' | 'tmpfs';
export const FILE_KINDS: readonly FileKind[] = ['pipe', 'tmpfs'];

/** statfs f_type of the filesystems that keep their files in RAM (linux/magic.h). */
const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;

/** The prefix of our private directories; the pid that follows is how a later run tells a dead one. */
export const DIR_PREFIX = 'secretrun-files-';
const OWN_DIR = new RegExp(`^${DIR_PREFIX}(\\d+)-[0-9a-f]{8}$`);

/** Is `path` (a directory) on tmpfs or ramfs? Unknown (statfs failed) counts as no. */
export function isRamBacked(path: string): boolean {
  try {
    const type = Number(statfsSync(path).type);
    return type === TMPFS_MAGIC || type === RAMFS_MAGIC;
  } catch {
    return false;
  }
}

/** The directory our private directory goes under, for this kind. Throws (125) for tmpfs without a RAM-backed one. */
export function baseDirectory(kind: FileKind, env: Readonly<Record<string, string | undefined>>): string {
  const xdg = env.XDG_RUNTIME_DIR || undefined;
  if (kind === 'pipe') return xdg ?? tmpdir();
  const base = xdg ?? '/dev/shm';
  if (!isRamBacked(base)) {
    const named = xdg ? `$XDG_RUNTIME_DIR (${base})` : '/dev/shm';
    throw new SecretrunError(`--file-kind tmpfs: ${named} is not a RAM-backed filesystem (tmpfs or ramfs); secret files are never written to disk`);
  }
  return base;
}

const uid = () => process.getuid?.() ?? -1;

/** Create our private directory: mode 0700 in the mkdir call, then checked (owner, mode, a real directory). */
export function createPrivateDirectory(base: string): string {
  const dir = join(base, `${DIR_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    throw new SecretrunError(`cannot create a private directory under ${base} for secret files (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const st = lstatSync(dir);
  if (!st.isDirectory() || st.uid !== uid() || (st.mode & 0o077) !== 0) {
    removeEntries(dir);
    throw new SecretrunError(`the private directory ${dir} for secret files is not ours with mode 0700`);
  }
  return dir;
}

/** Is this process gone? (EPERM: it exists, under another user.) */
function processGone(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Remove the pipes and regular files directly inside `dir`, then `dir` if that left it empty. Never follows links. */
export function removeEntries(dir: string): void {
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    /* gone already */
  }
  for (const name of names) {
    const path = join(dir, name);
    try {
      const st = lstatSync(path);
      if (st.isFIFO() || st.isFile()) unlinkSync(path);
    } catch {
      /* raced away */
    }
  }
  try {
    rmdirSync(dir);
  } catch {
    /* not empty (something we do not remove), or gone */
  }
}

/**
 * Remove what runs killed with SIGKILL left under `base`: directories named with our prefix, owned by us, mode
 * exactly 0700, not a symlink, whose process no longer exists. Returns how many were removed.
 */
export function removeStaleDirectories(base: string): number {
  let names: string[];
  try {
    names = readdirSync(base);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    const m = OWN_DIR.exec(name);
    if (!m || !processGone(Number(m[1]))) continue;
    const dir = join(base, name);
    try {
      const st = lstatSync(dir);
      if (!st.isDirectory() || st.uid !== uid() || (st.mode & 0o7777) !== 0o700) continue;
    } catch {
      continue;
    }
    removeEntries(dir);
    removed++;
  }
  return removed;
}
