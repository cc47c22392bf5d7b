/**
 * Environment variable names as secretrun accepts them (contract section 3): a letter or `_`, then letters,
 * digits and `_`. One definition for every place that checks or scans a name.
 *
 * Written as character loops, not a regex: these run for every key of every layer on the start-up path, and
 * V8 compiles each regex twice (bytecode, then native code on its second use) in every new process.
 */

const isNameStart = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95; // A-Z a-z _
const isNameChar = (c: number) => isNameStart(c) || (c >= 48 && c <= 57); // ... or 0-9

/** Where the name starting at `start` ends; `start` itself when no name starts there. */
export function envNameEnd(text: string, start: number): number {
  if (!isNameStart(text.charCodeAt(start))) return start;
  let i = start + 1;
  while (i < text.length && isNameChar(text.charCodeAt(i))) i++;
  return i;
}

/** Is the whole of `s` an environment variable name? */
export function isEnvName(s: string): boolean {
  return s.length > 0 && envNameEnd(s, 0) === s.length;
}
