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
   * The names `${...}` at the option `path` took from earlier layers' keys, each with that layer's label (not from
   * `vars` or the parent environment). A source that sends a credential it found itself checks that none of its
   * destination options came from there (contract: "where found credentials go").
   */
  filledFromLayers?(path: (string | number)[]): readonly { name: string; layer: string }[];
  /**
   * Report something the layer holds beyond its values: a lease, a login token. The core keeps it with the
   * resolution and calls the source's lease hooks on it (`release`, `renewAt`/`renew`, `refreshAt`,
   * `parentReason`); a resolution that is thrown away releases it. Opaque to the core. `session: true`: it
   * belongs to the session, not to this resolution (a login shared by layers and re-resolves, a lease reused from
   * an earlier resolution): a thrown-away resolution leaves it alone; only the session's end releases it.
   */
  hold?(state: unknown, options?: { session?: boolean }): void;
}

export type SourceOptions = Record<string, unknown>;

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
}
