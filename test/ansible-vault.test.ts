import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NotFoundError, SourceError } from '../src/core/errors.js';
import vaultSource, { passwordFromFileText } from '../src/sources/ansible-vault.js';
import type { SourceContext } from '../src/sources/types.js';
import { decryptVaultText, isVaultText, parseVaultEnvelope, removePkcs7Padding } from '../src/formats/vault.js';
import { PRINT_ENV, ROOT, runCli, useTmpProjects } from './helpers/cli.js';
import { loadError as sourceLoadError, makeContext as sourceContext } from './helpers/source-context.js';

const FIXTURES = join(ROOT, 'fixtures/vault');
const PASSWORD = 'correct horse battery staple';
const FIXTURE_PLAINTEXT = {
  DATABASE_URL: 'postgres://app:s3cr3t@db.internal:5432/app',
  API_KEY: 'k-12345-abcdef',
  PORT: '8080',
  DEBUG: 'false',
  TLS_KEY_B64: 'aGVsbG8gd29ybGQ=',
  nested: '{"host":"db.internal","ports":[5432,5433]}',
  unicode: 'héllo wörld ✓',
};

/** Vault files and password files resolve from fixtures/vault unless a test says otherwise. */
const makeContext = (overrides: Partial<SourceContext> = {}) => sourceContext({ layer: 'ansible-vault test', configDir: FIXTURES, ...overrides });
const loadError = (options: Record<string, unknown>, context: SourceContext = makeContext()) => sourceLoadError(vaultSource, options, context);

describe('ansible-vault: committed fixtures (no ansible needed)', () => {
  it('decrypts a whole-file 1.1 vault holding YAML', async () => {
    const ctx = makeContext();
    expect(await vaultSource.load({ path: 'secrets.yml.vault', password: PASSWORD }, ctx)).toEqual(FIXTURE_PLAINTEXT);
    expect(ctx.secrets).toContain(PASSWORD);
    expect(ctx.warnings).toEqual([]);
  });

  it('applies select and flatten to the decrypted YAML', async () => {
    expect(await vaultSource.load({ path: 'secrets.yml.vault', password: PASSWORD, select: 'nested' }, makeContext())).toEqual({ host: 'db.internal', ports: '[5432,5433]' });
    const flat = await vaultSource.load({ path: 'secrets.yml.vault', password: PASSWORD, flatten: '__' }, makeContext());
    expect(flat.nested__host).toBe('db.internal');
  });

  it('decrypts inline !vault values (format 1.2 with a vault id) next to plain ones', async () => {
    expect(await vaultSource.load({ path: 'inline.yml', password: PASSWORD }, makeContext())).toEqual({ APP_NAME: 'demo', DB_PASSWORD: 'inline-secret-value', MULTILINE: 'multi\nline' });
  });

  it('a wrong password is a clean HMAC mismatch that names the file, not the password', async () => {
    const err = await loadError({ path: 'secrets.yml.vault', password: 'not the password' });
    expect(err).toBeInstanceOf(SourceError);
    expect(err.message).toBe('secrets.yml.vault: HMAC mismatch: wrong vault password');
  });

  it('a wrong password on an inline value names the key and the vault id', async () => {
    const err = await loadError({ path: 'inline.yml', password: 'nope' });
    expect(err.message).toMatch(/^inline.yml: key "(DB_PASSWORD|MULTILINE)": HMAC mismatch: wrong vault password \(vault id "prod"\)$/);
  });

  it('detects tampering before decrypting anything', async () => {
    const envelope = parseVaultEnvelope(readFileSync(join(FIXTURES, 'secrets.yml.vault'), 'utf8'));
    envelope.ciphertext[0] ^= 1;
    const body = [envelope.salt, envelope.hmac, envelope.ciphertext].map((b) => b.toString('hex')).join('\n');
    const tampered = `$ANSIBLE_VAULT;1.1;AES256\n${Buffer.from(body).toString('hex')}\n`;
    await expect(decryptVaultText(tampered, PASSWORD)).rejects.toThrow('HMAC mismatch: wrong vault password');
  });

  it('a missing vault file is a NotFoundError, so optional: true works', async () => {
    const err = await loadError({ path: 'absent.vault', password: PASSWORD });
    expect(err).toBeInstanceOf(NotFoundError);
  });

  it('watches the vault file and the password file', () => {
    expect(vaultSource.watchPaths!({ path: 'a.vault', password_file: '../pw' }, { configDir: FIXTURES })).toEqual([join(FIXTURES, 'a.vault'), join(ROOT, 'fixtures/pw')]);
    expect(vaultSource.watchPaths!({ path: 'a.vault', password: 'x' }, { configDir: FIXTURES })).toEqual([join(FIXTURES, 'a.vault')]);
  });

  it.each([
    [{ path: 'secrets.yml.vault' }, /^missing required key: give one of "password" or "password_file"$/],
    [{ path: 'secrets.yml.vault', password: 'a', password_file: 'b' }, /^`password_file`: give exactly one of "password" or "password_file", not both$/],
    [{ path: 'secrets.yml.vault', password: '' }, /"password" is empty/],
    [{ path: 'secrets.yml.vault', password: PASSWORD, format: 'json' }, /^`format`: unknown value "json" \(expected one of yaml, dotenv\)$/],
    [{ path: 'secrets.yml.vault', password_file: 'no-such-password-file' }, /password_file no-such-password-file not found/],
  ])('validates options: %j', async (options, message) => {
    const err = await loadError(options);
    expect(err.message).toMatch(message);
    expect(err).not.toBeInstanceOf(NotFoundError);
  });
});

describe('ansible-vault: password files and plain files', () => {
  const project = useTmpProjects(afterAll)();
  const vaultText = readFileSync(join(FIXTURES, 'secrets.yml.vault'), 'utf8');
  project.write('secrets.yml.vault', vaultText);

  it('reads password_file relative to the sources file, stripping whitespace like ansible', async () => {
    const file = project.write('pw/vault-pass', `  ${PASSWORD}\r\n\n`);
    chmodSync(file, 0o600);
    const ctx = makeContext({ configDir: project.dir });
    expect(await vaultSource.load({ path: 'secrets.yml.vault', password_file: 'pw/vault-pass' }, ctx)).toEqual(FIXTURE_PLAINTEXT);
    expect(ctx.warnings).toEqual([]);
    expect(ctx.secrets).toContain(PASSWORD);
    expect(passwordFromFileText(' \tp w\n')).toBe('p w');
  });

  it('names its password file (not the encrypted vault) as a private file, which check reports when others can read it', async () => {
    expect(vaultSource.privateFiles!({ path: 'secrets.yml.vault', password_file: 'pw/shared' }, { configDir: project.dir })).toEqual([
      { path: join(project.dir, 'pw/shared'), shown: 'pw/shared', role: 'password_file' },
    ]);
    expect(vaultSource.privateFiles!({ path: 'secrets.yml.vault', password: 'x' }, { configDir: project.dir })).toEqual([]);
    // Loading it says nothing: file modes are check's to report.
    chmodSync(project.write('pw/shared', PASSWORD), 0o644);
    const ctx = makeContext({ configDir: project.dir });
    await vaultSource.load({ path: 'secrets.yml.vault', password_file: 'pw/shared' }, ctx);
    expect(ctx.warnings).toEqual([]);
    chmodSync(join(project.dir, 'secrets.yml.vault'), 0o644); // encrypted: fine to share
    project.write('secretrun.yaml', 'sources:\n  - type: ansible-vault\n    path: secrets.yml.vault\n    password_file: pw/shared\n');
    const r = await runCli(['check'], { cwd: project.dir });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      'secretrun: warning: secretrun.yaml:2:5: password_file pw/shared is readable by other users (mode 0644); run "chmod 600 pw/shared", or set allow_world_readable: true on the layer\n' +
        'secretrun: secretrun.yaml: OK (1 layer, 1 environment: default)\n',
    );
    project.write('secretrun.yaml', 'sources:\n  - type: ansible-vault\n    path: secrets.yml.vault\n    password_file: pw/shared\n    allow_world_readable: true\n');
    expect((await runCli(['check', '--strict'], { cwd: project.dir })).stderr).toBe('secretrun: secretrun.yaml: OK (1 layer, 1 environment: default)\n');
  });

  it('never runs an executable password script (ansible would): it refuses it with advice', async () => {
    const marker = join(project.dir, 'script-ran');
    const script = project.write('pw/script', `#!/bin/sh\ntouch '${marker}'\necho '${PASSWORD}'\n`);
    chmodSync(script, 0o700);
    const err = await loadError({ path: 'secrets.yml.vault', password_file: 'pw/script' }, makeContext({ configDir: project.dir }));
    expect(err.message).toMatch(/password_file pw\/script is a script; secretrun does not run password scripts/);
    expect(spawnSync('test', ['-e', marker]).status).not.toBe(0);
  });

  it('an empty password file is an error', async () => {
    chmodSync(project.write('pw/empty', '\n'), 0o600);
    expect((await loadError({ path: 'secrets.yml.vault', password_file: 'pw/empty' }, makeContext({ configDir: project.dir }))).message).toBe('password_file pw/empty is empty');
  });

  it('reads an unencrypted file but warns that it is not encrypted', async () => {
    project.write('plain.yml', 'A: 1\n');
    const ctx = makeContext({ configDir: project.dir });
    expect(await vaultSource.load({ path: 'plain.yml', password: 'x' }, ctx)).toEqual({ A: '1' });
    expect(ctx.warnings).toEqual(['plain.yml is not encrypted and has no !vault values']);
  });

  it('reports malformed YAML and a !vault tag on a mapping with a position', async () => {
    project.write('bad.yml', 'A: [1\n');
    expect((await loadError({ path: 'bad.yml', password: 'x' }, makeContext({ configDir: project.dir }))).message).toMatch(/^bad.yml:\d+:\d+: invalid YAML: /);
    project.write('tagged-map.yml', 'A: !vault\n  b: 1\n');
    expect((await loadError({ path: 'tagged-map.yml', password: 'x' }, makeContext({ configDir: project.dir }))).message).toBe('tagged-map.yml:1:4: invalid YAML: !vault must tag a string (KEY: !vault | followed by the encrypted lines)');
  });

  it('reports a malformed inline envelope with its key', async () => {
    project.write('broken-inline.yml', 'K: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  zz\n');
    expect((await loadError({ path: 'broken-inline.yml', password: 'x' }, makeContext({ configDir: project.dir }))).message).toBe('broken-inline.yml: key "K": malformed Ansible Vault body: the encrypted body is not valid hex');
  });
});

describe('vault envelope parsing', () => {
  const sample = readFileSync(join(FIXTURES, 'secrets.yml.vault'), 'utf8');

  it('recognises and parses the 1.1 header', () => {
    expect(isVaultText(sample)).toBe(true);
    expect(isVaultText('A: 1')).toBe(false);
    const env = parseVaultEnvelope(sample);
    expect(env).toMatchObject({ version: '1.1', cipher: 'AES256', vaultId: undefined });
    expect(env.salt.length).toBe(32);
    expect(env.hmac.length).toBe(32);
    expect(env.ciphertext.length % 16).toBe(0);
  });

  it('accepts CRLF line endings', async () => {
    expect(await decryptVaultText(sample.replace(/\n/g, '\r\n'), PASSWORD)).toContain('DATABASE_URL');
  });

  it.each([
    ['$ANSIBLE_VAULT;1.0;AES\nabcd', /unsupported Ansible Vault format version "1.0"/],
    ['$ANSIBLE_VAULT;1.1;AES128\nabcd', /unsupported Ansible Vault cipher "AES128"/],
    ['$ANSIBLE_VAULT\nabcd', /not an Ansible Vault envelope/],
    ['$ANSIBLE_VAULT;1.1;AES256\n', /expected salt, HMAC and ciphertext/],
    ['$ANSIBLE_VAULT;1.1;AES256\n' + Buffer.from('00\n11\n22').toString('hex'), /the HMAC is not 32 bytes/],
  ])('rejects %j', (text, message) => {
    expect(() => parseVaultEnvelope(text)).toThrow(message);
  });

  it('removes PKCS#7 padding and rejects bad padding', () => {
    expect(removePkcs7Padding(Buffer.from([65, 66, 2, 2])).toString()).toBe('AB');
    expect(() => removePkcs7Padding(Buffer.from([65, 66, 1, 2]))).toThrow(/PKCS#7/);
    expect(() => removePkcs7Padding(Buffer.from([65, 0]))).toThrow(/PKCS#7/);
    expect(() => removePkcs7Padding(Buffer.from([65, 17]))).toThrow(/PKCS#7/);
  });
});

// ---- the real ansible-vault CLI ---------------------------------------------------------------------------------

const hasAnsible = spawnSync('ansible-vault', ['--version'], { stdio: 'ignore' }).status === 0;
if (!hasAnsible && process.env.CI !== 'true') {
  console.warn('\n*** ansible-vault is NOT installed: skipping the tests that encrypt with the real CLI (apt-get install -y ansible-core) ***\n');
}

describe('ansible-vault: the CLI is installed in CI', () => {
  it.runIf(process.env.CI === 'true')('ansible-vault is on PATH (CI installs ansible-core)', () => {
    expect(hasAnsible).toBe(true);
  });
});

describe.skipIf(!hasAnsible)('ansible-vault: files encrypted by the real CLI', () => {
  const project = useTmpProjects(afterAll)();
  const ansibleEnv = { ...process.env, ANSIBLE_LOCAL_TEMP: join(project.dir, '.ansible-tmp'), ANSIBLE_HOME: join(project.dir, '.ansible') };
  const vault = (...args: string[]) => execFileSync('ansible-vault', args, { cwd: project.dir, env: ansibleEnv, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  const encryptString = (value: string, name: string, ...args: string[]) =>
    execFileSync('ansible-vault', ['encrypt_string', ...args, '--stdin-name', name], { cwd: project.dir, env: ansibleEnv, input: value, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  const ctx = () => makeContext({ configDir: project.dir });

  beforeAll(() => {
    for (const [file, pw] of [['pw-dev', 'dev-password'], ['pw-prod', 'prød pässword with spaces'], ['pw-wrong', 'wrong']]) chmodSync(project.write(file, `${pw}\n`), 0o600);
  });

  it('whole file, format 1.1, YAML, password_file', async () => {
    project.write('app.yml', 'SECRET_KEY: "s3cr3t: with colon"\nPORT: 8000\nEMPTY: ""\nNULLED: null\nDB:\n  HOST: h\n');
    vault('encrypt', '--vault-password-file', 'pw-dev', 'app.yml');
    expect(readFileSync(join(project.dir, 'app.yml'), 'utf8')).toMatch(/^\$ANSIBLE_VAULT;1\.1;AES256\n/);
    expect(await vaultSource.load({ path: 'app.yml', password_file: 'pw-dev', flatten: '_' }, ctx())).toEqual({ SECRET_KEY: 's3cr3t: with colon', PORT: '8000', EMPTY: '', DB_HOST: 'h' });
  });

  it('whole file, format 1.2 with a vault id and a non-ASCII password, dotenv content', async () => {
    project.write('prod.env', 'API_TOKEN=tok-prod\nMULTI="a\\nb"\n# comment\nQUOTED=\'x y\'\n');
    vault('encrypt', '--vault-id', 'prod@pw-prod', 'prod.env');
    expect(readFileSync(join(project.dir, 'prod.env'), 'utf8')).toMatch(/^\$ANSIBLE_VAULT;1\.2;AES256;prod\n/);
    expect(await vaultSource.load({ path: 'prod.env', format: 'dotenv', password: 'prød pässword with spaces' }, ctx())).toEqual({ API_TOKEN: 'tok-prod', MULTI: 'a\nb', QUOTED: 'x y' });
  });

  it('a wrong password fails cleanly, naming the vault id', async () => {
    const err = await loadError({ path: 'prod.env', format: 'dotenv', password_file: 'pw-wrong' }, ctx());
    expect(err.message).toBe('prod.env: HMAC mismatch: wrong vault password (vault id "prod")');
  });

  it('inline encrypt_string values, 1.1 and 1.2, mixed with plain values, nested and selected', async () => {
    const v11 = encryptString('inline 1.1 ✓', 'DB_PASSWORD', '--vault-password-file', 'pw-dev');
    const v12 = encryptString('line1\nline2\n', 'CERT', '--vault-id', 'dev@pw-dev');
    expect(v12).toContain('$ANSIBLE_VAULT;1.2;AES256;dev');
    const indented = (block: string) => block.replace(/^/gm, '  ').trimEnd();
    project.write('group_vars.yml', `app:\n  PLAIN: visible\n${indented(v11)}\n${indented(v12)}\nother: 1\n`);
    expect(await vaultSource.load({ path: 'group_vars.yml', password_file: 'pw-dev', select: 'app' }, ctx())).toEqual({ PLAIN: 'visible', DB_PASSWORD: 'inline 1.1 ✓', CERT: 'line1\nline2\n' });
  });

  it('a file our code decrypts also decrypts with ansible itself (same plaintext)', async () => {
    project.write('roundtrip.yml', 'K: "v1"\n');
    vault('encrypt', '--vault-password-file', 'pw-dev', 'roundtrip.yml');
    const ours = await decryptVaultText(readFileSync(join(project.dir, 'roundtrip.yml'), 'utf8'), 'dev-password');
    expect(vault('view', '--vault-password-file', 'pw-dev', 'roundtrip.yml')).toBe(ours);
  });

  it('an encrypted file with an empty password file content is refused before decrypting', async () => {
    writeFileSync(join(project.dir, 'pw-blank'), '   \n');
    chmodSync(join(project.dir, 'pw-blank'), 0o600);
    expect((await loadError({ path: 'roundtrip.yml', password_file: 'pw-blank' }, ctx())).message).toBe('password_file pw-blank is empty');
  });
});

describe('ansible-vault end to end (built CLI)', () => {
  const project = useTmpProjects(afterAll)({
    'vault/secrets.yml.vault': readFileSync(join(FIXTURES, 'secrets.yml.vault'), 'utf8'),
    'vault/inline.yml': readFileSync(join(FIXTURES, 'inline.yml'), 'utf8'),
    'secretrun.yaml': [
      'sources:',
      '  - type: ansible-vault',
      '    path: vault/secrets.yml.vault',
      '    password: ${ANSIBLE_VAULT_PASSWORD}',
      '    only: [DATABASE_URL, unicode]',
      '  - type: ansible-vault',
      '    path: vault/inline.yml',
      '    password_file: .vault-pass',
      '',
    ].join('\n'),
  });
  chmodSync(project.write('.vault-pass', `${PASSWORD}\n`), 0o600);

  it('decrypts whole-file and inline vaults into the child environment', async () => {
    const r = await runCli(['--', process.execPath, '-e', PRINT_ENV, 'DATABASE_URL', 'unicode', 'DB_PASSWORD', 'MULTILINE', 'APP_NAME'], { cwd: project.dir, env: { ANSIBLE_VAULT_PASSWORD: PASSWORD } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ DATABASE_URL: FIXTURE_PLAINTEXT.DATABASE_URL, unicode: FIXTURE_PLAINTEXT.unicode, DB_PASSWORD: 'inline-secret-value', MULTILINE: 'multi\nline', APP_NAME: 'demo' });
  });

  it('a wrong password stops secretrun with the HMAC mismatch, and never prints the password', async () => {
    const r = await runCli(['export'], { cwd: project.dir, env: { ANSIBLE_VAULT_PASSWORD: 'wrong-password-123' } });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('secretrun: layer "ansible-vault vault/secrets.yml.vault" (secretrun.yaml:2:5): vault/secrets.yml.vault: HMAC mismatch: wrong vault password\n');
  });
});
