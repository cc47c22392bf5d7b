import { spawnSync } from 'node:child_process';
import dotenv from 'dotenv';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { SecretrunError } from '../src/core/errors.js';
import { EXPORT_FORMATS, formatEnv } from '../src/formats/write.js';

/** Values that have broken dotenv writers before: every quote kind, escapes, comments, edges, unicode. */
const NASTY: Record<string, string> = {
  PLAIN: 'postgres://user:pw@db:5432/app',
  EMPTY: '',
  SPACE_INSIDE: 'two words',
  LEADING_TRAILING: '  padded  ',
  TAB_EDGES: '\tx\t',
  SINGLE: "it's",
  DOUBLE: 'say "hi"',
  BACKTICK: 'run `ls`',
  ALL_QUOTES: `a'b"c\`d`,
  ALL_QUOTES_SPACES: ` a'b"c\`d `,
  ALL_QUOTES_NEWLINE: `a'b"c\`d\ne`,
  WRAPPED_SINGLE: "'quoted'",
  WRAPPED_DOUBLE: '"quoted"',
  WRAPPED_BACKTICK: '`quoted`',
  HASH: 'pass#word',
  HASH_START: '#not-a-comment',
  HASH_SPACE: 'a #b',
  EQUALS: 'a=b=c',
  DOLLAR: '$HOME ${USER} $(id)',
  BACKSLASHES: 'C:\\path\\to\\file',
  LITERAL_BACKSLASH_N: 'a\\nb',
  LITERAL_BACKSLASH_R: 'a\\rb',
  TRAILING_BACKSLASH: 'ends\\',
  NEWLINE: 'line1\nline2',
  TRAILING_NEWLINE: 'line\n',
  ONLY_NEWLINES: '\n\n',
  CRLF: 'a\r\nb',
  CR: 'a\rb',
  BACKSLASH_NEWLINE: 'a\\\nb',
  NEWLINE_TRAILING_BACKSLASH: 'x\ny\\',
  PEM: '-----BEGIN KEY-----\nMIIB\n-----END KEY-----\n',
  JSON_BLOB: '{"a": [1, "two"], "b": null}',
  UNICODE: 'héllo wörld ✓ 日本 🎉',
  UNICODE_SPACES: '\u00a0nbsp\u00a0',
  LINE_SEPARATOR: 'a\u2028b',
  CONTROL: '\u0001\u0007\u001b[31mred\u001b[0m',
  EXPORT_WORD: 'export X=1',
};

function expectTypedExportError(fn: () => unknown, key: string, value: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(SecretrunError);
  const err = caught as SecretrunError;
  expect(err.exitCode).toBe(1);
  expect(err.message).toContain(`"${key}"`);
  if (value.trim().length > 0) expect(err.message).not.toContain(value);
}

describe('EXPORT_FORMATS', () => {
  it('lists the four contract formats', () => {
    expect([...EXPORT_FORMATS]).toEqual(['dotenv', 'json', 'yaml', 'shell']);
  });
});

describe('dotenv', () => {
  it.each(Object.entries(NASTY))('%s reads back unchanged on its own', (key, value) => {
    const text = formatEnv({ [key]: value }, 'dotenv');
    expect(dotenv.parse(text)).toEqual({ [key]: value });
  });

  it('reads back the whole nasty map unchanged, in order', () => {
    const text = formatEnv(NASTY, 'dotenv');
    const parsed = dotenv.parse(text);
    expect(parsed).toEqual(NASTY);
    expect(Object.keys(parsed)).toEqual(Object.keys(NASTY));
  });

  it('reads back the nasty map in reverse order too (context-dependent lines)', () => {
    const reversed = Object.fromEntries(Object.entries(NASTY).reverse());
    expect(dotenv.parse(formatEnv(reversed, 'dotenv'))).toEqual(reversed);
  });

  it('chooses readable quoting', () => {
    expect(formatEnv({ A: 'plain-value_1.2' }, 'dotenv')).toBe('A=plain-value_1.2\n');
    expect(formatEnv({ A: '' }, 'dotenv')).toBe("A=''\n");
    expect(formatEnv({ A: 'two words' }, 'dotenv')).toBe("A='two words'\n");
    expect(formatEnv({ A: "it's" }, 'dotenv')).toBe('A="it\'s"\n');
    expect(formatEnv({ A: 'line1\nline2' }, 'dotenv')).toBe('A="line1\\nline2"\n');
    expect(formatEnv({ A: 'a\rb' }, 'dotenv')).toBe('A="a\\rb"\n');
    // A literal backslash-n cannot go in double quotes: dotenv would turn it into a newline.
    expect(formatEnv({ A: 'a\\nb\nc' }, 'dotenv')).toBe("A='a\\nb\nc'\n");
    expect(formatEnv({ A: 'x', B: 'y' }, 'dotenv')).toBe('A=x\nB=y\n');
  });

  it('a quoted value ending in a backslash stays correct whatever follows', () => {
    // `"x\ny\"` read alone is fine, but there the closing quote pairs with the backslash, so a later `"`
    // followed by a comment would end the value instead: `FIRST="x\ny\"` + `S='ab"#c'` reads FIRST as
    // `x<LF>y\"<LF>S='ab`. The writer must see that and pick another quote.
    const map = { FIRST: 'x\ny\\', S: 'ab"#c' };
    expect(dotenv.parse(`FIRST="x\\ny\\"\nS='ab"#c'\n`)).not.toEqual(map);
    const text = formatEnv(map, 'dotenv');
    expect(dotenv.parse(text)).toEqual(map);
  });

  it('gives an empty string for an empty map', () => {
    expect(formatEnv({}, 'dotenv')).toBe('');
  });

  it.each([
    ['all three quotes and a #', `a'b"c\`#d`],
    ['all three quotes, a # and a newline', `a'b"c\`#\nd`],
    ['all three quotes, a newline and a literal backslash-n', `a'b\`c\n\\n`],
    ['a carriage return and a literal backslash-n', 'a\r\\n'],
    ['a carriage return, a double quote and a #', 'a"\r#'],
  ])('refuses a value with %s, naming the key but not the value', (_label, value) => {
    expectTypedExportError(() => formatEnv({ OK: 'fine', BAD_KEY: value }, 'dotenv'), 'BAD_KEY', value);
  });

  it('refuses a key dotenv cannot read', () => {
    expectTypedExportError(() => formatEnv({ 'BAD KEY': 'secret-value' }, 'dotenv'), 'BAD KEY', 'secret-value');
  });

  // The exact set of values dotenv cannot express, over an alphabet of every character that matters to its
  // parser (quotes, backslash, n, r, #, space, LF, CR, a letter). "Bare" = not preceded by a backslash.
  // This is the documented rule; the test proves the writer refuses exactly these and nothing else.
  it('refuses exactly the inexpressible values (exhaustive up to length 4)', () => {
    const alphabet = ["'", '"', '`', '\\', 'n', 'r', '#', ' ', '\n', '\r', 'a'];
    const hasBare = (v: string, q: string) => [...v].some((c, i) => c === q && (i === 0 || v[i - 1] !== '\\'));
    const inexpressible = (v: string) => {
      const literalEscape = /\\[nr]/.test(v);
      const hash = v.includes('#');
      if (v.includes('\r')) return literalEscape || (hash && hasBare(v, '"'));
      return hasBare(v, "'") && hasBare(v, '`') && (hash ? hasBare(v, '"') || literalEscape : v.includes('\n') && literalEscape);
    };
    const wrong: string[] = [];
    let refused = 0;
    const visit = (value: string, depth: number): void => {
      let text: string | undefined;
      try {
        text = formatEnv({ K: value }, 'dotenv');
      } catch (err) {
        if (!(err instanceof SecretrunError)) throw err;
        refused++;
      }
      if (text !== undefined && dotenv.parse(text).K !== value) wrong.push(`silently different: ${JSON.stringify(value)}`);
      if ((text === undefined) !== inexpressible(value)) wrong.push(`${text === undefined ? 'refused' : 'accepted'}: ${JSON.stringify(value)}`);
      if (depth > 0) for (const c of alphabet) visit(value + c, depth - 1);
    };
    visit('', 4);
    expect(wrong).toEqual([]);
    expect(refused).toBeGreaterThan(100);
  });
});

describe('json', () => {
  it('is one pretty-printed object with a trailing newline that parses back', () => {
    const text = formatEnv(NASTY, 'json');
    expect(text.endsWith('}\n')).toBe(true);
    expect(text.split('\n')[1]).toMatch(/^ {2}"PLAIN": /);
    expect(JSON.parse(text)).toEqual(NASTY);
    expect(Object.keys(JSON.parse(text))).toEqual(Object.keys(NASTY));
  });

  it('writes {} for an empty map', () => {
    expect(formatEnv({}, 'json')).toBe('{}\n');
  });
});

describe('yaml', () => {
  const TRICKY_SCALARS: Record<string, string> = {
    BOOL: 'true',
    YES: 'yes',
    OFF: 'off',
    HEX: '0x10',
    OCTAL: '0o17',
    NULL: 'null',
    TILDE: '~',
    FLOAT: '1e3',
    INF: '.inf',
    NAN: '.NaN',
    DATE: '2024-01-01',
    COLON: 'a: b',
    DASH: '- item',
    ANCHOR: '&anchor',
    ALIAS: '*alias',
    TAG: '!!str x',
    FLOW: '{a: 1}',
    PERCENT: '%YAML 1.2',
    DOCUMENT: '---',
    C1: '\u0085\u0080\u009f\u007f',
    BOM: '\ufeffbom',
    PARAGRAPH: 'a\u2029b',
    LONE_SURROGATE: 'x\ud800y',
    NONCHAR: '\ufffe\uffff',
    EMOJI: '😀 ok',
  };

  it('parses back, with the yaml package, to exactly the same strings', () => {
    const map = { ...NASTY, ...TRICKY_SCALARS };
    const parsed = parseYaml(formatEnv(map, 'yaml'));
    expect(parsed).toEqual(map);
    expect(Object.keys(parsed)).toEqual(Object.keys(map));
    for (const v of Object.values(parsed as Record<string, unknown>)) expect(typeof v).toBe('string');
  });

  it('keeps keys that YAML would read as booleans or null as string keys', () => {
    const map = { true: 'a', null: 'b', on: 'c', y: 'd', N: 'e', 'a.b': 'f', 'x-y': 'g', '1': 'h', '': 'i' };
    const parsed = parseYaml(formatEnv(map, 'yaml'));
    expect(parsed).toEqual(map);
  });

  it('writes plain keys and double-quoted values', () => {
    expect(formatEnv({ KEY: 'true', OTHER: 'it\'s "x"\n' }, 'yaml')).toBe('KEY: "true"\nOTHER: "it\'s \\"x\\"\\n"\n');
  });

  it('writes {} for an empty map', () => {
    expect(parseYaml(formatEnv({}, 'yaml'))).toEqual({});
  });
});

/** Evaluate `script` (the export output) in `shell`, then print each key's value followed by a NUL sentinel. */
function evalInShell(shell: 'bash' | 'sh', script: string, keys: string[]): string[] {
  const printer = keys.map((k) => `printf '%s\\000' "$${k}"`).join('\n');
  const result = spawnSync(shell, ['-c', `${script}\n${printer}`], { env: { PATH: '/usr/bin:/bin', LC_ALL: 'C.UTF-8' } });
  if (result.status !== 0) throw new Error(`${shell} exited ${result.status}: ${result.stderr.toString()}`);
  const values = result.stdout.toString('utf8').split('\0');
  expect(values.pop()).toBe('');
  return values;
}

describe('shell', () => {
  // Shell variables cannot hold NUL; everything else must survive.
  const shellSafe = Object.fromEntries(Object.entries(NASTY).map(([k, v]) => [`SR_${k}`, v]));

  it('writes export lines with single quotes', () => {
    expect(formatEnv({ A: "it's", B: 'x' }, 'shell')).toBe(`export A='it'\\''s'\nexport B='x'\n`);
  });

  it.each(['bash', 'sh'] as const)('eval in %s reproduces every value exactly', (shell) => {
    const values = evalInShell(shell, formatEnv(shellSafe, 'shell'), Object.keys(shellSafe));
    expect(values).toEqual(Object.values(shellSafe));
  });

  it('refuses a key that is not a shell name, and a NUL in a value', () => {
    expectTypedExportError(() => formatEnv({ 'A.B': 'secret-value' }, 'shell'), 'A.B', 'secret-value');
    expectTypedExportError(() => formatEnv({ NUL_KEY: 'secret\0value' }, 'shell'), 'NUL_KEY', 'secret\0value');
  });
});
