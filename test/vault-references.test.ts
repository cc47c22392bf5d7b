/**
 * `ref+vault://PATH#/field` (contract section 3b) through the built CLI against the fake Vault: the store from the
 * parent environment and the standard token chain only, KV detection as the `vault` type, one read per distinct
 * secret however many keys and fields use it, leased values held (released at exit) and compared by presence.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PRINT_ENV, runCli, useTmpProjects } from './helpers/cli.js';
import { useFakeVault, type FakeVault } from './helpers/fake-vault.js';

const project = useTmpProjects(afterEach);
let vault: FakeVault;
useFakeVault(beforeEach, afterEach, (v) => (vault = v));

const TOKEN = 'hvs.root-token-for-ref-tests';
const reads = (path: string) => vault.requests.filter((q) => q.method === 'GET' && q.path === path);
const printed = (...keys: string[]) => ['--', process.execPath, '-e', PRINT_ENV, ...keys];

function kvFixture() {
  vault.addToken(TOKEN);
  vault.mountKv('secret', 2);
  vault.put('secret', 'app/db', { user: 'app-user', password: 'db-pass-1' });
  vault.put('secret', 'app/db', { user: 'app-user', password: 'db-pass-2' });
  vault.mountKv('kv', 1);
  vault.put('kv', 'team', { api: 'team-api-key' });
}

describe('ref+vault', () => {
  it('whole and embedded references in a dotenv layer: one read per distinct secret, versions, KV v1 and v2', async () => {
    kvFixture();
    const { dir } = project({
      'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n',
      '.env': [
        'DB_USER="ref+vault://secret/app/db#/user"',
        'DB_PASSWORD="ref+vault://secret/app/db#/password"',
        'DB_URL="postgres://ref+vault://secret/app/db#/user+:ref+vault://secret/app/db#/password+@db:5432/app"',
        'OLD_PASSWORD="ref+vault://secret/app/db?version=1#/password"',
        'API="ref+vault://kv/team#/api"',
      ].join('\n'),
    });
    const r = await runCli(printed('DB_USER', 'DB_PASSWORD', 'DB_URL', 'OLD_PASSWORD', 'API'), { cwd: dir, env: { VAULT_ADDR: vault.origin, VAULT_TOKEN: TOKEN } });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ DB_USER: 'app-user', DB_PASSWORD: 'db-pass-2', DB_URL: 'postgres://app-user:db-pass-2@db:5432/app', OLD_PASSWORD: 'db-pass-1', API: 'team-api-key' });
    // Four keys and five references on secret/app/db: one read of the latest version, one of version 1.
    expect(reads('secret/data/app/db').map((q) => q.query.get('version'))).toEqual(expect.arrayContaining([null, '1']));
    expect(reads('secret/data/app/db')).toHaveLength(2);
    expect(reads('kv/team')).toHaveLength(1);
    for (const q of vault.requests) expect(q.token).toBe(TOKEN);
  });

  it('with no sources file (--dotenv), the token from ~/.vault-token; `ls` shows `via ref+vault`', async () => {
    kvFixture();
    const p = project({ '.env': 'DB_PASSWORD="ref+vault://secret/app/db#/password"\n', 'home/.vault-token': `${TOKEN}\n` });
    const env = { VAULT_ADDR: vault.origin, HOME: `${p.dir}/home` };
    const r = await runCli(['--dotenv', '.env', ...printed('DB_PASSWORD')], { cwd: p.dir, env });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ DB_PASSWORD: 'db-pass-2' });
    const ls = await runCli(['ls', '--dotenv', '.env', '--json'], { cwd: p.dir, env });
    expect(ls.code, ls.stderr).toBe(0);
    expect(JSON.parse(ls.stdout).keys).toEqual([expect.objectContaining({ key: 'DB_PASSWORD', via: 'ref+vault' })]);
    expect(ls.stdout).not.toContain('db-pass-2');
  });

  it('never takes the address or token from a layer: a layer key named VAULT_TOKEN is not used', async () => {
    kvFixture();
    const { dir } = project({ '.env': 'VAULT_TOKEN=hvs.layer-token-not-used\nP="ref+vault://secret/app/db#/password"\n' });
    const r = await runCli(['--dotenv', '.env', ...printed('P')], { cwd: dir, env: { VAULT_ADDR: vault.origin, VAULT_TOKEN: TOKEN } });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ P: 'db-pass-2' });
    expect(vault.requests.every((q) => q.token === TOKEN)).toBe(true);
  });

  it('a missing path, a missing field, no fragment, a refused parameter: one line naming the key, each command its code', async () => {
    kvFixture();
    const cases: [string, RegExp][] = [
      ['K="ref+vault://secret/app/nothing#/password"', /K: ref\+vault:\/\/secret\/app\/nothing: not found/],
      ['K="ref+vault://secret/app/db#/nope"', /K: ref\+vault:\/\/secret\/app\/db#\/nope: no such member/],
      ['K=ref+vault://secret/app/db', /K: ref\+vault:\/\/secret\/app\/db: ref\+vault needs a "#\/field"/],
      ['K="ref+vault://secret/app/db?address=http://evil.example#/password"', /K: ref\+vault:\/\/secret\/app\/db: parameter "address" is not accepted \(accepted: namespace, version\)/],
      ['K="ref+vault://secret/app/db?version=x#/password"', /K: ref\+vault:\/\/secret\/app\/db: parameter "version" is not a KV v2 version number/],
    ];
    for (const [line, message] of cases) {
      const { dir } = project({ 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n', '.env': `${line}\n` });
      const env = { VAULT_ADDR: vault.origin, VAULT_TOKEN: TOKEN };
      for (const [args, code] of [[['--', 'true'], 125], [['export'], 1], [['ls'], 1]] as const) {
        const r = await runCli([...args], { cwd: dir, env });
        expect(r.code, `${line} ${args[0]}: ${r.stderr}`).toBe(code);
        expect(r.stderr).toMatch(message);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(r.stderr).not.toContain('db-pass');
      }
    }
    expect(vault.connections).toBeGreaterThan(0);
  });

  it('a leased (dynamic) path: one read for two fields, held like a layer\'s lease: `ls` revokes it at its end', async () => {
    vault.addToken(TOKEN);
    vault.mountDynamic('database', 'database', { 'creds/app': { ttl: 600, maxTtl: 3600, make: (n) => ({ username: `user-${n}`, password: `dyn-pass-${n}` }) } });
    const { dir } = project({ '.env': 'U="ref+vault://database/creds/app#/username"\nP="ref+vault://database/creds/app#/password"\n' });
    const env = { VAULT_ADDR: vault.origin, VAULT_TOKEN: TOKEN };
    // `ls` and `diff` hold their leases only while they run: released at their end.
    const ls = await runCli(['ls', '--dotenv', '.env', '--json'], { cwd: dir, env });
    expect(ls.code, ls.stderr).toBe(0);
    expect(reads('database/creds/app')).toHaveLength(1);
    const [lease] = [...vault.leases.values()];
    expect(lease.revoked).toBe(true);
    const r = await runCli(['--dotenv', '.env', ...printed('U', 'P')], { cwd: dir, env });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ U: 'user-2', P: 'dyn-pass-2' });
    expect(reads('database/creds/app')).toHaveLength(2);
  });
});

describe('ref+vault: the leak corpus, with SECRETRUN_DEBUG=1', () => {
  const secret = () => `Q${randomBytes(18).toString('base64url').replace(/[-_]/g, 'x')}`;
  const pieces = (s: string) => Array.from({ length: s.length - 5 }, (_, i) => s.slice(i, i + 6));

  it('a 403 quoting the token, a field pointed into a value that is not JSON: no piece of the token or secret', async () => {
    const token = secret();
    const value = secret();
    vault.addToken(token);
    vault.mountKv('secret', 2);
    vault.put('secret', 'app/db', { password: value });
    vault.script('secret/data/app/other', { status: 403, json: { errors: [`permission denied for ${token} near ${value}`] } });
    for (const line of ['K="ref+vault://secret/app/other#/password"', 'K="ref+vault://secret/app/db#/password/deeper"']) {
      const { dir } = project({ '.env': `${line}\n` });
      const r = await runCli(['--dotenv', '.env', '--', 'true'], { cwd: dir, env: { VAULT_ADDR: vault.origin, VAULT_TOKEN: token, SECRETRUN_DEBUG: '1' } });
      expect(r.code).toBe(125);
      expect(r.stderr).toContain('K: ref+vault://secret/app/');
      for (const s of [token, value]) for (const p of pieces(s)) expect(r.stderr, `stderr holds "${p}"`).not.toContain(p);
    }
  });
});
