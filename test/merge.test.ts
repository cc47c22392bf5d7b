/** mergeLayers (provenance and key order) and keyValueLists, the export path's view of the merged set. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { keyValueLists, mergeLayers, valuesOf, type LayerOutcome, type Resolution } from '../src/core/resolve.js';

const outcome = (name: string, keys: Record<string, string>): LayerOutcome => ({ name, type: 'dotenv', keys, missing: false, publicKeys: [] });

/** The merge by definition: the last layer wins, earlier ones are shadowed in file order, keys sorted by code unit. */
function reference(layers: LayerOutcome[]): [string, { value: string; layer: string; shadowed: string[] }][] {
  const keys = [...new Set(layers.flatMap((l) => Object.keys(l.keys)))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return keys.map((key) => {
    const defining = layers.filter((l) => Object.hasOwn(l.keys, key));
    const winner = defining[defining.length - 1];
    return [key, { value: winner.keys[key], layer: winner.name, shadowed: defining.slice(0, -1).map((l) => l.name) }];
  });
}

describe('mergeLayers', () => {
  it('sorts keys and records every shadowed layer in file order', () => {
    const merged = mergeLayers([outcome('one', { B: '1', A: '1', C: '1' }), outcome('two', { A: '2', Z: '2' }), outcome('three', { A: '3', B: '3' })]);
    expect([...merged.keys()]).toEqual(['A', 'B', 'C', 'Z']);
    expect(merged.get('A')).toEqual({ value: '3', layer: 'three', shadowed: ['one', 'two'] });
    expect(merged.get('B')).toEqual({ value: '3', layer: 'three', shadowed: ['one'] });
    expect(merged.get('C')).toEqual({ value: '1', layer: 'one', shadowed: [] });
  });

  it('keeps already sorted layers in order, however they interleave', () => {
    const merged = mergeLayers([outcome('a', { A: '1', C: '1' }), outcome('b', { B: '2', D: '2' })]);
    expect([...merged.keys()]).toEqual(['A', 'B', 'C', 'D']);
  });

  it('property: equals the merge by definition', () => {
    const key = fc.constantFrom('A', 'B', 'C', 'AA', 'a', '_x', 'Z9', 'é', '__proto__', '1', '02');
    const layer = fc.dictionary(key, fc.string({ maxLength: 3 }), { maxKeys: 8 });
    fc.assert(
      fc.property(fc.array(layer, { maxLength: 5 }), (keysPerLayer) => {
        const layers = keysPerLayer.map((keys, i) => outcome(`layer ${i}`, keys));
        expect([...mergeLayers(layers)]).toEqual(reference(layers));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('keyValueLists', () => {
  const resolution = (layers: LayerOutcome[]): Resolution => ({ environment: 'dev', entries: mergeLayers(layers), layers });

  it('is Object.keys and Object.values of valuesOf, even for keys an object treats specially', () => {
    for (const keys of [{ B: 'b', A: 'a' }, JSON.parse('{"__proto__": "p", "A": "a"}'), { Z: 'z', 10: 'ten', 2: 'two' }, {}]) {
      const r = resolution([outcome('l', keys)]);
      const map = valuesOf(r);
      expect(keyValueLists(r)).toEqual({ keys: Object.keys(map), values: Object.values(map) });
    }
  });
});
