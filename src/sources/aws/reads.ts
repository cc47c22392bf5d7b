/**
 * One read per secret per resolution, for stores that read in batches (SSM GetParameters, Secrets Manager
 * BatchGetSecretValue): what `context.reads` already holds, read or in flight, whether a layer or a reference
 * asked for it, is taken from there; only the rest goes to the store, and each outcome is recorded for the
 * layers and references that ask later in the same resolve (../session.ts).
 *
 * An outcome is what the store said about one name (its value, or undefined for "no such secret"), never a
 * message: each asker words its own error, naming its own layer or key.
 */
import { knownRead, recordRead } from '../session.js';
import type { SourceContext } from '../types.js';

/**
 * Each item's outcome, in order: a known read where there is one, else `readRest` for the distinct rest at once
 * (one promise per item it is given, in order), each recorded under its key.
 */
export function readEach<I, V>(context: Pick<SourceContext, 'reads'>, items: readonly I[], keyOf: (item: I) => string, readRest: (rest: I[]) => Promise<V>[]): Promise<V>[] {
  const outcomes = new Map<string, Promise<V> | undefined>();
  const rest: I[] = [];
  for (const item of items) {
    const key = keyOf(item);
    if (outcomes.has(key)) continue;
    const known = knownRead<V>(context, key);
    outcomes.set(key, known);
    if (!known) rest.push(item);
  }
  const read = rest.length > 0 ? readRest(rest) : [];
  rest.forEach((item, n) => {
    read[n].catch(() => {}); // awaited by the asker (settled); a later asker awaits the record
    outcomes.set(keyOf(item), read[n]);
    recordRead(context, keyOf(item), read[n]);
  });
  return items.map((item) => outcomes.get(keyOf(item))!);
}

/**
 * Every outcome once all have settled, or the first failure in order. Waiting for all keeps the client that makes
 * the reads alive until the last one ends: a read another asker awaits is never cut short by this one's failure.
 */
export async function settled<V>(reads: readonly Promise<V>[]): Promise<V[]> {
  const outcomes = await Promise.allSettled(reads);
  const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failed) throw failed.reason;
  return outcomes.map((o) => (o as PromiseFulfilledResult<V>).value);
}
