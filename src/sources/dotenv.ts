/**
 * `type: dotenv`: parsed exactly as the `dotenv` package parses it.
 * `expand: true` expands `${VAR}`, `$VAR` and `${VAR:-default}` with our own interpolation code, looking names up
 * in the file's earlier keys, then the earlier layers, then the process environment. `$(...)` is never run
 * (the newest dotenv-expand executes commands, which is why it is not used).
 */
import { interpolate, InterpolationError } from '../core/interpolate.js';
import { SourceError } from '../core/errors.js';
import { ownMap, parseDotenv } from '../formats/parse.js';
import { privateFile, readLayerFile, watchFile } from './local-file.js';
import type { Source } from './types.js';

const dotenvSource: Source = {
  async load(options, context) {
    const { text, shown } = readLayerFile(options, context);
    const parsed = parseDotenv(text, shown);
    if (options.expand !== true) return parsed;
    const out: Record<string, string> = {};
    for (const [key, value] of Object.entries(parsed)) {
      try {
        out[key] = interpolate(value, (n) => out[n] ?? context.keys[n] ?? context.env[n], { bare: true });
      } catch (err) {
        if (err instanceof InterpolationError) throw new SourceError(`${shown}: ${key}: ${err.message.replace('vars, earlier layers', 'this file, earlier layers')}`);
        throw err;
      }
    }
    return ownMap(out);
  },
  privateFiles: privateFile,
  watchPaths: watchFile,
  usesEarlierKeys: (options) => options.expand === true,
};

export default dotenvSource;
