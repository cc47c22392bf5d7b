/** `type: env`: the parent process environment as a layer at this position. */
import { ownMap } from '../formats/parse.js';
import { defineSource } from './descriptor.js';
import { isEnvName } from '../core/names.js';

/** secretrun's own control variables are not part of the merged set (contract section 1). */
const CONTROL = new Set(['SECRETRUN_ENV', 'SECRETRUN_CONFIG', 'SECRETRUN_DEBUG']);

export default defineSource({
  type: 'env',
  description: 'The parent process environment, as a layer at this position.',
  options: {},
  passesParentEnvironment: true,
  async load(_options, context) {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(context.env)) {
      // Names a shell could not export (e.g. `BASH_FUNC_x%%`) are inherited by the child anyway; skip them here
      // rather than failing the whole run on something the user did not write.
      if (v !== undefined && isEnvName(k) && !CONTROL.has(k)) out[k] = v;
    }
    return ownMap(out);
  },
});
