/**
 * `secretrun ls` and `secretrun get` end to end: the built CLI on fixtures/inspect and on temp projects.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { realpathSync } from 'node:fs';
import { ROOT, runCli, useTmpProjects } from './helpers/cli.js';

const CONFIG = ['-c', join(ROOT, 'fixtures/inspect/secretrun.yaml')];
const project = useTmpProjects(afterEach);

/** Every value of the fixture's dev environment, whole and line by line (MULTILINE has two lines). */
const DEV_VALUES = [
  'tok-shared-5f3a9c1e',
  'inspect-fixture-app',
  'lvl-from-base-env',
  'base-pw-should-be-shadowed',
  'first line of it',
  'second line of it',
  'dev-db-pw-41c7e2',
  'dev-flag-value-x9',
  'https://dev.api.example.test/v1',
  'lvl-verbose-debugging',
];

/** Split the aligned table into cells (columns are separated by at least two spaces). */
function table(stdout: string): string[][] {
  return stdout.trimEnd().split('\n').map((line) => line.split(/ {2,}/));
}

describe('ls', () => {
  it('lists every key with its winning layer, shadowed layers and a masked value, aligned', async () => {
    const r = await runCli(['ls', ...CONFIG]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(table(r.stdout)).toEqual([
      ['KEY', 'LAYER', 'SHADOWED', 'VALUE'],
      ['API_URL', 'json dev.json', '-', '****** (31 chars)'],
      ['APP_NAME', 'dotenv base.env', '-', '****** (19 chars)'],
      ['DB_PASSWORD', 'json dev.json', 'dotenv base.env', '****** (16 chars)'],
      ['DEV_ONLY_FLAG', 'json dev.json', '-', '****** (17 chars)'],
      ['LOG_LEVEL', 'yaml overrides.yaml', 'dotenv base.env', '****** (21 chars)'],
      ['MULTILINE', 'dotenv base.env', '-', '****** (34 chars)'],
      ['SHARED_TOKEN', 'dotenv base.env', '-', '****** (19 chars)'],
    ]);
    // Aligned: every column starts at the same offset on every line.
    const lines = r.stdout.trimEnd().split('\n');
    for (const header of ['LAYER', 'SHADOWED', 'VALUE']) {
      const col = lines[0].indexOf(header);
      for (const line of lines.slice(1)) expect(line[col - 1]).toBe(' ');
      for (const line of lines.slice(1)) expect(line[col]).not.toBe(' ');
    }
  });

  it('never shows a value without --reveal, in the table or in --json', async () => {
    for (const args of [['ls'], ['ls', '--json']]) {
      const r = await runCli([...args, ...CONFIG]);
      expect(r.code).toBe(0);
      for (const v of DEV_VALUES) expect(r.stdout + r.stderr, `value ${JSON.stringify(v)} leaked`).not.toContain(v);
    }
  });

  it('--reveal shows values, a multi-line one as a JSON string on one line', async () => {
    const r = await runCli(['ls', '--reveal', ...CONFIG]);
    expect(r.code).toBe(0);
    const rows = table(r.stdout);
    expect(rows.find((row) => row[0] === 'DB_PASSWORD')).toEqual(['DB_PASSWORD', 'json dev.json', 'dotenv base.env', 'dev-db-pw-41c7e2']);
    expect(rows.find((row) => row[0] === 'MULTILINE')![3]).toBe('"first line of it\\nsecond line of it"');
    expect(rows).toHaveLength(8);
  });

  it('--json: the documented shape, with every layer, in the chosen environment', async () => {
    const r = await runCli(['ls', '--json', '-e', 'prod', ...CONFIG]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      environment: 'prod',
      file: 'fixtures/inspect/secretrun.yaml',
      keys: [
        { key: 'API_URL', layer: 'json prod.json', shadowed: [] },
        { key: 'APP_NAME', layer: 'dotenv base.env', shadowed: [] },
        { key: 'DB_PASSWORD', layer: 'json prod.json', shadowed: ['dotenv base.env'] },
        { key: 'LOG_LEVEL', layer: 'yaml overrides.yaml', shadowed: ['dotenv base.env'] },
        { key: 'MULTILINE', layer: 'dotenv base.env', shadowed: [] },
        { key: 'PROD_ONLY_KEY', layer: 'json prod.json', shadowed: [] },
        { key: 'SENTRY_DSN', layer: 'yaml overrides.yaml', shadowed: [] },
        { key: 'SHARED_TOKEN', layer: 'dotenv base.env', shadowed: [] },
      ],
      layers: [
        { name: 'dotenv base.env', type: 'dotenv', keys: 5, missing: false },
        { name: 'json prod.json', type: 'json', keys: 3, missing: false },
        { name: 'yaml overrides.yaml', type: 'yaml', keys: 2, missing: false },
      ],
    });
  });

  it('--json --reveal adds each value', async () => {
    const r = await runCli(['ls', '--json', '--reveal', ...CONFIG]);
    const keys = JSON.parse(r.stdout).keys as { key: string; value: string }[];
    expect(keys.find((k) => k.key === 'MULTILINE')!.value).toBe('first line of it\nsecond line of it');
    expect(keys.every((k) => typeof k.value === 'string')).toBe(true);
  });

  it('lists every shadowed layer in file order, and marks a missing optional layer in --json', async () => {
    const p = project({
      'secretrun.yaml': `sources:
  - { type: dotenv, path: one.env }
  - { type: dotenv, path: absent.env, optional: true }
  - { type: json, path: two.json }
  - { type: yaml, path: three.yaml, name: final layer }
`,
      'one.env': 'K=one-value-aaaa\n',
      'two.json': '{"K":"two-value-bbbb"}',
      'three.yaml': 'K: three-value-cccc\n',
    });
    const r = await runCli(['ls'], { cwd: p.dir });
    expect(r.code).toBe(0);
    expect(table(r.stdout)[1]).toEqual(['K', 'final layer', 'dotenv one.env, json two.json', '****** (16 chars)']);
    const json = JSON.parse((await runCli(['ls', '--json'], { cwd: p.dir })).stdout);
    expect(json.layers.map((l: { name: string; missing: boolean }) => [l.name, l.missing])).toEqual([
      ['dotenv one.env', false],
      ['dotenv absent.env', true],
      ['json two.json', false],
      ['final layer', false],
    ]);
  });

  it('says so on stderr when the environment has no keys', async () => {
    const p = project({ 'secretrun.yaml': 'sources:\n  - { type: dotenv, path: .env, optional: true }\n' });
    const r = await runCli(['ls'], { cwd: p.dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('secretrun: no keys in environment "default" (1 layer)\n');
  });

  it('fails with exit 1 when a layer fails', async () => {
    const p = project({ 'secretrun.yaml': 'sources:\n  - { type: json, path: nope.json }\n' });
    const r = await runCli(['ls'], { cwd: p.dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`secretrun: layer "json nope.json" (secretrun.yaml:2:5): nope.json: file not found (looked for ${realpathSync(p.dir)}/nope.json)\n`);
  });
});

describe('get', () => {
  it('prints the plain value with no newline added', async () => {
    const r = await runCli(['get', 'API_URL', ...CONFIG]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('https://dev.api.example.test/v1');
    expect(r.stderr).toBe('');
  });

  it('prints a value with a newline byte for byte', async () => {
    const r = await runCli(['get', 'MULTILINE', ...CONFIG]);
    expect(r.code).toBe(0);
    expect(Buffer.from(r.stdout)).toEqual(Buffer.from('first line of it\nsecond line of it'));
  });

  it('keeps trailing newlines, spaces and unicode exactly', async () => {
    const value = '  line one\nline two ünïcødé ✓\n\n';
    const p = project({ 'secretrun.yaml': 'sources:\n  - { type: json, path: v.json }\n', 'v.json': JSON.stringify({ V: value }) });
    const r = await runCli(['get', 'V'], { cwd: p.dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(value);
  });

  it('reads the chosen environment', async () => {
    const r = await runCli(['get', 'DB_PASSWORD', '-e', 'prod', ...CONFIG]);
    expect(r.stdout).toBe('prod-db-pw-98a3b5');
  });

  it('a missing key exits 1 with a clear message, a suggestion, and no value', async () => {
    const r = await runCli(['get', 'DB_PASWORD', ...CONFIG]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('secretrun: key "DB_PASWORD" is not defined in environment "dev" (did you mean "DB_PASSWORD"?)\n');
  });

  it('a missing key with nothing close gets no suggestion; SECRETRUN_ENV is not part of the merged set', async () => {
    const r = await runCli(['get', 'SECRETRUN_ENV', ...CONFIG]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('secretrun: key "SECRETRUN_ENV" is not defined in environment "dev"\n');
  });
});
