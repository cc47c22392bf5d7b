/**
 * Environment variable names as secretrun accepts them (contract section 3): a letter or `_`, then letters,
 * digits and `_`. One definition for every place that checks or scans a name.
 */
const NAME = '[A-Za-z_][A-Za-z0-9_]*';
/** The whole-string pattern, as text: for option specs (`pattern.regex`) and the schema generated from them. */
export const ENV_NAME_PATTERN = `^${NAME}$`;
const WHOLE_NAME = new RegExp(ENV_NAME_PATTERN);
const NAME_AT = new RegExp(NAME, 'y');

/** Where the name starting at `start` ends; `start` itself when no name starts there. */
export function envNameEnd(text: string, start: number): number {
  NAME_AT.lastIndex = start;
  return NAME_AT.test(text) ? NAME_AT.lastIndex : start;
}

/** Is the whole of `s` an environment variable name? */
export function isEnvName(s: string): boolean {
  return WHOLE_NAME.test(s);
}

/**
 * A store's name as a variable name (an SSM parameter, a Google or Azure secret): `/` and every other character
 * that can't appear in a name become `_`, and a leading digit gets a leading `_`.
 */
export function toEnvKey(relative: string, uppercase: boolean): string {
  let key = relative.replace(/[^A-Za-z0-9_]/g, '_');
  // A name can't start with a digit; prefixing keeps the digit rather than erasing it.
  if (/^[0-9]/.test(key)) key = `_${key}`;
  return uppercase ? key.toUpperCase() : key;
}
