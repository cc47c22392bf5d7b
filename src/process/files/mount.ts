/**
 * `run --mount PATH`: the whole merged set served at PATH in dotenv, json or yaml. The format comes from the name
 * (`.json`, `.yaml`/`.yml`, `.env` / `*.env` / `.env.*`) or from `--mount-format`; PATH is examined without
 * following links before anything is created there.
 */
import { lstatSync, statSync } from 'node:fs';
import { basename, dirname, extname } from 'node:path';
import { SecretrunError, UsageError } from '../../core/errors.js';
import { formatEnv } from '../../formats/write.js';

export const MOUNT_FORMATS = ['dotenv', 'json', 'yaml'] as const;
export type MountFormat = (typeof MOUNT_FORMATS)[number];

/** The format of a mount: `--mount-format`, else the name's; neither is a usage error (2). */
export function mountFormat(path: string, given: string | undefined): MountFormat {
  if (given !== undefined) {
    if ((MOUNT_FORMATS as readonly string[]).includes(given)) return given as MountFormat;
    throw new UsageError(`--mount-format: expected one of ${MOUNT_FORMATS.join(', ')}, got "${given}"`);
  }
  const name = basename(path);
  const ext = extname(name).toLowerCase();
  if (ext === '.json') return 'json';
  if (ext === '.yaml' || ext === '.yml') return 'yaml';
  if (name === '.env' || name.endsWith('.env') || name.startsWith('.env.')) return 'dotenv';
  throw new UsageError(`--mount ${path}: cannot tell the format from the name; add --mount-format ${MOUNT_FORMATS.join('|')}`);
}

/** The mount's text: as `export --format F` writes it; a value the format can't express names the key (125). */
export function mountText(values: Record<string, string>, format: MountFormat): string {
  try {
    return formatEnv(values, format);
  } catch (err) {
    if (err instanceof SecretrunError) throw new SecretrunError(err.message.replace(/^export --format (\w+)/, '--mount (format $1)'));
    throw err;
  }
}

/**
 * May secretrun serve at `path` (absolute)? Its directory must not be writable by group or others unless sticky;
 * an existing entry is looked at without following links: a symlink, anything but a pipe, or a pipe of another
 * user is refused (125) and left untouched. A pipe of ours is fine: it will be replaced.
 */
export function checkMountPath(path: string): void {
  const dir = dirname(path);
  let d;
  try {
    d = statSync(dir);
  } catch (err) {
    throw new SecretrunError(`--mount ${path}: its directory is not usable (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!d.isDirectory()) throw new SecretrunError(`--mount ${path}: ${dir} is not a directory`);
  if ((d.mode & 0o022) !== 0 && (d.mode & 0o1000) === 0) {
    throw new SecretrunError(`--mount ${path}: ${dir} is writable by group or others and not sticky; choose a private directory`);
  }
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new SecretrunError(`--mount ${path}: cannot examine it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (st.isSymbolicLink()) throw new SecretrunError(`--mount ${path}: is a symbolic link; refusing to touch it`);
  if (!st.isFIFO()) throw new SecretrunError(`--mount ${path}: already exists and is not a named pipe; refusing to touch it`);
  if (st.uid !== (process.getuid?.() ?? -1)) throw new SecretrunError(`--mount ${path}: is a named pipe of another user; refusing to touch it`);
}
