/**
 * Property tests for `${...}` interpolation (src/core/interpolate.ts): random templates, biased toward the
 * characters that matter (`$`, `{`, `}`, `:-`), against the rules of contract section 3. The example-based
 * tests live in interpolate.test.ts; the export writers' properties in formats.property.test.ts.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { interpolate, InterpolationError, parseTemplate, references, type Lookup } from '../src/core/interpolate.js';

const RUNS = { numRuns: 500 };

/** Strings built mostly from the pieces of the syntax, so the parser's edge cases come up often. */
const piece = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('$', '{', '}', ':-', '${', '$${', '$$', 'A', 'B_1', '_', '9', ':', '-', ' ', '\\', '\n') },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 3 }) },
);
const nasty = fc.oneof(fc.array(piece, { maxLength: 24 }).map((parts) => parts.join('')), fc.string({ unit: 'binary', maxLength: 40 }));
const NAMES = ['A', 'B_1', '_', 'STAGE', 'HOST'];
/** A lookup over a random record: some names set, some empty, some missing. */
const record = fc.dictionary(fc.constantFrom(...NAMES), fc.oneof(fc.constant(''), fc.string({ maxLength: 8 })));

function lookupOf(values: Record<string, string>, seen: string[] = []): Lookup {
  return (name) => {
    seen.push(name);
    return Object.prototype.hasOwnProperty.call(values, name) ? values[name] : undefined;
  };
}

/** Call `fn`; return what it threw, after checking it is our typed error (and nothing else ever escapes). */
function outcome<T>(fn: () => T): { value: T } | { error: InterpolationError } {
  try {
    return { value: fn() };
  } catch (err) {
    expect(err).toBeInstanceOf(InterpolationError);
    return { error: err as InterpolationError };
  }
}

describe('interpolation: robustness', () => {
  it('never throws anything but InterpolationError, whatever the input', () => {
    fc.assert(
      fc.property(nasty, record, fc.boolean(), (input, values, bare) => {
        outcome(() => parseTemplate(input, { bare }));
        outcome(() => references(input, { bare }));
        outcome(() => interpolate(input, lookupOf(values), { bare }));
      }),
      RUNS,
    );
  });

  it('parses, lists references and interpolates consistently: all three fail or none does', () => {
    fc.assert(
      fc.property(nasty, (input) => {
        const parsed = outcome(() => parseTemplate(input));
        const refs = outcome(() => references(input));
        // With every name set to a non-empty value, only a malformed template can fail.
        const rendered = outcome(() => interpolate(input, () => 'v'));
        const failed = [parsed, refs].map((o) => 'error' in o);
        expect(failed[1]).toBe(failed[0]);
        if (input.includes('$')) expect('error' in rendered).toBe(failed[0]);
      }),
      RUNS,
    );
  });

  it('an error message names the variable, never a value', () => {
    const secretValue = fc.string({ minLength: 6, maxLength: 12 }).map((s) => `sk_live_${s}`);
    fc.assert(
      fc.property(nasty, fc.dictionary(fc.constantFrom(...NAMES), secretValue), (input, values) => {
        const o = outcome(() => interpolate(input, lookupOf(values)));
        if ('error' in o) {
          for (const v of Object.values(values)) expect(o.error.message).not.toContain(v);
          if (o.error.variable !== undefined) {
            expect(values[o.error.variable]).toBeUndefined();
            expect(o.error.message).toContain(`\${${o.error.variable}}`);
          }
        }
      }),
      RUNS,
    );
  });
});

describe('interpolation: laws', () => {
  it('a string without "$" is returned as it is, and nothing is looked up', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }).map((s) => s.replaceAll('$', '')), (input) => {
        const seen: string[] = [];
        expect(interpolate(input, lookupOf({}, seen))).toBe(input);
        expect(interpolate(input, lookupOf({}, seen), { bare: true })).toBe(input);
        expect(seen).toEqual([]);
        expect(references(input)).toEqual([]);
      }),
      RUNS,
    );
  });

  it('escaping every "${" as "$${" gives back the original text, whatever it holds', () => {
    fc.assert(
      fc.property(nasty, (text) => {
        const seen: string[] = [];
        const escaped = text.replaceAll('${', () => '$${'); // a function: in a replacement string "$$" means "$"
        expect(interpolate(escaped, lookupOf({}, seen))).toBe(text);
        expect(references(escaped)).toEqual([]);
        expect(seen).toEqual([]);
      }),
      RUNS,
    );
  });

  it('references() lists exactly the names interpolate() can consult', () => {
    fc.assert(
      fc.property(nasty, record, fc.boolean(), (input, values, bare) => {
        const refs = outcome(() => references(input, { bare }));
        if ('error' in refs) return;
        // Any lookup consults only listed names.
        const seen: string[] = [];
        outcome(() => interpolate(input, lookupOf(values, seen), { bare }));
        for (const name of seen) expect(refs.value).toContain(name);
        if (bare) return; // `${A-${B}}` takes its default only when A is unset: no one lookup consults every name
        // With every name empty, every default is taken, so every listed name is consulted and nothing fails.
        const all: string[] = [];
        interpolate(input, (name) => (all.push(name), ''), { bare });
        expect(new Set(all)).toEqual(new Set(refs.value));
      }),
      RUNS,
    );
  });

  it('agrees with a model of ${NAME}, ${NAME:-default} and $${ on well-formed templates', () => {
    type Node = { text: string } | { escape: true } | { name: string; fallback?: Node[] };
    const plain = fc.string({ unit: fc.constantFrom('a', 'b', ' ', ':', '-', '{', '/', 'é', '\n'), minLength: 1, maxLength: 4 });
    const { template } = fc.letrec<{ template: Node[]; node: Node }>((tie) => ({
      template: fc.array(tie('node'), { maxLength: 5 }),
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        plain.map((text) => ({ text })),
        fc.constant({ escape: true as const }),
        fc.constantFrom(...NAMES).map((name) => ({ name })),
        fc.record({ name: fc.constantFrom(...NAMES), fallback: tie('template') }),
      ),
    }));
    const write = (nodes: Node[]): string =>
      nodes.map((n) => ('text' in n ? n.text : 'escape' in n ? '$${' : `\${${n.name}${n.fallback ? `:-${write(n.fallback)}` : ''}}`)).join('');
    /** Contract section 3: a set, non-empty value wins; else the default; an unset name without one fails. */
    const render = (nodes: Node[], values: Record<string, string>): string =>
      nodes
        .map((n) => {
          if ('text' in n) return n.text;
          if ('escape' in n) return '${';
          const v = values[n.name];
          if (v !== undefined && v !== '') return v;
          if (n.fallback) return render(n.fallback, values);
          if (v === '') return '';
          throw new Error(`unset ${n.name}`);
        })
        .join('');
    fc.assert(
      fc.property(template, record, (nodes, values) => {
        const input = write(nodes);
        let expected: string | Error;
        try {
          expected = render(nodes, values);
        } catch (err) {
          expected = err as Error;
        }
        const got = outcome(() => interpolate(input, lookupOf(values)));
        if (expected instanceof Error) expect('error' in got, `${input} should fail`).toBe(true);
        else expect(got).toEqual({ value: expected });
      }),
      RUNS,
    );
  });

  it('dotenv files: agrees with a model of sh\'s ${NAME}, $NAME, :-, -, :+, +, \\$ and $$ on well-formed templates', () => {
    type Op = ':-' | '-' | ':+' | '+';
    type Node = { text: string } | { escape: true } | { dollars: true } | { bare: string } | { name: string; op?: Op; fallback?: Node[] };
    // Text that cannot continue a name, a `$` or an escape before it (no letters, digits, `_`, `$`, `\\`, `{`, `}`).
    const plain = fc.string({ unit: fc.constantFrom(' ', ':', '-', '/', 'é', '\n', '.', '@'), minLength: 1, maxLength: 4 });
    const { template } = fc.letrec<{ template: Node[]; node: Node }>((tie) => ({
      template: fc.array(tie('node'), { maxLength: 5 }),
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        plain.map((text) => ({ text })),
        fc.constant({ escape: true as const }),
        fc.constant({ dollars: true as const }),
        fc.constantFrom(...NAMES).map((bare) => ({ bare })),
        fc.constantFrom(...NAMES).map((name) => ({ name })),
        fc.record({ name: fc.constantFrom(...NAMES), op: fc.constantFrom<Op>(':-', '-', ':+', '+'), fallback: tie('template') }),
      ),
    }));
    // A bare `$NAME` or `$$` is followed by plain text (or nothing), so it never runs into what comes next.
    const write = (nodes: Node[]): string =>
      nodes
        .map((n, i) => {
          const next = nodes[i + 1];
          const sep = next && !('text' in next) ? ' ' : '';
          if ('text' in n) return n.text;
          if ('escape' in n) return '\\$';
          if ('dollars' in n) return '$$' + sep;
          if ('bare' in n) return `$${n.bare}` + sep;
          return `\${${n.name}${n.op ? `${n.op}${write(n.fallback!)}` : ''}}`;
        })
        .join('');
    const render = (nodes: Node[], values: Record<string, string>): string =>
      nodes
        .map((n, i) => {
          const next = nodes[i + 1];
          const sep = next && !('text' in next) ? ' ' : '';
          if ('text' in n) return n.text;
          if ('escape' in n) return '$';
          if ('dollars' in n) return '$$' + sep;
          const name = 'bare' in n ? n.bare : n.name;
          const v = Object.hasOwn(values, name) ? values[name] : undefined;
          const op = 'bare' in n ? undefined : n.op;
          const test = op === ':-' || op === ':+' ? v !== undefined && v !== '' : v !== undefined;
          if (op === ':+' || op === '+') return test ? render((n as { fallback: Node[] }).fallback, values) : '';
          if (test) return v + ('bare' in n ? sep : '');
          if (op) return render((n as { fallback: Node[] }).fallback, values);
          throw new Error(`unset ${name}`);
        })
        .join('');
    fc.assert(
      fc.property(template, record, (nodes, values) => {
        const input = write(nodes);
        let expected: string | Error;
        try {
          expected = render(nodes, values);
        } catch (err) {
          expected = err as Error;
        }
        const got = outcome(() => interpolate(input, lookupOf(values), { bare: true }));
        if (expected instanceof Error) expect('error' in got, `${input} should fail`).toBe(true);
        else expect(got, input).toEqual({ value: expected });
      }),
      RUNS,
    );
  });
});
