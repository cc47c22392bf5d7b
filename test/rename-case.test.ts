/**
 * The common keys `rename` and `case`: shaping order (decode → only → rename → case → prefix), collisions, and the
 * resolver's "could this layer make NAME?" reading them, end to end and as the pure function.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PRINT_ENV, runCli, useTmpProjects } from './helpers/cli.js';
import { mayProduce } from '../src/core/resolve.js';

const project = useTmpProjects(afterEach);

async function childEnv(dir: string, keys: string[]) {
  const r = await runCli(['--', process.execPath, '-e', PRINT_ENV, ...keys], { cwd: dir });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Record<string, string | null>;
}

describe('rename and case', () => {
  it('apply after decode and only, before prefix', async () => {
    const { dir } = project({
      'secretrun.yaml': [
        'sources:',
        '  - type: json',
        '    path: app.json',
        '    decode: { pw: base64 }',
        '    only: [pw, host, port]',
        '    rename: { pw: db_password, missing: NOPE }',
        '    case: upper',
        '    prefix: APP_',
        '',
      ].join('\n'),
      'app.json': JSON.stringify({ pw: Buffer.from('s3cr3t-value').toString('base64'), host: 'db', port: 5432, other: 'x' }),
    });
    expect(await childEnv(dir, ['APP_DB_PASSWORD', 'APP_HOST', 'APP_PORT', 'APP_OTHER', 'APP_NOPE', 'APP_pw'])).toEqual({
      APP_DB_PASSWORD: 's3cr3t-value', APP_HOST: 'db', APP_PORT: '5432', APP_OTHER: null, APP_NOPE: null, APP_pw: null,
    });
  });

  it('case: lower converts every key', async () => {
    const { dir } = project({ 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n    case: lower\n', '.env': 'Db_Host=h\nPORT=1\n' });
    expect(await childEnv(dir, ['db_host', 'port', 'PORT'])).toEqual({ db_host: 'h', port: '1', PORT: null });
  });

  it('two keys renamed to one name is an error naming both', async () => {
    const { dir } = project({ 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n    rename: { A: C, B: C }\n', '.env': 'A=first-secret-value\nB=second-secret-value\n' });
    const r = await runCli(['--', 'true'], { cwd: dir });
    expect(r.code).toBe(125);
    expect(r.stderr).toBe('secretrun: layer "dotenv .env" (secretrun.yaml:2:5): keys "A" and "B" both become "C" (after "rename"); keep one of them with "only" or rename it\n');
  });

  it('a key renamed onto a name the layer already has is an error naming both', async () => {
    const { dir } = project({ 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n    rename: { A: B }\n    prefix: X_\n', '.env': 'A=1\nB=2\n' });
    const r = await runCli(['ls'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('keys "A" and "B" both become "X_B" (after "rename")');
  });

  it('two keys that one case makes equal are an error naming both', async () => {
    const { dir } = project({ 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n    case: upper\n', '.env': 'db_host=a\nDB_HOST=b\n' });
    const r = await runCli(['ls'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('keys "db_host" and "DB_HOST" both become "DB_HOST" (after "case")');
  });

  it('check reports a bad case value and a rename target that is not a string', async () => {
    const { dir } = project({ 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n    case: title\n    rename: { A: [B] }\n', '.env': 'A=1\n' });
    const r = await runCli(['check'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr + r.stdout).toContain('sources[0].case: unknown value "title" (expected one of upper, lower)');
    expect(r.stderr + r.stdout).toContain('sources[0].rename.A: expected a string, got a list');
  });

  it('a later ${NAME} waits for the layer whose rename makes NAME, past layers that cannot', async () => {
    const { dir } = project({
      'secretrun.yaml': [
        'sources:',
        '  - type: json',
        '    path: creds.json',
        '    only: [pw]',
        '    rename: { pw: db_password }',
        '    case: upper',
        '  - type: dotenv',
        '    path: other.env',
        '    only: [DB_PASSWORD_HINT]',
        '  - type: dotenv',
        '    path: ${DB_PASSWORD}.env',
        '',
      ].join('\n'),
      'creds.json': '{"pw":"prod"}',
      'other.env': 'DB_PASSWORD_HINT=x\n',
      'prod.env': 'PICKED=prod-file\n',
    });
    expect(await childEnv(dir, ['PICKED', 'DB_PASSWORD'])).toEqual({ PICKED: 'prod-file', DB_PASSWORD: 'prod' });
  });
});

describe('mayProduce', () => {
  const can = (options: Record<string, unknown>, name: string) => mayProduce({ options }, name);

  it('follows rename and case back to the layer key, and only through them', () => {
    expect(can({ only: ['pw'], rename: { pw: 'DB_PASSWORD' } }, 'DB_PASSWORD')).toBe(true);
    expect(can({ only: ['pw'] }, 'DB_PASSWORD')).toBe(false);
    expect(can({ rename: { DB_PASSWORD: 'OTHER' }, only: ['DB_*'] }, 'DB_PASSWORD')).toBe(false);
    expect(can({ rename: { pw: 'db_password' }, case: 'upper', only: ['pw'] }, 'DB_PASSWORD')).toBe(true);
    expect(can({ case: 'upper' }, 'db_password')).toBe(false);
    expect(can({ case: 'lower', only: ['DB_*'] }, 'db_password')).toBe(true);
    expect(can({ case: 'lower', only: ['API_*'] }, 'db_password')).toBe(false);
    expect(can({ prefix: 'APP_', rename: { a: 'B' }, only: ['a'] }, 'APP_B')).toBe(true);
    expect(can({ prefix: 'APP_', rename: { a: 'B' }, only: ['a'] }, 'B')).toBe(false);
  });

  it('assumes yes when a shaping key is not literal', () => {
    expect(can({ only: ['pw'], rename: { pw: '${TARGET}' } }, 'DB_PASSWORD')).toBe(true);
    expect(can({ only: ['pw'], case: '${CASE}' }, 'DB_PASSWORD')).toBe(true);
  });
});
