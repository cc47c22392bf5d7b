import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRedactor, MIN_MASKED_LENGTH } from '../src/process/mask.js';

/**
 * The reference: plain, non-streaming replacement over the whole input. At each position the longest secret
 * starting there is replaced and scanning resumes after it; otherwise the byte is copied.
 */
function referenceRedact(input: Buffer, secrets: Map<string, string>): Buffer {
  const candidates = [...secrets]
    .filter(([value]) => value.length >= MIN_MASKED_LENGTH)
    .map(([value, replacement]) => ({ bytes: Buffer.from(value), replacement: Buffer.from(replacement) }))
    .sort((a, b) => b.bytes.length - a.bytes.length);
  const out: Buffer[] = [];
  let i = 0;
  while (i < input.length) {
    const hit = candidates.find((c) => input.subarray(i, i + c.bytes.length).equals(c.bytes));
    if (hit) {
      out.push(hit.replacement);
      i += hit.bytes.length;
    } else {
      out.push(input.subarray(i, i + 1));
      i++;
    }
  }
  return Buffer.concat(out);
}

/** Split `input` at the given cut points (any order, duplicates allowed: empty chunks are fine). */
function chunk(input: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    chunks.push(input.subarray(from, p));
    from = p;
  }
  chunks.push(input.subarray(from));
  return chunks;
}

function streamRedact(chunks: Buffer[], secrets: Map<string, string>): Buffer {
  const redactor = createRedactor(secrets);
  const out: Buffer[] = chunks.map((c) => Buffer.from(redactor.write(c)));
  out.push(redactor.end());
  return Buffer.concat(out);
}

// A small alphabet makes secrets overlap, share prefixes and occur by accident: the hard cases.
const secretValue = fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'é'), minLength: 3, maxLength: 12 });
const replacement = fc.constantFrom('***', '<K>', '', 'LONGER-REPLACEMENT');
// Some secrets also get a prefix of themselves registered, so "longest match at a position" is exercised.
const secretMap = fc.array(fc.tuple(secretValue, replacement, fc.option(fc.nat())), { minLength: 1, maxLength: 8 }).map((triples) => {
  const map = new Map<string, string>();
  for (const [value, repl, cut] of triples) {
    map.set(value, repl);
    if (cut !== null && value.length > MIN_MASKED_LENGTH) map.set(value.slice(0, MIN_MASKED_LENGTH + (cut % (value.length - MIN_MASKED_LENGTH))), `${repl}<prefix>`);
  }
  return map;
});

/** Text: random bytes (binary, invalid UTF-8) and alphabet letters, with secrets inserted. */
function textWith(secrets: Map<string, string>) {
  const values = [...secrets.keys()];
  const piece = fc.oneof(
    fc.uint8Array({ maxLength: 6 }).map((b) => Buffer.from(b)),
    fc.constantFrom('a', 'b', 'c', 'é', 'ab', '\x1b[31m').map((s) => Buffer.from(s)),
    fc.constantFrom(...values).map((v) => Buffer.from(v)),
    // A secret cut short: a prefix that must be held back and then released.
    fc.tuple(fc.constantFrom(...values), fc.nat()).map(([v, n]) => Buffer.from(v).subarray(0, n % Buffer.byteLength(v))),
  );
  return fc.array(piece, { maxLength: 30 }).map((pieces) => Buffer.concat(pieces));
}

describe('createRedactor (property)', () => {
  it('streamed output equals the reference replacement of the whole text, for any chunking', () => {
    const scenario = secretMap.chain((secrets) => fc.tuple(fc.constant(secrets), textWith(secrets), fc.array(fc.nat(), { maxLength: 12 })));
    fc.assert(
      fc.property(scenario, ([secrets, text, cuts]) => {
        const expected = referenceRedact(text, secrets);
        expect(streamRedact(chunk(text, cuts), secrets).equals(expected)).toBe(true);
        // One byte at a time is the harshest chunking.
        expect(streamRedact([...text].map((b) => Buffer.from([b])), secrets).equals(expected)).toBe(true);
      }),
      { numRuns: 1500 },
    );
  });

  it('holds back less than the longest secret: everything else is emitted by write itself', () => {
    // Empty replacements, so whatever end() returns is no longer than what was held back.
    const erasing = secretMap.map((m) => new Map([...m.keys()].map((k) => [k, ''])));
    const scenario = erasing.chain((secrets) => fc.tuple(fc.constant(secrets), fc.array(textWith(secrets), { minLength: 1, maxLength: 6 })));
    fc.assert(
      fc.property(scenario, ([secrets, chunks]) => {
        const registered = [...secrets.keys()].filter((v) => v.length >= MIN_MASKED_LENGTH).map((v) => Buffer.byteLength(v));
        const redactor = createRedactor(secrets);
        for (const c of chunks) redactor.write(c);
        expect(redactor.end().length).toBeLessThan(Math.max(1, ...registered));
      }),
      { numRuns: 500 },
    );
  });
});
