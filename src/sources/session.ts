/**
 * What layers share beyond their own options. `context.session` (one CLI run, one watcher, one `loadSecrets`
 * call): a credential client, a login, an access token. `context.reads` (one resolution): what a store read, so
 * a secret two layers or a layer and a reference name is read once. Never module state.
 */
import type { SourceContext } from './types.js';

/**
 * `context` with a session of its own when it has none (a library caller of `load`): one credentials client and one
 * token for all of the layer's requests, rather than one per request.
 */
export function withSession<C extends Pick<SourceContext, 'session'>>(context: C): C {
  return context.session ? context : { ...context, session: new Map<string, unknown>() };
}

/** A session's shared promise (one login for every layer); without a session, a fresh one. A failure is not kept. */
export function sessionValue<T>(context: Pick<SourceContext, 'session'>, key: string, make: () => Promise<T>): Promise<T> {
  return shared(context.session, key, make, false);
}

/**
 * One read per resolution: the first asker's promise, failure included (a missing secret is missing for every
 * layer and reference of that resolve). `key` must name everything that makes the read distinct (store address,
 * credential identity, secret, version); build it with `readKey`. Without `context.reads`, a fresh read.
 */
export function readOnce<T>(context: Pick<SourceContext, 'reads'>, key: string, make: () => Promise<T>): Promise<T> {
  return shared(context.reads, key, make, true);
}

/** What this resolution has read or is reading under `key`, if anything (a batching hook reads only the rest). */
export function knownRead<T>(context: Pick<SourceContext, 'reads'>, key: string): Promise<T> | undefined {
  return context.reads?.get(key) as Promise<T> | undefined;
}

/** Record what a batched call read under `key`, for the layers and references that ask later in this resolution. */
export function recordRead<T>(context: Pick<SourceContext, 'reads'>, key: string, value: Promise<T>): void {
  if (!context.reads || context.reads.has(key)) return;
  value.catch(() => {}); // whoever asks later awaits it; unasked, a failure is the batch's own to report
  context.reads.set(key, value);
}

/** A read's key: its parts in order, unambiguous whatever they hold. */
export function readKey(...parts: readonly (string | number | undefined)[]): string {
  return JSON.stringify(parts);
}

function shared<T>(map: Map<string, unknown> | undefined, key: string, make: () => Promise<T>, keepFailure: boolean): Promise<T> {
  if (!map) return make();
  const known = map.get(key) as Promise<T> | undefined;
  if (known) return known;
  const made = make();
  map.set(key, made);
  if (keepFailure) made.catch(() => {});
  else made.catch(() => map.delete(key));
  return made;
}
