/**
 * What `check` tells about a dotenv file without changing how it is read: the run's parse stays exactly
 * `dotenv.parse`. This scan uses dotenv's own line pattern (dotenv 16-18, `lib/main.js`) to find
 *
 * - lines dotenv skips silently (not `KEY=VALUE`, not blank, not a comment): a typo drops a key;
 * - an unquoted value cut by `#` (`PASSWORD=p#ssw0rd` is read as `p`): dotenv takes an unquoted `#` as the start
 *   of a comment, so a `#` right after a character of the value is almost always meant as part of it;
 * - a UTF-16 file (a byte-order mark FF FE or FE FF), which dotenv does not read as text.
 *
 * Findings carry a line and a key name, never a value.
 */

/** dotenv's LINE pattern, as `dotenv.parse` runs it (multiline, global) over the text with CRLF/CR made LF. */
const DOTENV_LINE = /(?:^|^)\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?\s*(?:#.*)?(?:$|$)/gm;

export type DotenvFinding =
  | { kind: 'ignored'; line: number }
  | { kind: 'hash-cut'; line: number; key: string }
  | { kind: 'utf16'; line: 1 };

export function lintDotenv(bytes: Uint8Array): DotenvFinding[] {
  if (bytes.length >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))) return [{ kind: 'utf16', line: 1 }];
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8').replace(/\r\n?/g, '\n');
  const lineStarts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lineStarts.push(i + 1);
  const lineOf = (offset: number) => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
  const covered = new Set<number>();
  const findings: DotenvFinding[] = [];
  DOTENV_LINE.lastIndex = 0;
  for (let m = DOTENV_LINE.exec(text); m !== null; m = DOTENV_LINE.exec(text)) {
    if (m[0] === '') {
      DOTENV_LINE.lastIndex++;
      continue;
    }
    // The match may start with the blank lines before it (`\s*`): a line counts from its key on.
    const keyAt = m.index + m[0].indexOf(m[1]);
    const end = m.index + m[0].length;
    for (let l = lineOf(keyAt); l <= lineOf(Math.max(keyAt, end - 1)); l++) covered.add(l);
    const value = m[2];
    if (value !== undefined && !/^\s*['"`]/.test(value)) {
      const valueEnd = keyAt + m[0].slice(keyAt - m.index).indexOf(value) + value.length;
      if (text[valueEnd] === '#' && valueEnd > 0 && !/\s/.test(text[valueEnd - 1])) findings.push({ kind: 'hash-cut', line: lineOf(keyAt), key: m[1] });
    }
  }
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const trimmed = lines[i].trim();
    if (trimmed === '' || trimmed.startsWith('#') || covered.has(i + 1)) continue;
    findings.push({ kind: 'ignored', line: i + 1 });
  }
  return findings.sort((a, b) => a.line - b.line);
}

/** The warning for a finding, without the file and line (the caller locates it). Never a value. */
export function dotenvFindingText(finding: DotenvFinding): string {
  switch (finding.kind) {
    case 'ignored':
      return 'dotenv ignores this line (not KEY=VALUE, a comment or blank): no key is set from it';
    case 'hash-cut':
      return `the value of ${finding.key} is cut at an unquoted "#" (dotenv reads the rest as a comment): quote the value`;
    case 'utf16':
      return 'the file is UTF-16 (it starts with a byte-order mark); dotenv reads UTF-8: save it as UTF-8';
  }
}
