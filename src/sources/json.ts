/** `type: json`: a JSON file; `select` picks a sub-object, `flatten` splits nested objects into keys. */
import { parseJson, structuredToEnv } from '../formats/parse.js';
import { FILE_OPTIONS, STRUCTURED_OPTIONS, defineSource, labelByPath } from './descriptor.js';
import { privateFile, readLayerFile, watchFile } from './local-file.js';

export default defineSource({
  type: 'json',
  description: 'A JSON file.',
  options: { ...FILE_OPTIONS, ...STRUCTURED_OPTIONS },
  label: labelByPath,
  privateFiles: privateFile,
  watchPaths: watchFile,
  async load(options, context) {
    const { text, shown } = readLayerFile(options, context);
    return structuredToEnv(parseJson(text, shown), { origin: shown, select: options.select, flatten: options.flatten });
  },
});
