/**
 * Layers → merged set with provenance.
 *
 * Every layer starts at once. A layer whose options reference `${NAME}` waits only for the earlier layers that
 * could produce NAME, nearest first, and stops waiting at the first one that does (the nearest definition is the
 * one that wins). So independent remote layers are fetched concurrently, a Doppler token read from `.env` makes
 * only the doppler layer wait, and the merge still happens in file order. The first failure aborts the layers
 * still in flight and is the one reported.
 */
import { interpolate, interpolateTracked, InterpolationError, lookupIn, mapStrings, ownValue, references } from './interpolate.js';
import type { EnvironmentPlan, LayerSpec } from './config.js';
import { applyDecode } from '../formats/decode.js';
import { ConfigError, LayerError, NotFoundError, SecretrunError, SourceError, describeError, redact, registerSecret, shown, type Location } from './errors.js';
import { matchesAny } from './glob.js';
import { isOwnMap } from '../formats/parse.js';
import type { FilledFrom, Source, SourceOptions } from '../sources/types.js';
import { isEnvName } from './names.js';
import { withDefaults } from './validate.js';
import { filePermissionFindings, type PermissionFinding } from './permissions.js';
import { RELEASE_TIMEOUT_MS, releaseHeld } from './leases.js';
import { layerReferences, literalParts, mayHoldReference, parseReferences, ReferenceProblem, ReferenceResolver, schemesOf, type Reference, type ResolvedValue } from './references.js';

export interface ResolvedEntry {
  value: string;
  /** Name of the layer that won. */
  layer: string;
  /** Earlier layers that defined the key too, in file order (a shared frozen array when there are none). */
  shadowed: string[];
  /** The value was read through a reference: `ref+awsssm` (contract section 3b). */
  via?: string;
  /** ... and at least one of them was leased (new on every read): `diff` compares such values by presence. */
  leased?: boolean;
}

export interface LayerOutcome {
  name: string;
  type: string;
  keys: Record<string, string>;
  /** True when an `optional` layer found nothing to read. */
  missing: boolean;
  /** What the layer holds beyond its values (leases, login tokens), as its source reported it (`context.hold`). */
  held?: HeldState[];
  /** Keys the layer marks as not secret (`public:`). */
  publicKeys: string[];
}

/** One thing a layer holds (a lease, a login token), opaque to the core; its source's hooks act on it. */
export interface HeldState {
  layer: string;
  source: Source;
  state: unknown;
  /** Belongs to the session (a shared login, a reused lease): not released with a thrown-away resolution. */
  session?: boolean;
}

export interface Resolution {
  environment: string;
  /** Keys in sorted order. */
  entries: Map<string, ResolvedEntry>;
  layers: LayerOutcome[];
  /** `inheritedReferences` with no sources file: the inherited variables whose references were resolved. */
  inherited?: Record<string, string>;
  /** What references hold (a Vault lease read through `ref+vault`), beside the layers' own. */
  held?: HeldState[];
}

export interface ResolveHooks {
  /** The parent process environment (never read from `process.env` here). */
  processEnv: Readonly<Record<string, string | undefined>>;
  warn: (message: string) => void;
  /** A layer's private file that group or others can read (see permissions.ts). */
  onPermissions?: (finding: PermissionFinding) => void;
  signal?: AbortSignal;
  /**
   * Kept by a caller that resolves again and again (watch mode, watchSecrets): per layer, what lets a remote
   * source ask the server "changed since?" (an ETag) and reuse its last answer. One map per layer, found by the
   * layer's type and interpolated options.
   */
  cache?: Map<string, Map<string, unknown>>;
  /**
   * One map per session (one CLI run, one watcher, one `loadSecrets` call), handed to every layer as
   * `context.session` (logins shared by layers). Default: a new map for this resolution.
   */
  session?: Map<string, unknown>;
  /** Called when remote layers start and as each finishes (progress display: the CLI's spinner). */
  onRemoteStart?: (names: string[]) => void;
  onLayerDone?: (name: string) => void;
  /**
   * The inherited environment reaches a child (`run`): with no sources file its references are resolved
   * (`Resolution.inherited`); with one, an inherited reference no `env` layer reads is a warning.
   */
  inheritedReferences?: boolean;
  /** `check --resolve`: references are told so (`context.checking`): a store may verify access without reading. */
  checking?: boolean;
}

export async function resolveLayers(plan: EnvironmentPlan, hooks: ResolveHooks): Promise<Resolution> {
  /**
   * Cancels the layers still in flight when one fails or the caller cancels. Made when first asked for (a remote
   * layer's request, a failure): a run of local layers never builds one (about 0.3 ms of every start).
   */
  let controller: AbortController | undefined;
  const cancel = () => (controller ??= new AbortController());
  const onOuterAbort = () => cancel().abort(hooks.signal?.reason);
  hooks.signal?.addEventListener('abort', onOuterAbort, { once: true });
  // Defaults first, templates included: a `${DOPPLER_TOKEN}` default takes part in the dependency graph.
  const layers = plan.layers.map((spec) => ({ ...spec, options: withDefaults(spec.source, spec.options) }));
  // `vars` are the sources file's own text and are never blanked; what `${...}` filled into them from the
  // parent environment is (contract, messages).
  for (const value of plan.varsFilled ?? []) registerSecret(value);
  // The environment's name is the command line's or the file's own text (`SECRETRUN_ENV`): shown as it is.
  shown(plan.name);
  const names = layers.map((spec) => layerName(spec, plan.vars, plan.varsFilled));
  const session = hooks.session ?? new Map<string, unknown>();
  /** What stores read in this resolution, shared by layers and references (`context.reads`): each secret once. */
  const reads = new Map<string, Promise<unknown>>();
  /** Everything the layers reported holding, failed ones included (a thrown-away resolution releases it). */
  const heldAll: HeldState[] = [];
  const remote = names.filter((_, i) => layers[i].source.remote);
  if (remote.length > 0) hooks.onRemoteStart?.(remote);

  // References (contract section 3b): per layer, its values holding references by key, resolved when used.
  const schemes = schemesOf(plan.file.sources);
  const held: (Map<string, HeldReference> | undefined)[] = [];
  const resolver = new ReferenceResolver(schemes, {
    layer: 'references',
    configDir: plan.file.dir,
    keys: {},
    env: hooks.processEnv,
    get signal() {
      return cancel().signal;
    },
    warn: hooks.warn,
    secret: registerSecret,
    session,
    reads,
    checking: hooks.checking,
  }, (scheme) => {
    // A reference's lease (a Vault dynamic secret) is held by the resolution, under `ref+SCHEME`, like a layer's.
    const source = plan.file.sources.find((s) => s.reference?.scheme === scheme)!;
    return (state, holdOptions) => {
      const entry: HeldState = { layer: `ref+${scheme}`, source, state, ...(holdOptions?.session ? { session: true } : {}) };
      refHeld.push(entry);
      heldAll.push(entry);
    };
  });
  const refHeld: HeldState[] = [];
  /** Resolve layer values holding references (layer index, key) and finish them as their layer would have. */
  const resolveHeld = async (list: { i: number; key: string }[]): Promise<ResolvedValue[]> => {
    const fail = (i: number) => (reason: string) => new LayerError(names[i], reason, { definedAt: layers[i].location });
    const got = await resolver.resolve(list.map(({ i, key }) => ({ key, ...held[i]!.get(key)!, fail: fail(i) })));
    return got.map((v, n) => {
      const { i, key } = list[n];
      const options = layers[i].options;
      let value: string;
      try {
        value = finishResolved(v.value, held[i]!.get(key)!.sourceKey, options, names[i]);
      } catch (err) {
        throw wrapLayerError(err, names[i], cancel().signal, layers[i].location);
      }
      if (!matchesAny(key, publicPatterns(options))) registerSecret(value);
      return { ...v, value };
    });
  };

  let firstError: unknown;
  const results: Promise<LayerOutcome>[] = [];
  /** Per layer, `Object.keys` of its outcome's keys: listed once, used for secrets and the merge. */
  const keyNames: string[][] = [];
  /** Per layer, its output keys that hold leased values (`context.leased`). */
  const leasedKeys: (string[] | undefined)[] = [];
  for (let i = 0; i < layers.length; i++) {
    const run = resolveOne(i).catch((err) => {
      if (firstError === undefined) {
        firstError = err;
        cancel().abort();
      }
      throw err;
    });
    run.catch(() => {}); // handled below; avoid unhandled-rejection noise for layers that wait on a failed one
    results.push(run);
  }

  async function resolveOne(i: number): Promise<LayerOutcome> {
    const spec = layers[i];
    const source = spec.source;
    const name = names[i];
    const refs = collectReferences(spec, name);
    const barrier = typeof source.usesEarlierKeys === 'function' ? source.usesEarlierKeys(spec.options) : !!source.usesEarlierKeys;
    const pending = new Set(refs.filter((n) => !Object.hasOwn(plan.vars, n)));
    // Own-property maps (null prototype): `${...}` reads them with the one lookup rule (interpolate.ts `lookupIn`).
    const found: Record<string, string> = Object.create(null);
    /** Names `${...}` reads whose value holds references: resolved before this layer loads. */
    const readHeld: { i: number; key: string }[] = [];
    const merged: Record<string, string> = Object.create(null);
    /** The earlier layer each of `found`'s and `merged`'s names came from (destination options, descriptor.ts). */
    const layerOf: Record<string, string> = Object.create(null);
    /** Names whose value comes from an earlier layer that marks them `public:`. */
    const publicFromLayer = new Set<string>();
    for (let j = i - 1; j >= 0 && (pending.size > 0 || barrier); j--) {
      if (!barrier && ![...pending].some((n) => mayProduce(layers[j], n))) continue;
      const earlier = await results[j];
      for (const n of [...pending]) {
        if (Object.hasOwn(earlier.keys, n)) {
          found[n] = earlier.keys[n];
          layerOf[n] = earlier.name;
          if (held[j]?.has(n)) readHeld.push({ i: j, key: n });
          pending.delete(n);
          if (earlier.publicKeys.includes(n)) publicFromLayer.add(n);
        }
      }
      if (barrier) {
        for (const [k, v] of Object.entries(earlier.keys)) {
          if (Object.hasOwn(merged, k)) continue;
          merged[k] = v;
          layerOf[k] ??= earlier.name;
          if (!Object.hasOwn(found, k) && earlier.publicKeys.includes(k)) publicFromLayer.add(k);
        }
      }
    }
    if (readHeld.length > 0) (await resolveHeld(readHeld)).forEach((v, n) => (found[readHeld[n].key] = v.value));
    // Every value `${...}` fills in joins the redaction net (it may end up in a path or URL shown in a message),
    // unless its name is public here or in the layer that produced it.
    const ownPublic = publicPatterns(spec.options);
    const fromLayers = lookupIn(found, merged);
    let filledByLayer: string | undefined;
    /** Where the names the lookups since the last `takeOrigins` read came from (credential origins in messages). */
    let filledFrom: FilledFrom[] = [];
    const lookup = (n: string) => {
      const fromVars = ownValue(plan.vars, n);
      const fromLayer = fromLayers(n);
      const fromEnv = fromVars === undefined && fromLayer === undefined ? ownValue(hooks.processEnv, n) : undefined;
      const value = fromVars ?? fromLayer ?? fromEnv;
      // `vars` are the sources file's own text: never blanked (what `${...}` filled into them from the parent
      // environment is registered once, in resolveLayers).
      if (fromVars === undefined && value !== undefined && !matchesAny(n, ownPublic) && !(fromLayer !== undefined && publicFromLayer.has(n))) registerFilled(n, value);
      if (fromVars === undefined && fromLayer !== undefined && fromLayer !== '') filledByLayer ??= layerOf[n];
      if (fromVars !== undefined) filledFrom.push({ name: n, from: 'vars' });
      else if (fromLayer !== undefined) filledFrom.push({ name: n, from: 'layer', layer: layerOf[n] ?? '' });
      else if (fromEnv !== undefined) filledFrom.push({ name: n, from: 'env' });
      return value;
    };
    const { options, filled, fromLayer, origins } = interpolateOptions(
      spec,
      name,
      lookup,
      () => {
        const by = filledByLayer;
        filledByLayer = undefined;
        return by;
      },
      () => {
        const from = filledFrom;
        filledFrom = [];
        return from;
      },
    );
    const holding: HeldState[] = [];
    const leasedOwn = new Set<string>();
    const context = {
      layer: name,
      configDir: spec.dir ?? plan.file.dir,
      keys: Object.freeze(barrier ? merged : found),
      env: hooks.processEnv,
      get signal() {
        return cancel().signal;
      },
      warn: hooks.warn,
      secret: registerSecret,
      filled: (path: (string | number)[]) => filled.get(path.join('\0')) ?? [],
      filledFrom: (path: (string | number)[]) => fromLayer.get(path.join('\0')),
      origins: (path: (string | number)[]) => origins.get(path.join('\0')) ?? [],
      cache: hooks.cache && layerCache(hooks.cache, spec.type, options),
      session,
      reads,
      hold: (state: unknown, holdOptions?: { session?: boolean }) => {
        const entry: HeldState = holdOptions?.session ? { layer: name, source, state, session: true } : { layer: name, source, state };
        holding.push(entry);
        heldAll.push(entry);
      },
      leased: (ks: readonly string[]) => ks.forEach((k) => leasedOwn.add(k)),
    };
    let keys: Record<string, string>;
    let missing = false;
    try {
      keys = await source.load(options, context);
      if (keys === null || typeof keys !== 'object' || Array.isArray(keys)) throw new SourceError('source returned no key/value object');
    } catch (err) {
      if (err instanceof NotFoundError && options.optional === true) {
        keys = {};
        missing = true;
      } else throw wrapLayerError(err, name, cancel().signal, spec.location);
    } finally {
      hooks.onLayerDone?.(name);
    }
    if (!missing && hooks.onPermissions) for (const found of filePermissionFindings(source, options, name, spec.dir ?? plan.file.dir, spec.location)) hooks.onPermissions(found);
    let listed: string[];
    try {
      const refs = options.references !== false && !(spec.location && plan.file.data.references === false) ? layerReferences(keys, schemes, source.passesParentEnvironment ? 'skip' : 'error') : undefined;
      ({ keys, names: listed } = postProcess(keys, options, name, refs));
      if (refs) held[i] = heldByKey(refs, keys, options, name);
    } catch (err) {
      throw wrapLayerError(err instanceof ReferenceProblem ? new LayerError(name, err.message) : err, name, cancel().signal, spec.location);
    }
    keyNames[i] = listed;
    if (leasedOwn.size > 0) leasedKeys[i] = [...leasedOwn].map((k) => shapedName(k, options)).filter((k) => k !== undefined && Object.hasOwn(keys, k)) as string[];
    const publicKeys = Array.isArray(options.public) ? listed.filter((k) => matchesAny(k, options.public as string[])) : [];
    for (let j = 0; j < listed.length; j++) {
      const own = held[i]?.get(listed[j]);
      // A reference's text is not secret (messages show its path); the value around an embedded one is.
      if (publicKeys.length === 0 || !publicKeys.includes(listed[j])) for (const part of own ? literalParts(own.value, own.refs) : [keys[listed[j]]]) registerSecret(part);
    }
    return holding.length > 0 ? { name, type: spec.type, keys, missing, publicKeys, held: holding } : { name, type: spec.type, keys, missing, publicKeys };
  }

  let outcomes: LayerOutcome[];
  try {
    outcomes = await Promise.all(results);
  } catch {
    await Promise.allSettled(results);
    // A failed resolution is thrown away: what its layers obtained (leases, logins) is released before it is reported.
    await releaseHeld(heldAll.filter((h) => !h.session), { timeoutMs: RELEASE_TIMEOUT_MS });
    hooks.signal?.removeEventListener('abort', onOuterAbort);
    throw firstError;
  }
  try {
    const resolution: Resolution = { environment: plan.name, entries: mergeListed(outcomes, keyNames), layers: outcomes };
    leasedKeys.forEach((ks, i) => ks?.forEach((k) => {
      const entry = resolution.entries.get(k);
      if (entry?.layer === outcomes[i].name) entry.leased = true;
    }));
    // The winners of the merge that hold references: resolved together, so each scheme is asked once.
    const winners: { i: number; key: string }[] = [];
    held.forEach((own, i) => own?.forEach((_, key) => void (!outcomes.slice(i + 1).some((o) => key in o.keys) && winners.push({ i, key }))));
    (await resolveHeld(winners)).forEach((v, n) => {
      const { i, key } = winners[n];
      const entry = resolution.entries.get(key)!;
      outcomes[i].keys[key] = entry.value = v.value;
      entry.via = v.via;
      if (v.leased) entry.leased = true;
    });
    if (hooks.inheritedReferences) await inheritedReferences(resolution, plan, layers, schemes, resolver, hooks);
    if (refHeld.length > 0) resolution.held = refHeld;
    return resolution;
  } catch (err) {
    // A reference that failed throws the resolution away: what it holds is released, as for a failed layer.
    await releaseHeld(heldAll.filter((h) => !h.session), { timeoutMs: RELEASE_TIMEOUT_MS });
    throw err;
  } finally {
    hooks.signal?.removeEventListener('abort', onOuterAbort);
  }
}

/** A layer value holding references, under its output key; `sourceKey` is the source's own name (for `decode`). */
interface HeldReference {
  value: string;
  refs: Reference[];
  sourceKey: string;
}

/** The layer's references by output key: the key shaping of `postProcess`, run on the names themselves. */
function heldByKey(refs: Map<string, Reference[]>, keys: Record<string, string>, options: SourceOptions, layer: string): Map<string, HeldReference> | undefined {
  const names = Object.fromEntries([...refs.keys()].map((k) => [k, k]));
  const shaped = postProcess(names, { ...options, decode: undefined, decode_prefixed: undefined }, layer).keys;
  const out = new Map<string, HeldReference>();
  for (const [key, sourceKey] of Object.entries(shaped)) out.set(key, { value: keys[key], refs: refs.get(sourceKey)!, sourceKey });
  return out.size > 0 ? out : undefined;
}

/** `decode` and the NUL check, on the resolved value (contract section 3b, order). */
function finishResolved(value: string, sourceKey: string, options: SourceOptions, layer: string): string {
  let out = value;
  if (options.decode !== undefined || options.decode_prefixed === true) {
    out = applyDecode({ [sourceKey]: value }, { decode: options.decode as Record<string, 'base64'> | undefined, decode_prefixed: options.decode_prefixed === true }, layer)[sourceKey];
  }
  if (out.includes('\0')) throw new LayerError(layer, `value of ${sourceKey} contains a NUL byte once decoded; environment variables cannot hold NUL`);
  return out;
}

/**
 * The inherited environment's references (contract section 3b): resolved for the child with no sources file;
 * with one, a warning for each that no `env` layer reads (the child would get the text). Unknown schemes are
 * left alone: they may be another tool's.
 */
async function inheritedReferences(resolution: Resolution, plan: EnvironmentPlan, layers: LayerSpec[], schemes: ReturnType<typeof schemesOf>, resolver: ReferenceResolver, hooks: ResolveHooks): Promise<void> {
  const pending: { key: string; value: string; refs: Reference[]; fail: (reason: string) => Error }[] = [];
  for (const [key, value] of Object.entries(hooks.processEnv)) {
    if (value === undefined || !mayHoldReference(value) || resolution.entries.has(key) || key.startsWith('SECRETRUN_')) continue;
    const fail = (reason: string) => new SecretrunError(`inherited variable ${reason}`);
    let refs: Reference[];
    try {
      refs = parseReferences(value, schemes, 'skip');
    } catch (err) {
      if (err instanceof ReferenceProblem) throw fail(`${key}: ${err.message}`);
      throw err;
    }
    if (refs.length > 0) pending.push({ key, value, refs, fail });
  }
  if (pending.length === 0) return;
  if (plan.file.path !== '') {
    for (const { key, refs } of pending) {
      const read = layers.some((spec, i) => spec.source.passesParentEnvironment && `${typeof spec.options.prefix === 'string' ? spec.options.prefix : ''}${key}` in resolution.layers[i].keys);
      if (!read) hooks.warn(`the inherited variable ${key} holds a reference (${refs.map((r) => r.shown).join(', ')}) that no "env" layer reads: the child gets its text (add \`- type: env\` to the sources)`);
    }
    return;
  }
  for (const { value, refs } of pending) for (const part of literalParts(value, refs)) registerSecret(part);
  const got = await resolver.resolve(pending);
  resolution.inherited = Object.fromEntries(got.map((v, n) => [pending[n].key, v.value]));
  for (const v of got) registerSecret(v.value);
}

/** A layer's own cache: a changed option (another `select`, a rotated token) is another layer. */
function layerCache(all: Map<string, Map<string, unknown>>, type: string, options: SourceOptions): Map<string, unknown> {
  const id = JSON.stringify([type, options]);
  let cache = all.get(id);
  if (!cache) all.set(id, (cache = new Map()));
  return cache;
}

/** Merge in file order: the last layer defining a key wins; earlier definitions are recorded as shadowed. */
export function mergeLayers(outcomes: LayerOutcome[]): Map<string, ResolvedEntry> {
  return mergeListed(outcomes, outcomes.map((o) => Object.keys(o.keys)));
}

/** The `shadowed` of every key defined by one layer only: one frozen array, not 10,000 empty ones. */
const NOT_SHADOWING = Object.freeze([]) as unknown as string[];

/** `mergeLayers`, given `Object.keys` of each layer's keys. */
function mergeListed(outcomes: LayerOutcome[], keyNames: string[][]): Map<string, ResolvedEntry> {
  const entries = new Map<string, ResolvedEntry>();
  // A map iterates in first-insertion order, so it is sorted iff every new key sorts after the previous new one;
  // layers are often sorted files, and then there is nothing to sort.
  let sorted = true;
  let lastNew: string | undefined;
  // Indexed loops over key arrays here and below: in code that runs once, for-of allocates per element.
  for (let l = 0; l < outcomes.length; l++) {
    const layer = outcomes[l];
    const keys = layer.keys;
    const names = keyNames[l];
    for (let i = 0; i < names.length; i++) {
      const key = names[i];
      const prev = entries.get(key);
      if (prev === undefined) {
        if (lastNew !== undefined && !(lastNew < key)) sorted = false;
        lastNew = key;
        entries.set(key, { value: keys[key], layer: layer.name, shadowed: NOT_SHADOWING });
      } else {
        // The entry is ours until returned: update it rather than allocate a new one per overridden key.
        if (prev.shadowed === NOT_SHADOWING) prev.shadowed = [prev.layer];
        else prev.shadowed.push(prev.layer);
        prev.value = keys[key];
        prev.layer = layer.name;
      }
    }
  }
  return sorted ? entries : sortedByKey(entries);
}

/** The map in key order: UTF-16 code units, as `<` compares strings. */
function sortedByKey<V>(map: Map<string, V>): Map<string, V> {
  const keys = Array.from(map.keys());
  // The default sort compares strings by code units too; keys are unique, so stability does not matter.
  keys.sort();
  const out = new Map<string, V>();
  for (let j = 0; j < keys.length; j++) out.set(keys[j], map.get(keys[j])!);
  return out;
}

export function valuesOf(resolution: Resolution): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, e] of resolution.entries) out[k] = e.value;
  return out;
}

/**
 * `Object.keys` and `Object.values` of `valuesOf(resolution)`, without building that object: the export path
 * walks the merged set once, and a 10,000-key object costs more to build than two arrays.
 */
export function keyValueLists(resolution: Resolution): { keys: string[]; values: string[] } {
  const keys = Array.from(resolution.entries.keys());
  const entries = Array.from(resolution.entries.values());
  const values: string[] = new Array(keys.length);
  for (let i = 0; i < keys.length; i++) {
    // Where a list differs from `out[k] = ...` above: `__proto__` sets no key, and array-index keys come first.
    // Resolved keys start with a letter or `_`, so neither happens; stay exact anyway.
    const first = keys[i].charCodeAt(0);
    if (keys[i] === '__proto__' || (first >= 48 && first <= 57)) {
      const map = valuesOf(resolution);
      return { keys: Object.keys(map), values: Object.values(map) };
    }
    values[i] = entries[i].value;
  }
  return { keys, values };
}

/**
 * The label of a layer: its `name`, else its type plus what its descriptor's `label` picks (path, url, names...).
 * Built from the text as written, with only the environment's `vars` filled in (those values join the redaction
 * net, and the label is redacted): values loaded from layers never appear in a label.
 */
export function layerName(spec: Pick<LayerSpec, 'type' | 'source' | 'options'>, vars: Record<string, string>, varsFilled: readonly string[] = []): string {
  const o = spec.options;
  if (typeof o.name === 'string' && o.name) return shownLabel(o.name);
  const fill = (s: string) => {
    try {
      return interpolate(s, (n) => ownValue(vars, n) ?? `\${${n}}`);
    } catch {
      return s;
    }
  };
  const what = spec.source.label?.(o, fill);
  if (!what) return spec.type;
  // `vars` are the file's own text; only what `${...}` filled into them from the parent environment is blanked,
  // here, once. The label is then shown by construction (the net never blanks it in a message): it is shown raw
  // by `ls`, `diff`, the spinner and watch logs too. The part after the type (a path as written, `config/Production.json`)
  // is what a source's own messages quote.
  for (const value of varsFilled) registerSecret(value);
  const blanked = redact(what);
  shown(blanked);
  return shownLabel(`${spec.type} ${blanked}`);
}

/** A label is the sources file's own text: messages show it by construction. */
function shownLabel(label: string): string {
  return shown(label);
}

/** `SECRETRUN_ENV` is the environment's name, chosen on the command line: never a secret. */
function registerFilled(name: string, value: string): void {
  if (name !== 'SECRETRUN_ENV') registerSecret(value);
}

function publicPatterns(options: Record<string, unknown>): string[] {
  return Array.isArray(options.public) ? options.public.filter((p): p is string => typeof p === 'string') : [];
}

function collectReferences(spec: LayerSpec, name: string): string[] {
  const refs = new Set<string>();
  mapStrings(spec.options, (s, path) => {
    try {
      for (const r of references(s)) refs.add(r);
    } catch (err) {
      if (err instanceof InterpolationError) throw new ConfigError(`layer "${name}": ${path.join('.')}: ${err.message}`, spec.locate(path));
      throw err;
    }
    return s;
  });
  return [...refs];
}

/**
 * The options with every `${...}` filled in, and per string option (path joined by NUL) the ranges filled in and
 * the earlier layer that filled one (`takeLayer` reports and forgets the layer the lookups since its last call used),
 * and where each filled name came from (`takeOrigins`, likewise).
 */
function interpolateOptions(
  spec: LayerSpec,
  name: string,
  lookup: (n: string) => string | undefined,
  takeLayer: () => string | undefined,
  takeOrigins: () => FilledFrom[],
): { options: SourceOptions; filled: Map<string, [number, number][]>; fromLayer: Map<string, string>; origins: Map<string, FilledFrom[]> } {
  const filled = new Map<string, [number, number][]>();
  const fromLayer = new Map<string, string>();
  const origins = new Map<string, FilledFrom[]>();
  const options = mapStrings(spec.options, (s, path) => {
    try {
      takeLayer();
      takeOrigins();
      const tracked = interpolateTracked(s, lookup);
      if (tracked.filled.length > 0) filled.set(path.join('\0'), tracked.filled);
      const layer = takeLayer();
      if (layer !== undefined) fromLayer.set(path.join('\0'), layer);
      const from = takeOrigins();
      if (from.length > 0) origins.set(path.join('\0'), from);
      return tracked.text;
    } catch (err) {
      if (err instanceof InterpolationError) throw new ConfigError(`layer "${name}": ${path.join('.')}: ${err.message}`, spec.locate(path));
      throw err;
    }
  }) as SourceOptions;
  return { options, filled, fromLayer, origins };
}

/**
 * Could this layer define `name`? Reads `only`, `rename`, `case` and `prefix` when they are literal (the layer's
 * keys become `prefix + case(rename(key))` for the keys `only` keeps); otherwise assumes yes.
 */
export function mayProduce(spec: Pick<LayerSpec, 'options'>, name: string): boolean {
  const { only, prefix, rename, case: keyCase } = spec.options;
  const literal = (v: unknown) => typeof v === 'string' && !v.includes('$');
  let rest = name;
  if (prefix !== undefined) {
    if (!literal(prefix)) return true;
    if (!name.startsWith(prefix as string)) return false;
    rest = name.slice((prefix as string).length);
  }
  const convert = caseConversion(keyCase);
  if (keyCase !== undefined && !convert) return true;
  if (convert && convert(rest) !== rest) return false;
  const onlyLiteral = Array.isArray(only) && only.every(literal);
  const kept = (k: string) => !onlyLiteral || matchesAny(k, only as string[]);
  let renamed: [string, string][] = [];
  if (rename !== undefined) {
    if (rename === null || typeof rename !== 'object' || !Object.entries(rename as object).every(([from, to]) => literal(from) && literal(to))) return true;
    renamed = Object.entries(rename as Record<string, string>);
    if (renamed.some(([from, to]) => (convert ? convert(to) : to) === rest && kept(from))) return true;
  }
  // A key of the layer's own that keeps its name: with a case conversion, any spelling of `rest` could be it.
  // (`only` matches the layer's own spelling; a key a pattern keeps, converted, matches the converted pattern.)
  if (convert) return !onlyLiteral || matchesAny(rest, (only as string[]).map(convert));
  if (renamed.some(([from]) => from === rest)) return false;
  return kept(rest);
}

function caseConversion(value: unknown): ((key: string) => string) | undefined {
  if (value === 'upper') return (k) => k.toUpperCase();
  if (value === 'lower') return (k) => k.toLowerCase();
  return undefined;
}

/**
 * decode → only → rename → case → prefix → validate names and values. Returns the layer's map and `Object.keys` of
 * it. Values holding references (`refs`) are decoded once resolved, not here.
 */
/** The name a layer's own key `k` gets after `only`, `rename`, `case` and `prefix` (undefined when `only` drops it). */
function shapedName(k: string, options: SourceOptions): string | undefined {
  if (Array.isArray(options.only) && !matchesAny(k, options.only as string[])) return undefined;
  const rename = options.rename !== null && typeof options.rename === 'object' ? (options.rename as Record<string, string>) : undefined;
  const convert = caseConversion(options.case);
  const shaped = rename && Object.hasOwn(rename, k) ? rename[k] : k;
  return (typeof options.prefix === 'string' ? options.prefix : '') + (convert ? convert(shaped) : shaped);
}

function postProcess(keysIn: Record<string, string>, options: SourceOptions, layer: string, refs?: Map<string, unknown>): { keys: Record<string, string>; names: string[] } {
  let keys = keysIn;
  let own = isOwnMap(keysIn);
  if (options.decode !== undefined || options.decode_prefixed === true) {
    const decoded = applyDecode(refs ? Object.fromEntries(Object.entries(keys).filter(([k]) => !refs.has(k))) : keys, { decode: options.decode as Record<string, 'base64'> | undefined, decode_prefixed: options.decode_prefixed === true }, layer);
    keys = refs ? { ...keys, ...decoded } : decoded;
    own = true;
  }
  const only = Array.isArray(options.only) ? (options.only as string[]) : undefined;
  const prefix = typeof options.prefix === 'string' ? options.prefix : '';
  const rename = options.rename !== null && typeof options.rename === 'object' ? (options.rename as Record<string, string>) : undefined;
  const convert = caseConversion(options.case);
  let out: Record<string, string>;
  let names: string[] | undefined;
  const bad: string[] = [];
  if (own && !only && prefix === '' && !rename && !convert) {
    // Written for speed: a fresh map from our own parsers that renames and drops nothing is checked and kept;
    // copying a 10,000-key object was most of this function's cost. (A plain data object with no `__proto__`
    // key, which is what the copy would be.)
    names = Object.keys(keys);
    for (let i = 0; i < names.length; i++) checkEntry(names[i], keys[names[i]], layer, bad);
    out = keys;
  } else {
    out = {};
    /** The layer's own name behind each shaped name, for a collision message. */
    const from = rename || convert ? new Map<string, string>() : undefined;
    for (const [k, v] of Object.entries(keys)) {
      if (only && !matchesAny(k, only)) continue;
      let shaped = rename && Object.hasOwn(rename, k) ? rename[k] : k;
      if (convert) shaped = convert(shaped);
      if (from) {
        const earlier = from.get(shaped);
        if (earlier !== undefined) throw new LayerError(layer, `keys ${safeKey(earlier)} and ${safeKey(k)} both become ${safeKey(prefix + shaped)} (after ${rename && convert ? '"rename" and "case"' : rename ? '"rename"' : '"case"'}); keep one of them with "only" or rename it`);
        from.set(shaped, k);
      }
      const key = prefix + shaped;
      if (checkEntry(key, v, layer, bad)) out[key] = v;
    }
  }
  if (bad.length > 0) {
    throw new LayerError(layer, `invalid environment variable name${bad.length > 1 ? 's' : ''} ${bad.slice(0, 5).map(safeKey).join(', ')}${bad.length > 5 ? ` (+${bad.length - 5} more)` : ''} (allowed: letters, digits and _, not starting with a digit; use "prefix", "only", "rename" or "flatten")`);
  }
  return { keys: out, names: names ?? Object.keys(out) };
}

/** True if the entry may be kept. A bad name is collected (they are reported together); a bad value throws. */
function checkEntry(key: string, v: unknown, layer: string, bad: string[]): v is string {
  if (typeof v !== 'string') throw new LayerError(layer, `value of ${safeKey(key)} is ${v === null ? 'null' : typeof v}, expected a string`);
  if (!isEnvName(key)) {
    bad.push(key);
    return false;
  }
  if (v.includes('\0')) throw new LayerError(layer, `value of ${key} contains a NUL byte; environment variables cannot hold NUL`);
  return true;
}

/** Show a key name in a message, escaping control characters so a broken file cannot garble the terminal. */
function safeKey(key: string): string {
  return JSON.stringify(key.length > 60 ? key.slice(0, 60) + '…' : key);
}

function wrapLayerError(err: unknown, layer: string, signal: AbortSignal, definedAt: Location | undefined): unknown {
  if (err instanceof LayerError) return err.definedAt ? err : new LayerError(err.layer, err.reason, { exitCode: err.exitCode, cause: err.cause, definedAt });
  if (err instanceof ConfigError) return err;
  if (signal.aborted && (err as Error)?.name === 'AbortError') return err;
  if (err instanceof SecretrunError) return new LayerError(layer, err.message, { exitCode: err.exitCode, definedAt });
  // Unexpected failures (a bug, or a library's own error): one line, no stack.
  return new LayerError(layer, describeError(err), { cause: err, definedAt });
}
