/**
 * The library: `loadSecrets` resolves through the same pipeline as the CLI (./pipeline.ts) and applies the
 * library's policy to the findings: `require` is enforced (unless `checkRequire: false`), warnings and file-permission
 * findings go to `onWarning`.
 *
 * Also the read-only `Secrets` map the library hands to application code. It masks by default: printing it,
 * logging it or `JSON.stringify`-ing it shows masked values, and only `toJSON({ reveal: true })` or reading a
 * key gives a plain value.
 */
import { inspect, type InspectOptions } from 'node:util';
import type { ExtraDotenv } from './config.js';
import { ConfigErrors, SecretrunError, redact } from './errors.js';
import { maskValue } from './mask-value.js';
import { missingRequiredMessage, permissionMessage, resolveSecrets, type PipelineOptions, type Resolved } from './pipeline.js';
import type { Resolution, ResolvedEntry } from './resolve.js';

// ---- the library entry -------------------------------------------------------------------------------------

export interface LoadSecretsOptions {
  /** The environment to resolve. Default: `SECRETRUN_ENV` (from `processEnv`), else the file's `default_environment`. */
  env?: string;
  /** Path to the sources file, relative to `cwd`. Default: `SECRETRUN_CONFIG`, else the nearest secretrun.yaml. */
  config?: string;
  /** Where to start looking for secretrun.yaml, and what `config` is relative to. Default: `process.cwd()`. */
  cwd?: string;
  /** The parent environment seen by `env` layers and `${...}`. Default: `process.env`. */
  processEnv?: Record<string, string | undefined>;
  /**
   * Dotenv files read after the sources file's layers, in order, relative to `cwd` (the CLI's `--dotenv`).
   * With them, no sources file is needed. `{ path, optional: true }` skips a missing file.
   */
  dotenv?: readonly (string | ExtraDotenv)[];
  /**
   * With `dotenv` files and no sources file, let the files win over `processEnv` (the CLI's `--override`). By
   * default a variable already set in `processEnv`, even to '', wins, as with `dotenv run`. Anywhere else (a
   * sources file, no `dotenv` files) it is a `UsageError`.
   */
  override?: boolean;
  /** Check the file's `require` lists, as `secretrun run` does. Default true. */
  checkRequire?: boolean;
  /** Abort the resolution (in-flight remote layers are cancelled). */
  signal?: AbortSignal;
  /** Receives warnings (never containing a value). Default: `process.emitWarning` with type `SecretrunWarning`. */
  onWarning?: (message: string) => void;
}

/** Where a key's value came from. */
export interface SecretSource {
  /** The layer that won. */
  readonly layer: string;
  /** Earlier layers that defined the key too, in file order. */
  readonly shadowed: readonly string[];
}

/**
 * Resolve an environment's layers exactly as `secretrun run` does and return them as a read-only map.
 * Throws the same typed errors as the CLI (`ConfigErrors`, `LayerError`, `SecretrunError`, ...), with any
 * secret value scrubbed from their messages.
 */
export async function loadSecrets(options: LoadSecretsOptions = {}): Promise<Secrets> {
  return (await resolveForLibrary(options)).secrets;
}

/**
 * `loadSecrets`, also returning the resolution (watchSecrets watches its files). `extra` is the watcher's own:
 * its cancellation and its per-layer cache.
 */
export async function resolveForLibrary(
  options: LoadSecretsOptions,
  extra: { signal?: AbortSignal; cache?: PipelineOptions['cache']; session?: PipelineOptions['session'] } = {},
): Promise<{ resolved: Resolved; secrets: Secrets }> {
  const processEnv = options.processEnv ?? process.env;
  const signal = extra.signal ?? options.signal;
  try {
    signal?.throwIfAborted();
    const resolved = await resolveSecrets({
      env: options.env,
      config: options.config,
      cwd: options.cwd ?? process.cwd(),
      processEnv,
      dotenv: options.dotenv?.map((d) => (typeof d === 'string' ? { path: d } : d)),
      override: options.override,
      signal,
      cache: extra.cache,
      session: extra.session,
    });
    const { file, plan, resolution, findings } = resolved;
    const warn = options.onWarning ?? emitWarning;
    for (const message of [...findings.warnings, ...findings.permissions.map(permissionMessage)]) warn(redact(message));
    if (options.checkRequire !== false && findings.missingRequired.length > 0) throw new SecretrunError(missingRequiredMessage(plan, findings.missingRequired));
    return { resolved, secrets: new Secrets(resolution, file.path) };
  } catch (err) {
    throw scrubError(err);
  }
}

function emitWarning(message: string): void {
  process.emitWarning(message, 'SecretrunWarning');
}

/**
 * The CLI's exit handler redacts every message it prints; application code may log a thrown error anywhere, so
 * the library applies the same second line of defence before the error leaves it.
 */
function scrubError(err: unknown): unknown {
  // Only our own errors carry text built from layers (an AbortError's message is a read-only getter).
  if (!(err instanceof SecretrunError)) return err;
  const scrub = (e: Error) => {
    e.message = redact(e.message);
    if (typeof e.stack === 'string') e.stack = redact(e.stack);
  };
  scrub(err);
  if (err instanceof ConfigErrors) err.errors.forEach(scrub);
  return err;
}

const REVEAL_HINT = 'call toJSON({ reveal: true }) to get the plain values, or JSON.stringify(secrets) for masked ones';

/**
 * A resolved environment: a read-only `Map`-like view of key → value, plus each key's provenance.
 *
 * Reading a key (`get`, iteration, `values()`) gives plain values: that is what the map is for. Everything that
 * serialises or prints the whole map masks by default:
 * - `util.inspect(secrets)` / `console.log(secrets)` show `****** (N chars)` for every value;
 * - `JSON.stringify(secrets)` gives `{ KEY: "****** (N chars)" }` (JSON.stringify passes a string key to toJSON);
 * - `secrets.toJSON({ reveal: true })` gives `{ KEY: "value" }`; `toJSON()` with no argument throws.
 * The data lives in private fields, so spreading or `structuredClone` copies no value either.
 */
export class Secrets implements ReadonlyMap<string, string> {
  /** The environment that was resolved (`default` for a file without `environments`). */
  readonly environment: string;
  /** Absolute path of the sources file; '' when there is none (only `dotenv` files were given). */
  readonly file: string;
  readonly #values: ReadonlyMap<string, string>;
  readonly #entries: ReadonlyMap<string, ResolvedEntry>;

  /** @internal Use `loadSecrets()`. */
  constructor(resolution: Resolution, file: string) {
    this.environment = resolution.environment;
    this.file = file;
    this.#entries = new Map(resolution.entries);
    this.#values = new Map([...resolution.entries].map(([k, e]) => [k, e.value]));
    Object.freeze(this);
  }

  get size(): number {
    return this.#values.size;
  }

  get(key: string): string | undefined {
    return this.#values.get(key);
  }

  has(key: string): boolean {
    return this.#values.has(key);
  }

  /** The winning layer and the layers it shadowed, or undefined for a key no layer defines. */
  source(key: string): SecretSource | undefined {
    const entry = this.#entries.get(key);
    return entry && Object.freeze({ layer: entry.layer, shadowed: Object.freeze([...entry.shadowed]) });
  }

  /** Keys in sorted order, as `secretrun ls` lists them. */
  keys(): MapIterator<string> {
    return this.#values.keys();
  }

  values(): MapIterator<string> {
    return this.#values.values();
  }

  entries(): MapIterator<[string, string]> {
    return this.#values.entries();
  }

  [Symbol.iterator](): MapIterator<[string, string]> {
    return this.#values.entries();
  }

  forEach(callback: (value: string, key: string, map: ReadonlyMap<string, string>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.#values) callback.call(thisArg, v, k, this);
  }

  /**
   * `{ reveal: true }`: every key with its plain value. `{ reveal: false }`, or the string key that
   * `JSON.stringify` passes: every key with its masked value. Anything else throws, so a plain `toJSON()` can
   * never dump secrets by accident.
   */
  toJSON(options: { reveal: boolean } | string): Record<string, string> {
    if (typeof options === 'string' || (options !== null && typeof options === 'object' && options.reveal === false)) return this.#masked();
    if (options !== null && typeof options === 'object' && options.reveal === true) return Object.fromEntries(this.#values);
    throw new SecretrunError(`Secrets.toJSON() needs an explicit choice: ${REVEAL_HINT}`);
  }

  get [Symbol.toStringTag](): string {
    return 'Secrets';
  }

  [inspect.custom](depth: number, options: InspectOptions, inspectFn: typeof inspect = inspect): string {
    const label = `Secrets [${this.environment}]`;
    if (depth < 0) return `[${label}]`;
    return `${label} ${inspectFn(this.#masked(), { ...options, depth: options.depth === null || options.depth === undefined ? null : options.depth - 1 })}`;
  }

  #masked(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of this.#values) out[k] = maskValue(v);
    return out;
  }
}
