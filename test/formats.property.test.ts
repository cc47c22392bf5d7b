import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dotenv from 'dotenv';
import fc from 'fast-check';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { SecretrunError } from '../src/core/errors.js';
import { dotenvLineKind, formatDotenv, formatEnv, LINE_CONTEXTUAL, LINE_PLAIN, LINE_PLAIN_PROTO, LINE_SINGLE_QUOTED, readsBackWithoutReparsing } from '../src/formats/write.js';

/** One "character": weighted towards what matters to the parsers, but any code point (no NUL) can appear. */
const SPECIAL = ["'", '"', '`', '\\', 'n', 'r', '#', ' ', '\t', '\n', '\r', '=', '$', ':', '-', '\u2028', '\u00a0', '\ufeff', 'é', '🎉'];
const anyChar = fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }).filter((c) => c !== '\0');
const controlChar = fc.integer({ min: 1, max: 31 }).map((c) => String.fromCharCode(c));
const char = fc.oneof({ arbitrary: fc.constantFrom(...SPECIAL), weight: 6 }, { arbitrary: anyChar, weight: 3 }, { arbitrary: controlChar, weight: 1 });
const value = fc.string({ unit: char, maxLength: 24 });
const key = fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,7}$/);
const envMap = fc.dictionary(key, value, { minKeys: 1, maxKeys: 12 });

/**
 * What `export --format dotenv` may refuse: values dotenv's syntax cannot express. The contract's list: a value
 * holding all three quote characters together with a line break, a `#` or leading or trailing white space. Beyond
 * it, dotenv's one regex has characters that only some spellings carry, each excluding others: a CR survives only
 * as the `\r` escape inside double quotes (where a literal backslash + `n`/`r` would be expanded too), and
 * U+2028/U+2029 count as line ends to it. A value holding one of those together with a quote character or a `#`
 * may be refused as well; everything else must be written. The key `__proto__` is never an own key of the result.
 */
function inexpressible(key: string, v: string): boolean {
  if (key === '__proto__') return true;
  if (v.includes("'") && v.includes('"') && v.includes('`') && (/[\n\r#]/.test(v) || v !== v.trim())) return true;
  if (v.includes('\r') && /\\[nr]/.test(v)) return true; // the CR's expansion would expand those too
  return /[\r\u2028\u2029]|\\[nr]/.test(v) && /['"`#]/.test(v);
}

/** The contract: the output reads back to the same map, or export fails naming a key whose value it cannot express. */
function dotenvRoundTripsOrRefuses(map: Record<string, string>): void {
  let text: string;
  try {
    text = formatEnv(map, 'dotenv');
  } catch (err) {
    expect(err).toBeInstanceOf(SecretrunError);
    expect((err as SecretrunError).exitCode).toBe(1);
    const named = Object.keys(map).filter((k) => (err as Error).message.includes(`key "${k}"`));
    expect(named.length, (err as Error).message).toBe(1);
    expect(inexpressible(named[0], map[named[0]]), `refused ${JSON.stringify(map).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}`).toBe(true);
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

  it('maps the old writer refused although dotenv can express them (issue 15)', () => {
    dotenvRoundTripsOrRefuses({ A: '\r\\', B: "#'" });
    expect(dotenv.parse(formatEnv({ A: '\r\\', B: "#'" }, 'dotenv'))).toEqual({ A: '\r\\', B: "#'" });
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

describe('dotenv writer and sh (property)', () => {
  // Pieces that would run `touch` if a shell that sources the file ever executed them.
  const attack = fc.constantFrom('$(touch PWNED)', '`touch PWNED`', '; touch PWNED', ' touch PWNED', '| touch PWNED', '&& touch PWNED', '\ntouch PWNED\n');
  const shValue = fc.array(fc.oneof(fc.constantFrom("'", '"', '`', '\\', '#', ' ', '\n', '$', 'a'), attack), { maxLength: 6 }).map((parts) => parts.join(''));

  it('a file with no key reported as running in sh runs nothing when sourced by sh', () => {
    const dir = mkdtempSync(join(tmpdir(), 'secretrun-sh-'));
    try {
      fc.assert(
        fc.property(fc.dictionary(key, shValue, { minKeys: 1, maxKeys: 4 }), (map) => {
          const reported: string[] = [];
          let text: string;
          try {
            text = formatDotenv(map, (k) => reported.push(k));
          } catch {
            return; // refused (inexpressible): nothing written
          }
          if (reported.length > 0) return;
          rmSync(join(dir, 'PWNED'), { force: true });
          writeFileSync(join(dir, '.env'), text);
          spawnSync('sh', ['-c', 'set -a; . ./.env'], { cwd: dir, env: { PATH: '/usr/bin:/bin' } });
          expect(existsSync(join(dir, 'PWNED')), text).toBe(false);
        }),
        { numRuns: 60 },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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

describe('dotenv read-back without re-parsing (property)', () => {
  // The writer skips re-parsing the leading run of plain and single-quoted lines and the trailing run of plain
  // lines. Whatever the other lines hold, that shortcut must never accept an output the full read-back rejects.
  const junkPiece = fc.constantFrom("'", '"', '`', '\\', '#', ' ', '\t', '\n', '\r', ':', '=', 'export ', '\u2028', 'a', 'n', 'B=', 'A:', 'K_1=x');
  const junk = fc.string({ unit: junkPiece, maxLength: 8 });
  const plainValue = fc.stringMatching(/^[A-Za-z0-9_.,:/@%+=-]{1,8}$/);
  const singleQuotable = fc.string({ unit: fc.constantFrom('a', ' ', '#', '"', '`', ':', '=', '\t', '\u2028', '\u00a0', 'é', 'B=', 'A:'), maxLength: 8 });
  const anyKey = fc.oneof({ arbitrary: fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,3}$/), weight: 8 }, fc.constantFrom('__proto__', 'export', 'a.b', 'x-y', 'K_1', 'A', 'B'));
  const line = fc.oneof(
    { weight: 6, arbitrary: fc.oneof(plainValue, singleQuotable).map((value) => ({ value, junk: undefined as string | undefined, honest: false })) },
    { weight: 2, arbitrary: fc.tuple(junk, fc.boolean(), value).map(([text, honest, other]) => ({ value: other, junk: text, honest })) },
  );
  const output = fc.uniqueArray(fc.tuple(anyKey, line), { selector: (e) => e[0], minLength: 1, maxLength: 14 });

  function build(entries: [string, { value: string; junk?: string; honest: boolean }][]) {
    const keys: string[] = [];
    const values: string[] = [];
    const lines: string[] = [];
    const kinds: number[] = [];
    for (const [key, e] of entries) {
      let kind = e.junk === undefined ? dotenvLineKind(key, e.value) : LINE_CONTEXTUAL;
      let text: string;
      if (kind === LINE_PLAIN || kind === LINE_PLAIN_PROTO) text = `${key}=${e.value}`;
      else if (kind === LINE_SINGLE_QUOTED) text = `${key}='${e.value}'`;
      else text = e.junk === undefined ? `${key}='${e.value}'` : `${key}=${e.junk}`;
      if (kind === LINE_PLAIN_PROTO) kind = LINE_CONTEXTUAL;
      const claimed = e.honest ? (dotenv.parse(text)[key] ?? e.value) : e.value;
      keys.push(key);
      values.push(claimed);
      lines.push(text);
      kinds.push(kind);
    }
    const first = kinds.findIndex((k) => k !== LINE_PLAIN && k !== LINE_SINGLE_QUOTED);
    let last = kinds.length - 1;
    while (last >= 0 && kinds[last] === LINE_PLAIN) last--;
    return { keys, values, lines, first: first < 0 ? lines.length : first, last };
  }

  it('never accepts what the full read-back rejects, and accepts most of what it accepts', () => {
    let shortcut = 0;
    let accepted = 0;
    let confirmed = 0;
    fc.assert(
      fc.property(output, (entries) => {
        const { keys, values, lines, first, last } = build(entries);
        const text = lines.join('\n') + '\n';
        const parsed = dotenv.parse(text);
        const full = Object.keys(parsed).length === keys.length && keys.every((k, i) => Object.hasOwn(parsed, k) && parsed[k] === values[i]);
        const fast = readsBackWithoutReparsing(lines, keys, values, first, last);
        if (fast) expect(full).toBe(true);
        if (full) accepted++;
        if (fast) confirmed++;
        if (fast && first > 0 && first < lines.length) shortcut++;
      }),
      { numRuns: 20000 },
    );
    // Not vacuous: outputs that read back were mostly confirmed without the full read-back, often with lines both
    // before and in the middle part. (It declines some, e.g. a middle line that sets a key a later line sets again.)
    expect(shortcut).toBeGreaterThan(1000);
    expect(confirmed).toBeGreaterThan(accepted * 0.9);
  });

  it('a large map of plain, single-quoted and awkward values, in any order, reads back unchanged or is refused', () => {
    const mostlyTame = fc.oneof({ arbitrary: plainValue, weight: 6 }, { arbitrary: singleQuotable, weight: 3 }, { arbitrary: value, weight: 1 });
    const big = fc.dictionary(fc.oneof({ arbitrary: key, weight: 20 }, fc.constantFrom('__proto__', 'a.b', 'export')), mostlyTame, { minKeys: 10, maxKeys: 80 });
    fc.assert(fc.property(big, dotenvRoundTripsOrRefuses), { numRuns: 1500 });
  });
});
