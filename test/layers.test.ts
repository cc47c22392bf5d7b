/**
 * Layering end to end: the built CLI on real files in temp dirs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, PRINT_ENV, runCli, useTmpProjects } from './helpers/cli.js';

const project = useTmpProjects(afterEach);

async function childEnv(dir: string, keys: string[], args: string[] = [], env: Record<string, string> = {}) {
  const r = await runCli([...args, '--', process.execPath, '-e', PRINT_ENV, ...keys], { cwd: dir, env });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Record<string, string | null>;
}

describe('layer precedence', () => {
  const files = {
    'secretrun.yaml': `
default_environment: dev
sources:
  - type: dotenv
    path: base.env
  - type: json
    path: shared.json
environments:
  dev:
    sources:
      - type: yaml
        path: dev.yaml
  prod:
    sources:
      - type: dotenv
        path: prod.env
`,
    'base.env': 'A=base\nB=base\nC=base\nD=base\n',
    'shared.json': JSON.stringify({ B: 'json', C: 'json', NUM: 8080, FLAG: true, OBJ: { x: 1 }, NOTHING: null }),
    'dev.yaml': 'C: dev-yaml\nE: "only-dev"\n',
    'prod.env': 'C=prod\n',
  };

  it('later layers win; environment layers come after shared ones', async () => {
    const { dir } = project(files);
    const env = await childEnv(dir, ['A', 'B', 'C', 'D', 'E', 'NUM', 'FLAG', 'OBJ', 'NOTHING', 'SECRETRUN_ENV']);
    expect(env).toEqual({ A: 'base', B: 'json', C: 'dev-yaml', D: 'base', E: 'only-dev', NUM: '8080', FLAG: 'true', OBJ: '{"x":1}', NOTHING: null, SECRETRUN_ENV: 'dev' });
    const prod = await childEnv(dir, ['C', 'E', 'SECRETRUN_ENV'], ['-e', 'prod']);
    expect(prod).toEqual({ C: 'prod', E: null, SECRETRUN_ENV: 'prod' });
  });

  it('selects the environment from SECRETRUN_ENV, and -e beats it', async () => {
    const { dir } = project(files);
    expect(await childEnv(dir, ['C'], [], { SECRETRUN_ENV: 'prod' })).toEqual({ C: 'prod' });
    expect(await childEnv(dir, ['C'], ['-e', 'dev'], { SECRETRUN_ENV: 'prod' })).toEqual({ C: 'dev-yaml' });
  });

  it('the merged layers beat the parent environment, which the child still inherits', async () => {
    const { dir } = project(files);
    expect(await childEnv(dir, ['A', 'PARENT_ONLY'], [], { A: 'parent', PARENT_ONLY: 'p' })).toEqual({ A: 'base', PARENT_ONLY: 'p' });
  });

  it('an env layer places the real environment at its position', async () => {
    const { dir } = project({
      'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n  - type: env\n    only: [A, "X_*"]\n  - type: json\n    path: late.json\n',
      '.env': 'A=file\nB=file\nX_1=file\n',
      'late.json': '{"X_1": "json"}',
    });
    expect(await childEnv(dir, ['A', 'B', 'X_1'], [], { A: 'real', B: 'real', X_1: 'real' })).toEqual({ A: 'real', B: 'file', X_1: 'json' });
  });

  it('--pristine gives the child only the merged layers, but still finds the program on PATH', async () => {
    const { dir } = project({ 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n', '.env': 'A=1\n' });
    const r = await runCli(['--pristine', '--', 'env'], { cwd: dir, env: { PARENT_ONLY: 'p' } });
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n').sort()).toEqual(['A=1', 'SECRETRUN_ENV=default']);
  });
});

describe('only, prefix, optional', () => {
  it('only keeps names and globs, matched before the prefix is added', async () => {
    const { dir } = project({
      'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n    only: [DB_*, PORT]\n    prefix: APP_\n',
      '.env': 'DB_HOST=h\nDB_USER=u\nPORT=1\nOTHER=x\n',
    });
    expect(await childEnv(dir, ['APP_DB_HOST', 'APP_DB_USER', 'APP_PORT', 'APP_OTHER', 'DB_HOST', 'OTHER'])).toEqual({
      APP_DB_HOST: 'h', APP_DB_USER: 'u', APP_PORT: '1', APP_OTHER: null, DB_HOST: null, OTHER: null,
    });
  });

  it('optional turns a missing file into an empty layer; without it the run fails with 125', async () => {
    const { dir } = project({
      'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n    optional: true\n  - type: json\n    path: there.json\n',
      'there.json': '{"A":"1"}',
    });
    expect(await childEnv(dir, ['A'])).toEqual({ A: '1' });
    const strict = project({ 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n' });
    const r = await runCli(['--', 'true'], { cwd: strict.dir });
    expect(r.code).toBe(125);
    expect(r.stderr).toBe(`secretrun: layer "dotenv .env" (secretrun.yaml:2:5): .env: file not found (looked for ${join(realpathSync(strict.dir), '.env')})\n`);
  });
});

describe('gradual resolution and interpolation', () => {
  it('a json layer whose path comes from a key loaded by an earlier dotenv layer', async () => {
    const { dir } = project({
      'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n  - type: json\n    path: config/${CONFIG_NAME}.json\n    select: app\n',
      '.env': 'CONFIG_NAME=staging\n',
      'config/staging.json': '{"app": {"URL": "https://staging"}}',
    });
    expect(await childEnv(dir, ['URL', 'CONFIG_NAME'])).toEqual({ URL: 'https://staging', CONFIG_NAME: 'staging' });
  });

  it('looks names up in vars, then earlier layers, then the process env', async () => {
    const { dir } = project({
      'secretrun.yaml': `
default_environment: dev
sources:
  - type: dotenv
    path: first.env
  - type: json
    path: \${FROM_VARS}/\${FROM_LAYER}/\${FROM_ENV}.json
environments:
  dev:
    vars: { FROM_VARS: v, FROM_LAYER: vars-wins }
`,
      'first.env': 'FROM_LAYER=layer\nFROM_ENV=layer-wins\n',
      'v/vars-wins/layer-wins.json': '{"HIT": "yes"}',
    });
    // vars are visible to \${...} only: the child sees the parent's FROM_VARS, not the environment's.
    expect(await childEnv(dir, ['HIT', 'FROM_VARS'], [], { FROM_ENV: 'env', FROM_VARS: 'env' })).toEqual({ HIT: 'yes', FROM_VARS: 'env' });
  });

  it('uses the nearest earlier layer that defines a name', async () => {
    const { dir } = project({
      'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: a.env\n  - type: dotenv\n    path: b.env\n  - type: json\n    path: ${WHICH}.json\n',
      'a.env': 'WHICH=a\n',
      'b.env': 'WHICH=b\n',
      'b.json': '{"PICKED": "b"}',
    });
    expect(await childEnv(dir, ['PICKED'])).toEqual({ PICKED: 'b' });
  });

  it('SECRETRUN_ENV is visible to ${...} but not part of the merged set', async () => {
    const { dir } = project({
      'secretrun.yaml': 'default_environment: qa\nsources:\n  - type: json\n    path: ${SECRETRUN_ENV}.json\nenvironments:\n  qa: {}\n',
      'qa.json': '{"X": "qa"}',
    });
    expect(await childEnv(dir, ['X'])).toEqual({ X: 'qa' });
    const r = await runCli(['export', '--format', 'json'], { cwd: dir });
    expect(JSON.parse(r.stdout)).toEqual({ X: 'qa' });
  });

  it('dotenv expand: true expands variables but never runs $(...)', async () => {
    const { dir } = project({
      'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n    expand: true\n',
      '.env': 'HOST=db\nURL=postgres://${HOST}:${PORT:-5432}/$NAME\nNAME=ignored-later\nCMD=$(touch pwned)\n',
    });
    const r = await runCli(['export', '--format', 'json'], { cwd: dir, env: { NAME: 'app' } });
    expect(JSON.parse(r.stdout)).toEqual({ HOST: 'db', URL: 'postgres://db:5432/app', NAME: 'ignored-later', CMD: '$(touch pwned)' });
  });

  it('[dotenv, env]: expansion reads the file\'s own values; the env layer replaces only the keys it sets (docs/sources.md)', async () => {
    const sources = 'sources:\n  - type: dotenv\n    path: .env\n    expand: true\n  - type: env\n';
    const { dir } = project({ 'secretrun.yaml': sources, '.env': 'DB_HOST=localhost\nDATABASE_URL=postgres://${DB_HOST}/app\n' });
    const r = await runCli(['--', process.execPath, '-e', PRINT_ENV, 'DB_HOST', 'DATABASE_URL'], { cwd: dir, env: { DB_HOST: 'db.prod' } });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ DB_HOST: 'db.prod', DATABASE_URL: 'postgres://localhost/app' });
    // The other result (dotenv-expand's): leave DB_HOST out of the file and give the default where it is used.
    const other = project({ 'secretrun.yaml': sources, '.env': 'DATABASE_URL=postgres://${DB_HOST:-localhost}/app\n' });
    const prod = await runCli(['--', process.execPath, '-e', PRINT_ENV, 'DB_HOST', 'DATABASE_URL'], { cwd: other.dir, env: { DB_HOST: 'db.prod' } });
    expect(JSON.parse(prod.stdout)).toEqual({ DB_HOST: 'db.prod', DATABASE_URL: 'postgres://db.prod/app' });
    const local = await runCli(['--', process.execPath, '-e', PRINT_ENV, 'DB_HOST', 'DATABASE_URL'], { cwd: other.dir });
    expect(JSON.parse(local.stdout)).toEqual({ DB_HOST: null, DATABASE_URL: 'postgres://localhost/app' });
  });
});

describe('finding the sources file', () => {
  it('walks up from a subdirectory and resolves relative paths from the file, not the cwd', async () => {
    const { dir } = project({ 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n', '.env': 'A=1\n' });
    const sub = join(dir, 'deep/er');
    mkdirSync(sub, { recursive: true });
    expect(await childEnv(sub, ['A'])).toEqual({ A: '1' });
  });

  it('-c and SECRETRUN_CONFIG pick another file', async () => {
    const { dir } = project({ 'conf/other.yaml': 'sources:\n  - type: dotenv\n    path: x.env\n', 'conf/x.env': 'X=other\n' });
    expect(await childEnv(dir, ['X'], ['-c', 'conf/other.yaml'])).toEqual({ X: 'other' });
    expect(await childEnv(dir, ['X'], [], { SECRETRUN_CONFIG: join(dir, 'conf/other.yaml') })).toEqual({ X: 'other' });
  });
});

describe('require', () => {
  it('lists every missing key before the child starts', async () => {
    const { dir } = project({
      'secretrun.yaml': 'require: [A, B]\ndefault_environment: dev\nsources:\n  - type: dotenv\n    path: .env\nenvironments:\n  dev:\n    require: [C]\n',
      '.env': 'B=1\n',
    });
    const r = await runCli(['--', process.execPath, '-e', 'require("fs").writeFileSync("ran", "")'], { cwd: dir });
    expect(r.code).toBe(125);
    expect(r.stderr).toBe('secretrun: missing required keys in environment "dev": A, C (listed under "require" in secretrun.yaml)\n');
    const { existsSync } = await import('node:fs');
    expect(existsSync(join(dir, 'ran'))).toBe(false);
  });
});

describe('large output', () => {
  it('a big export through a pipe arrives whole before secretrun exits', async () => {
    const big: Record<string, string> = {};
    for (let i = 0; i < 20_000; i++) big[`KEY_${i}`] = `value-${i}-`.padEnd(120, 'x');
    const { dir } = project({ 'secretrun.yaml': 'sources:\n  - type: json\n    path: big.json\n', 'big.json': JSON.stringify(big) });
    const r = await runCli(['export', '--format', 'json'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBeGreaterThan(2_000_000);
    expect(JSON.parse(r.stdout)).toEqual(big);
  });

  // A parent may hand over a non-blocking pipe: writes to fd 1 then fail with EAGAIN once the pipe is full, and
  // the rest must still arrive, in order. Python makes that pipe and reads it only after a pause.
  it('a big export through a full non-blocking pipe arrives whole', () => {
    const big: Record<string, string> = {};
    for (let i = 0; i < 5_000; i++) big[`KEY_${i}`] = `value-${i}-`.padEnd(100, 'y');
    const { dir } = project({ 'secretrun.yaml': 'sources:\n  - type: json\n    path: big.json\n', 'big.json': JSON.stringify(big) });
    const script = [
      'import os, subprocess, sys, time',
      'r, w = os.pipe()',
      'os.set_blocking(w, False)',
      'p = subprocess.Popen([sys.argv[1], sys.argv[2], "export", "--format", "json"], stdout=w, cwd=sys.argv[3])',
      'os.close(w)',
      'time.sleep(0.5)',
      'out = b""',
      'while True:',
      '    chunk = os.read(r, 65536)',
      '    if not chunk: break',
      '    out += chunk',
      'sys.stdout.buffer.write(out)',
      'sys.exit(p.wait())',
    ].join('\n');
    const r = spawnSync('python3', ['-c', script, process.execPath, BIN, dir], { encoding: 'utf8', maxBuffer: 1 << 26 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(big);
  });

  it('a reader that stops early (| head) ends the export quietly', () => {
    const big: Record<string, string> = {};
    for (let i = 0; i < 5_000; i++) big[`KEY_${i}`] = `value-${i}-`.padEnd(100, 'z');
    const { dir } = project({ 'secretrun.yaml': 'sources:\n  - type: json\n    path: big.json\n', 'big.json': JSON.stringify(big) });
    const r = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" export 2>err.txt | head -c 100 >/dev/null; echo "\${PIPESTATUS[0]}"; cat err.txt`], { cwd: dir, encoding: 'utf8' });
    expect(r.stdout).toBe('0\n'); // no stack trace, no error line; exit status as before
  });
});
