/** `readOnce` and friends (src/sources/session.ts): one read per key per resolution, failures shared, sessions apart. */
import { describe, expect, it } from 'vitest';
import { knownRead, readKey, readOnce, recordRead, sessionValue } from '../src/sources/session.js';

describe('readOnce', () => {
  it('gives every asker of one key the first read, in flight or done; other keys read on their own', async () => {
    const reads = new Map<string, Promise<unknown>>();
    let calls = 0;
    const read = (v: string) => () => new Promise<string>((resolve) => setTimeout(() => resolve(`${v}${++calls}`), 5));
    const [a, b] = await Promise.all([readOnce({ reads }, readKey('s', 'x'), read('x')), readOnce({ reads }, readKey('s', 'x'), read('x'))]);
    expect([a, b]).toEqual(['x1', 'x1']);
    expect(await readOnce({ reads }, readKey('s', 'x'), read('x'))).toBe('x1');
    expect(await readOnce({ reads }, readKey('s', 'y'), read('y'))).toBe('y2');
    expect(calls).toBe(2);
  });

  it('keeps a failure for the resolution (a missing secret is missing for every asker), unlike a session value', async () => {
    const reads = new Map<string, Promise<unknown>>();
    let calls = 0;
    const failing = () => Promise.reject(new Error(`no ${++calls}`));
    await expect(readOnce({ reads }, 'k', failing)).rejects.toThrow('no 1');
    await expect(readOnce({ reads }, 'k', failing)).rejects.toThrow('no 1');
    const session = new Map<string, unknown>();
    await expect(sessionValue({ session }, 'k', failing)).rejects.toThrow('no 2');
    await expect(sessionValue({ session }, 'k', failing)).rejects.toThrow('no 3');
  });

  it('without a map every call reads; recordRead never replaces a read and knownRead sees it', async () => {
    let calls = 0;
    const make = async () => ++calls;
    await readOnce({}, 'k', make);
    await readOnce({}, 'k', make);
    expect(calls).toBe(2);
    const reads = new Map<string, Promise<unknown>>();
    expect(knownRead({ reads }, 'k')).toBeUndefined();
    recordRead({ reads }, 'k', Promise.resolve('batched'));
    recordRead({ reads }, 'k', Promise.resolve('later'));
    expect(await knownRead({ reads }, 'k')).toBe('batched');
    expect(await readOnce({ reads }, 'k', make)).toBe('batched');
    recordRead({ reads }, 'bad', Promise.reject(new Error('x'))); // no unhandled rejection
  });

  it('keys are unambiguous whatever their parts hold', () => {
    expect(readKey('a|b', 'c')).not.toBe(readKey('a', 'b|c'));
    expect(readKey('a', undefined)).not.toBe(readKey('a', 'undefined'));
  });
});
