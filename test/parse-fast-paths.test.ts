/**
 * The fast paths of src/formats/parse.ts against the general ones: the dotenv line reader against `dotenv.parse`
 * (differential), and the in-place conversion of a flat JSON/YAML document against what the general flatten gives.
 */
import dotenv from 'dotenv';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDotenv, parseSimpleDotenv, structuredToEnv } from '../src/formats/parse.js';

/** Same keys, same order, same values; `toEqual` alone ignores order. */
function expectSameMap(actual: Record<string, string>, expected: Record<string, string>): void {
  expect(Object.entries(actual)).toEqual(Object.entries(expected));
  expect(Object.getPrototypeOf(actual)).toBe(Object.getPrototypeOf(expected));
}

describe('dotenv fast path', () => {
  it('reads a typical file exactly as dotenv.parse does', () => {
    const text = [
      '# comment line',
      'PLAIN=postgres://user:pw@db.internal:5432/app',
      '',
      "SINGLE='two words # not a comment \"x\" `y`'",
      'DOUBLE="quoted value 3 # not a comment"',
      'EMPTY_Q=""',
      "EMPTY_S=''",
      '#',
      'a.b-c=1+2=3,4/5@6%7:8',
      'PLAIN=override',
      'export=x',
      'LAST=no-final-newline',
    ].join('\n');
    const fast = parseSimpleDotenv(text);
    expect(fast).toBeDefined();
    expectSameMap(fast!, dotenv.parse(text));
  });

  it.each([
    ['a CR', 'A=1\r\nB=2\n'],
    ['U+2028', '# x\u2028B=2\n'],
    ['leading spaces', '  A=1\n'],
    ['export', 'export A=1\n'],
    ['spaces around =', 'A = 1\n'],
    ['a colon', 'A: 1\n'],
    ['an inline comment', 'A=1 # c\n'],
    ['a value with spaces', 'A=two words\n'],
    ['an empty value', 'A=\n'],
    ['a backslash in quotes', 'A="x\\ny"\n'],
    ['backticks', 'A=`x`\n'],
    ['a multi-line quote', "A='x\ny'\n"],
    ['a blank line of spaces', 'A=1\n   \nB=2\n'],
  ])('declines %s (dotenv.parse reads it)', (_label, text) => {
    expect(parseSimpleDotenv(text)).toBeUndefined();
    expectSameMap(parseDotenv(text, 'x'), dotenv.parse(text));
  });

  it('property: whatever it accepts, it reads exactly as dotenv.parse', () => {
    const piece = fc.constantFrom("'", '"', '`', '\\', 'n', '#', ' ', '\t', '\n', '\r', '=', ':', '\u2028', '\u00a0', 'é', 'a', 'export ', 'A=', "''", '""');
    const free = fc.string({ unit: piece, maxLength: 8 });
    const key = fc.constantFrom('A', 'B', 'C_1', 'a.b', 'x-y', '__proto__', 'export', 'constructor', '1', 'K');
    const line = fc.oneof(
      { weight: 4, arbitrary: fc.tuple(key, fc.stringMatching(/^[A-Za-z0-9_.,:/@%+=-]{1,10}$/)).map(([k, v]) => `${k}=${v}`) },
      { weight: 3, arbitrary: fc.tuple(key, fc.constantFrom("'", '"', '`'), free).map(([k, q, v]) => `${k}=${q}${v}${q}`) },
      { weight: 2, arbitrary: fc.tuple(key, free).map(([k, v]) => `${k}=${v}`) },
      { weight: 1, arbitrary: free.map((v) => `#${v}`) },
      { weight: 1, arbitrary: fc.constantFrom('', ' ', '  # c', 'export A=1', 'A = 1', 'A:1', 'B=', "C='x' # c") },
      { weight: 1, arbitrary: free },
    );
    const text = fc.tuple(fc.array(line, { maxLength: 10 }), fc.constantFrom('', '\n', '\r\n')).map(([lines, end]) => lines.join('\n') + end);
    let accepted = 0;
    fc.assert(
      fc.property(text, (t) => {
        const fast = parseSimpleDotenv(t);
        if (fast === undefined) return;
        accepted++;
        expectSameMap(fast, dotenv.parse(t));
      }),
      { numRuns: 5000 },
    );
    expect(accepted).toBeGreaterThan(300); // the property must not pass by declining everything
  });
});

describe('flat documents are converted in place', () => {
  /** What the general path makes of an object of scalars: strings as they are, other scalars as text, no nulls. */
  function flatReference(doc: Record<string, unknown>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(doc)) if (v !== null && v !== undefined) out[k] = typeof v === 'string' ? v : String(v);
    return out;
  }

  it('gives what flattening a copy would give, `__proto__` and array-index keys included', () => {
    const text = '{"b": 1, "__proto__": "x", "a": true, "10": "ten", "2": null, "s": "str", "f": 1.5e300, "n": null}';
    const result = structuredToEnv(JSON.parse(text), { origin: 'x' });
    expectSameMap(result, flatReference(JSON.parse(text)));
    expect(Object.hasOwn(result, '__proto__')).toBe(false);
    expect(Object.keys(result)).toEqual(['10', 'b', 'a', 's', 'f']);
  });

  it('a nested value after converted scalars still goes the general way, with the same result', () => {
    const doc = () => JSON.parse('{"N": 1, "B": true, "Z": null, "S": "s", "O": {"x": 1, "y": null}, "L": [1, "a"], "T": 2}');
    expectSameMap(structuredToEnv(doc(), { origin: 'x' }), { N: '1', B: 'true', S: 's', O: '{"x":1,"y":null}', L: '[1,"a"]', T: '2' });
    expectSameMap(structuredToEnv(doc(), { origin: 'x', flatten: '_' }), { N: '1', B: 'true', S: 's', O_x: '1', L: '[1,"a"]', T: '2' });
  });

  it('select still reads the document unchanged', () => {
    const doc = JSON.parse('{"app": {"PORT": 8080, "OFF": null, "NAME": "n"}, "other": 1}');
    expectSameMap(structuredToEnv(doc, { origin: 'x', select: 'app' }), { PORT: '8080', NAME: 'n' });
  });

  it('property: any object of scalars gives the reference result', () => {
    const scalar = fc.oneof(fc.string({ maxLength: 4 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
    const key = fc.oneof(fc.string({ maxLength: 3 }), fc.constantFrom('__proto__', '1', '01', 'constructor', 'toString'));
    fc.assert(
      fc.property(fc.dictionary(key, scalar, { maxKeys: 8 }), (doc) => {
        const text = JSON.stringify(doc);
        expectSameMap(structuredToEnv(JSON.parse(text), { origin: 'x' }), flatReference(JSON.parse(text)));
      }),
      { numRuns: 2000 },
    );
  });
});
