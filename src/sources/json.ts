/** `type: json`: a JSON file; `select` picks a sub-object, `flatten` splits nested objects into keys. */
import { parseJson, structuredToEnv } from '../formats/parse.js';
import { privateFile, readLayerFile, watchFile } from './local-file.js';
import type { Source } from './types.js';

const jsonSource: Source = {
  async load(options, context) {
    const { text, shown } = readLayerFile(options, context);
    return structuredToEnv(parseJson(text, shown), { origin: shown, select: options.select as string | undefined, flatten: options.flatten as string | undefined });
  },
  privateFiles: privateFile,
  watchPaths: watchFile,
};

export default jsonSource;
