/**
 * dotenvx-encrypted values in dotenv layers (contract section 1, the `dotenv` bullet; src/formats/dotenvx.ts):
 * files encrypted by the real `dotenvx encrypt` (the @dotenvx/dotenvx dev dependency's CLI), decrypted by the built
 * secretrun: per-environment keys from `.env.keys` or the parent environment, a wrong key, a missing key, a
 * tampered value, `decrypt: false`, a key offered by a layer (never used), and expansion after decryption.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BIN, PRINT_ENV, ROOT, runCli, runCommand, useTmpProjects } from './helpers/cli.js';
import { decryptValues, privateKeyName } from '../src/formats/dotenvx.js';
import { parseDotenv } from '../src/formats/parse.js';

const require = createRequire(import.meta.url);
const project = useTmpProjects(afterEach);

/** Plain text as a team writes it, with the characters that matter to dotenv and to a shell. */
const PLAIN: Record<string, Record<string, string>> = {
  production: { API_KEY: 'sk_live_4eC39HqLyjWDarjtT1zdp7dc', PASSWORD: "p@ss$word 'quoted' é", EMPTY_LOOKING: ' x ' },
  staging: { API_KEY: 'sk_test_BQokikJOvBiI2HlWgH4olfQ2', PASSWORD: 'staging pass', EMPTY_LOOKING: 'y' },
};
const dotenvText = (values: Record<string, string>) => Object.entries(values).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join('\n') + '\n';

/** `.env.production`, `.env.staging` and `.env.keys` as `dotenvx encrypt` wrote them. */
const encrypted: Record<string, string> = {};
const keys: Record<string, string> = {};
let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'secretrun-dotenvx-'));
  for (const env of ['production', 'staging']) {
    const file = `.env.${env}`;
    writeFileSync(join(work, file), dotenvText(PLAIN[env]));
    const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/@dotenvx/dotenvx/src/cli/dotenvx.js'), 'encrypt', '-f', file], {
      cwd: work,
      env: { PATH: process.env.PATH, HOME: work },
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    encrypted[file] = readFileSync(join(work, file), 'utf8');
  }
  encrypted['.env.keys'] = readFileSync(join(work, '.env.keys'), 'utf8');
  Object.assign(keys, parseDotenv(encrypted['.env.keys'], '.env.keys'));
  expect(Object.keys(keys).sort()).toEqual(['DOTENV_PRIVATE_KEY_PRODUCTION', 'DOTENV_PRIVATE_KEY_STAGING']);
  expect(encrypted['.env.production']).toMatch(/^API_KEY="?encrypted:/m);
  expect(encrypted['.env.production']).toMatch(/^DOTENV_PUBLIC_KEY_PRODUCTION="/m);
}, 60_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

const SOURCES = [
  'environments:',
  '  production:',
  '    sources:',
  '      - type: dotenv',
  '        path: .env.production',
  '  staging:',
  '    sources:',
  '      - type: dotenv',
  '        path: .env.staging',
  '',
].join('\n');
const LAYER = 'layer "dotenv .env.production" (secretrun.yaml:4:9)';
const printed = (...names: string[]) => ['--', process.execPath, '-e', PRINT_ENV, ...names];
const lineOf = (text: string, key: string) => text.split('\n').findIndex((l) => l.startsWith(`${key}=`)) + 1;
/** No piece of a private key or a ciphertext in what secretrun printed. */
function expectNothingSecret(text: string): void {
  for (const secret of [...Object.values(keys), ...[...encrypted['.env.production'].matchAll(/encrypted:([A-Za-z0-9+/=]+)/g)].map((m) => m[1])]) {
    for (let i = 0; i + 12 <= secret.length; i += 6) expect(text).not.toContain(secret.slice(i, i + 12));
  }
  for (const v of Object.values(PLAIN.production)) if (v.length >= 8) expect(text).not.toContain(v);
}

describe('dotenvx round trips: encrypted by dotenvx, decrypted by secretrun', () => {
  it('per-environment keys from .env.keys beside the file', async () => {
    const { dir } = project({ 'secretrun.yaml': SOURCES, '.env.production': encrypted['.env.production'], '.env.staging': encrypted['.env.staging'], '.env.keys': encrypted['.env.keys'] });
    for (const env of ['production', 'staging']) {
      const r = await runCli(['-e', env, ...printed('API_KEY', 'PASSWORD', 'EMPTY_LOOKING')], { cwd: dir });
      expect(r.stderr).toBe('');
      expect(JSON.parse(r.stdout)).toEqual(PLAIN[env]);
    }
  });

  it('the key from the parent environment, by the name derived from the file or as DOTENV_PRIVATE_KEY; no .env.keys needed', async () => {
    const { dir } = project({ 'secretrun.yaml': SOURCES, '.env.production': encrypted['.env.production'] });
    for (const name of ['DOTENV_PRIVATE_KEY_PRODUCTION', 'DOTENV_PRIVATE_KEY']) {
      const r = await runCli(['-e', 'production', ...printed('API_KEY', 'PASSWORD')], { cwd: dir, env: { [name]: keys.DOTENV_PRIVATE_KEY_PRODUCTION } });
      expect(r.stderr, name).toBe('');
      expect(JSON.parse(r.stdout)).toEqual({ API_KEY: PLAIN.production.API_KEY, PASSWORD: PLAIN.production.PASSWORD });
    }
    // Several keys, comma-separated (a rotation): the matching one is used.
    const r = await runCli(['-e', 'production', ...printed('API_KEY')], { cwd: dir, env: { DOTENV_PRIVATE_KEY_PRODUCTION: `${keys.DOTENV_PRIVATE_KEY_STAGING},${keys.DOTENV_PRIVATE_KEY_PRODUCTION}` } });
    expect(JSON.parse(r.stdout)).toEqual({ API_KEY: PLAIN.production.API_KEY });
    // A malformed DOTENV_PRIVATE_KEY (another tool's, say) is passed over when the file's own key is there; alone,
    // it is named.
    const both = await runCli(['-e', 'production', ...printed('API_KEY')], { cwd: dir, env: { DOTENV_PRIVATE_KEY: 'not-a-key', DOTENV_PRIVATE_KEY_PRODUCTION: keys.DOTENV_PRIVATE_KEY_PRODUCTION } });
    expect(JSON.parse(both.stdout)).toEqual({ API_KEY: PLAIN.production.API_KEY });
    const alone = await runCli(['-e', 'production', '--', 'true'], { cwd: dir, env: { DOTENV_PRIVATE_KEY: 'not-a-key' } });
    expect(alone.stderr).toContain(': API_KEY: encrypted value: DOTENV_PRIVATE_KEY in the environment is not a dotenvx private key (64 hex digits)\n');
  });

  it('a wrong key: an error naming the file, the line, the key and the variable; no value, key or ciphertext', async () => {
    const { dir } = project({ 'secretrun.yaml': SOURCES, '.env.production': encrypted['.env.production'] });
    const r = await runCli(['-e', 'production', ...printed('API_KEY')], { cwd: dir, env: { DOTENV_PRIVATE_KEY_PRODUCTION: keys.DOTENV_PRIVATE_KEY_STAGING } });
    expect(r.code).toBe(125);
    expect(r.stdout).toBe('');
    const line = lineOf(encrypted['.env.production'], 'API_KEY');
    expect(r.stderr).toBe(`secretrun: ${LAYER}: .env.production:${line}: API_KEY: encrypted value: wrong private key: DOTENV_PRIVATE_KEY_PRODUCTION in the environment does not match the file's DOTENV_PUBLIC_KEY_PRODUCTION\n`);
    expectNothingSecret(r.stderr);
  });

  it('a missing key: an error saying where the key is looked for, and that decrypt: false keeps the values encrypted', async () => {
    const { dir } = project({ 'secretrun.yaml': SOURCES, '.env.production': encrypted['.env.production'] });
    const r = await runCli(['-e', 'production', ...printed('API_KEY')], { cwd: dir });
    expect(r.code).toBe(125);
    const line = lineOf(encrypted['.env.production'], 'API_KEY');
    expect(r.stderr).toBe(
      `secretrun: ${LAYER}: .env.production:${line}: API_KEY: encrypted value: no private key (set DOTENV_PRIVATE_KEY_PRODUCTION or DOTENV_PRIVATE_KEY in the environment or .env.keys; decrypt: false keeps it encrypted)\n`,
    );
    expectNothingSecret(r.stderr);
  });

  it('a tampered value: "damaged", with the matching key named', async () => {
    const text = encrypted['.env.production'].replace(/^(PASSWORD="?encrypted:.{40})(.)/m, (_, head: string, c: string) => head + (c === 'A' ? 'B' : 'A'));
    expect(text).not.toBe(encrypted['.env.production']);
    const { dir } = project({ 'secretrun.yaml': SOURCES, '.env.production': text, '.env.keys': encrypted['.env.keys'] });
    const r = await runCli(['-e', 'production', ...printed('API_KEY')], { cwd: dir });
    expect(r.code).toBe(125);
    expect(r.stderr).toBe(
      `secretrun: ${LAYER}: .env.production:${lineOf(text, 'PASSWORD')}: PASSWORD: encrypted value: damaged (it does not decrypt with DOTENV_PRIVATE_KEY_PRODUCTION in .env.keys, which matches the file's DOTENV_PUBLIC_KEY_PRODUCTION)\n`,
    );
    expectNothingSecret(r.stderr);
    // Not base64 at all, or too short to be a ciphertext.
    const cut = encrypted['.env.production'].replace(/^(API_KEY="?encrypted:)[^"\n]*/m, '$1QUJD');
    const { dir: dir2 } = project({ 'secretrun.yaml': SOURCES, '.env.production': cut, '.env.keys': encrypted['.env.keys'] });
    expect((await runCli(['-e', 'production', '--', 'true'], { cwd: dir2 })).stderr).toContain(': API_KEY: encrypted value: damaged (not a dotenvx ciphertext)\n');
  });

  it('without the public key line, each key is tried; none working is "wrong private key or damaged value"', async () => {
    const text = encrypted['.env.production'].replace(/^DOTENV_PUBLIC_KEY_PRODUCTION=.*\n/m, '');
    const { dir } = project({ 'secretrun.yaml': SOURCES, '.env.production': text });
    const good = await runCli(['-e', 'production', ...printed('API_KEY')], { cwd: dir, env: { DOTENV_PRIVATE_KEY_PRODUCTION: keys.DOTENV_PRIVATE_KEY_PRODUCTION } });
    expect(JSON.parse(good.stdout)).toEqual({ API_KEY: PLAIN.production.API_KEY });
    const bad = await runCli(['-e', 'production', '--', 'true'], { cwd: dir, env: { DOTENV_PRIVATE_KEY_PRODUCTION: keys.DOTENV_PRIVATE_KEY_STAGING } });
    expect(bad.stderr).toBe(
      `secretrun: ${LAYER}: .env.production:${lineOf(text, 'API_KEY')}: API_KEY: encrypted value: wrong private key or damaged value: it does not decrypt with DOTENV_PRIVATE_KEY_PRODUCTION in the environment\n`,
    );
  });

  it('decrypt: false keeps the ciphertext literal, by choice', async () => {
    const { dir } = project({ 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env.production\n    decrypt: false\n', '.env.production': encrypted['.env.production'] });
    const r = await runCli(printed('API_KEY'), { cwd: dir });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout).API_KEY).toMatch(/^encrypted:[A-Za-z0-9+/=]{100,}$/);
  });

  it('a private key set by a layer is never used (the layer could also have supplied the ciphertext)', async () => {
    const { dir } = project({
      'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: keys.env\n  - type: dotenv\n    path: .env.production\n',
      'keys.env': `DOTENV_PRIVATE_KEY_PRODUCTION=${keys.DOTENV_PRIVATE_KEY_PRODUCTION}\nDOTENV_PRIVATE_KEY=${keys.DOTENV_PRIVATE_KEY_PRODUCTION}\n`,
      '.env.production': encrypted['.env.production'],
    });
    const r = await runCli(['--', 'true'], { cwd: dir });
    expect(r.code).toBe(125);
    expect(r.stderr).toContain(': API_KEY: encrypted value: no private key (');
    expectNothingSecret(r.stderr);
  });

  it('expand: true expands decrypted values, as dotenv-expand 1000 does ("decrypts encrypted values before expanding them")', async () => {
    const { encrypt } = require('@dotenvx/primitives') as { encrypt: (publicKey: string, value: string) => string };
    const publicKey = /^DOTENV_PUBLIC_KEY_STAGING="([0-9a-f]+)"/m.exec(encrypted['.env.staging'])![1];
    const text = `${encrypted['.env.staging']}REF="${encrypt(publicKey, 'key=${API_KEY}')}"\n`;
    const { dir } = project({ 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env.staging\n    expand: true\n', '.env.staging': text, '.env.keys': encrypted['.env.keys'] });
    const r = await runCli(printed('REF'), { cwd: dir });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ REF: `key=${PLAIN.staging.API_KEY}` });
    // A decrypted password holding a `$` is expanded too, and fails as a plain one would: named by line and column.
    const { dir: prod } = project({ 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env.production\n    expand: true\n', '.env.production': encrypted['.env.production'], '.env.keys': encrypted['.env.keys'] });
    const failed = await runCli(['--', 'true'], { cwd: prod });
    expect(failed.stderr).toContain(`.env.production:${lineOf(encrypted['.env.production'], 'PASSWORD')}: PASSWORD: expand: the variable referenced at column 5 of the value is not set`);
    expectNothingSecret(failed.stderr);
  });

  it('check reports a .env.keys beside the file that others can read, as it does the .env itself', async () => {
    const { dir } = project({ 'secretrun.yaml': SOURCES, '.env.production': encrypted['.env.production'], '.env.keys': encrypted['.env.keys'] });
    chmodSync(join(dir, '.env.production'), 0o600);
    chmodSync(join(dir, '.env.keys'), 0o644);
    const r = await runCli(['check'], { cwd: dir });
    expect(r.stderr).toContain('dotenvx keys file .env.keys is readable by other users (mode 0644); run "chmod 600 .env.keys"');
    expect(r.stderr).not.toContain('.env.production is readable');
  });

  it('eciesjs is loaded only when a file holds an encrypted value', async () => {
    const TRACE = "const M=require('module');const load=M._load;M._load=function(r,...a){if(/ecies/.test(r))process.stderr.write('loaded '+r+'\\n');return load.call(this,r,...a)}";
    const { dir } = project({ 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env.production\n', '.env.production': encrypted['.env.production'], '.env.keys': encrypted['.env.keys'], 'trace.cjs': TRACE });
    const cli = (args: string[]) => runCommand(process.execPath, ['-r', join(dir, 'trace.cjs'), BIN, ...args], { cwd: dir });
    expect(await cli(['--', 'true'])).toMatchObject({ code: 0, stderr: 'loaded ./vendor/eciesjs.cjs\n' });
    const plain = project({ 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: plain.env\n', 'plain.env': 'A=1\n', 'trace.cjs': TRACE });
    expect(await runCommand(process.execPath, ['-r', join(plain.dir, 'trace.cjs'), BIN, '--', 'true'], { cwd: plain.dir })).toMatchObject({ code: 0, stderr: '' });
  });
});

describe('the private key variable, as dotenvx names it', () => {
  const { keynames } = require(join(ROOT, 'node_modules/@dotenvx/dotenvx/src/lib/conventions/keynames.js')) as { keynames: (file: string, src: string) => { privateKeyName: string } };

  it('matches dotenvx for every kind of file name', () => {
    for (const file of ['.env', '.env.production', '.env.ci.production', '.env.a.b.c', '.env.local', '.ENV.Prod', '.env.production.txt', 'prod.env', 'secrets', '.env1']) {
      expect(privateKeyName(file, {}), file).toBe(keynames(file, '').privateKeyName);
    }
  });

  it('the file\'s own DOTENV_PUBLIC_KEY line wins over its name', () => {
    expect(privateKeyName('.env', { DOTENV_PUBLIC_KEY_CI: '02ab' })).toBe('DOTENV_PRIVATE_KEY_CI');
    expect(keynames('.env', 'DOTENV_PUBLIC_KEY_CI="02ab"\n').privateKeyName).toBe('DOTENV_PRIVATE_KEY_CI');
  });

  it('every private key read joins the redaction net (context.secret), the comma list and each key in it', async () => {
    const secrets: string[] = [];
    const both = `${keys.DOTENV_PRIVATE_KEY_STAGING},${keys.DOTENV_PRIVATE_KEY_PRODUCTION}`;
    const values = parseDotenv(encrypted['.env.production'], '.env.production');
    const out = await decryptValues(values, {
      shown: '.env.production',
      fileName: '.env.production',
      keysShown: '.env.keys',
      env: { DOTENV_PRIVATE_KEY_PRODUCTION: both },
      readKeysFile: () => {
        throw new Error('not needed: the environment has the key');
      },
      lineOf: () => '',
      secret: (s) => secrets.push(s),
    });
    expect(out.API_KEY).toBe(PLAIN.production.API_KEY);
    expect(secrets).toEqual([both, keys.DOTENV_PRIVATE_KEY_STAGING, keys.DOTENV_PRIVATE_KEY_PRODUCTION]);
  });
});
