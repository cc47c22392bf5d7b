/**
 * Secret-safe messages (issue 15), the pure parts: the one redaction rule and its escaped forms, one-line
 * descriptions of whatever was thrown, URLs shown without userinfo/query/fragment, what counts as loopback and as
 * a credential, yaml/JSON errors in our own words, and `${...}` errors that give a column instead of text.
 */
import { describe, expect, it } from 'vitest';
import { describeError, escapedForms, isRedactable, MIN_REDACT_LENGTH, redact, registerSecret } from '../src/core/errors.js';
import { interpolate, interpolateTracked, InterpolationError, references } from '../src/core/interpolate.js';
import { isLoopbackHost, urlForDisplay } from '../src/core/urls.js';
import { jsonDuplicateKeys, parseJson, parseYaml, yamlMessage } from '../src/formats/parse.js';
import http from '../src/sources/http.js';
import doppler from '../src/sources/doppler.js';
import { credentialCarried } from '../src/sources/descriptor.js';

describe('the one redaction rule', () => {
  it('blanks values of 8 or more characters, verbatim, JSON-escaped and URL-encoded', () => {
    const secret = 'pa"ss/wörd\\x';
    registerSecret(secret);
    expect(redact(`a ${secret} b`)).toBe('a [redacted] b');
    expect(redact(`json ${JSON.stringify({ t: secret })}`)).toBe('json {"t":"[redacted]"}');
    expect(redact(`ascii ${JSON.stringify(secret).replace('ö', '\\u00f6')}`)).toBe('ascii "[redacted]"');
    expect(redact(`url ?t=${encodeURIComponent(secret)}`)).toBe('url ?t=[redacted]');
    expect(redact(`lower ?t=${encodeURIComponent(secret).toLowerCase().replace('pa', 'pa')}`)).not.toContain('pa%22ss');
    expect(redact(`form ${new URLSearchParams({ t: secret })}`)).toBe('form t=[redacted]');
  });

  it('leaves shorter values alone: they never appear in messages by construction, and blanking them garbles', () => {
    expect(MIN_REDACT_LENGTH).toBe(8);
    registerSecret('json');
    registerSecret('prod');
    registerSecret('1234567');
    expect(isRedactable('1234567')).toBe(false);
    expect(isRedactable('12345678')).toBe(true);
    expect(redact('layer "json config/prod.json": 1234567')).toBe('layer "json config/prod.json": 1234567');
  });

  it('lists the escaped forms only where they differ from the value', () => {
    expect(escapedForms('plainvalue123')).toEqual([]);
    expect(escapedForms('with space')).toEqual(expect.arrayContaining(['with%20space', 'with+space']));
    expect(escapedForms('quote"d value')).toContain('quote\\"d value');
  });
});

describe('describeError: one line, whatever was thrown', () => {
  it.each([
    [new Error('first line\nsecond line'), 'first line'],
    ['a thrown string\nwith a second line', 'a thrown string'],
    ['\n\n  late first line  \nmore', 'late first line'],
    [{ message: 'an object with a message\nmore' }, 'an object with a message'],
    [{ toString: () => 'x\ny' }, 'a non-Error object was thrown'],
    [undefined, 'undefined was thrown'],
    [42, 'a number was thrown'],
    ['colour \u001b[31mred\u0007', 'colour  [31mred'],
  ])('%j', (thrown, described) => {
    expect(describeError(thrown)).toBe(described);
  });

  it('caps a very long line', () => {
    expect(describeError('x'.repeat(1000)).length).toBeLessThanOrEqual(301);
  });
});

describe('URLs in messages and labels', () => {
  it.each([
    ['https://bob:hunter22@vault.example/v1/x?token=t#frag', 'https://vault.example', 'https://vault.example/v1/x'],
    // A password with `/`, `#`, `?` or `@`, not percent-encoded: the URL does not even parse.
    ['https://bob:p/w#r?d@x@vault.example:8200/v1?t=1', 'https://vault.example:8200', 'https://vault.example:8200/v1'],
    ['http://a@b@c@host/p', 'http://host', 'http://host/p'],
    ['${ORIGIN}/v1/data?token=${T}', '${ORIGIN}', '${ORIGIN}/v1/data'],
    ['not a url?token=secret', '(invalid URL)', '(invalid URL)'],
    ['user:password@host', '(invalid URL)', '(invalid URL)'],
  ])('%s', (raw, origin, withPath) => {
    expect(urlForDisplay(raw)).toBe(origin);
    expect(urlForDisplay(raw, { path: true })).toBe(withPath);
  });

  it('loopback is localhost, 127.0.0.0/8 and ::1', () => {
    for (const host of ['localhost', 'LOCALHOST', '127.0.0.1', '127.255.3.4', '[::1]', '::1']) expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ['10.0.0.1', 'localhost.example', '128.0.0.1', '0.0.0.0', '[::2]', 'api.doppler.com']) expect(isLoopbackHost(host), host).toBe(false);
  });
});

describe('what an http layer counts as a credential (its descriptor\'s `credential` specs)', () => {
  /** Options as interpolated, with the ranges `${...}` filled in per option path. */
  const carried = (options: { url: string; headers?: Record<string, string>; body?: string }, filled: Record<string, [number, number][]> = {}) =>
    credentialCarried(http.options, options, { filled: (path) => filled[path.join('.')] ?? [] });

  it('a literal Authorization or X-Vault-Token header, whatever its case', () => {
    expect(carried({ url: 'http://h/x', headers: { authorization: 'Basic abc' } })).toBe('header authorization');
    expect(carried({ url: 'http://h/x', headers: { 'X-VAULT-TOKEN': 't' } })).toBe('header X-VAULT-TOKEN');
  });

  it('any header, userinfo, query parameter or body filled in by ${...}', () => {
    expect(carried({ url: 'http://h/x', headers: { 'X-Api-Key': 'k' } }, { 'headers.X-Api-Key': [[0, 1]] })).toBe('header X-Api-Key');
    expect(carried({ url: 'http://u:pw@h/x' }, { url: [[9, 11]] })).toBe('the user and password of the URL');
    expect(carried({ url: 'http://h/x?token=abc' }, { url: [[17, 20]] })).toBe('the query of the URL');
    expect(carried({ url: 'http://h/x', body: '{"t":"abc"}' }, { body: [[6, 9]] })).toBe('the request body');
  });

  it('not: literal values, and ${...} that filled only the scheme, host or path', () => {
    expect(carried({ url: 'http://h/x?page=1', headers: { Accept: 'application/json', 'X-Team': 'web' }, body: 'literal' })).toBeUndefined();
    // url: ${ORIGIN}/bot${PATH_PART}/x?page=1 — the origin and a path segment came from ${...}, the query did not.
    expect(carried({ url: 'http://vault.internal/botabc/x?page=1' }, { url: [[0, 20], [24, 27]] })).toBeUndefined();
  });

  it('a doppler layer always carries its token, written literally or not; the words come from the descriptor', () => {
    expect(credentialCarried(doppler.options, { token: 'dp.st.literal', api_host: 'http://h' }, {})).toBe('the Doppler token');
  });
});

describe('parser errors in our own words', () => {
  it('yaml: a message per error code, never the package\'s prose', () => {
    expect(yamlMessage('BAD_DQ_ESCAPE')).toBe('invalid escape sequence in a double-quoted string');
    expect(yamlMessage('SOMETHING_NEW')).toBe('syntax error (SOMETHING_NEW)');
  });

  it.each([
    ['KEY: "\\Uhunter2hunter2"\n', 'data.yaml:1:7: invalid YAML: invalid escape sequence in a double-quoted string'],
    ['A: 1\nKEY: |hunter2hunter2\n  x\n', /^data\.yaml:2:\d+: invalid YAML: /],
  ])('yaml %j', async (text, message) => {
    const err = await parseYaml(text, 'data.yaml').then(() => undefined, (e: Error) => e);
    expect(err?.message).toMatch(typeof message === 'string' ? new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) : message);
    expect(err?.message).not.toContain('hunter2');
  });

  it.each([
    ['{"KEY": hunter2hunter2}', 'data.json:1:9: invalid JSON: found a letter where a JSON value was expected (strings need double quotes)'],
    ["{'KEY': 'hunter2hunter2'}", 'data.json:1:2: invalid JSON: expected a key in double quotes, found a single quote (JSON strings use double quotes)'],
    ['{"KEY": "\\qhunter2hunter2"}', 'data.json:1:11: invalid JSON: invalid escape in a string'],
    ['{"KEY": "hunter2hunter2', 'data.json:1:24: invalid JSON: unexpected end of input'],
  ])('JSON %j', (text, message) => {
    expect(() => parseJson(text, 'data.json')).toThrow(message);
  });

  it('finds keys repeated within one JSON object, with the position of each repeat', () => {
    expect(jsonDuplicateKeys('{"A": 1,\n "B": {"A": 2, "A": 3},\n "A": 4}')).toEqual([
      { line: 2, col: 16, key: 'A' },
      { line: 3, col: 2, key: 'A' },
    ]);
    expect(jsonDuplicateKeys('{"A": 1, "\\u0041": 2}')).toEqual([{ line: 1, col: 10, key: 'A' }]);
    expect(jsonDuplicateKeys('{"A": 1, "B": 2}')).toEqual([]);
  });
});

describe('${...} errors name a column, never text of the template', () => {
  const throws = (input: string, bare = false) => {
    try {
      interpolate(input, () => undefined, { bare });
    } catch (err) {
      expect(err).toBeInstanceOf(InterpolationError);
      return err as InterpolationError;
    }
    throw new Error('did not throw');
  };

  it('an unterminated ${ in a dotenv value', () => {
    const err = throws('x${hunter2', true);
    expect(err.message).toBe('unterminated "${" at column 2: the text ends before its "}"; write \\$ for a literal $');
    expect(err.code).toBe('unterminated');
    expect(err.column).toBe(2);
  });

  it('an unset name records the variable and its column (dotenv builds its message from the column)', () => {
    const err = throws('pa$hunter2', true);
    expect(err.variable).toBe('hunter2');
    expect(err.column).toBe(3);
  });

  it('dotenv expansion: \\$ is a literal $ (bcrypt hashes)', () => {
    expect(interpolate('\\$2b\\$10\\$abcdefghijklmnopqrstuv', () => undefined, { bare: true })).toBe('$2b$10$abcdefghijklmnopqrstuv');
    expect(interpolate('\\${NOT_EXPANDED}', () => 'x', { bare: true })).toBe('${NOT_EXPANDED}');
  });

  it('dotenv expansion: ${V-d}, ${V:+a} and ${V+a} as sh and dotenv-expand 1000 read them (no colon: "set")', () => {
    const env: Record<string, string> = { SET: 'value', EMPTY: '' };
    const look = (n: string) => env[n];
    expect(interpolate('${UNSET-dflt}|${EMPTY-dflt}|${SET-dflt}', look, { bare: true })).toBe('dflt||value');
    expect(interpolate('${SET:+alt}|${SET+alt}|${EMPTY+alt}|${EMPTY:+alt}|${UNSET:+alt}|${UNSET+alt}', look, { bare: true })).toBe('alt|alt|alt|||');
    expect(references('${A-${B}}', { bare: true })).toEqual(['A', 'B']);
  });

  it('the sources file: other operators are "unsupported", not "unterminated"', () => {
    for (const op of ['-', '+', ':+']) {
      const err = throws(`/\${STAGE${op}x}/app`);
      expect(err.message).toBe(`unsupported operator "${op}" in \${STAGE...} at column 2 (accepted: \${NAME} and \${NAME:-default}; $\${ for a literal \${)`);
    }
  });

  it('reports which characters ${...} filled in', () => {
    const tracked = interpolateTracked('a${X}b${Y:-${X}}c', (n) => ({ X: 'xx' })[n]);
    expect(tracked.text).toBe('axxbxxc');
    expect(tracked.filled).toEqual([[1, 3], [4, 6]]);
  });
});

describe('text shown by construction (issue 25): labels, vars and destinations are never blanked', () => {
  it('a registered value inside a shown text stays; elsewhere, and a value that merely contains a shown text, is blanked', async () => {
    const { shown } = await import('../src/core/errors.js');
    registerSecret('Production');
    registerSecret('https://api.example.test:8443/v1?token=abcdefgh');
    shown('json config/Production.json');
    shown('https://api.example.test:8443');
    expect(redact('layer "json config/Production.json": config/Production.json: file not found')).toBe(
      'layer "json config/Production.json": config/[redacted].json: file not found',
    );
    expect(redact('no connection to https://api.example.test:8443 within 3 s')).toBe('no connection to https://api.example.test:8443 within 3 s');
    // The whole value is blanked even though it starts with a shown destination.
    expect(redact('got https://api.example.test:8443/v1?token=abcdefgh back')).toBe('got [redacted] back');
  });

  it('seconds are given to one decimal', async () => {
    const { formatSeconds } = await import('../src/sources/net/retry.js');
    expect([3000, 10_500, 119_983, 940, 40_049].map(formatSeconds)).toEqual(['3 s', '10.5 s', '120 s', '0.9 s', '40 s']);
  });

  it('a credential is named by where it came from, never its value', async () => {
    const { credentialOrigin } = await import('../src/sources/net/credential-origin.js');
    const origins = (list: Record<string, import('../src/sources/types.js').FilledFrom[]>) => ({ origins: (path: (string | number)[]) => list[path.join('.')] ?? [] });
    expect(credentialOrigin(origins({ token: [{ name: 'DOPPLER_TOKEN', from: 'layer', layer: 'dotenv .env' }] }), ['token'], 'token')).toBe('token DOPPLER_TOKEN from layer "dotenv .env"');
    expect(credentialOrigin(origins({ token: [{ name: 'DOPPLER_TOKEN', from: 'env' }] }), ['token'], 'token')).toBe('token DOPPLER_TOKEN from the environment');
    expect(credentialOrigin(origins({}), ['token'], 'token')).toBe('token from the sources file');
    expect(credentialOrigin(origins({ 'headers.X-Vault-Token': [{ name: 'T', from: 'vars' }] }), ['headers', 'X-Vault-Token'], 'header X-Vault-Token')).toBe("header X-Vault-Token T from the sources file's vars");
    expect(credentialOrigin({}, ['token'], 'token')).toBeUndefined();
  });
});

describe('the retry policy tells a connection never established from a slow answer', () => {
  it('an attempt that reports no connection is retried at once, `retries` times, and named as such', async () => {
    const { withRetries, GaveUp } = await import('../src/sources/net/retry.js');
    let attempts = 0;
    const err = await withRetries(
      async () => {
        attempts++;
        return { ok: false as const, kind: 'unconnected' as const, error: new Error('x'), describe: 'no connection to https://h:1 within 10 s' };
      },
      { timeoutMs: 10_000, retries: 3, deadlineMs: 120_000, what: 't', backoffBaseMs: 60_000, onTimeout: () => ({ error: 1, describe: 'timeout' }) },
    ).then(() => undefined, (e: unknown) => e);
    // No backoff between them (a 60 s base would have shown), four attempts in all.
    expect(err).toBeInstanceOf(GaveUp);
    expect(attempts).toBe(4);
    expect((err as InstanceType<typeof GaveUp>).last.describe).toBe('no connection to https://h:1 within 10 s');
  });
});
