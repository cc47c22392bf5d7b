/**
 * Reading local text files with the errors users need: missing (NotFoundError, so `optional` works),
 * unreadable, a directory, too large, not UTF-8. Reads into memory only; nothing is ever written.
 */
import { isUtf8 } from 'node:buffer';
import { closeSync, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { NotFoundError, SourceError } from './errors.js';
import { lineCol } from '../formats/parse.js';

/** Data files larger than this are refused: a sources layer is a few KiB, never hundreds of MiB. */
export const MAX_FILE_BYTES = 10 * 1024 * 1024;

export function readTextFile(absPath: string, shown: string, maxBytes = MAX_FILE_BYTES): string {
  return decodeUtf8(readBoundedFile(absPath, shown, maxBytes), shown);
}

/**
 * The file's bytes, at most `maxBytes` of them whatever its size claims: a regular file, or a named pipe
 * (`--dotenv <(sops -d .env)`, `/dev/stdin`), which has no size until it is read. Devices (`/dev/zero` never ends)
 * and sockets are refused: by `stat` before anything is opened (opening some devices does something), and again by
 * `fstat` of what was opened, in case the path changed in between.
 */
export function readBoundedFile(absPath: string, shown: string, maxBytes = MAX_FILE_BYTES): Buffer {
  let fd: number | undefined;
  try {
    refuseUnreadable(statSync(absPath), shown, maxBytes);
    fd = openSync(absPath, 'r');
    const st = fstatSync(fd);
    refuseUnreadable(st, shown, maxBytes);
    return readUpTo(fd, shown, maxBytes, st.size);
  } catch (err) {
    throw fileError(err, shown);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function refuseUnreadable(st: Stats, shown: string, maxBytes: number): void {
  if (st.isDirectory()) throw new SourceError(`${shown}: is a directory, expected a file`);
  const kind = st.isCharacterDevice() ? 'a character device' : st.isBlockDevice() ? 'a block device' : st.isSocket() ? 'a socket' : undefined;
  if (kind) throw new SourceError(`${shown}: is ${kind}, expected a file or a named pipe`);
  if (st.size > maxBytes) throw new SourceError(`${shown}: file is ${formatBytes(st.size)}, larger than the ${formatBytes(maxBytes)} limit`);
}

/**
 * Read to the end, or fail as soon as more than `maxBytes` arrived (a pipe that never ends, a file that grew since
 * its size was read). `sizeHint`, the size `fstat` gave, lets a regular file be read in one call.
 */
function readUpTo(fd: number, shown: string, maxBytes: number, sizeHint: number): Buffer {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    // Up to one byte past the limit: that tells "exactly at the limit" from "over it".
    const room = maxBytes + 1 - total;
    const chunk = Buffer.allocUnsafe(Math.min(room, Math.max(sizeHint + 1 - total, 64 * 1024)));
    const n = readSync(fd, chunk, 0, chunk.length, null);
    if (n === 0) return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
    chunks.push(n === chunk.length ? chunk : chunk.subarray(0, n));
    total += n;
    if (total > maxBytes) throw new SourceError(`${shown}: more than the ${formatBytes(maxBytes)} limit (reading stopped there)`);
  }
}

export function decodeUtf8(buf: Buffer | Uint8Array, shown: string): string {
  // isUtf8 + toString is what `new TextDecoder('utf-8', { fatal: true })` does (including its BOM removal),
  // without loading the WHATWG encoding machinery on every start.
  if (isUtf8(buf)) {
    const text = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('utf8');
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  }
  const offset = firstInvalidUtf8(buf);
  const text = Buffer.from(buf.subarray(0, offset)).toString('utf8');
  const { line, col } = lineCol(text, text.length);
  throw new SourceError(`${shown}:${line}:${col}: not valid UTF-8 (byte offset ${offset})`);
}

/** Byte offset of the first byte that is not part of a valid UTF-8 sequence. */
function firstInvalidUtf8(buf: Uint8Array): number {
  const decodes = (n: number, stream: boolean) => {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(0, n), { stream });
      return true;
    } catch {
      return false;
    }
  };
  // The longest prefix that is valid when allowed to end mid-character (a monotone property: binary search).
  let lo = 0;
  let hi = buf.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (decodes(mid, true)) lo = mid;
    else hi = mid - 1;
  }
  // If that prefix ends inside a character, the culprit is that character's lead byte.
  if (!decodes(lo, false)) {
    while (lo > 0 && (buf[lo - 1] & 0xc0) === 0x80) lo--;
    lo--;
  }
  return lo;
}

function fileError(err: unknown, shown: string): Error {
  if (err instanceof SourceError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new NotFoundError(`${shown}: file not found`);
  if (code === 'EACCES' || code === 'EPERM') return new SourceError(`${shown}: permission denied`);
  if (code === 'EISDIR') return new SourceError(`${shown}: is a directory, expected a file`);
  return new SourceError(`${shown}: cannot read (${code ?? 'unknown error'})`);
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(n % (1024 * 1024) === 0 ? 0 : 1)} MiB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KiB`;
  return `${n} bytes`;
}

/** The file's stats, or undefined when it is missing or can't be examined (the caller says what that means). */
export function statOrUndefined(absPath: string): Stats | undefined {
  try {
    return statSync(absPath, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}
