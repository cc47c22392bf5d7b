/**
 * decodeUtf8 is the one decoder for local files (sources file and layers). It must accept and reject exactly
 * what a fatal WHATWG TextDecoder does, and strip a leading BOM the same way.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeUtf8 } from '../src/core/files.js';

const reference = (bytes: Uint8Array): string | 'invalid' => {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return 'invalid';
  }
};
const ours = (bytes: Uint8Array): string | 'invalid' => {
  try {
    return decodeUtf8(bytes, 'f');
  } catch {
    return 'invalid';
  }
};

describe('decodeUtf8', () => {
  it('strips one leading BOM, like TextDecoder, and keeps a second one and any later one', () => {
    expect(decodeUtf8(Buffer.from('\ufeffA=1\n'), 'f')).toBe('A=1\n');
    expect(decodeUtf8(Buffer.from('\ufeff\ufeffA'), 'f')).toBe('\ufeffA');
    expect(decodeUtf8(Buffer.from('A\ufeff'), 'f')).toBe('A\ufeff');
  });

  it('decodes a view into a larger buffer without reading outside it', () => {
    const big = Buffer.from('xxA=1yy');
    expect(decodeUtf8(new Uint8Array(big.buffer, big.byteOffset + 2, 3), 'f')).toBe('A=1');
  });

  it('names the line, column and byte offset of the first invalid byte', () => {
    expect(() => decodeUtf8(Buffer.from([0x41, 0x0a, 0x42, 0xff]), 'app.env')).toThrow('app.env:2:2: not valid UTF-8 (byte offset 3)');
    expect(() => decodeUtf8(Buffer.from([0xed, 0xa0, 0x80]), 'f')).toThrow('not valid UTF-8'); // a surrogate
    expect(() => decodeUtf8(Buffer.from([0xc0, 0x80]), 'f')).toThrow('not valid UTF-8'); // overlong NUL
  });

  it('agrees with a fatal TextDecoder on arbitrary bytes', () => {
    const chunk = fc.oneof(
      fc.uint8Array({ maxLength: 8 }),
      fc.string({ unit: 'binary', maxLength: 6 }).map((s) => new Uint8Array(Buffer.from(s))),
      fc.constantFrom(new Uint8Array([0xef, 0xbb, 0xbf]), new Uint8Array([0xf4, 0x90, 0x80, 0x80]), new Uint8Array([0xed, 0xbf, 0xbf])),
    );
    const bytes = fc.array(chunk, { maxLength: 6 }).map((parts) => new Uint8Array(Buffer.concat(parts)));
    fc.assert(fc.property(bytes, (b) => {
        expect(ours(b)).toBe(reference(b));
      }), { numRuns: 3000 });
  });
});
