/**
 * The one lookup rule for `${...}` (src/core/interpolate.ts `lookupIn`): a name is found only as an own property
 * of the maps it is looked up in. Every `Object.prototype` member name (`constructor`, `__proto__`,
 * `hasOwnProperty`, `valueOf`, `toString`, ...) goes through each place that reads `${...}`: dotenv expansion,
 * a layer's options (a path), `vars`, a layer's label and watch mode's file list. Unset, it is unset (an error, or
 * its default); set, it is its value. Before the rule, `P=pa$constructor` expanded to JavaScript source and
 * `${valueOf:-.env}` named a file after a function.
 *
 * In-process through the library (`resolveForLibrary`, the pipeline the CLI uses), in real temp directories.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveForLibrary } from '../src/core/secrets.js';
import { interpolate, lookupIn } from '../src/core/interpolate.js';
import { localFilesOf } from '../src/process/watch-engine.js';

const PROTOTYPE_NAMES = Object.getOwnPropertyNames(Object.prototype);
/** What a prototype lookup would have produced: function source, `[object Object]`. */
const LEAKED = /native code|\[object|function/;
/** Short words: a default, or a value set in the environment (also used as a file name). */
const word = fc.stringMatching(/^[a-z][a-z0-9]{0,6}$/); // under 8 characters: a label shows it unredacted
const RUNS = { numRuns: 8 };

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'secretrun-proto-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}
/** A parent environment holding `name` as its own key (a computed key is an own property, even `__proto__`). */
function envWith(name: string, value: string | undefined): Record<string, string> {
  return value === undefined ? {} : { [name]: value };
}
async function load(dir: string, processEnv: Record<string, string>, env?: string) {
  const { resolved, secrets } = await resolveForLibrary({ cwd: dir, processEnv, env, onWarning: () => {} });
  return { resolved, secrets, values: Object.fromEntries(secrets.entries()) };
}
async function failure(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('did not fail');
}

it('covers every Object.prototype member name', () => {
  expect(PROTOTYPE_NAMES).toEqual(expect.arrayContaining(['constructor', '__proto__', 'hasOwnProperty', 'valueOf', 'toString', 'isPrototypeOf']));
});

it('lookupIn: own properties of plain objects and Maps only', () => {
  fc.assert(
    fc.property(fc.constantFrom(...PROTOTYPE_NAMES), word, (name, value) => {
      expect(lookupIn({}, new Map(), {})(name)).toBeUndefined();
      expect(lookupIn({}, new Map([[name, value]]))(name)).toBe(value);
      expect(lookupIn(envWith(name, value))(name)).toBe(value);
      expect(interpolate(`\${${name}:-d}`, lookupIn({}))).toBe('d');
    }),
  );
});

describe.each(PROTOTYPE_NAMES)('the name %s', (name) => {
  it('dotenv expand: unset gives the default (or an error), set gives its value', async () => {
    await fc.assert(
      fc.asyncProperty(word, fc.option(word, { nil: undefined }), async (dflt, value) => {
        const dir = project({
          'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n    expand: true\n',
          '.env': `D1=\${${name}:-${dflt}}\nD2=\${${name}-${dflt}}\nA1=\${${name}:+${dflt}}\nA2=\${${name}+${dflt}}\n`,
        });
        const { values } = await load(dir, envWith(name, value));
        expect(values).toEqual(value === undefined ? { D1: dflt, D2: dflt, A1: '', A2: '' } : { D1: value, D2: value, A1: dflt, A2: dflt });
      }),
      RUNS,
    );
    const dir = project({ 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n    expand: true\n', '.env': `P=pa$${name}\n` });
    const message = await failure(load(dir, {}));
    expect(message).toContain('.env:1: P: expand: the variable referenced at column 3 of the value is not set');
    expect(message).not.toMatch(LEAKED);
  });

  it('a layer option (path): unset gives the default, or an error naming it; set gives its value; the label and watch mode agree', async () => {
    await fc.assert(
      fc.asyncProperty(word, fc.option(word, { nil: undefined }), async (dflt, value) => {
        const file = value ?? dflt;
        const dir = project({ 'secretrun.yaml': `sources:\n  - type: dotenv\n    path: "\${${name}:-${dflt}}.env"\n`, [`${file}.env`]: 'X=1\n' });
        const processEnv = envWith(name, value);
        const { resolved, secrets, values } = await load(dir, processEnv);
        expect(values).toEqual({ X: '1' });
        expect(secrets.source('X')!.layer).not.toMatch(LEAKED);
        expect(await localFilesOf(resolved, processEnv)).toContain(join(dir, `${file}.env`));
      }),
      RUNS,
    );
    const dir = project({ 'secretrun.yaml': `sources:\n  - type: dotenv\n    path: "\${${name}}.env"\n` });
    const message = await failure(load(dir, {}));
    expect(message).toContain(`\${${name}} is not set`);
    expect(message).not.toMatch(LEAKED);
  });

  it('vars: a var of that name is found, an unset one takes its default, and the label shows it filled in', async () => {
    await fc.assert(
      fc.asyncProperty(word, word, async (dflt, own) => {
        const sources = `environments:\n  dev:\n    vars:\n      "${name}": ${own}\n      V: "\${NOPE_${name}:-${dflt}}"\n    sources:\n      - type: dotenv\n        path: "a-\${${name}}.env"\n      - type: dotenv\n        path: "b-\${V}.env"\n`;
        const dir = project({ 'secretrun.yaml': sources, [`a-${own}.env`]: 'A=1\n', [`b-${dflt}.env`]: 'B=2\n' });
        const { secrets, values } = await load(dir, {}, 'dev');
        expect(values).toEqual({ A: '1', B: '2' });
        expect(secrets.source('A')!.layer).toBe(`dotenv a-${own}.env`);
        expect(secrets.source('B')!.layer).toBe(`dotenv b-${dflt}.env`);
      }),
      RUNS,
    );
    // Unset in vars and the environment: the label keeps the reference as written.
    const dir = project({ 'secretrun.yaml': `environments:\n  dev:\n    vars: { V: x }\n    sources:\n      - type: dotenv\n        path: "\${${name}:-a}.env"\n`, 'a.env': 'A=1\n' });
    const { secrets } = await load(dir, {}, 'dev');
    expect(secrets.source('A')!.layer).not.toMatch(LEAKED);
  });
});
