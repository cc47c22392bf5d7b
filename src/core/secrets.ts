/**
 * The one path from options to a resolved environment, shared by the CLI (commands/common.ts) and the library
 * (`loadSecrets`): find and load the sources file, select the environment, resolve the layers, check `require`.
 * Nothing here reads `process.env`, `process.cwd()` or writes to a stream: the caller passes them in.
 *
 * Also the read-only `Secrets` map the library hands to application code. It masks by default: printing it,
 * logging it or `JSON.stringify`-ing it shows masked values, and only `toJSON({ reveal: true })` or reading a
 * key gives a plain value.
 */
import { inspect, type InspectOptions } from 'node:util';
import { findSourcesFile, loadSourcesFile, locateSourcesFile, noSourcesFile, selectEnvironment, type EnvironmentPlan, type ExtraDotenv, type OptionNames, type SourcesFile } from './config.js';
import { ConfigErrors, SecretrunError, redact } from './errors.js';
import { maskValue } from '../process/mask.js';
import { resolveLayers, type Resolution, type ResolvedEntry } from './resolve.js';
import { loadSource, OPTION_DEFAULTS } from '../sources/index.js';

type ProcessEnv = Readonly<Record<string, string | undefined>>;

export interface LocateOptions {
  /** The sources file (`-c`), relative to `cwd`. Default: `SECRETRUN_CONFIG`, else the nearest secretrun.yaml. */
  config?: string;
  cwd: string;
  processEnv: ProcessEnv;
  /** Dotenv layers after the sources file's own (relative to `cwd`); with them, no sources file is needed. */
  dotenv?: readonly ExtraDotenv[];
  /** How messages name the caller's options (the CLI's flags); default: the library's option names. */
  names?: OptionNames;
}

export interface ResolveSecretsOptions extends LocateOptions {
  /** The environment (`-e`). Default: `SECRETRUN_ENV`, else `default_environment`. */
  env?: string;
  /** An already-loaded sources file, so `diff` reads the file once for two environments. */
  file?: SourcesFile;
  /** `diff` and `ls` show what an environment lacks instead of failing on `require`. Default true. */
  checkRequire?: boolean;
  signal?: AbortSignal;
  warn: (message: string) => void;
  /** Progress display hooks (the CLI's spinner). */
  onRemoteStart?: (names: string[]) => void;
  onLayerDone?: (name: string) => void;
}

export interface Resolved {
  file: SourcesFile;
  plan: EnvironmentPlan;
  resolution: Resolution;
}

/** The sources file; with `dotenv` layers and no file named or found, the stand-in for none. */
export async function findAndLoadSourcesFile({ config, cwd, processEnv, dotenv, names }: LocateOptions): Promise<SourcesFile> {
  const find = { config, cwd, env: processEnv, names };
  if (!dotenv?.length) return loadSourcesFile(findSourcesFile(find), cwd);
  const path = locateSourcesFile(find);
  return path ? loadSourcesFile(path, cwd) : noSourcesFile(cwd);
}

/** Sources file → selected environment → merged layers with provenance → `require` checked. */
export async function resolveSecrets(options: ResolveSecretsOptions): Promise<Resolved> {
  const file = options.file ?? (await findAndLoadSourcesFile(options));
  const plan = selectEnvironment(file, { env: options.env, processEnv: options.processEnv, names: options.names, dotenv: options.dotenv, cwd: options.cwd });
  const resolution = await resolveLayers(plan, {
    processEnv: options.processEnv,
    loadSource,
    optionDefaults: OPTION_DEFAULTS,
    warn: options.warn,
    signal: options.signal,
    onRemoteStart: options.onRemoteStart,
    onLayerDone: options.onLayerDone,
  });
  if (options.checkRequire !== false) checkRequired(plan, resolution);
  return { file, plan, resolution };
}

export function checkRequired(plan: EnvironmentPlan, resolution: Resolution): void {
  const missing = plan.require.filter((k) => !resolution.entries.has(k));
  if (missing.length > 0) {
    const where = plan.implicit ? '' : ` in environment "${plan.name}"`;
    throw new SecretrunError(`missing required key${missing.length > 1 ? 's' : ''}${where}: ${missing.join(', ')} (listed under "require" in ${plan.file.shown})`);
  }
}

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
  const processEnv = options.processEnv ?? process.env;
  try {
    options.signal?.throwIfAborted();
    const { file, resolution } = await resolveSecrets({
      env: options.env,
      config: options.config,
      cwd: options.cwd ?? process.cwd(),
      processEnv,
      dotenv: options.dotenv?.map((d) => (typeof d === 'string' ? { path: d } : d)),
      checkRequire: options.checkRequire,
      signal: options.signal,
      warn: (message) => (options.onWarning ?? emitWarning)(redact(message)),
    });
    return new Secrets(resolution, file.path);
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
