/**
 * Leased Vault values in `diff` (compared by presence, new on every read) and `check --resolve` (a leased path is
 * checked with `sys/capabilities-self`, never read, so no credential is minted): the built CLI against the fake.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, useTmpProjects } from './helpers/cli.js';
import { useFakeVault, type FakeVault } from './helpers/fake-vault.js';

const project = useTmpProjects(afterEach);
let vault: FakeVault;
useFakeVault(beforeEach, afterEach, (v) => (vault = v));

const TOKEN = 'hvs.root-token-for-check-tests';
const reads = (path: string) => vault.requests.filter((q) => q.method === 'GET' && q.path === path);

function fixture() {
  vault.addToken(TOKEN);
  vault.mountDynamic('database', 'database', { 'creds/app': { ttl: 600, maxTtl: 3600, make: (n) => ({ DB_USER: `user-${n}`, DB_PASSWORD: `dyn-pass-${n}` }) } });
  vault.mountKv('secret', 2);
  vault.put('secret', 'dev', { API_KEY: 'dev-api-key' });
  vault.put('secret', 'prod', { API_KEY: 'prod-api-key' });
}

const SOURCES = [
  'sources:',
  '  - type: vault',
  '    path: database/creds/app',
  '    prefix: APP_',
  '  - type: vault',
  '    path: secret/${STAGE}',
  'environments:',
  '  dev: { vars: { STAGE: dev } }',
  '  prod: { vars: { STAGE: prod } }',
  '',
].join('\n');

describe('vault: diff compares leased values by presence', () => {
  it('a database-style leased path in both environments is not "changed"; a KV value that differs is', async () => {
    fixture();
    const { dir } = project({ 'secretrun.yaml': SOURCES });
    const env = { VAULT_ADDR: vault.origin, VAULT_TOKEN: TOKEN };
    const r = await runCli(['diff', 'dev', 'prod'], { cwd: dir, env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/~ API_KEY/);
    expect(r.stdout).not.toMatch(/APP_DB_USER|APP_DB_PASSWORD/);
    // Two reads (one per side), each a different credential, both revoked when diff ends.
    expect(reads('database/creds/app')).toHaveLength(2);
    expect([...vault.leases.values()].every((l) => l.revoked)).toBe(true);
    for (const v of ['user-1', 'user-2', 'dyn-pass', 'api-key']) expect(r.stdout + r.stderr).not.toContain(v);
  });

  it('the same through ref+vault: leased references are compared by presence', async () => {
    fixture();
    const { dir } = project({
      'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: ${STAGE}.env\nenvironments:\n  dev: { vars: { STAGE: dev } }\n  prod: { vars: { STAGE: prod } }\n',
      'dev.env': 'P="ref+vault://database/creds/app#/DB_PASSWORD"\nK="ref+vault://secret/dev#/API_KEY"\n',
      'prod.env': 'P="ref+vault://database/creds/app#/DB_PASSWORD"\nK="ref+vault://secret/dev#/API_KEY"\n',
    });
    const r = await runCli(['diff', 'dev', 'prod'], { cwd: dir, env: { VAULT_ADDR: vault.origin, VAULT_TOKEN: TOKEN } });
    expect(r.stderr).toBe('');
    expect(r.code, r.stdout).toBe(0);
    expect([...vault.leases.values()].every((l) => l.revoked)).toBe(true);
  });
});

describe('vault: check --resolve asks sys/capabilities-self about a leased path instead of reading it', () => {
  const CHECKED = 'sources:\n  - type: vault\n    path: database/creds/app\n  - type: vault\n    path: secret/dev\n';

  it('a token that may read it: OK, and the fake saw no credential read and holds no lease', async () => {
    fixture();
    const { dir } = project({ 'secretrun.yaml': CHECKED });
    const r = await runCli(['check', '--resolve'], { cwd: dir, env: { VAULT_ADDR: vault.origin, VAULT_TOKEN: TOKEN } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/OK/);
    expect(reads('database/creds/app')).toHaveLength(0);
    expect(vault.leases.size).toBe(0);
    const asked = vault.requests.filter((q) => q.path === 'sys/capabilities-self');
    expect(asked).toHaveLength(1);
    expect(asked[0].method).toBe('POST');
    expect(asked[0].body).toEqual({ paths: ['database/creds/app'] });
    // The KV layer is still read as before.
    expect(reads('secret/data/dev')).toHaveLength(1);
  });

  it('a token denied on the path: one problem naming the layer and the path, exit 1, still no lease', async () => {
    fixture();
    const denied = 'hvs.token-denied-on-database';
    vault.addToken(denied, { deny: ['database/'] });
    const { dir } = project({ 'secretrun.yaml': CHECKED });
    const r = await runCli(['check', '--resolve'], { cwd: dir, env: { VAULT_ADDR: vault.origin, VAULT_TOKEN: denied } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/layer "vault database\/creds\/app".*permission denied: the token may not read database\/creds\/app \(sys\/capabilities-self: deny\)/);
    expect(reads('database/creds/app')).toHaveLength(0);
    expect(vault.leases.size).toBe(0);
    expect(r.stderr).not.toContain(denied);
  });
});

describe('ref+vault: check --resolve on a leased path', () => {
  it('asks sys/capabilities-self, reads nothing, mints no lease; a denied token is one problem naming the key', async () => {
    fixture();
    const { dir } = project({ 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n', '.env': 'P="ref+vault://database/creds/app#/DB_PASSWORD"\n' });
    const ok = await runCli(['check', '--resolve'], { cwd: dir, env: { VAULT_ADDR: vault.origin, VAULT_TOKEN: TOKEN } });
    expect(ok.code, ok.stderr).toBe(0);
    const denied = 'hvs.token-denied-on-database-refs';
    vault.addToken(denied, { deny: ['database/'] });
    const bad = await runCli(['check', '--resolve'], { cwd: dir, env: { VAULT_ADDR: vault.origin, VAULT_TOKEN: denied } });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/P: ref\+vault:\/\/database\/creds\/app: permission denied: the token may not read database\/creds\/app/);
    expect(vault.requests.filter((q) => q.path === 'sys/capabilities-self')).toHaveLength(2);
    expect(reads('database/creds/app')).toHaveLength(0);
    expect(vault.leases.size).toBe(0);
  });
});

describe('vault: a given token that expires under the running child', () => {
  const TWO = 'sources:\n  - type: vault\n    path: secret/dev\n  - type: vault\n    path: secret/prod\n';
  const lingering = ['--', process.execPath, '-e', 'setTimeout(() => {}, 1500)'];

  it('not renewable, 60 s left, two layers: one warning naming the first layer and the instant', async () => {
    fixture();
    const given = 'hvs.short-lived-given-token';
    vault.addToken(given, { ttl: 60, renewable: false });
    const { dir } = project({ 'secretrun.yaml': TWO });
    const r = await runCli(['--no-exec', ...lingering], { cwd: dir, env: { VAULT_ADDR: vault.origin, VAULT_TOKEN: given } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^secretrun: warning: layer "vault secret\/dev": the Vault token it was given is not renewable and expires at \d{4}-\d\d-\d\dT\S+Z, while the process runs; Vault revokes its leases then \(use a login method, `auth:`, or a longer-lived token\)\n$/);
    expect(vault.requests.filter((q) => q.path === 'auth/token/lookup-self')).toHaveLength(1);
  });

  it('renewable: no warning (the look-up says so)', async () => {
    fixture();
    const renewable = 'hvs.renewable-given-token';
    vault.addToken(renewable, { ttl: 60, renewable: true });
    const { dir } = project({ 'secretrun.yaml': TWO });
    const r = await runCli(['--no-exec', ...lingering], { cwd: dir, env: { VAULT_ADDR: vault.origin, VAULT_TOKEN: renewable } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(vault.requests.filter((q) => q.path === 'auth/token/lookup-self')).toHaveLength(1);
  });
});
