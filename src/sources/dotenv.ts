/**
 * `type: dotenv`: parsed exactly as the `dotenv` package parses it.
 * `expand: true` expands `${VAR}`, `$VAR`, `${VAR:-default}`, `${VAR-default}`, `${VAR:+alt}` and `${VAR+alt}`
 * (as dotenv-expand reads them) with our own interpolation code, looking names up in the file's earlier keys,
 * then the earlier layers, then the process environment. `\$` is a literal `$` (bcrypt hashes). `$(...)` is
 * never run (the newest dotenv-expand executes commands, which is why it is not used).
 *
 * The values are the file's secrets, so an expansion error names the key and a column, never the text after
 * a `$` (in a password that "variable name" is part of the password).
 */
import { interpolate, InterpolationError } from '../core/interpolate.js';
import { SourceError } from '../core/errors.js';
import { dotenvCutReference, ReferenceProblem } from '../core/references.js';
import { ownMap, parseDotenv } from '../formats/parse.js';
import { FILE_OPTIONS, defineSource, labelByPath } from './descriptor.js';
import { privateFile, readLayerFile, watchFile } from './local-file.js';

export default defineSource({
  type: 'dotenv',
  description: 'A .env file, parsed exactly as the dotenv package parses it.',
  options: {
    ...FILE_OPTIONS,
    expand: { type: 'boolean', default: false, description: 'Expand `${VAR}`, `$VAR` and `${VAR:-default}` inside the file (never `$(...)`).' },
  },
  label: labelByPath,
  privateFiles: privateFile,
  watchPaths: watchFile,
  usesEarlierKeys: (options) => options.expand,
  async load(options, context) {
    const { text, shown } = readLayerFile(options, context);
    const parsed = parseDotenv(text, shown);
    const cut = options.references === false ? undefined : dotenvCutReference(text);
    if (cut) throw new ReferenceProblem(`${shown}:${cut.line}: ${cut.key}: an unquoted "#" cuts the reference (dotenv reads it as a comment); quote the value: ${cut.key}="ref+..."`);
    if (!options.expand) return parsed;
    const out: Record<string, string> = {};
    for (const [key, value] of Object.entries(parsed)) {
      try {
        out[key] = interpolate(value, (n) => out[n] ?? context.keys[n] ?? context.env[n], { bare: true });
      } catch (err) {
        if (err instanceof InterpolationError) throw new SourceError(`${shown}${keyLine(text, key)}: ${key}: ${expansionProblem(err)}`);
        throw err;
      }
    }
    return ownMap(out);
  },
});

/** `:LINE` of the last line that sets `key` (the one dotenv keeps), or nothing if it cannot be found. */
function keyLine(text: string, key: string): string {
  const lines = text.split(/\r\n|\r|\n/);
  const escaped = key.replace(/[.-]/g, '\\$&');
  const sets = new RegExp(`^\\s*(?:export\\s+)?${escaped}\\s*[=:]`);
  for (let i = lines.length - 1; i >= 0; i--) if (sets.test(lines[i])) return `:${i + 1}`;
  return '';
}

function expansionProblem(err: InterpolationError): string {
  const at = err.column === undefined ? '' : ` at column ${err.column} of the value`;
  if (err.variable !== undefined) {
    return `expand: the variable referenced${at} is not set (looked up in this file, earlier layers and the environment; write \\$ for a literal $)`;
  }
  // Parse problems already say only where (a column), never what.
  return `expand: ${err.message}`;
}
