/**
 * Library entry: `import { loadSecrets } from 'secretrun'`. The same resolver the CLI uses (src/secrets.ts), the
 * typed errors it throws, and the interface a `module` layer implements.
 */
export { loadSecrets, Secrets, type LoadSecretsOptions, type SecretSource } from './secrets.js';
export { ConfigError, ConfigErrors, LayerError, NotFoundError, SecretrunError, SourceError, UsageError, type Location } from './errors.js';
export { maskValue } from './mask.js';
export type { Source, SourceContext, SourceOptions } from './sources/types.js';
