/**
 * Reading local text files with the errors users need: missing (NotFoundError, so `optional` works),
 * unreadable, a directory, too large, not UTF-8. Reads into memory only; nothing is ever written.
 */
import { isUtf8 } from 'node:buffer';
import { readFileSync, statSync, type Stats } from 'node:fs';
import { NotFoundError, SourceError } from './errors.js';
import { lineCol } from '../formats/parse.js';

/** Data files larger than this are refused: a sources layer is a few KiB, never hundreds of MiB. */
export const MAX_FILE_BYTES = 10 * 1024 * 1024;

export function readTextFile(absPath: string, shown: string, maxBytes = MAX_FILE_BYTES): string {
  let size: number;
  try {
    const st = statSync(absPath);
    if (st.isDirectory()) throw new SourceError(`${shown}: is a directory, expected a file`);
    size = st.size;
  } catch (err) {
    throw fileError(err, shown);
  }
  if (size > maxBytes) throw new SourceError(`${shown}: file is ${formatBytes(size)}, larger than the ${formatBytes(maxBytes)} limit`);
  let buf: Buffer;
  try {
    buf = readFileSync(absPath);
  } catch (err) {
    throw fileError(err, shown);
  }
  return decodeUtf8(buf, shown);
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
