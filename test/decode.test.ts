import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { applyDecode, decodeBase64Strict, decodeBase64Text } from '../src/formats/decode.js';
import { LayerError } from '../src/core/errors.js';
import { runCli, useTmpProjects } from './helpers/cli.js';

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
const b64url = (s: string | Buffer) => Buffer.from(s).toString('base64url');

function decodeError(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}

describe('decodeBase64Text', () => {
  it('round-trips any UTF-8 text without NUL, in both alphabets, padded or not', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }).filter((s) => !s.includes('\0')), (text) => {
        expect(decodeBase64Text(b64(text), 'K')).toBe(text);
        expect(decodeBase64Text(b64(text).replace(/=+$/, ''), 'K')).toBe(text);
        expect(decodeBase64Text(b64url(text), 'K')).toBe(text);
        expect(decodeBase64Text(b64url(text) + '='.repeat((4 - (b64url(text).length % 4)) % 4), 'K')).toBe(text);
      }),
    );
  });

  it('round-trips arbitrary bytes at the byte level', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(decodeBase64Strict(Buffer.from(bytes).toString('base64'), 'K').equals(Buffer.from(bytes))).toBe(true);
        expect(decodeBase64Strict(Buffer.from(bytes).toString('base64url'), 'K').equals(Buffer.from(bytes))).toBe(true);
      }),
    );
  });

  it('ignores line wrapping, as `base64` writes at 76 columns', () => {
    const text = 'x'.repeat(200);
    const wrapped = b64(text).replace(/(.{76})/g, '$1\n') + '\n';
    expect(wrapped.split('\n').length).toBeGreaterThan(3);
    expect(decodeBase64Text(wrapped, 'K')).toBe(text);
  });

  it('decodes the empty string to the empty string', () => {
    expect(decodeBase64Text('', 'K')).toBe('');
  });

  it.each([
    ['a character outside the alphabet', 'aGVsbG8*d29ybGQ=', /outside the base64 alphabet/],
    ['a dot', 'aGVs.bG8=', /outside the base64 alphabet/],
    ['mixed alphabets', 'ab+c_d==', /mixes the standard and URL-safe/],
    ['a truncated value', 'aGVsbG8gd', /wrong length/],
    ['padding in the middle', 'aGV=sbG8=', /padding/],
    ['too much padding', 'aGVsbA===', /padding/],
    ['padding with a wrong total length', 'aGVsbA=', /padding/],
    ['non-canonical trailing bits', 'aGVsbB==', /non-canonical/],
  ])('rejects %s, naming the key but not the value', (_what, value, reason) => {
    const err = decodeError(() => decodeBase64Text(value, 'TLS_KEY'));
    expect(err.message).toMatch(reason);
    expect(err.message).toContain('"TLS_KEY"');
    expect(err.message).not.toContain(value);
  });

  it('Node alone would have accepted these silently (why the strict check exists)', () => {
    expect(() => Buffer.from('aGVsbG8*d29ybGQ=', 'base64')).not.toThrow();
  });

  it('rejects bytes that are not UTF-8, explaining that env vars are text', () => {
    const binary = b64(Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3]));
    const err = decodeError(() => decodeBase64Text(binary, 'SIGNING_KEY'));
    expect(err.message).toMatch(/"SIGNING_KEY".*not valid UTF-8.*environment variables hold text/);
    expect(err.message).not.toContain(binary);
  });

  it('rejects a decoded NUL byte', () => {
    expect(() => decodeBase64Text(b64('a\0b'), 'K')).toThrow(/"K".*NUL/);
  });

  it('keeps a decoded byte-order mark as it is', () => {
    expect(decodeBase64Text(b64('\uFEFFx'), 'K')).toBe('\uFEFFx');
  });
});

describe('applyDecode', () => {
  const values = { TLS_KEY: b64('-----BEGIN KEY-----\nabc\n'), CERT_A: b64('cert a'), CERT_B: b64url('cert b?>'), PLAIN: 'not base64!', PREFIXED: 'base64:' + b64('prefixed ✓') };

  it('decodes exact names and globs, leaving other keys alone', () => {
    const out = applyDecode(values, { decode: { TLS_KEY: 'base64', 'CERT_*': 'base64' } }, 'layer');
    expect(out).toEqual({ TLS_KEY: '-----BEGIN KEY-----\nabc\n', CERT_A: 'cert a', CERT_B: 'cert b?>', PLAIN: 'not base64!', PREFIXED: values.PREFIXED });
  });

  it('supports ? in globs, like only', () => {
    expect(applyDecode(values, { decode: { 'CERT_?': 'base64' } }, 'layer').CERT_B).toBe('cert b?>');
  });

  it('returns a new map and leaves the input untouched', () => {
    const input = { ...values };
    const out = applyDecode(input, { decode: { TLS_KEY: 'base64' } }, 'layer');
    expect(out).not.toBe(input);
    expect(input).toEqual(values);
  });

  it('decode_prefixed decodes base64: values only', () => {
    const out = applyDecode(values, { decode_prefixed: true }, 'layer');
    expect(out.PREFIXED).toBe('prefixed ✓');
    expect(out.TLS_KEY).toBe(values.TLS_KEY);
    expect(out.PLAIN).toBe('not base64!');
  });

  it('decodes once when a prefixed value also matches a pattern', () => {
    const out = applyDecode({ K: 'base64:' + b64('base64:' + b64('inner')) }, { decode: { K: 'base64' }, decode_prefixed: true }, 'layer');
    expect(out.K).toBe('base64:' + b64('inner'));
  });

  it('without decode_prefixed a base64: value stays as written', () => {
    expect(applyDecode(values, {}, 'layer')).toEqual(values);
  });

  it('reports the layer and the key as a LayerError, never the value', () => {
    const err = decodeError(() => applyDecode(values, { decode: { 'P*': 'base64' } }, 'yaml config/app.yaml'));
    expect(err).toBeInstanceOf(LayerError);
    expect(err.message).toMatch(/^layer "yaml config\/app.yaml": decode: key "PLAIN": invalid base64/);
    expect(err.message).not.toContain('not base64!');
  });

  it('rejects an unknown encoding', () => {
    expect(() => applyDecode(values, { decode: { PLAIN: 'hex' } }, 'l')).toThrow(/unsupported encoding "hex"/);
  });
});

describe('decode end to end (built CLI)', () => {
  const project = useTmpProjects(afterAll)({
    '.env': [`TLS_KEY=${b64('-----BEGIN KEY-----\nline\n')}`, `CERT_ONE=${b64url('cërt ✓')}`, `PLAIN=${b64('stays encoded')}`, `TAGGED=base64:${b64('tagged')}`, ''].join('\n'),
    'bad.env': 'GOOD=aGk=\nBROKEN=not*base64\n',
    'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n    decode: { TLS_KEY: base64, "CERT_*": base64 }\n    decode_prefixed: true\n    prefix: APP_\n',
    'bad.yaml': 'sources:\n  - type: dotenv\n    path: bad.env\n    decode: { "*": base64 }\n',
  });

  it('decodes matching and prefixed values before prefix applies', async () => {
    const r = await runCli(['export', '--format', 'json'], { cwd: project.dir });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ APP_TLS_KEY: '-----BEGIN KEY-----\nline\n', APP_CERT_ONE: 'cërt ✓', APP_PLAIN: b64('stays encoded'), APP_TAGGED: 'tagged' });
  });

  it('invalid base64 names the layer and the key, never the value', async () => {
    const r = await runCli(['-c', 'bad.yaml', '--', 'true'], { cwd: project.dir });
    expect(r.code).toBe(125);
    expect(r.stderr).toBe('secretrun: layer "dotenv bad.env" (bad.yaml:2:5): decode: key "BROKEN": invalid base64 (a character outside the base64 alphabet)\n');
  });
});
