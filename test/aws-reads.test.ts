/** The batching side of one read per resolve (src/sources/aws/reads.ts): known reads, the rest, limits, settling. */
import { describe, expect, it } from 'vitest';
import { eachLimited, mapConcurrently } from '../src/sources/concurrency.js';
import { readEach, settled } from '../src/sources/aws/reads.js';
import { knownRead, readKey, recordRead } from '../src/sources/session.js';

/** A promise settled by hand. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

const key = (name: string) => readKey('store', name);

describe('readEach', () => {
  it('takes known reads from the map, sends the distinct rest at once, and records each of them', async () => {
    const reads = new Map<string, Promise<unknown>>();
    recordRead({ reads }, key('a'), Promise.resolve('known-a'));
    const asked: string[][] = [];
    const out = readEach({ reads }, ['a', 'b', 'c', 'b'], key, (rest) => {
      asked.push(rest);
      return rest.map(async (name) => (name === 'c' ? undefined : `read-${name}`));
    });
    expect(asked).toEqual([['b', 'c']]);
    expect(await Promise.all(out)).toEqual(['known-a', 'read-b', undefined, 'read-b']);
    // Absence as read by name is an outcome like any other: a later asker gets it, and nothing is read again.
    expect(await knownRead({ reads }, key('c'))).toBeUndefined();
    expect(reads.has(key('c'))).toBe(true);
    const again = readEach({ reads }, ['c', 'b'], key, () => {
      throw new Error('nothing left to read');
    });
    expect(await Promise.all(again)).toEqual([undefined, 'read-b']);
  });

  it('a read in flight serves a later asker; without a map, everything distinct is read', async () => {
    const reads = new Map<string, Promise<unknown>>();
    const pending = deferred<string>();
    const first = readEach({ reads }, ['x'], key, () => [pending.promise]);
    const second = readEach({ reads }, ['x'], key, () => {
      throw new Error('read twice');
    });
    pending.resolve('x-value');
    expect(await Promise.all([...first, ...second])).toEqual(['x-value', 'x-value']);
    let calls = 0;
    const alone = readEach({}, ['y', 'y', 'z'], key, (rest) => rest.map(async (n) => `${n}${++calls}`));
    expect(await Promise.all(alone)).toEqual(['y1', 'y1', 'z2']);
  });

  it('a failed read is recorded as failed for later askers, without an unhandled rejection', async () => {
    const reads = new Map<string, Promise<unknown>>();
    const out = readEach({ reads }, ['bad', 'good'], key, () => [Promise.reject(new Error('denied')), Promise.resolve('ok')]);
    await expect(settled(out)).rejects.toThrow('denied');
    await expect(knownRead({ reads }, key('bad'))!).rejects.toThrow('denied');
    expect(await knownRead({ reads }, key('good'))).toBe('ok');
  });
});

describe('settled', () => {
  it('gives every value in order, or the first failure in order only once everything has settled', async () => {
    expect(await settled([Promise.resolve(1), Promise.resolve(2)])).toEqual([1, 2]);
    const slow = deferred<number>();
    let done = false;
    const all = settled([slow.promise, Promise.reject(new Error('first')), Promise.reject(new Error('second'))]).catch((e: Error) => {
      done = true;
      return e.message;
    });
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false); // a read still running keeps the failure waiting (its client stays open)
    slow.resolve(1);
    expect(await all).toBe('first');
  });
});

describe('eachLimited', () => {
  it('runs at most `limit` reads at once, each item once, in order of the results', async () => {
    const gates = Array.from({ length: 5 }, () => deferred<void>());
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const out = eachLimited([0, 1, 2, 3, 4], 2, async (i) => {
      started.push(i);
      most = Math.max(most, ++running);
      await gates[i].promise;
      running--;
      return i * 10;
    });
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1]);
    gates[1].resolve();
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1, 2]);
    for (const g of gates) g.resolve();
    expect(await Promise.all(out)).toEqual([0, 10, 20, 30, 40]);
    expect(most).toBe(2);
  });

  it('a failed read frees its slot', async () => {
    const out = eachLimited([1, 2, 3], 1, async (i) => {
      if (i === 1) throw new Error('one');
      return i;
    });
    const results = await Promise.allSettled(out);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
  });
});

describe('mapConcurrently', () => {
  it('results in order, at most `limit` at once; after a failure, no item waiting for a slot starts', async () => {
    const started: number[] = [];
    const gates = Array.from({ length: 4 }, () => deferred<void>());
    const all = mapConcurrently([0, 1, 2, 3], async (i) => {
      started.push(i);
      await gates[i].promise;
      if (i === 0) throw new Error('zero');
      return i;
    }, 2);
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1]);
    gates[0].resolve();
    await expect(all).rejects.toThrow('zero');
    for (const g of gates) g.resolve();
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1]);
    expect(await mapConcurrently([3, 1, 2], async (i) => i * 2, 2)).toEqual([6, 2, 4]);
  });
});
