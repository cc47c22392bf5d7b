import { describe, expect, it } from 'vitest';
import { interpolate, InterpolationError, lookupIn, ownValue, parseTemplate, references, mapStrings } from '../src/core/interpolate.js';

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

/** What a template throws: its code and the columns (a dotenv file's message is built from these alone). */
function thrown(input: string, bare: boolean): InterpolationError {
  try {
    interpolate(input, (n) => vars[n], { bare });
  } catch (err) {
    expect(err).toBeInstanceOf(InterpolationError);
    return err as InterpolationError;
  }
  throw new Error(`${input} did not throw`);
}

describe('dotenv files (bare): as sh and dotenv-expand 1000 read them', () => {
  const bare = { bare: true };

  it('no colon tests "set", a colon tests "set and non-empty"', () => {
    expect(interpolate('${EMPTY-d}|${EMPTY:-d}|${MISSING-d}|${STAGE-d}', lookup, bare)).toBe('|d|d|Prod');
    expect(interpolate('${EMPTY+a}|${EMPTY:+a}|${MISSING+a}|${MISSING:+a}|${STAGE:+a}', lookup, bare)).toBe('a||||a');
  });

  it('defaults and alternatives are only read when taken', () => {
    expect(interpolate('${STAGE:-${NOPE}}', lookup, bare)).toBe('Prod');
    expect(interpolate('${MISSING:+${NOPE}}', lookup, bare)).toBe('');
    expect(() => interpolate('${STAGE:+${NOPE}}', lookup, bare)).toThrow(InterpolationError);
  });

  it('$$ is two dollars, so $${A} is a dollar and A (dotenv-expand\'s reading; sh would give its PID); \\${A} is the literal text', () => {
    expect(interpolate('abcd$$1234', lookup, bare)).toBe('abcd$$1234');
    expect(interpolate('$${STAGE}', lookup, bare)).toBe('$Prod');
    expect(interpolate('$$STAGE', lookup, bare)).toBe('$Prod');
    expect(interpolate('\\${STAGE}', lookup, bare)).toBe('${STAGE}');
    // The sources file keeps $${ as its escape (contract section 3).
    expect(interpolate('$${STAGE}', lookup)).toBe('${STAGE}');
  });

  it('a $ that starts no name is text: $, $1, $., $-, $+, $(...)', () => {
    expect(interpolate('$ $1 $. $- $+ $(echo hi) $', () => 'x', bare)).toBe('$ $1 $. $- $+ $(echo hi) $');
  });
});

describe('malformed templates: a code, the column of the ${, and what was found where', () => {
  it('a dotted name', () => {
    const err = thrown('x${POSTGRESQL.BASE.USER}', true);
    expect([err.code, err.column, err.foundAt]).toEqual(['dotted-name', 2, 14]);
    expect(err.message).not.toContain('POSTGRESQL');
    expect(thrown('${A.B}', false).message).toBe('a dotted name in ${A...} at column 1: variable names are letters, digits and _ (accepted: ${NAME} and ${NAME:-default}; $${ for a literal ${)');
  });

  it('an unsupported operator, named from our own list', () => {
    for (const [input, op] of [['${A:=x}', ':='], ['${A:?x}', ':?'], ['${A=x}', '='], ['${A#x}', '#'], ['${A%%x}', '%%'], ['${A/x/y}', '/'], ['${A:1}', ':']] as const) {
      const err = thrown(input, true);
      expect([err.code, err.operator, err.column], input).toEqual(['unsupported-operator', op, 1]);
    }
    expect(thrown('${A:=x}', false).message).toBe('unsupported operator ":=" in ${A...} at column 1 (accepted: ${NAME} and ${NAME:-default}; $${ for a literal ${)');
  });

  it('an unterminated ${, at its own column (the outer one for a default that never ends)', () => {
    expect([thrown('ab${cd', true).code, thrown('ab${cd', true).column]).toEqual(['unterminated', 3]);
    expect(thrown('ab${cd', true).message).toBe('unterminated "${" at column 3: the text ends before its "}"; write \\$ for a literal $');
    expect(thrown('${A:-${B}', true).column).toBe(1);
    expect(thrown('${A', false).message).toBe('unterminated "${" at column 1: the text ends before its "}"; write $${ for a literal ${');
  });

  it('no name, and an unexpected character', () => {
    expect([thrown('${}', true).code, thrown('${1X}', true).code, thrown('${ A}', true).code]).toEqual(['no-name', 'no-name', 'no-name']);
    const err = thrown('${A B}', true);
    expect([err.code, err.column, err.foundAt]).toEqual(['unexpected-character', 1, 4]);
  });
});

describe('the lookup rule: own properties only', () => {
  it('a prototype member is not a value', () => {
    expect(ownValue({}, 'constructor')).toBeUndefined();
    expect(ownValue({}, '__proto__')).toBeUndefined();
    expect(ownValue({ constructor: 'c' }, 'constructor')).toBe('c');
    expect(ownValue(new Map([['toString', 't']]), 'toString')).toBe('t');
    expect(interpolate('${valueOf:-.env}', lookupIn({}, {}))).toBe('.env');
    expect(() => interpolate('pa$constructor', lookupIn({}), { bare: true })).toThrow('${constructor} is not set');
  });

  it('the first map holding the name wins; an empty value counts as set', () => {
    const look = lookupIn({ A: '' }, new Map([['A', 'map'], ['B', 'map']]), { B: 'env', C: 'env' });
    expect([look('A'), look('B'), look('C'), look('D')]).toEqual(['', 'map', 'env', undefined]);
  });
});

