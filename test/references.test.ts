/**
 * The reference mechanism on its own (src/core/references.ts): the grammar, parameters, pointers, the dotenv `#`
 * check, and the resolver's batching, with in-memory hooks that record what they were asked. The stores
 * themselves are tested end to end in references-aws.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { dotenvCutReference, holdsReference, literalParts, parseReferences, pick, ReferenceProblem, ReferenceResolver, schemesOf, type Schemes } from '../src/core/references.js';
import ssm from '../src/sources/ssm.js';
import secretsmanager from '../src/sources/secretsmanager.js';
import type { ReferenceHook, ReferenceTarget, ReferenceValue } from '../src/sources/types.js';
import { makeContext } from './helpers/moto.js';

const SCHEMES = schemesOf([ssm, secretsmanager]);

function problem(value: string, schemes: Schemes = SCHEMES): string {
  try {
    parseReferences(value, schemes);
  } catch (err) {
    expect(err).toBeInstanceOf(ReferenceProblem);
    return (err as Error).message;
  }
  throw new Error('expected a problem');
}

describe('grammar', () => {
  it('a whole reference: the path, parameters and pointer; secretref+ reads as ref+', () => {
    const value = 'ref+awssecrets://prod/api?region=eu-west-1&version_stage=AWSPREVIOUS#/db/pass';
    const [r] = parseReferences(value, SCHEMES);
    expect(r).toMatchObject({ start: 0, end: value.length, scheme: 'awssecrets', target: { path: 'prod/api', params: { region: 'eu-west-1', version_stage: 'AWSPREVIOUS' } }, pointer: ['db', 'pass'], shown: 'ref+awssecrets://prod/api' });
    expect(parseReferences('secretref+awsssm:///prod/x', SCHEMES)[0]).toMatchObject({ scheme: 'awsssm', target: { path: '/prod/x' } });
    expect(parseReferences('ref+awssecrets://a#/x~1y/z~0', SCHEMES)[0].pointer).toEqual(['x/y', 'z~']);
  });

  it('an embedded reference ends at + (or the end of the line); the text around it stays', () => {
    const value = 'postgres://app:ref+awsssm://prod/db/password+@db:5432/app?x=ref+awssecrets://k+';
    const refs = parseReferences(value, SCHEMES);
    expect(refs.map((r) => [r.shown, value.slice(r.start, r.end)])).toEqual([
      ['ref+awsssm://prod/db/password', 'ref+awsssm://prod/db/password+'],
      ['ref+awssecrets://k', 'ref+awssecrets://k+'],
    ]);
    expect(literalParts(value, refs)).toEqual(['postgres://app:', '@db:5432/app?x=']);
    expect(parseReferences('a ref+awsssm://x\nnext', SCHEMES)[0].target.path).toBe('x');
  });

  it('not a reference: no ref+, inside a word, no ://', () => {
    for (const v of ['plain', 'xref+awsssm://a', 'ref+awsssm:/a', 'ref+://a', 'prefref+awsssm://x']) expect(parseReferences(v, SCHEMES)).toEqual([]);
  });

  it('an unknown scheme is a problem in a layer and left alone in the inherited environment', () => {
    expect(problem('ref+sops://secrets.yaml#/a')).toMatch(/^ref\+sops:\/\/: unknown reference scheme \(known: ref\+awsssm, ref\+awssecrets\)$/);
    expect(parseReferences('ref+sops://secrets.yaml', SCHEMES, 'skip')).toEqual([]);
    expect(holdsReference({ A: 'ref+sops://x', B: 'plain' }, SCHEMES)).toBe(false);
    expect(holdsReference({ A: 'ref+awsssm://x' }, SCHEMES)).toBe(true);
    expect(holdsReference({ SECRETRUN_X: 'ref+awsssm://x' }, SCHEMES)).toBe(false);
  });

  it('every parameter a scheme does not list is refused, naming it and never its value', () => {
    for (const name of ['address', 'endpoint', 'token_env', 'token_file', 'profile', 'role_arn', 'nope']) {
      const m = problem(`ref+awsssm://p?${name}=http%3A%2F%2Fevil.example`);
      expect(m).toContain(`parameter "${name}" is not accepted (accepted: region, version)`);
      expect(m).not.toContain('evil');
      expect(problem(`ref+awssecrets://p?${name}=x`)).toContain('accepted: region, version_stage');
    }
    expect(problem('ref+awssecrets://p?version=1')).toContain('parameter "version" is not accepted');
  });

  it('bad parameter values and shapes are problems naming the scheme and path only', () => {
    expect(problem('ref+awsssm://p?region=evil.example.com%2F')).toBe('ref+awsssm://p: parameter "region" is not a region name such as eu-west-1');
    expect(problem('ref+awsssm://p?version=latest')).toBe('ref+awsssm://p: parameter "version" is not a version number such as 3');
    expect(problem('ref+awsssm://p?region=eu-west-1&region=us-east-1')).toContain('given twice');
    expect(problem('ref+awsssm://p?region=')).toContain('"region" is empty');
    expect(problem('ref+awsssm://p?region=%zz')).toContain('percent-encoding');
    expect(problem('ref+awsssm://')).toBe('ref+awsssm://: no path to read');
  });

  it('#/ is refused on awsssm (vals reads it as a listing) and must be a pointer elsewhere', () => {
    expect(problem('ref+awsssm://prod/p#/x')).toBe('ref+awsssm://prod/p: a "#" fragment is not supported by ref+awsssm (it reads one value)');
    expect(problem('ref+awssecrets://prod/p#x')).toContain('must be a JSON pointer such as #/key');
    const required: ReferenceHook = { scheme: 'kv', params: [], pointer: 'required', resolve: async () => [] };
    expect(problem('ref+kv://secret/app', schemesOf([{ reference: required }]))).toBe('ref+kv://secret/app: ref+kv needs a "#/field" naming the field to read');
  });
});

describe('pointer', () => {
  it('strings as they are, numbers and booleans as JSON text, objects compact; problems in words', () => {
    const json = JSON.stringify({ a: { b: 'x', n: 5, t: true, o: { k: [1] } }, nul: null });
    expect(pick(json, ['a', 'b'])).toBe('x');
    expect(pick(json, ['a', 'n'])).toBe('5');
    expect(pick(json, ['a', 't'])).toBe('true');
    expect(pick(json, ['a', 'o'])).toBe('{"k":[1]}');
    expect(pick(json, ['a', 'missing'])).toEqual({ problem: 'no such member' });
    expect(pick(json, ['nul'])).toEqual({ problem: 'the member is null' });
    expect(pick('not json', ['a'])).toEqual({ problem: expect.stringContaining('not JSON') });
    expect(pick('[1]', ['0'])).toEqual({ problem: 'the value is not a JSON object' });
    expect(pick('{"__proto__x":1}', ['constructor'])).toEqual({ problem: 'no such member' });
  });
});

describe('dotenv: an unquoted # cutting a reference', () => {
  it('names the line and key; quoted values, comments after a space and a closing + are fine', () => {
    expect(dotenvCutReference('A=1\nexport K=ref+awssecrets://prod/api#/DB_PASS\n')).toEqual({ line: 2, key: 'K' });
    expect(dotenvCutReference('K=x-ref+awssecrets://prod/api#/DB_PASS')).toEqual({ line: 1, key: 'K' });
    expect(dotenvCutReference('K="ref+awssecrets://prod/api#/DB_PASS"')).toBeUndefined();
    expect(dotenvCutReference("K='ref+awssecrets://prod/api#/DB_PASS'")).toBeUndefined();
    expect(dotenvCutReference('K=ref+awsssm://prod/api # a comment')).toBeUndefined();
    expect(dotenvCutReference('K=ref+awsssm://prod/api+#not-a-ref')).toBeUndefined();
    expect(dotenvCutReference('K=plain#comment')).toBeUndefined();
  });
});

/** A hook that records each call's targets and answers from a map (path → value). */
function recordingHook(scheme: string, values: Record<string, string>, calls: ReferenceTarget[][], extra: Partial<ReferenceHook> = {}): ReferenceHook {
  return {
    scheme,
    params: ['version'],
    pointer: 'allowed',
    async resolve(targets) {
      calls.push([...targets]);
      return targets.map((t): ReferenceValue | undefined => (t.path in values ? { value: values[t.path] } : undefined));
    },
    ...extra,
  };
}

describe('the resolver', () => {
  const fail = (reason: string) => new Error(reason);
  const pending = (key: string, value: string, schemes: Schemes) => ({ key, value, refs: parseReferences(value, schemes), fail });

  it('hands each scheme its distinct targets in one call, schemes in parallel, pointers applied per reference', async () => {
    const callsA: ReferenceTarget[][] = [];
    const callsB: ReferenceTarget[][] = [];
    const schemes = schemesOf([{ reference: recordingHook('a', { s: '{"u":"alice","p":"pw"}', t: 'T' }, callsA) }, { reference: recordingHook('b', { x: 'X' }, callsB) }]);
    const resolver = new ReferenceResolver(schemes, makeContext());
    const got = await resolver.resolve([
      pending('USER', 'ref+a://s#/u', schemes),
      pending('PASS', 'ref+a://s#/p', schemes),
      pending('URL', 'u=ref+a://s#/u+;t=ref+a://t+;x=ref+b://x', schemes),
      pending('V2', 'ref+a://t?version=2', schemes),
    ]);
    expect(got.map((g) => g.value)).toEqual(['alice', 'pw', 'u=alice;t=T;x=X', 'T']);
    expect(got[2].via).toBe('ref+a, ref+b');
    expect(callsA).toEqual([[{ path: 's', params: {} }, { path: 't', params: {} }, { path: 't', params: { version: '2' } }]]);
    expect(callsB).toHaveLength(1);
    // Later values reuse what was read: no second call for the same targets.
    await resolver.resolve([pending('AGAIN', 'ref+a://s#/p', schemes)]);
    expect(callsA).toHaveLength(1);
  });

  it('a missing secret, a bad pointer, a NUL and a failed store name the key and the reference, never a value', async () => {
    const calls: ReferenceTarget[][] = [];
    const schemes = schemesOf([{ reference: recordingHook('a', { s: '{"u":"alice-secret"}', nul: 'a\0b' }, calls) }]);
    const resolver = new ReferenceResolver(schemes, makeContext());
    const reason = (key: string, value: string) => resolver.resolve([pending(key, value, schemes)]).then(() => '', (e: Error) => e.message);
    expect(await reason('K', 'ref+a://gone')).toBe('K: ref+a://gone: not found');
    expect(await reason('K', 'ref+a://s#/v')).toBe('K: ref+a://s#/v: no such member');
    expect(await reason('K', 'ref+a://nul')).toBe('K: the value read through ref+a://nul contains a NUL byte; environment variables cannot hold NUL');
    const failing = schemesOf([{ reference: recordingHook('a', {}, [], { resolve: () => Promise.reject(new Error('boom')) }) }]);
    const r2 = new ReferenceResolver(failing, makeContext());
    await expect(r2.resolve([pending('K', 'ref+a://x', failing)])).rejects.toThrow('K: ref+a://x: boom');
  });
});

describe('diff and leased values', () => {
  it('a leased value (new on every read) is compared by presence; any other by value', async () => {
    const { compareEntries } = await import('../src/cli/commands/diff.js');
    const entry = (value: string, leased?: boolean) => ({ value, layer: 'l', shadowed: [], ...(leased ? { via: 'ref+vault', leased } : {}) });
    const a = new Map([['DB_CREDS', entry('user-1', true)], ['PLAIN', entry('x')]]);
    const b = new Map([['DB_CREDS', entry('user-2', true)], ['PLAIN', entry('y')]]);
    expect(compareEntries(a, b)).toMatchObject({ changed: ['PLAIN'], same: ['DB_CREDS'] });
  });
});
