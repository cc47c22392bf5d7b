/**
 * `secretrun diff` end to end: the built CLI on fixtures/inspect (dev, prod, and staging, which resolves to the
 * same keys and values as dev).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ROOT, runCli, useTmpProjects } from './helpers/cli.js';

const CONFIG = ['-c', join(ROOT, 'fixtures/inspect/secretrun.yaml')];
const project = useTmpProjects(afterEach);

/** Every value either environment resolves to, read through `export` so the list can't drift from the fixture. */
let secretValues: string[] = [];
beforeAll(async () => {
  const values = new Set<string>();
  for (const env of ['dev', 'prod']) {
    const r = await runCli(['export', '-f', 'json', '-e', env, ...CONFIG]);
    expect(r.code).toBe(0);
    for (const v of Object.values(JSON.parse(r.stdout) as Record<string, string>)) {
      values.add(v);
      for (const line of v.split('\n')) values.add(line);
    }
  }
  secretValues = [...values];
});

function expectNoValue(text: string): void {
  expect(secretValues.length).toBeGreaterThanOrEqual(12);
  for (const v of secretValues) expect(text, `value ${JSON.stringify(v)} leaked`).not.toContain(v);
}

/** The report's row for a key (`- KEY`, `+ KEY` or `~ KEY` after the indent). */
function row(stdout: string, key: string): string {
  const line = stdout.split('\n').find((l) => new RegExp(`^  [-+~] ${key}\\b`).test(l));
  expect(line, `no row for ${key}`).toBeDefined();
  return line!;
}

describe('diff: human report', () => {
  it('lists the three groups with provenance, masks values and exits 1 when the environments differ', async () => {
    const r = await runCli(['diff', 'dev', 'prod', ...CONFIG]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('');
    const out = r.stdout;
    expect(out).toContain('only in dev (1):\n');
    expect(out).toContain('only in prod (2):\n');
    expect(out).toContain('changed (3):\n');
    expect(row(out, 'DEV_ONLY_FLAG')).toMatch(/^  - DEV_ONLY_FLAG +json dev\.json +\*{6} \(17 chars\)$/);
    expect(row(out, 'PROD_ONLY_KEY')).toMatch(/^  \+ PROD_ONLY_KEY +json prod\.json +\*{6} \(19 chars\)$/);
    expect(row(out, 'SENTRY_DSN')).toMatch(/^  \+ SENTRY_DSN +yaml overrides\.yaml +\*{6} \(43 chars\)$/);
    // Different winning layers are shown as A → B; the same layer once.
    expect(row(out, 'DB_PASSWORD')).toMatch(/^  ~ DB_PASSWORD +json dev\.json → json prod\.json +\*{6} \(16 chars\) → \*{6} \(17 chars\)$/);
    expect(row(out, 'LOG_LEVEL')).toMatch(/^  ~ LOG_LEVEL +yaml overrides\.yaml +\*{6} \(21 chars\) → \*{6} \(17 chars\)$/);
    expect(row(out, 'API_URL')).toContain('json dev.json → json prod.json');
    // Keys with equal values are only counted.
    for (const same of ['SHARED_TOKEN', 'APP_NAME', 'MULTILINE']) expect(out).not.toContain(same);
    expect(out.trimEnd().split('\n').at(-1)).toBe('1 only in dev, 2 only in prod, 3 changed, 3 same');
    expectNoValue(out + r.stderr);
  });

  it('the order of the environments decides which group is which', async () => {
    const r = await runCli(['diff', 'prod', 'dev', ...CONFIG]);
    expect(r.code).toBe(1);
    expect(row(r.stdout, 'DEV_ONLY_FLAG')).toMatch(/^  \+ /);
    expect(row(r.stdout, 'PROD_ONLY_KEY')).toMatch(/^  - /);
    expect(row(r.stdout, 'DB_PASSWORD')).toContain('json prod.json → json dev.json');
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('2 only in prod, 1 only in dev, 3 changed, 3 same');
  });

  it('exits 0 with only the summary when the environments are identical', async () => {
    const r = await runCli(['diff', 'dev', 'staging', ...CONFIG]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('dev and staging are identical (7 keys)\n');
    expect(r.stderr).toBe('');
  });

  it('--reveal shows the values (the masked runs above really hide something)', async () => {
    const r = await runCli(['diff', 'dev', 'prod', '--reveal', ...CONFIG]);
    expect(r.code).toBe(1);
    expect(row(r.stdout, 'DB_PASSWORD')).toMatch(/dev-db-pw-41c7e2 → prod-db-pw-98a3b5$/);
    expect(row(r.stdout, 'SENTRY_DSN')).toMatch(/https:\/\/sentrykey777@sentry\.example\.test\/42$/);
    expect(r.stdout).not.toContain('******');
  });

  it('shows values of keys their layer marks public, and masks the rest', async () => {
    const p = project({
      'secretrun.yaml': `environments:
  a: { vars: { S: a } }
  b: { vars: { S: b } }
sources:
  - type: json
    path: \${S}.json
    public: [LOG_*]
`,
      'a.json': JSON.stringify({ LOG_LEVEL: 'debug', TOKEN: 'tok-aaaa-1111' }),
      'b.json': JSON.stringify({ LOG_LEVEL: 'warning', TOKEN: 'tok-bbbb-2222' }),
    });
    const r = await runCli(['diff', 'a', 'b'], { cwd: p.dir });
    expect(r.code).toBe(1);
    expect(row(r.stdout, 'LOG_LEVEL')).toMatch(/debug → warning$/);
    expect(row(r.stdout, 'TOKEN')).toMatch(/\*{6} \(13 chars\) → \*{6} \(13 chars\)$/);
    expect(r.stdout).not.toContain('tok-');
  });
});

describe('diff --only', () => {
  it('restricts every group and the counts to the named keys and globs', async () => {
    const r = await runCli(['diff', 'dev', 'prod', ...CONFIG, '--only', 'DB_*', 'APP_NAME', 'PROD_*']);
    expect(r.code).toBe(1);
    expect(r.stdout).not.toContain('only in dev (');
    expect(row(r.stdout, 'PROD_ONLY_KEY')).toMatch(/^  \+ /);
    expect(row(r.stdout, 'DB_PASSWORD')).toMatch(/^  ~ /);
    expect(r.stdout).not.toMatch(/SENTRY_DSN|API_URL|LOG_LEVEL|DEV_ONLY_FLAG/);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('0 only in dev, 1 only in prod, 1 changed, 1 same');
  });

  it('exits 0 when the chosen keys are equal, even though the environments differ elsewhere', async () => {
    const r = await runCli(['diff', 'dev', 'prod', ...CONFIG, '--only', 'SHARED_TOKEN', 'APP_NAME', 'MULTI*']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('dev and prod are identical in the 3 keys chosen by --only\n');
  });
});

describe('diff --keys: key sets only (the CI gate "prod lacks a key staging has")', () => {
  const FILE = {
    'secretrun.yaml': 'environments:\n  staging: { sources: [{ type: dotenv, path: staging.env }] }\n  prod: { sources: [{ type: dotenv, path: prod.env }] }\n',
    'staging.env': 'API_URL=https://staging.example\nAPI_KEY=staging-key-1111\nDEBUG=1\n',
    'prod.env': 'API_URL=https://prod.example\nAPI_KEY=prod-key-22222222\n',
  };

  it('exits 0 when the key sets match although every value differs (plain diff exits 1 there)', async () => {
    const { dir } = project(FILE);
    const plain = await runCli(['diff', 'staging', 'prod', '--only', 'API_*'], { cwd: dir });
    expect(plain.code).toBe(1);
    const keys = await runCli(['diff', 'staging', 'prod', '--keys', '--only', 'API_*'], { cwd: dir });
    expect([keys.code, keys.stderr]).toEqual([0, '']);
    expect(keys.stdout).toBe('staging and prod have the same keys among the 2 keys chosen by --only\n');
    const all = await runCli(['diff', 'prod', 'prod', '--keys'], { cwd: dir });
    expect([all.code, all.stdout]).toEqual([0, 'prod and prod have the same keys (2 keys; values not compared)\n']);
  });

  it('exits 1 when a key is missing on one side, listing it and no values', async () => {
    const { dir } = project(FILE);
    const r = await runCli(['diff', 'staging', 'prod', '--keys'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^only in staging \(1\):\n {2}- DEBUG +dotenv staging\.env +\S/);
    expect(r.stdout).not.toContain('changed');
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('1 only in staging, 0 only in prod, 2 in both (values not compared: --keys)');
    for (const value of ['staging-key-1111', 'prod-key-22222222', 'https://']) expect(r.stdout).not.toContain(value);
    const json = await runCli(['diff', 'staging', 'prod', '--keys', '--json'], { cwd: dir });
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ identical: false, keysOnly: true, onlyInA: [{ key: 'DEBUG' }], onlyInB: [], changed: [], same: ['API_KEY', 'API_URL'] });
  });

  it('exits 2 on an error, as every diff does', async () => {
    const { dir } = project(FILE);
    const r = await runCli(['diff', 'staging', 'prd', '--keys'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('secretrun: unknown environment "prd" given by diff\'s arguments (did you mean "prod"?) (defined: staging, prod)\n');
  });
});

describe('diff --json', () => {
  it('has the documented shape and holds no value, nor any length, without --reveal', async () => {
    const r = await runCli(['diff', 'dev', 'prod', '--json', ...CONFIG]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual({
      a: 'dev',
      b: 'prod',
      file: 'fixtures/inspect/secretrun.yaml',
      identical: false,
      onlyInA: [{ key: 'DEV_ONLY_FLAG', layer: 'json dev.json' }],
      onlyInB: [
        { key: 'PROD_ONLY_KEY', layer: 'json prod.json' },
        { key: 'SENTRY_DSN', layer: 'yaml overrides.yaml' },
      ],
      changed: [
        { key: 'API_URL', a: { layer: 'json dev.json' }, b: { layer: 'json prod.json' } },
        { key: 'DB_PASSWORD', a: { layer: 'json dev.json' }, b: { layer: 'json prod.json' } },
        { key: 'LOG_LEVEL', a: { layer: 'yaml overrides.yaml' }, b: { layer: 'yaml overrides.yaml' } },
      ],
      same: ['APP_NAME', 'MULTILINE', 'SHARED_TOKEN'],
      summary: { onlyInA: 1, onlyInB: 2, changed: 3, same: 3 },
    });
    expectNoValue(r.stdout + r.stderr);
    expect(r.stdout).not.toContain('chars');
  });

  it('adds the values with --reveal', async () => {
    const r = await runCli(['diff', 'dev', 'prod', '--json', '--reveal', ...CONFIG, '--only', 'DB_PASSWORD', 'DEV_*', 'SENTRY_DSN']);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.onlyInA).toEqual([{ key: 'DEV_ONLY_FLAG', layer: 'json dev.json', value: 'dev-flag-value-x9' }]);
    expect(out.onlyInB).toEqual([{ key: 'SENTRY_DSN', layer: 'yaml overrides.yaml', value: 'https://sentrykey777@sentry.example.test/42' }]);
    expect(out.changed).toEqual([
      { key: 'DB_PASSWORD', a: { layer: 'json dev.json', value: 'dev-db-pw-41c7e2' }, b: { layer: 'json prod.json', value: 'prod-db-pw-98a3b5' } },
    ]);
  });

  it('reports identical environments with identical: true and exit 0', async () => {
    const r = await runCli(['diff', 'dev', 'staging', '--json', ...CONFIG]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.identical).toBe(true);
    expect(out.summary).toEqual({ onlyInA: 0, onlyInB: 0, changed: 0, same: 7 });
  });
});

describe('diff: errors exit 2', () => {
  it('an unknown environment, naming the defined ones', async () => {
    const r = await runCli(['diff', 'dev', 'prodd', ...CONFIG]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('secretrun: unknown environment "prodd" given by diff\'s arguments (did you mean "prod"?) (defined: dev, prod, staging)\n');
  });

  it('a missing sources file', async () => {
    const r = await runCli(['diff', 'dev', 'prod', '-c', 'no-such-file.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^secretrun: sources file no-such-file\.yaml \(from -c\) not found\n$/);
  });

  it('a layer that fails in one of the environments', async () => {
    const p = project({
      'secretrun.yaml': 'environments:\n  a: { vars: { F: a.json } }\n  b: { vars: { F: b.json } }\nsources:\n  - type: json\n    path: ${F}\n',
      'a.json': '{"K":"value-a-1234"}',
    });
    const r = await runCli(['diff', 'a', 'b'], { cwd: p.dir });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('layer "json b.json"');
    expect(r.stderr).not.toContain('value-a-1234');
  });

  it('a usage error (missing second environment)', async () => {
    const r = await runCli(['diff', 'dev', ...CONFIG]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('secretrun: diff: missing <envB>: secretrun diff <envA> <envB>\n');
  });
});

describe('diff on the demo', () => {
  it('gives a readable masked report: secrets masked, public settings shown', async () => {
    const config = ['-c', 'fixtures/demo/secretrun.yaml'];
    const r = await runCli(['diff', 'dev', 'prod', ...config]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('');
    expect(row(r.stdout, 'DATABASE_URL')).toMatch(/json config\/dev\.json → json config\/prod\.json +\*{6} \(57 chars\) → \*{6} \(65 chars\)$/);
    expect(row(r.stdout, 'LOG_LEVEL')).toMatch(/yaml config\/settings\.yaml +debug → warn$/);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('1 only in dev, 1 only in prod, 5 changed, 2 same');
    const revealed = await runCli(['export', '-f', 'json', '-e', 'prod', ...config]);
    const prod = JSON.parse(revealed.stdout) as Record<string, string>;
    for (const key of ['DATABASE_URL', 'SECRET_KEY', 'SENTRY_DSN', 'API_BASE_URL']) expect(r.stdout).not.toContain(prod[key]);
  });
});
