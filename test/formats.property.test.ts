import { spawnSync } from 'node:child_process';
import dotenv from 'dotenv';
import fc from 'fast-check';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { SecretrunError } from '../src/errors.js';
import { formatEnv } from '../src/formats.js';

/** One "character": weighted towards what matters to the parsers, but any code point (no NUL) can appear. */
const SPECIAL = ["'", '"', '`', '\\', 'n', 'r', '#', ' ', '\t', '\n', '\r', '=', '$', ':', '-', '\u2028', '\u00a0', '\ufeff', 'é', '🎉'];
const anyChar = fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }).filter((c) => c !== '\0');
const controlChar = fc.integer({ min: 1, max: 31 }).map((c) => String.fromCharCode(c));
const char = fc.oneof({ arbitrary: fc.constantFrom(...SPECIAL), weight: 6 }, { arbitrary: anyChar, weight: 3 }, { arbitrary: controlChar, weight: 1 });
const value = fc.string({ unit: char, maxLength: 24 });
const key = fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,7}$/);
const envMap = fc.dictionary(key, value, { minKeys: 1, maxKeys: 12 });

/** The contract: the output reads back to the same map, or export fails with a typed error naming a key. */
function dotenvRoundTripsOrRefuses(map: Record<string, string>): void {
  let text: string;
  try {
    text = formatEnv(map, 'dotenv');
  } catch (err) {
    expect(err).toBeInstanceOf(SecretrunError);
    expect((err as SecretrunError).exitCode).toBe(1);
    expect(Object.keys(map).some((k) => (err as Error).message.includes(`"${k}"`))).toBe(true);
    return;
  }
  expect(dotenv.parse(text)).toEqual(map);
}

describe('dotenv writer (property)', () => {
  it('a single value reads back unchanged or is refused, never silently different', () => {
    fc.assert(fc.property(value, (v) => dotenvRoundTripsOrRefuses({ KEY: v })), { numRuns: 3000 });
  });

  it('a whole map reads back unchanged or is refused (lines may affect each other)', () => {
    fc.assert(fc.property(envMap, dotenvRoundTripsOrRefuses), { numRuns: 1500 });
  });

  it('values without all three quote kinds, CR or backslash are always accepted', () => {
    const tame = fc.string({ unit: char, maxLength: 24 }).filter((v) => !v.includes('`') && !v.includes('\r') && !v.includes('\\'));
    fc.assert(
      fc.property(fc.dictionary(key, tame, { minKeys: 1, maxKeys: 8 }), (map) => {
        expect(dotenv.parse(formatEnv(map, 'dotenv'))).toEqual(map);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('yaml writer (property)', () => {
  it('reads back with the yaml package to exactly the same strings, lone surrogates included', () => {
    const yamlValue = fc.string({ unit: fc.oneof(char, fc.constantFrom('\ud800', '\udfff', '\u0085', '\u007f')), maxLength: 24 });
    fc.assert(
      fc.property(fc.dictionary(key, yamlValue, { minKeys: 1, maxKeys: 12 }), (map) => {
        expect(parseYaml(formatEnv(map, 'yaml'))).toEqual(map);
      }),
      { numRuns: 1000 },
    );
  });
});

function evalInShell(shell: string, script: string, keys: string[]): string[] {
  const printer = keys.map((k) => `printf '%s\\000' "$${k}"`).join('\n');
  const result = spawnSync(shell, ['-c', `${script}\n${printer}`], { env: { PATH: '/usr/bin:/bin', LC_ALL: 'C.UTF-8' } });
  if (result.status !== 0) throw new Error(`${shell} exited ${result.status}: ${result.stderr.toString()}`);
  const values = result.stdout.toString('utf8').split('\0');
  values.pop();
  return values;
}

describe('shell writer (property)', () => {
  // Many values per shell process keeps this fast: one bash or sh run per property case.
  it.each(['bash', 'sh'])('eval in %s reproduces random values exactly', (shell) => {
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 60 }), (values) => {
        const map = Object.fromEntries(values.map((v, i) => [`SR_V${i}`, v]));
        expect(evalInShell(shell, formatEnv(map, 'shell'), Object.keys(map))).toEqual(values);
      }),
      { numRuns: 25 },
    );
  });
});
