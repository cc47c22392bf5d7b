/**
 * Bounded concurrency for the reads of a layer or a batch of references: a store is asked for at most a few secrets
 * at once (well under its quotas, and kind to a small machine).
 */

/** Secrets read at once by default. */
const CONCURRENCY = 8;

/** `read` on each item, at most `limit` at once; one promise per item, in order. */
export function eachLimited<I, V>(items: readonly I[], limit: number, read: (item: I) => Promise<V>): Promise<V>[] {
  let active = 0;
  const waiting: (() => void)[] = [];
  const slot = (): Promise<void> => {
    if (active < limit) {
      active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => waiting.push(resolve));
  };
  // A finished read hands its slot to the next waiting one.
  const free = () => {
    const next = waiting.shift();
    if (next) next();
    else active--;
  };
  return items.map(async (item) => {
    await slot();
    try {
      return await read(item);
    } finally {
      free();
    }
  });
}

/**
 * `fn` over `items`, at most `limit` at a time, results in order; the first failure rejects, and no item waiting for
 * a slot starts after it.
 */
export function mapConcurrently<T, R>(items: readonly T[], fn: (item: T) => Promise<R>, limit = CONCURRENCY): Promise<R[]> {
  let failed = false;
  return Promise.all(
    eachLimited(items, limit, async (item) => {
      if (failed) return undefined as R; // never seen: Promise.all has already rejected
      try {
        return await fn(item);
      } catch (err) {
        failed = true;
        throw err;
      }
    }),
  );
}
