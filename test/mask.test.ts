import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { createMaskStream, createRedactor, maskValue, MIN_MASKED_LENGTH } from '../src/process/mask.js';

const secrets = (entries: Record<string, string>) => new Map(Object.entries(entries));

/** Feed `chunks` through a fresh redactor; returns every output piece (one per write, then end). */
function feed(map: Map<string, string>, chunks: (string | Buffer)[]): Buffer[] {
  const redactor = createRedactor(map);
  const out = chunks.map((c) => redactor.write(typeof c === 'string' ? Buffer.from(c) : c));
  out.push(redactor.end());
  return out;
}

const joined = (pieces: Buffer[]) => Buffer.concat(pieces).toString('utf8');

describe('maskValue', () => {
  it('shows only the length, never any part of the value', () => {
    expect(maskValue('hunter2')).toBe('****** (7 chars)');
    expect(maskValue('x')).toBe('****** (1 char)');
    expect(maskValue('')).toBe('(empty)');
    expect(maskValue('sk_live_0123456789abcdef')).toBe('****** (24 chars)');
  });

  it('counts characters, not UTF-16 units', () => {
    expect(maskValue('🎉🎉')).toBe('****** (2 chars)');
  });

  it('depends on nothing but the length', () => {
    expect(maskValue('aaaaaaaaaaaaaaaaaaaa')).toBe(maskValue('Zy9!Zy9!Zy9!Zy9!Zy9!'));
  });
});

describe('createRedactor', () => {
  const map = secrets({ 'p4ssw0rd-xyz': '****', 'tok_ABCDEF': '<TOKEN>' });

  it('replaces every occurrence of every secret', () => {
    const text = 'user=bob pass=p4ssw0rd-xyz again p4ssw0rd-xyz tok_ABCDEF.';
    expect(joined(feed(map, [text]))).toBe('user=bob pass=**** again **** <TOKEN>.');
  });

  it('masks a secret split at every possible position, around every boundary', () => {
    const text = 'before p4ssw0rd-xyz after tok_ABCDEF end';
    const expected = 'before **** after <TOKEN> end';
    for (let cut = 0; cut <= text.length; cut++) {
      expect(joined(feed(map, [text.slice(0, cut), text.slice(cut)]))).toBe(expected);
    }
  });

  it('masks a secret split into three or more pieces, including one byte at a time', () => {
    const text = 'a p4ssw0rd-xyz b tok_ABCDEF c';
    const expected = 'a **** b <TOKEN> c';
    for (let i = 0; i <= text.length; i++) {
      for (let j = i; j <= text.length; j++) {
        expect(joined(feed(map, [text.slice(0, i), text.slice(i, j), text.slice(j)]))).toBe(expected);
      }
    }
    expect(joined(feed(map, [...text]))).toBe(expected);
  });

  it('splits inside multi-byte UTF-8 characters too', () => {
    const map = secrets({ 'пароль-🎉': '***' });
    const bytes = Buffer.from('x пароль-🎉 y');
    for (let cut = 0; cut <= bytes.length; cut++) {
      expect(joined(feed(map, [bytes.subarray(0, cut), bytes.subarray(cut)]))).toBe('x *** y');
    }
  });

  it('passes binary data, invalid UTF-8 and colour codes through byte for byte', () => {
    const noise = randomBytes(64 * 1024);
    const colours = Buffer.from('\x1b[31mred\x1b[0m \xff\xfe invalid \x1b[1;32mok\x1b[0m', 'latin1');
    const input = Buffer.concat([noise, colours, Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xf0, 0x28, 0x8c, 0x28])]);
    const pieces = feed(secrets({ 'never-present-secret': '***' }), [input.subarray(0, 1000), input.subarray(1000)]);
    expect(Buffer.concat(pieces).equals(input)).toBe(true);
  });

  it('masks a secret inside binary data and between colour codes', () => {
    const input = Buffer.concat([Buffer.from([0, 255, 1]), Buffer.from('\x1b[31mp4ssw0rd-xyz\x1b[0m'), Buffer.from([0xfe, 0xff])]);
    const expected = Buffer.concat([Buffer.from([0, 255, 1]), Buffer.from('\x1b[31m****\x1b[0m'), Buffer.from([0xfe, 0xff])]);
    expect(Buffer.concat(feed(map, [input.subarray(0, 7), input.subarray(7)])).equals(expected)).toBe(true);
  });

  it('prefers the longest secret starting at a position', () => {
    const map = secrets({ 'abcdef': '<SHORT>', 'abcdefgh': '<LONG>', 'defghijk': '<OTHER>' });
    expect(joined(feed(map, ['xx abcdefgh yy']))).toBe('xx <LONG> yy');
    expect(joined(feed(map, ['xx abcdefg yy']))).toBe('xx <SHORT>g yy');
    // Overlapping secrets are masked as their union: no tail of the later one stays visible.
    expect(joined(feed(map, ['abcdefghijk']))).toBe('<LONG><OTHER>');
    // Split right after the short secret: it must wait to see whether the long one follows.
    expect(feed(map, ['xx abcdef', 'gh yy']).map(String)).toEqual(['xx ', '<LONG> yy', '']);
    expect(feed(map, ['xx abcdef', ' yy']).map(String)).toEqual(['xx ', '<SHORT> yy', '']);
  });

  it('masks the union of overlapping matches, whatever the chunking (issue 15: abcdef + cdefghij)', () => {
    const map = secrets({ abcdef: '****', cdefghij: '****' });
    expect(joined(feed(map, ['[abcdefghij]']))).toBe('[****]');
    expect(joined(feed(map, ['[abcd', 'efgh', 'ij]']))).toBe('[****]');
    // A chain of three, and a run that ends exactly where the next match begins.
    const chain = secrets({ abcdef: '<A>', cdefgh: '<B>', fghijk: '<C>' });
    expect(joined(feed(chain, ['abcdefghijk!']))).toBe('<A><B><C>!');
    expect(joined(feed(chain, ['abcdef', 'ghijk!']))).toBe('<A><B><C>!');
  });

  it('handles secrets that overlap themselves (periodic secrets)', () => {
    const map = secrets({ 'aaaaaa': '#', 'abababab': '%' });
    // Every byte lies inside some occurrence: the whole run is masked, with one replacement.
    expect(joined(feed(map, ['aaaaaaaaaaaaa']))).toBe('#');
    expect(joined(feed(map, ['aaa', 'aaaaa', 'aaaaa']))).toBe('#');
    expect(joined(feed(map, ['ababababababab']))).toBe('%');
    expect(joined(feed(map, ['abababab-ababa']))).toBe('%-ababa');
  });

  it('emits a chunk with no secret prefix at its end entirely, in the same write', () => {
    const pieces = feed(map, ['line one\n', 'has p4ssw0rd-xyz inside\n', 'tail without secrets']);
    expect(pieces.map(String)).toEqual(['line one\n', 'has **** inside\n', 'tail without secrets', '']);
  });

  it('holds back only the tail that could start a secret, and flushes it on end', () => {
    const pieces = feed(map, ['output then p4ss', 'w0rd-x']);
    expect(pieces.map(String)).toEqual(['output then ', '', 'p4ssw0rd-x']);
    // A partial secret followed by a byte that breaks it is released at once.
    expect(feed(map, ['see p4ss', 'ed']).map(String)).toEqual(['see ', 'p4ssed', '']);
  });

  it(`ignores secrets shorter than ${MIN_MASKED_LENGTH} characters`, () => {
    expect(joined(feed(secrets({ 'true': '***', 'dev': '***', '123456': '#' }), ['true dev 123456']))).toBe('true dev #');
  });

  it('does nothing with no secrets, and copes with empty chunks', () => {
    expect(joined(feed(new Map(), ['plain ', '', 'text']))).toBe('plain text');
    expect(joined(feed(map, ['', 'p4ssw0rd-xyz', '']))).toBe('****');
  });

  it('is not confused when the caller reuses its chunk buffer', () => {
    const redactor = createRedactor(map);
    const buf = Buffer.from('ab p4ssw0');
    const first = Buffer.from(redactor.write(buf));
    buf.fill('z');
    const second = redactor.write(Buffer.from('rd-xyz!'));
    expect(Buffer.concat([first, second, redactor.end()]).toString()).toBe('ab ****!');
  });

  it('scales to thousands of secrets and megabytes of output', () => {
    const many = new Map<string, string>();
    for (let i = 0; i < 5000; i++) many.set(`secret-${i.toString(36)}-${randomBytes(8).toString('hex')}`, `<S${i}>`);
    const values = [...many.keys()];
    const parts: string[] = [];
    for (let i = 0; i < 20000; i++) parts.push(i % 50 === 0 ? values[i % values.length] : `log line ${i} secret-${i} ok\n`);
    const text = parts.join('');
    const bytes = Buffer.from(text);
    const redactor = createRedactor(many);
    const out: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 4096) out.push(redactor.write(bytes.subarray(i, i + 4096)));
    out.push(redactor.end());
    const result = Buffer.concat(out).toString();
    expect(result).not.toContain(values[0]);
    expect(result).toContain('<S0>');
    expect(result.length).toBeLessThan(text.length);
  });
});

describe('createMaskStream', () => {
  it('masks a stream across chunk boundaries and flushes the held-back tail at the end', async () => {
    const chunks = ['start p4ss', 'w0rd-xyz middle tok_', 'ABC', 'DEF end tok_AB'];
    const received: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        received.push(chunk);
        cb();
      },
    });
    await pipeline(Readable.from(chunks.map((c) => Buffer.from(c))), createMaskStream(secrets({ 'p4ssw0rd-xyz': '****', 'tok_ABCDEF': '<T>' })), sink);
    expect(Buffer.concat(received).toString()).toBe('start **** middle <T> end tok_AB');
  });
});
