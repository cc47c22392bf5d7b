/**
 * Library entry: `import { loadSecrets, watchSecrets } from 'secretrun'`. The same resolver the CLI uses (src/core/secrets.ts), the
 * typed errors it throws, and the interface a `module` layer implements.
 */
export { loadSecrets, Secrets, type LoadSecretsOptions, type SecretSource } from './core/secrets.js';
export { watchSecrets, SecretsWatcher, type SecretsChange, type WatchSecretsOptions } from './process/watch-secrets.js';
export { ConfigError, ConfigErrors, LayerError, NotFoundError, SecretrunError, SourceError, UsageError, type Location } from './core/errors.js';
export { maskValue } from './core/mask-value.js';
export type { Source, SourceContext, SourceOptions } from './sources/types.js';
