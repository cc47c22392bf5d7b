/**
 * The one interface every source type implements: built-in types and user modules (`type: module`) alike.
 *
 * A source receives its layer's options, already interpolated (every `${...}` resolved), and returns a flat
 * map of string values. Everything generic — `only`, `prefix`, `decode`, key-name and NUL validation,
 * provenance and merging — is done by the core after `load` returns, so a source only fetches and parses.
 */
export interface SourceContext {
  /** Display name of the layer, e.g. `dotenv .env` or the user's `name:`. Use it in messages. */
  readonly layer: string;
  /** Directory holding the sources file; relative paths resolve from here. */
  readonly configDir: string;
  /**
   * Keys of earlier layers. For concurrency a layer normally waits only for the layers that produce the names
   * its options reference, and `keys` holds just those; a source that declares `usesEarlierKeys` waits for every
   * earlier layer and sees the full merged set so far.
   */
  readonly keys: Readonly<Record<string, string>>;
  /** The parent process environment. Read-only. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Aborted when another layer fails or the run is cancelled; pass it to every network call. */
  readonly signal: AbortSignal;
  /** A one-line warning, returned with the resolution's findings; the command shows it (`secretrun: warning: ...`). Never pass a secret value. */
  warn(message: string): void;
  /** Mark a string (a token, a password) as secret so it is scrubbed from any error text. */
  secret(value: string): void;
  /**
   * Which parts of a string option `${...}` filled in: `[start, end)` ranges of the interpolated value at `path`
   * (e.g. `['headers', 'Authorization']`); empty when the text was written literally. Remote sources use it to
   * tell a credential from a literal (see the contract's remote-layers section).
   */
  filled?(path: (string | number)[]): readonly (readonly [number, number])[];
  /**
   * The label of the earlier layer whose key `${...}` filled part of the string option at `path`, or undefined
   * when vars, the parent environment or the text itself filled it. Destination options (`destination: true`)
   * filled from a layer are refused (src/sources/descriptor.ts).
   */
  filledFrom?(path: (string | number)[]): string | undefined;
  /**
   * Where each `${NAME}` in the string option at `path` was filled from, in order: the environment's `vars`, an
   * earlier layer (its label) or the parent environment; empty when the text was written literally. Messages name
   * a credential's origin with it (net/credential-origin.ts), never its value.
   */
  origins?(path: (string | number)[]): readonly FilledFrom[];
  /**
   * Present when the same layer is resolved again and again (watch mode, `watchSecrets`): a map kept from one
   * resolution to the next, e.g. for an ETag and what its answer parsed to (see `fetchKeys`).
   */
  readonly cache?: Map<string, unknown>;
  /**
   * One map per session (one CLI run, one watcher, one `loadSecrets` call), shared by every layer of it: logins
   * and access tokens that several layers use (a Vault login, a Google or Azure access token). Key it by what
   * makes the credential distinct (address, namespace, auth settings). Never module state.
   */
  readonly session?: Map<string, unknown>;
  /**
   * One map per resolution (one run's resolve, one re-resolve in watch mode), shared by every layer and every
   * reference hook of it: what a store read, so one resolve never reads the same secret twice, whether layers or
   * references asked (contract 3b). Use it through `readOnce` (./session.ts), keyed by everything that makes the
   * read distinct: the store's address, the credential's identity, the secret and its version. Never module state.
   */
  readonly reads?: Map<string, Promise<unknown>>;
  /**
   * Report something the layer holds beyond its values: a lease, a login token. The core keeps it with the
   * resolution and calls the source's lease hooks on it (`release`, `renewAt`/`renew`, `refreshAt`,
   * `parentReason`); a resolution that is thrown away releases it. Opaque to the core. `session: true`: it
   * belongs to the session, not to this resolution (a login shared by layers and re-resolves, a lease reused from
   * an earlier resolution): a thrown-away resolution leaves it alone; only the session's end releases it.
   */
  hold?(state: unknown, options?: { session?: boolean }): void;
  /**
   * `check --resolve`: the layer is loaded to prove it can be read, and nothing is kept. A source whose read has a
   * side effect (a Vault dynamic secret mints a credential and a lease) checks access another way and may leave
   * such keys out.
   */
  readonly checking?: boolean;
  /** These of the layer's keys (its own names) hold leased values, new on every read: `diff` compares them by presence. */
  leased?(keys: readonly string[]): void;
}

export type SourceOptions = Record<string, unknown>;

/** Where `${NAME}` got its value (see `SourceContext.origins`). */
export type FilledFrom = { name: string; from: 'vars' } | { name: string; from: 'layer'; layer: string } | { name: string; from: 'env' };

/** What one reference asks its store for (`ref+SCHEME://PATH?PARAMS`): the pointer is the core's, not the store's. */
export interface ReferenceTarget {
  /** The BODY as written: `prod/db/password` for `ref+awsssm://prod/db/password`. */
  readonly path: string;
  /** Its parameters, each one the scheme accepts (the core refuses the others before `resolve` runs). */
  readonly params: Readonly<Record<string, string>>;
}

/** What a store gave for one target; `leased` for a value that is new on every read (a Vault lease: `diff` compares presence). */
export interface ReferenceValue {
  value: string;
  leased?: boolean;
  /** `check --resolve` (`context.checking`): access was verified without reading (a read would mint a lease); no pointer applies. */
  unread?: boolean;
}

/**
 * The `reference` hook of a source type: `ref+SCHEME://...` values in any layer are read through it (contract
 * section 3b). The core parses, checks parameters, removes duplicates and applies `#/pointer`; the hook reads each
 * target once, batched as its store allows, with the store address and credentials from `context.env` and the
 * standard chains only (never from a layer).
 */
export interface ReferenceHook {
  /** `awsssm` for `ref+awsssm://`. */
  readonly scheme: string;
  /** The accepted parameters; any other is an error naming the key. */
  readonly params: readonly string[];
  /** `#/pointer`: allowed, required (a Vault field) or refused (awsssm, where vals reads it as a listing). */
  readonly pointer: 'allowed' | 'required' | 'refused';
  /** A problem with the BODY or a parameter's value, in words (never quoting them), or undefined. */
  check?(target: ReferenceTarget): string | undefined;
  /** One entry per target, in order; undefined where the store has no such secret. */
  resolve(targets: readonly ReferenceTarget[], context: SourceContext): Promise<(ReferenceValue | undefined)[]>;
}

export interface PrivateFile {
  path: string;
  shown: string;
  /** What the file is to the layer when it is not the layer's own file, e.g. `password_file`. */
  role?: string;
}

export interface Source {
  /** Fetch and parse the layer. Throw `SourceError` (see ../errors.ts) for failures; `NotFoundError` for a missing file/404. */
  load(options: SourceOptions, context: SourceContext): Promise<Record<string, string>>;
  /**
   * Local files holding plain secrets (a `.env`, not an encrypted vault), absolute `path` and the path as written
   * in `shown`. The core reports any that group or others can read (`secretrun check`), unless the layer sets
   * `allow_world_readable: true`.
   */
  privateFiles?(options: SourceOptions, context: Pick<SourceContext, 'configDir'>): PrivateFile[];
  /** Local files this layer reads, absolute paths (watch mode re-resolves when they change). */
  watchPaths?(options: SourceOptions, context: Pick<SourceContext, 'configDir'>): string[];
  /** Wait for all earlier layers and receive their full merged set in `context.keys` (e.g. dotenv `expand`, user modules). */
  usesEarlierKeys?: boolean | ((options: SourceOptions) => boolean);
  /** True for sources that reach the network (drives the progress spinner). */
  readonly remote?: boolean;

  // ---- lease hooks: optional, for stores whose values or logins expire (see docs/adding-a-source.md) ----------
  // `state` is what `load` passed to `context.hold`. None of them ever receives or returns a value.

  /** End what `state` holds (revoke a lease, a login token). Failures throw a one-line error; the caller warns. */
  release?(state: unknown, signal: AbortSignal): Promise<void>;
  /** When (epoch ms) `state` should next be renewed, if it can be; undefined: never. */
  renewAt?(state: unknown): number | undefined;
  /** Renew `state` (renewal changes no value); the next `renewAt` tells when again. */
  renew?(state: unknown, signal: AbortSignal): Promise<void>;
  /**
   * When (epoch ms) the layer must be read again because `state` ends for good (a lease at its max TTL, one that
   * can't be renewed); undefined: never. Watch mode re-resolves then, so the child gets fresh values in time.
   */
  refreshAt?(state: unknown): number | undefined;
  /** Why secretrun must stay the child's parent while `state` lives (shown with SECRETRUN_DEBUG=1), or undefined. */
  parentReason?(state: unknown): string | undefined;
  /** Release `state` when secretrun exits (Vault's `revoke_on_exit`), rather than leave it to expire. */
  releaseAtExit?(state: unknown): boolean;
  /**
   * `run` staying the parent: if `state` will end under the running child and nothing can extend it (a given
   * Vault token that is not renewable), the warning's sentence (without the layer), else undefined. May ask the
   * store (once per state); asked only then, so a run that hands over its process pays nothing.
   */
  endingWarning?(state: unknown, signal: AbortSignal): Promise<string | undefined>;
}
