/** Library entry: the same resolver the CLI uses. */
export type { Source, SourceContext, SourceOptions } from './sources/types.js';
export { SecretrunError } from './errors.js';
