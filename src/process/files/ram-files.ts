/**
 * The tmpfs kind: regular files, mode 0600 from the creating call, only on a RAM-backed filesystem. A new
 * content is written to a new file next to the old one and renamed over it, so a reader sees the old content or
 * the new one, whole, never a mix.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { SecretrunError } from '../../core/errors.js';
import { identityOf, type Identity } from './pipes.js';

let counter = 0;

/** Write `content` at `path` (atomically replacing what is there) and return what was created. */
export function writeRamFile(path: string, content: Buffer): Identity {
  const temp = join(dirname(path), `.${basename(path)}.secretrun-${process.pid}-${++counter}`);
  let fd: number | undefined;
  try {
    // O_EXCL: a new file of ours, never an existing one or a link's target; the mode is set by this call.
    fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    const st = fstatSync(fd);
    if (!st.isFile() || st.uid !== (process.getuid?.() ?? -1) || (st.mode & 0o077) !== 0) throw Object.assign(new Error('unexpected file'), { code: 'EPERM' });
    for (let done = 0; done < content.length; ) done += writeSync(fd, content, done);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, path);
    return identityOf(st);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(temp);
    } catch {
      /* not created */
    }
    throw new SecretrunError(`cannot write the secret file ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** Remove the file at `path` if it is still the one we wrote. */
export function removeRamFile(path: string, id: Identity): void {
  try {
    const st = lstatSync(path);
    if (st.dev === id.dev && st.ino === id.ino) unlinkSync(path);
  } catch {
    /* gone */
  }
}
