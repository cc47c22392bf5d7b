/**
 * `type: dotenv`: parsed exactly as the `dotenv` package parses it.
 *
 * Values written by `dotenvx encrypt` (`encrypted:...`) are decrypted first (formats/dotenvx.ts), unless
 * `decrypt: false`. Then `expand: true` expands `${VAR}`, `$VAR`, `${VAR:-default}`, `${VAR-default}`,
 * `${VAR:+alt}` and `${VAR+alt}` as `sh` and dotenv-expand 1000.0.0 read them, with our own interpolation code,
 * looking names up in the file's earlier keys, then the earlier layers, then the process environment (own
 * properties only: `lookupIn`). `\$` is a literal `$` (bcrypt hashes). `$(...)` is never run (dotenv-expand
 * 1000 executes commands, which is one reason it is not used). docs/sources.md lists the differences.
 *
 * The values are the file's secrets, so an error names the file, the line, the key and a column, never the
 * text after a `$` (in a password that "variable name" is part of the password) nor a ciphertext.
 */
import { basename, dirname, join } from 'node:path';
import { interpolate, InterpolationError, lookupIn, DOTENV_FORMS } from '../core/interpolate.js';
import { NotFoundError, SourceError } from '../core/errors.js';
import { readTextFile } from '../core/files.js';
import { decryptValues, hasEncryptedValues } from '../formats/dotenvx.js';
import { dotenvCutReference, ReferenceProblem } from '../core/references.js';
import { ownMap, parseDotenv } from '../formats/parse.js';
import { dotenvFindingText, lintDotenv } from '../formats/dotenv-lint.js';
import { FILE_OPTIONS, defineSource, labelByPath } from './descriptor.js';
import { filePath, privateFile, readLayerFile, watchFile } from './local-file.js';
import type { PrivateFile } from './types.js';

export default defineSource({
  type: 'dotenv',
  description: 'A .env file, parsed exactly as the dotenv package parses it.',
  options: {
    ...FILE_OPTIONS,
    expand: {
      type: 'boolean',
      default: false,
      description: 'Expand `${VAR}`, `$VAR`, `${VAR:-default}`, `${VAR-default}`, `${VAR:+alt}` and `${VAR+alt}` inside the file, as sh and dotenv-expand 1000 do; `\\$` is a literal `$` (never `$(...)`).',
    },
    decrypt: {
      type: 'boolean',
      default: true,
      description: 'Decrypt values written by `dotenvx encrypt` (`encrypted:...`) with `DOTENV_PRIVATE_KEY_<ENV>` or `DOTENV_PRIVATE_KEY` from the environment or `.env.keys`; `false` keeps them literal.',
    },
  },
  label: labelByPath,
  // `.env.keys` beside the file holds dotenvx private keys: as private as the file (reported only if it exists).
  privateFiles: (options, context): PrivateFile[] => {
    const own = privateFile(options, context);
    if (options.decrypt === false) return own;
    return [...own, { path: join(dirname(own[0].path), '.env.keys'), shown: join(dirname(options.path), '.env.keys'), role: 'dotenvx keys file' }];
  },
  watchPaths: watchFile,
  lintFile: (bytes) => lintDotenv(bytes).map((finding) => ({ line: finding.line, text: dotenvFindingText(finding) })),
  usesEarlierKeys: (options) => options.expand,
  async load(options, context) {
    const { text, shown } = readLayerFile(options, context);
    let parsed = parseDotenv(text, shown);
    const cut = options.references === false ? undefined : dotenvCutReference(text);
    if (cut) throw new ReferenceProblem(`${shown}:${cut.line}: ${cut.key}: an unquoted "#" cuts the reference (dotenv reads it as a comment); quote the value: ${cut.key}="ref+..."`);
    if (options.decrypt !== false) {
      if (hasEncryptedValues(parsed)) {
        const dir = dirname(filePath(options, context));
        const keysShown = join(dirname(shown), '.env.keys');
        parsed = ownMap(
          await decryptValues(parsed, {
            shown,
            fileName: basename(shown),
            keysShown,
            env: context.env,
            readKeysFile: () => readKeysFile(join(dir, '.env.keys'), keysShown),
            lineOf: (key) => keyLine(text, key),
            secret: context.secret,
          }),
        );
      }
    }
    if (!options.expand) return parsed;
    // The file's own values as expanded so far: a Map, so a key is found only if the file set it.
    const own = new Map<string, string>();
    const lookup = lookupIn(own, context.keys, context.env);
    const out: Record<string, string> = {};
    for (const [key, value] of Object.entries(parsed)) {
      try {
        out[key] = interpolate(value, lookup, { bare: true });
      } catch (err) {
        if (err instanceof InterpolationError) throw new SourceError(`${shown}${keyLine(text, key)}: ${key}: expand: ${expansionProblem(err)}`);
        throw err;
      }
      own.set(key, out[key]);
    }
    return ownMap(out);
  },
});

function readKeysFile(path: string, shown: string): Record<string, string> | undefined {
  try {
    return parseDotenv(readTextFile(path, shown), shown);
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

/** `:LINE` of the last line that sets `key` (the one dotenv keeps), or nothing if it cannot be found. */
function keyLine(text: string, key: string): string {
  const lines = text.split(/\r\n|\r|\n/);
  const escaped = key.replace(/[.-]/g, '\\$&');
  const sets = new RegExp(`^\\s*(?:export\\s+)?${escaped}\\s*[=:]`);
  for (let i = lines.length - 1; i >= 0; i--) if (sets.test(lines[i])) return `:${i + 1}`;
  return '';
}

/**
 * What is wrong, from the error's code and columns only: the name after a `$` may be part of a password, so it
 * is never shown; an unsupported operator is shown, being one of our own list.
 */
function expansionProblem(err: InterpolationError): string {
  const at = err.column === undefined ? '' : ` at column ${err.column} of the value`;
  const literal = 'write \\$ for a literal $';
  switch (err.code) {
    case 'unset':
      return `the variable referenced${at} is not set (looked up in this file, earlier layers and the environment; ${literal})`;
    case 'dotted-name':
      return `the "\${"${at} holds a dotted name, at column ${err.foundAt}: names are letters, digits and _ (accepted: ${DOTENV_FORMS})`;
    case 'unsupported-operator':
      return `unsupported operator "${err.operator}" in the "\${"${at} (accepted: ${DOTENV_FORMS})`;
    case 'no-name':
      return `the "\${"${at} is not followed by a variable name (accepted: ${DOTENV_FORMS})`;
    case 'unexpected-character':
      return `unexpected character at column ${err.foundAt} in the "\${"${at}: expected "}" or an operator (accepted: ${DOTENV_FORMS})`;
    case 'unterminated':
      return `unterminated "\${"${at}: the value ends before its "}" (${literal})`;
  }
}
