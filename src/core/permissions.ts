/**
 * Layer files that other users can read. A source names the files holding plain secrets (`privateFiles`: a
 * `.env`, a JSON file, a vault password file; not an encrypted vault), and the core checks their modes, as ssh
 * does for keys. These are findings, not warnings: `check` reports them (`check --strict` fails on them), and
 * `run`, `export` and `get` stay quiet about them.
 */
import { statOrUndefined } from './files.js';
import type { Location } from './errors.js';
import type { Source, SourceOptions } from '../sources/types.js';

export interface PermissionFinding {
  layer: string;
  /** The file as written in the sources file, e.g. `.env`. */
  shown: string;
  /** What the file is to the layer, when it is not the layer's own file: `password_file`. */
  role?: string;
  /** Permission bits, e.g. 0o644. */
  mode: number;
  /** Where the layer is defined. */
  definedAt?: Location;
}

/** The private files of one layer, given its interpolated options, that group or others can read. */
export function filePermissionFindings(source: Source, options: SourceOptions, layer: string, configDir: string, definedAt?: Location): PermissionFinding[] {
  if (!source.privateFiles || options.allow_world_readable === true) return [];
  const found: PermissionFinding[] = [];
  for (const file of source.privateFiles(options, { configDir })) {
    const stats = statOrUndefined(file.path);
    if (!stats) continue; // missing or unreadable: the layer itself says so, or is optional
    const mode = stats.mode & 0o777;
    if ((mode & 0o044) !== 0) found.push({ layer, shown: file.shown, role: file.role, mode, definedAt });
  }
  return found;
}

export function permissionMessage({ shown, role, mode }: PermissionFinding): string {
  const who = (mode & 0o004) !== 0 ? 'other users' : 'its group';
  return `${role ? `${role} ` : ''}${shown} is readable by ${who} (mode ${mode.toString(8).padStart(4, '0')}); run "chmod 600 ${shown}", or set allow_world_readable: true on the layer`;
}
