/**
 * Secrets as files (`as_file`, `--as-file`, `--mount`; contract section 4, "Secrets as files"). `openSecretFiles`
 * creates every file before the first child starts; `update` gives the next reader a new content (watch mode);
 * `close` removes them all and is safe to call more than once (`run` calls it from its exit tasks, and once more
 * from process 'exit' in case something broke that path).
 *
 * Kinds: named pipes served by secretrun (pipes.ts), or regular files on a RAM-backed filesystem (ram-files.ts).
 * Where: a private directory (place.ts) for `as_file` keys, and the `--mount` PATH as given.
 */
import { join } from 'node:path';
import { SecretrunError } from '../../core/errors.js';
import { findExecutable } from '../child.js';
import { checkMountPath, mountText, type MountFormat } from './mount.js';
import { baseDirectory, createPrivateDirectory, isRamBacked, removeEntries, removeStaleDirectories, type FileKind } from './place.js';
import { PipeServer, type Identity } from './pipes.js';
import { removeRamFile, writeRamFile } from './ram-files.js';

export { FILE_KINDS, type FileKind } from './place.js';
export { MOUNT_FORMATS, mountFormat, type MountFormat } from './mount.js';

export interface FilesPlan {
  kind: FileKind;
  /** The `as_file` keys, each served from its own file in the private directory. */
  keys: readonly string[];
  /** `--mount`: an absolute path and its format. */
  mount?: { path: string; format: MountFormat };
  /** `--mount-max-reads` (pipes only). */
  maxReads?: number;
  /** The parent environment: XDG_RUNTIME_DIR, and the PATH mkfifo is found on. */
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** One line, no value: a pipe that stopped being served. */
  onProblem(message: string): void;
}

/** What the files hold: each `as_file` key's value, and the whole merged set for `--mount`. */
export interface FilesContent {
  values: Readonly<Record<string, string>>;
  merged: Readonly<Record<string, string>>;
}

export interface SecretFiles {
  /** `as_file` key → the absolute path the child finds its value at. */
  readonly paths: Readonly<Record<string, string>>;
  readonly mountPath?: string;
  /** The private directory (absent when only `--mount` is used). */
  readonly dir?: string;
  update(content: FilesContent): void;
  /**
   * Remove everything at once; the promise settles when nothing more can appear (a named pipe's spare still being
   * made in the background is stopped and removed). Later calls return the same promise.
   */
  close(): Promise<void>;
}

/** Create every file with its content. On any failure, what was created is removed before the error is thrown. */
export function openSecretFiles(plan: FilesPlan, content: FilesContent): SecretFiles {
  // Everything that can refuse the run is asked before anything is created.
  if (plan.mount) {
    checkMountPath(plan.mount.path);
    if (plan.kind === 'tmpfs' && !isRamBacked(join(plan.mount.path, '..'))) {
      throw new SecretrunError(`--mount ${plan.mount.path}: --file-kind tmpfs needs a RAM-backed filesystem (tmpfs or ramfs) there; secret files are never written to disk`);
    }
  }
  const base = plan.keys.length > 0 ? baseDirectory(plan.kind, plan.env) : undefined;
  const mkfifo = plan.kind === 'pipe' ? findMkfifo(plan) : undefined;
  const texts = (c: FilesContent) => {
    const out = plan.keys.map((k) => ({ path: '', content: Buffer.from(c.values[k], 'utf8'), key: k }));
    const mount = plan.mount ? Buffer.from(mountText({ ...c.merged }, plan.mount.format), 'utf8') : undefined;
    return { out, mount };
  };
  const first = texts(content);

  if (base) removeStaleDirectories(base);
  const dir = base ? createPrivateDirectory(base) : undefined;
  const paths: Record<string, string> = {};
  for (const e of first.out) paths[e.key] = e.path = join(dir!, e.key);
  const all = [...first.out.map((e) => ({ path: e.path, content: e.content })), ...(plan.mount && first.mount ? [{ path: plan.mount.path, content: first.mount }] : [])];

  const pipes = mkfifo ? new PipeServer({ mkfifo, maxReads: plan.maxReads, onProblem: plan.onProblem }) : undefined;
  const ramFiles = new Map<string, Identity>();
  let closing: Promise<void> | undefined;
  const close = () => {
    if (closing) return closing;
    closing = pipes?.close() ?? Promise.resolve();
    for (const [path, id] of ramFiles) removeRamFile(path, id);
    if (dir) removeEntries(dir);
    return closing;
  };
  try {
    if (pipes) pipes.serve(all);
    else for (const e of all) ramFiles.set(e.path, writeRamFile(e.path, e.content));
  } catch (err) {
    close();
    throw err;
  }
  return {
    paths,
    mountPath: plan.mount?.path,
    dir,
    update(next) {
      if (closing) return;
      const t = texts(next);
      const updates = [...t.out.map((e) => ({ path: paths[e.key], content: e.content })), ...(plan.mount && t.mount ? [{ path: plan.mount.path, content: t.mount }] : [])];
      for (const u of updates) {
        if (pipes) pipes.update(u.path, u.content);
        else ramFiles.set(u.path, writeRamFile(u.path, u.content));
      }
    },
    close,
  };
}

/** `mkfifo` on the parent's PATH, never the merged set's; none there is an error (125). */
function findMkfifo(plan: FilesPlan): string {
  try {
    return findExecutable('mkfifo', plan.env.PATH, plan.cwd);
  } catch {
    throw new SecretrunError('named pipes need mkfifo, and none was found on PATH; install it (coreutils) or use --file-kind tmpfs');
  }
}
