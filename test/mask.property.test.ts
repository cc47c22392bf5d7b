import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRedactor, MIN_MASKED_LENGTH } from '../src/process/mask.js';

/**
 * The reference for what gets masked: every byte inside any occurrence of any secret (the union of all matches,
 * overlapping ones included), found by brute force. With empty replacements the redactor must delete exactly
 * those bytes.
 */
function referenceErase(input: Buffer, secrets: Map<string, string>): Buffer {
  const values = [...secrets.keys()].filter((value) => value.length >= MIN_MASKED_LENGTH).map((value) => Buffer.from(value));
  const covered = new Array<boolean>(input.length).fill(false);
  for (let i = 0; i < input.length; i++) {
    for (const v of values) if (input.subarray(i, i + v.length).equals(v)) covered.fill(true, i, i + v.length);
  }
  return Buffer.from([...input].filter((_, i) => !covered[i]));
}

const erasing = (secrets: Map<string, string>) => new Map([...secrets.keys()].map((k) => [k, '']));

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
  it('streamed output is the same for any chunking, and masks the union of all matches', () => {
    const scenario = secretMap.chain((secrets) => fc.tuple(fc.constant(secrets), textWith(secrets), fc.array(fc.nat(), { maxLength: 12 })));
    fc.assert(
      fc.property(scenario, ([secrets, text, cuts]) => {
        const whole = streamRedact([text], secrets);
        expect(streamRedact(chunk(text, cuts), secrets).equals(whole)).toBe(true);
        // One byte at a time is the harshest chunking.
        expect(streamRedact([...text].map((b) => Buffer.from([b])), secrets).equals(whole)).toBe(true);
        // What is masked: exactly the bytes some secret occurrence covers.
        const erased = referenceErase(text, secrets);
        expect(streamRedact(chunk(text, cuts), erasing(secrets)).equals(erased)).toBe(true);
      }),
      { numRuns: 1500 },
    );
  });

  it('holds back less than the longest secret: everything else is emitted by write itself', () => {
    // Empty replacements, so whatever end() returns is no longer than what was held back.
    const scenario = secretMap.map(erasing).chain((secrets) => fc.tuple(fc.constant(secrets), fc.array(textWith(secrets), { minLength: 1, maxLength: 6 })));
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
