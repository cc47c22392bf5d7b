/** The one definition of an environment variable name, checked against the contract's pattern. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { envNameEnd, isEnvName } from '../src/core/names.js';

const CONTRACT = /^[A-Za-z_][A-Za-z0-9_]*$/;

describe('isEnvName / envNameEnd', () => {
  it('accepts exactly what the contract pattern accepts', () => {
    for (const s of ['A', '_', 'a1', 'DATABASE_URL', '__x__']) expect(isEnvName(s)).toBe(true);
    for (const s of ['', '1A', 'A-B', 'A.B', 'É', 'A B', 'A\n', '$A']) expect(isEnvName(s)).toBe(false);
    const text = fc.string({ unit: fc.constantFrom('A', 'z', '_', '0', '9', '-', '.', ' ', 'é', '$', '{', '}', '\n'), maxLength: 12 });
    fc.assert(
      fc.property(text, (s) => {
        expect(isEnvName(s)).toBe(CONTRACT.test(s));
      }),
      { numRuns: 5000 },
    );
  });

  it('scans the longest name at a position, as /^[A-Za-z_][A-Za-z0-9_]*/ on the rest would', () => {
    expect(envNameEnd('${DB_URL:-x}', 2)).toBe(8);
    expect(envNameEnd('${1X}', 2)).toBe(2);
    expect(envNameEnd('$A', 1)).toBe(2);
    expect(envNameEnd('$', 1)).toBe(1);
    const text = fc.string({ unit: fc.constantFrom('A', '_', '7', '-', '$', '{'), maxLength: 10 });
    fc.assert(
      fc.property(text, fc.nat(10), (s, at) => {
        const start = Math.min(at, s.length);
        const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(start));
        expect(envNameEnd(s, start)).toBe(start + (m ? m[0].length : 0));
      }),
      { numRuns: 5000 },
    );
  });
});
