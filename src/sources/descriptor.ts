/**
 * What a source type is, in one value: its `type:` name, its options (typed, with defaults and descriptions),
 * whether it reaches the network, which of its options carry credentials, how its layer is labelled, which
 * local files it reads, and how it loads. The sources-file validator, `check`, the label, watch mode, the
 * resolver, shell completion and the generated schema.json all read the descriptors (src/sources/index.ts).
 *
 * A descriptor module keeps its top level light: it is imported on every start. Heavy dependencies (the AWS SDK,
 * undici, node:crypto for vaults) are imported inside `load`, so a run with only local layers never loads them.
 */
import { readOptions, withDefaults, type COMMON_OPTIONS, type OptionShape, type OptionSpecs, type OptionsOf } from '../core/validate.js';
import { urlCredentialParts, urlForDisplay } from '../core/urls.js';
import { SourceError } from '../core/errors.js';
import type { PrivateFile, ReferenceHook, Source, SourceContext, SourceOptions } from './types.js';

// ---- option groups several types share -----------------------------------------------------------------------

/** A local file read by the layer. */
export const FILE_OPTIONS = {
  path: { type: 'string', required: true, nonEmpty: true, description: 'File path, relative to the directory of the sources file.' },
  allow_world_readable: { type: 'boolean', description: 'Accept a file readable by group or others: `secretrun check` stops reporting it (and `check --strict` stops failing on it).' },
} as const satisfies OptionSpecs;

/** Picking keys out of structured content (JSON, YAML). */
export const STRUCTURED_OPTIONS = {
  select: { type: 'string', description: 'Dot path to a sub-object, e.g. `data.data`.' },
  flatten: { type: 'string', description: 'Separator for flattening nested objects into keys, e.g. `__` gives `DATABASES__default__HOST`.' },
} as const satisfies OptionSpecs;

export const DEFAULT_TIMEOUT_SECONDS = 10;
export const DEFAULT_RETRIES = 3;
/** Seconds within which throttled requests are retried: a deploy's patience rather than a request's. */
export const DEFAULT_DEADLINE_SECONDS = 120;

/** `timeout`, `retries` and `deadline` of the layers that reach the network (the policy: net/retry.ts). */
export const REMOTE_OPTIONS = {
  timeout: {
    type: 'number',
    exclusiveMinimum: 0,
    default: DEFAULT_TIMEOUT_SECONDS,
    is: 'seconds per attempt',
    description: `Seconds a connection may take and the first wait for an answer (default ${DEFAULT_TIMEOUT_SECONDS}); a connection never established is retried at \`timeout\` each, a timeout on an accepted connection waits twice as long again, bounded by \`deadline\`.`,
  },
  retries: {
    type: 'integer',
    minimum: 0,
    maximum: 20,
    default: DEFAULT_RETRIES,
    is: 'a whole number of extra attempts',
    description: `Retries of a timeout or another transient failure (default ${DEFAULT_RETRIES}); throttling is retried until \`deadline\` instead.`,
  },
  deadline: {
    type: 'number',
    exclusiveMinimum: 0,
    default: DEFAULT_DEADLINE_SECONDS,
    is: 'seconds within which throttled requests are retried',
    description: `Seconds within which throttled requests are retried (default ${DEFAULT_DEADLINE_SECONDS}): a deploy's patience rather than a request's.`,
  },
} as const satisfies OptionSpecs;

/** `format:` of a secret store layer: a payload is one value, or (`json`) a JSON object whose members are keys. */
export const SECRET_FORMAT_OPTION = {
  type: 'enum',
  values: ['raw', 'json'],
  default: 'raw',
  description: '`json`: each secret holds a JSON object whose members become keys (as a `json` layer). Default `raw`: each secret is one value, whatever it holds.',
} as const;

/** Of the layers that send credentials over HTTP (http, doppler): the transport rule's one escape (net/fetch.ts). */
export const ALLOW_INSECURE_HTTP = {
  type: 'boolean',
  default: false,
  description: 'Allow sending credentials over plain http:// to a host other than loopback (a trusted internal network only). Default false.',
} as const satisfies OptionSpecs[string];

// ---- the descriptor -------------------------------------------------------------------------------------------

/** Fills `${...}` in a label from the environment's `vars` only (never from loaded values). */
export type Fill = (text: string) => string;

export interface SourceDescriptor extends Source, OptionShape {
  /** The `type:` of the layer. */
  readonly type: string;
  /** One sentence for editors and docs. */
  readonly description: string;
  /** Reaches the network (progress spinner; `timeout`/`retries`). */
  readonly remote: boolean;
  /**
   * Its keys repeat the parent environment (`env`): a risky name there (PATH, NODE_OPTIONS) is what the child
   * would inherit anyway, not something the sources file set, so it is not reported.
   */
  readonly passesParentEnvironment: boolean;
  /** What follows the type in the layer's default label (`dotenv .env`), from the options as written. */
  label?(options: SourceOptions, fill: Fill): string | undefined;
  /**
   * What offline `check` warns about in one of the layer's own files (its `watchPaths`), read as bytes: lines the
   * parser ignores or cuts (dotenv). Each finding is a line number and a text built from positions and key names.
   */
  lintFile?(bytes: Uint8Array): readonly { line: number; text: string }[];
  /** `ref+SCHEME://...` values are read through this store (contract section 3b; ../core/references.ts). */
  readonly reference?: ReferenceHook;
}

/** Every property a descriptor has (the type makes this list complete: a key missing here does not compile). */
const DESCRIPTOR_KEYS: { readonly [K in keyof Required<SourceDescriptor>]: true } = {
  type: true, description: true, options: true, exclusive: true, openOptions: true, moreIssues: true, remote: true, passesParentEnvironment: true,
  label: true, lintFile: true, release: true, renewAt: true, renew: true, refreshAt: true, parentReason: true, releaseAtExit: true,
  endingWarning: true, reference: true, privateFiles: true, watchPaths: true, usesEarlierKeys: true, load: true,
};

/**
 * A registry entry that stands for the descriptor `get` returns, calling it only when a property other than `type`
 * is first read. The CLI bundle's registry is made of these for the source types a run of local layers does not
 * use (scripts/cli-bundles.mjs): their modules, and what those import, initialise only when a sources file names the
 * type or a value its reference scheme. Elsewhere (the library, tests) the registry holds the descriptors themselves.
 */
export function deferredSource(type: string, get: () => SourceDescriptor): SourceDescriptor {
  const entry = Object.defineProperties({ type, [LOAD]: get }, DEFERRED_PROPERTIES);
  return Object.freeze(entry) as unknown as SourceDescriptor;
}

const LOAD = Symbol('load');
const LOADED = new WeakMap<object, SourceDescriptor>();
/** The descriptor a deferred entry stands for, loaded on first use and checked to be of the entry's type. */
function loaded(entry: { type: string; [LOAD]: () => SourceDescriptor }): SourceDescriptor {
  let descriptor = LOADED.get(entry);
  if (!descriptor) {
    descriptor = entry[LOAD]();
    if (descriptor.type !== entry.type) throw new Error(`registry: module for type "${entry.type}" describes "${descriptor.type}"`);
    LOADED.set(entry, descriptor);
  }
  return descriptor;
}
/** One getter per descriptor property, shared by every deferred entry (so an entry costs one small object). */
const DEFERRED_PROPERTIES: PropertyDescriptorMap = Object.fromEntries(
  (Object.keys(DESCRIPTOR_KEYS) as (keyof SourceDescriptor)[])
    .filter((key) => key !== 'type')
    .map((key) => [key, { enumerable: true, get(this: Parameters<typeof loaded>[0]) { return loaded(this)[key]; } }]),
);

/** What a source's `load` receives: its own options, checked and with defaults, and the common ones. */
export type LayerOptions<O extends OptionSpecs> = OptionsOf<O> & OptionsOf<typeof COMMON_OPTIONS>;

export interface SourceDefinition<O extends OptionSpecs> {
  type: string;
  description: string;
  options: O;
  exclusive?: SourceDescriptor['exclusive'];
  openOptions?: boolean;
  moreIssues?: SourceDescriptor['moreIssues'];
  remote?: boolean;
  passesParentEnvironment?: boolean;
  label?: SourceDescriptor['label'];
  lintFile?: SourceDescriptor['lintFile'];
  reference?: ReferenceHook;
  /** Local files holding plain secrets, from its interpolated options: `check` reports any that others can read. */
  privateFiles?(options: LayerOptions<O>, context: Pick<SourceContext, 'configDir'>): PrivateFile[];
  /** Local files the layer reads (absolute paths), from its interpolated options; watch mode re-resolves on change. */
  watchPaths?(options: LayerOptions<O>, context: Pick<SourceContext, 'configDir'>): string[];
  usesEarlierKeys?: boolean | ((options: LayerOptions<O>) => boolean);
  /** Fetch and parse the layer; `options` are interpolated, checked and have their defaults. */
  load(options: LayerOptions<O>, context: SourceContext): Promise<Record<string, string>>;
  /** The lease hooks (see Source in ./types.ts), for a type whose values or logins expire. */
  release?: Source['release'];
  renewAt?: Source['renewAt'];
  renew?: Source['renew'];
  refreshAt?: Source['refreshAt'];
  parentReason?: Source['parentReason'];
  releaseAtExit?: Source['releaseAtExit'];
  endingWarning?: Source['endingWarning'];
}

/**
 * Build a descriptor. Its `load`, `privateFiles` and `watchPaths` read the options through `readOptions`, so a
 * source gets typed values with defaults, and a bad value (from the library API, or one that only `${...}` made
 * bad) fails with the descriptor's own message before the source runs.
 */
export function defineSource<const O extends OptionSpecs>(def: SourceDefinition<O>): SourceDescriptor {
  const read = (raw: SourceOptions) => readOptions(def, raw) as LayerOptions<O>;
  const { privateFiles, watchPaths, usesEarlierKeys } = def;
  return Object.freeze({
    type: def.type,
    description: def.description,
    options: def.options,
    exclusive: def.exclusive,
    openOptions: def.openOptions,
    moreIssues: def.moreIssues,
    remote: def.remote ?? false,
    passesParentEnvironment: def.passesParentEnvironment ?? false,
    label: def.label,
    lintFile: def.lintFile,
    release: def.release,
    renewAt: def.renewAt,
    renew: def.renew,
    refreshAt: def.refreshAt,
    parentReason: def.parentReason,
    releaseAtExit: def.releaseAtExit,
    endingWarning: def.endingWarning,
    reference: def.reference,
    privateFiles: privateFiles && ((raw: SourceOptions, context: Pick<SourceContext, 'configDir'>) => privateFiles(read(raw), context)),
    watchPaths: watchPaths && ((raw: SourceOptions, context: Pick<SourceContext, 'configDir'>) => watchPaths(read(raw), context)),
    // Asked before interpolation, of the options as written: defaults only, no checks (the file was checked).
    usesEarlierKeys: typeof usesEarlierKeys === 'function' ? (raw: SourceOptions) => usesEarlierKeys(withDefaults(def, raw) as LayerOptions<O>) : usesEarlierKeys,
    load: async (raw: SourceOptions, context: SourceContext) => {
      const options = read(raw);
      refuseDestinationsFromLayers(def.options, options, context);
      for (const value of alwaysCredentials(def.options, options)) context.secret(value);
      return def.load(options, context);
    },
  });
}

// ---- credentials (what the option specs' `credential` says) -----------------------------------------------------

/** The values of the options that are always credentials (a token, a password, each entry of such a map). */
function alwaysCredentials(specs: OptionSpecs, options: SourceOptions): string[] {
  const out: string[] = [];
  for (const [name, spec] of Object.entries(specs)) {
    const value = options[name];
    if (spec.credential?.when !== 'always') continue;
    if (typeof value === 'string') out.push(value);
    else if (value !== null && typeof value === 'object' && !Array.isArray(value)) for (const v of Object.values(value)) if (typeof v === 'string') out.push(v);
  }
  return out;
}

/**
 * Contract, "Where found credentials go": a credential secretrun finds itself (a cloud credential chain's token)
 * goes only where the sources file, its vars or the parent environment say. An option marked `destination` that an
 * earlier layer's key filled in is refused, naming the option and that layer.
 */
export function refuseDestinationsFromLayers(specs: OptionSpecs, options: SourceOptions, context: Pick<SourceContext, 'filledFrom'>): void {
  for (const [name, spec] of Object.entries(specs)) {
    if (!spec.destination || options[name] === undefined) continue;
    const layer = context.filledFrom?.([name]);
    if (layer !== undefined) {
      throw new SourceError(
        `\`${name}\` is filled from a key of layer "${layer}": it says where credentials go, so it must come from the sources file, its vars or the environment`,
      );
    }
  }
}

type Ranges = readonly (readonly [number, number])[];

/**
 * The first credential a request built from these options would carry, in words for the transport refusal
 * (never its value), as the option specs declare them; undefined when it carries none (contract, remote layers).
 */
export function credentialCarried(specs: OptionSpecs, options: SourceOptions, context: Pick<SourceContext, 'filled'>): string | undefined {
  const filled = (path: string[]): Ranges => context.filled?.(path) ?? [];
  for (const [name, spec] of Object.entries(specs)) {
    const credential = spec.credential;
    const value = options[name];
    if (!credential || value === undefined || value === '') continue;
    if (typeof value === 'string') {
      if (credential.when === 'always' || (credential.when === 'filled' && filled([name]).length > 0)) return credential.is;
      if (credential.when === 'url') {
        const parts = urlCredentialParts(value);
        if (parts.userinfo && overlaps(filled([name]), parts.userinfo)) return `the user and password of ${credential.is}`;
        if (parts.query && overlaps(filled([name]), parts.query)) return `the query of ${credential.is}`;
      }
    } else if (value !== null && typeof value === 'object') {
      const literal = new Set(credential.literalKeys?.map((k) => k.toLowerCase()));
      for (const key of Object.keys(value)) {
        if (credential.when === 'always' || literal.has(key.toLowerCase()) || filled([name, key]).length > 0) return `${credential.is} ${key}`;
      }
    }
  }
  return undefined;
}

function overlaps(ranges: Ranges, [start, end]: [number, number]): boolean {
  return ranges.some(([a, b]) => a < end && b > start);
}

// ---- labels ----------------------------------------------------------------------------------------------------

/** `dotenv .env`: the path as written, `${...}` filled from vars. */
export function labelByPath(options: SourceOptions, fill: Fill): string | undefined {
  return typeof options.path === 'string' ? fill(options.path) : undefined;
}

/** `http https://host/path`: never the userinfo, query or fragment (they may hold credentials). */
export function labelByUrl(options: SourceOptions, fill: Fill): string | undefined {
  return typeof options.url === 'string' ? urlForDisplay(fill(options.url), { path: true }) : undefined;
}
