import { describe, expect, it } from 'vitest';
import { interpolate, InterpolationError, parseTemplate, references, mapStrings } from '../src/core/interpolate.js';

const vars: Record<string, string> = { STAGE: 'Prod', EMPTY: '', HOST: 'db.local' };
const lookup = (n: string) => vars[n];

describe('interpolate', () => {
  it('replaces ${NAME}', () => {
    expect(interpolate('/${STAGE}/ApiServer', lookup)).toBe('/Prod/ApiServer');
    expect(interpolate('${STAGE}${STAGE}', lookup)).toBe('ProdProd');
  });

  it('uses the default when unset or empty, like a shell', () => {
    expect(interpolate('${MISSING:-fallback}', lookup)).toBe('fallback');
    expect(interpolate('${EMPTY:-fallback}', lookup)).toBe('fallback');
    expect(interpolate('${STAGE:-fallback}', lookup)).toBe('Prod');
    expect(interpolate('${MISSING:-}', lookup)).toBe('');
  });

  it('interpolates inside defaults', () => {
    expect(interpolate('${MISSING:-${HOST}:5432}', lookup)).toBe('db.local:5432');
    expect(interpolate('${A:-${B:-deep}}', lookup)).toBe('deep');
  });

  it('keeps an empty value without a default', () => {
    expect(interpolate('x${EMPTY}y', lookup)).toBe('xy');
  });

  it('escapes $${ as a literal ${', () => {
    expect(interpolate('$${STAGE}', lookup)).toBe('${STAGE}');
    expect(interpolate('a$${B}c${STAGE}', lookup)).toBe('a${B}cProd');
  });

  it('leaves other dollar signs and $(...) alone', () => {
    expect(interpolate('cost $5 and $(rm -rf /) and $STAGE', lookup)).toBe('cost $5 and $(rm -rf /) and $STAGE');
  });

  it('expands bare $NAME only in bare mode', () => {
    expect(interpolate('$STAGE-$HOST', lookup, { bare: true })).toBe('Prod-db.local');
    expect(interpolate('$1 $', lookup, { bare: true })).toBe('$1 $');
  });

  it('throws a typed error naming an unresolved variable', () => {
    try {
      interpolate('/${NOPE}/x', lookup);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(InterpolationError);
      expect((err as InterpolationError).variable).toBe('NOPE');
      expect((err as Error).message).toContain('${NOPE} is not set');
    }
  });

  it('rejects malformed templates with a typed error', () => {
    for (const bad of ['${', '${STAGE', '${1X}', '${}', '${A:-x', '${A B}']) {
      expect(() => interpolate(bad, lookup), bad).toThrow(InterpolationError);
    }
  });

  it('lists references, including those inside defaults', () => {
    expect(references('/${STAGE}/${X:-${Y}}/$${Z}')).toEqual(['STAGE', 'X', 'Y']);
    expect(references('no refs $HOME')).toEqual([]);
    expect(references('$HOME', { bare: true })).toEqual(['HOME']);
  });

  it('parses into text and variable parts', () => {
    expect(parseTemplate('a${B}c')).toEqual([{ text: 'a' }, { name: 'B', column: 2 }, { text: 'c' }]);
  });

  it('maps every string in nested options with its path', () => {
    const seen: string[] = [];
    const out = mapStrings({ a: '${STAGE}', b: ['${HOST}', 3], c: { d: true } }, (s, p) => {
      seen.push(p.join('.'));
      return interpolate(s, lookup);
    });
    expect(out).toEqual({ a: 'Prod', b: ['db.local', 3], c: { d: true } });
    expect(seen).toEqual(['a', 'b.0']);
  });
});
