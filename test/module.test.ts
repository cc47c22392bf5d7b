import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NotFoundError, SourceError } from '../src/core/errors.js';
import moduleSource, { checkResult, moduleOptions } from '../src/sources/module.js';
import type { SourceContext } from '../src/sources/types.js';
import { PRINT_ENV, ROOT, runCli, useTmpProjects } from './helpers/cli.js';
import { loadError as sourceLoadError, makeContext as sourceContext } from './helpers/source-context.js';

const FIXTURES = join(ROOT, 'fixtures');

/** Module paths resolve from fixtures/; two earlier keys show what a module receives. */
const makeContext = (overrides: Partial<SourceContext> = {}) => sourceContext({ layer: 'module test', configDir: FIXTURES, keys: { EARLIER: 'x', ALSO_EARLIER: 'y' }, ...overrides });
const loadError = (options: Record<string, unknown>, context: SourceContext = makeContext()) => sourceLoadError(moduleSource, options, context);

const project = useTmpProjects(afterEach);

describe('module source', () => {
  it('runs the README example module: one file per secret, relative to the sources file', async () => {
    const { dir } = project({ 'secrets/db-password': 'hunter2\n', 'secrets/api.key': 'k-1', 'secrets/.hidden': 'no' });
    const out = await moduleSource.load({ type: 'module', path: join(FIXTURES, 'modules/example-source.mjs'), dir: 'secrets' }, makeContext({ configDir: dir }));
    expect(out).toEqual({ DB_PASSWORD: 'hunter2', API_KEY: 'k-1' });
  });

  it('the README example is the promised 15-line module', async () => {
    const lines = readFileSync(join(FIXTURES, 'modules/example-source.mjs'), 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(15);
  });

  it('passes its own options through, without the core keys or path, plus the context', async () => {
    const out = await moduleSource.load(
      { type: 'module', name: 'mine', path: 'modules/echo-options.mjs', optional: false, only: ['X'], prefix: 'P_', decode: {}, decode_prefixed: true, public: [], project: 'web', nested: { a: [1, 2] } },
      makeContext(),
    );
    expect(JSON.parse(out.OPTIONS)).toEqual({ project: 'web', nested: { a: [1, 2] } });
    expect(out.LAYER).toBe('module test');
    expect(out.EARLIER_KEYS).toBe('ALSO_EARLIER,EARLIER');
    expect(out.HAS_SIGNAL).toBe('true');
  });

  it('a module that throws gives the first line of its message, no stack', async () => {
    const err = await loadError({ path: 'modules/throws.mjs' });
    expect(err).toBeInstanceOf(SourceError);
    expect(err.message).toBe('module modules/throws.mjs: load() failed: backend unreachable: connection refused');
  });

  it('a non-string value names the key and its type, not the value', async () => {
    const err = await loadError({ path: 'modules/non-string.mjs' });
    expect(err.message).toBe('module modules/non-string.mjs: load() returned a number for key "PORT"; values must be strings (use String(value) or JSON.stringify)');
    expect(err.message).not.toContain('8080');
  });

  it.each([
    ['modules/no-default.mjs', /has no default export/],
    ['modules/no-load.mjs', /default export has no load\(options, context\) method/],
    ['modules/returns-array.mjs', /load\(\) returned an array; expected an object/],
    ['modules/syntax-error.mjs', /^module modules\/syntax-error.mjs failed to load: /],
  ])('%s is refused clearly', async (path, message) => {
    const err = await loadError({ path });
    expect(err).toBeInstanceOf(SourceError);
    expect(err.message).toMatch(message);
    expect(err.message).not.toMatch(/\n/);
  });

  it('a missing module file is a NotFoundError (optional: true skips it)', async () => {
    const err = await loadError({ path: 'modules/nope.mjs' });
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.message).toBe('module modules/nope.mjs not found');
  });

  it('a module may report "not found" itself with an error named NotFoundError', async () => {
    const err = await loadError({ path: 'modules/not-found.mjs' });
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.message).toMatch(/no secrets for this project/);
  });

  it('checks results strictly', () => {
    expect(checkResult({ A: 'x' }, 'm')).toEqual({ A: 'x' });
    expect(checkResult(Object.assign(Object.create(null), { A: 'x' }), 'm')).toEqual({ A: 'x' });
    expect(() => checkResult(null, 'm')).toThrow(/returned null/);
    expect(() => checkResult(undefined, 'm')).toThrow(/returned undefined/);
    expect(() => checkResult('A=1', 'm')).toThrow(/returned a string; expected an object/);
    expect(() => checkResult(new Map([['A', 'x']]), 'm')).toThrow(/a Map instance/);
    expect(() => checkResult({ A: null }, 'm')).toThrow(/null for key "A"/);
    expect(() => checkResult({ A: { b: 1 } }, 'm')).toThrow(/an object for key "A"/);
  });

  it('strips exactly the core keys', () => {
    expect(moduleOptions({ type: 'module', path: 'x', allow_world_readable: true, region: 'eu' })).toEqual({ region: 'eu' });
  });

  it('watches the module file', () => {
    expect(moduleSource.watchPaths!({ path: 'modules/throws.mjs' }, { configDir: FIXTURES })).toEqual([join(FIXTURES, 'modules/throws.mjs')]);
  });
});

describe('module end to end (built CLI)', () => {
  it('loads a module relative to the sources file, with interpolated options and earlier keys', async () => {
    const { dir, write } = project({
      '.env': 'PROJECT=web\nEARLY=1\n',
      'secretrun.yaml': `sources:\n  - type: dotenv\n    path: .env\n  - type: module\n    path: ./lib/echo.mjs\n    project: \${PROJECT}\n    region: \${REGION:-eu-west-1}\n    only: [OPTIONS, EARLIER_KEYS]\n`,
    });
    write('lib/echo.mjs', readFileSync(join(FIXTURES, 'modules/echo-options.mjs'), 'utf8'));
    const r = await runCli(['--', process.execPath, '-e', PRINT_ENV, 'OPTIONS', 'EARLIER_KEYS'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const env = JSON.parse(r.stdout);
    expect(JSON.parse(env.OPTIONS)).toEqual({ project: 'web', region: 'eu-west-1' });
    expect(env.EARLIER_KEYS).toBe('EARLY,PROJECT');
  });

  it('runs the README example module', async () => {
    const { dir } = project({
      'run/secrets/db_password': 'hunter2\n',
      'secretrun.yaml': `sources:\n  - type: module\n    path: ${JSON.stringify(join(FIXTURES, 'modules/example-source.mjs'))}\n    dir: run/secrets\n`,
    });
    const r = await runCli(['export', '--format', 'json'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ DB_PASSWORD: 'hunter2' });
  });

  it('a module that throws stops secretrun with one line naming the layer', async () => {
    const { dir } = project({ 'secretrun.yaml': `sources:\n  - type: module\n    name: backend\n    path: ${JSON.stringify(join(FIXTURES, 'modules/throws.mjs'))}\n` });
    const r = await runCli(['--', 'true'], { cwd: dir });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^secretrun: layer "backend" \(secretrun\.yaml:2:5\): module .*throws\.mjs: load\(\) failed: backend unreachable: connection refused\n$/);
  });

  it('a non-string value is refused naming the key', async () => {
    const { dir } = project({ 'secretrun.yaml': `sources:\n  - type: module\n    path: ${JSON.stringify(join(FIXTURES, 'modules/non-string.mjs'))}\n` });
    const r = await runCli(['export'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/load\(\) returned a number for key "PORT"/);
    expect(r.stderr).not.toContain('8080');
  });
});
