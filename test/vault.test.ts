/**
 * `type: vault` end to end: the built CLI against the fake Vault (helpers/fake-vault.ts) on loopback, with a temp
 * HOME and no inherited VAULT_* / AWS_* variables (helpers/cli.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIN, CLI_NODE, PRINT_ENV, runCli, runCommand, useTmpProjects } from './helpers/cli.js';
import { startFakeVault, useFakeVault, type FakeVault } from './helpers/fake-vault.js';
import { secretPieces } from './helpers/fake-gcp.js';

const project = useTmpProjects(afterEach);
let vault: FakeVault;
useFakeVault(beforeEach, afterEach, (v) => (vault = v));

const TOKEN = 'hvs.root-token-for-tests';
const yaml = (...lines: string[]) => `${lines.join('\n')}\n`;

async function exported(dir: string, env: Record<string, string> = {}) {
  const r = await runCli(['export', '--format', 'json'], { cwd: dir, env: { VAULT_ADDR: vault.origin, ...env } });
  return { ...r, json: r.code === 0 ? (JSON.parse(r.stdout) as Record<string, string>) : undefined };
}

describe('vault: reading KV', () => {
  it('KV v2 with the token from VAULT_TOKEN: the path as `vault kv get` takes it, mount detected once per mount', async () => {
    vault.addToken(TOKEN);
    vault.mountKv('secret', 2);
    vault.put('secret', 'app/web', { API_KEY: 'web-api-key-123', PORT: 8080, NESTED: { a: 1 } });
    vault.put('secret', 'app/db', { DB_PASSWORD: 'db-password-456' });
    const { dir } = project({ 'secretrun.yaml': yaml('sources:', '  - type: vault', '    path: secret/app/web', '  - type: vault', '    path: secret/app/db') });
    const r = await exported(dir, { VAULT_TOKEN: TOKEN });
    expect(r.stderr).toBe('');
    expect(r.json).toEqual({ API_KEY: 'web-api-key-123', PORT: '8080', NESTED: '{"a":1}', DB_PASSWORD: 'db-password-456' });
    expect(vault.requests.filter((q) => q.path.startsWith('sys/internal/ui/mounts/'))).toHaveLength(1);
    for (const q of vault.requests) {
      expect(q.headers['x-vault-request']).toBe('true');
      expect(q.token).toBe(TOKEN);
    }
  });

  it('KV v1 on an old Vault (mounts endpoint 404), the token from ~/.vault-token', async () => {
    vault.addToken(TOKEN);
    vault.mountKv('kv', 1);
    vault.oldServer = true;
    vault.put('kv', 'team', { A: 'one' });
    const p = project({ 'secretrun.yaml': yaml('sources:', '  - type: vault', '    path: kv/team'), 'home/.vault-token': `${TOKEN}\n` });
    const r = await exported(p.dir, { HOME: `${p.dir}/home` });
    expect(r.json).toEqual({ A: 'one' });
  });

  it('recursive: LIST at every level; a key in two secrets names both paths; key_path prefixes', async () => {
    vault.addToken(TOKEN);
    vault.mountKv('secret', 2);
    vault.put('secret', 'app/db', { password: 'p1' });
    vault.put('secret', 'app/cache/redis', { password: 'p2' });
    const collide = project({ 'secretrun.yaml': yaml('sources:', '  - type: vault', '    path: secret/app', '    recursive: true') });
    const r = await exported(collide.dir, { VAULT_TOKEN: TOKEN });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('secretrun: layer "vault secret/app" (secretrun.yaml:2:5): secret/app/db and secret/app/cache/redis both have the key "password"; set `key_path: true` to prefix each key with its secret\'s path\n');
    const prefixed = project({ 'secretrun.yaml': yaml('sources:', '  - type: vault', '    path: secret/app', '    recursive: true', '    key_path: true') });
    expect((await exported(prefixed.dir, { VAULT_TOKEN: TOKEN })).json).toEqual({ db_password: 'p1', cache_redis_password: 'p2' });
    expect(vault.requests.filter((q) => q.method === 'LIST').map((q) => q.path)).toContain('secret/metadata/app/cache');
  });

  it('version pins a KV v2 version; a deleted version is a 404 that says so; mount and kv skip the detection', async () => {
    vault.addToken(TOKEN);
    vault.mountKv('secret', 2);
    vault.put('secret', 'svc', { K: 'v1-value' });
    vault.put('secret', 'svc', { K: 'v2-value' });
    vault.deleteVersion('secret', 'svc', 2);
    const pinned = project({ 'secretrun.yaml': yaml('sources:', '  - type: vault', '    path: secret/svc', '    version: 1', '    mount: secret', '    kv: 2') });
    expect((await exported(pinned.dir, { VAULT_TOKEN: TOKEN })).json).toEqual({ K: 'v1-value' });
    expect(vault.requests.some((q) => q.path.startsWith('sys/internal'))).toBe(false);
    const latest = project({ 'secretrun.yaml': yaml('sources:', '  - type: vault', '    path: secret/svc') });
    const r = await exported(latest.dir, { VAULT_TOKEN: TOKEN });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('version 2 of secret/svc is deleted (HTTP 404)');
  });

  it('namespace: X-Vault-Namespace on every request', async () => {
    vault.addToken(TOKEN, { namespace: 'team-a' });
    vault.mountKv('secret', 2, 'team-a');
    vault.put('secret', 'x', { IN_A: 'yes' }, 'team-a');
    const { dir } = project({ 'secretrun.yaml': yaml('sources:', '  - type: vault', '    path: secret/x', '    namespace: team-a') });
    expect((await exported(dir, { VAULT_TOKEN: TOKEN })).json).toEqual({ IN_A: 'yes' });
    expect(vault.requests.every((q) => q.namespace === 'team-a')).toBe(true);
  });
});

describe('vault: errors name the layer and the path, never a token', () => {
  it('403, 404 (with the data/ hint), optional, 503 retried, 429 retried', async () => {
    vault.addToken(TOKEN, { deny: ['secret/data/locked'] });
    vault.mountKv('secret', 2);
    vault.put('secret', 'locked', { A: 'b' });
    vault.put('secret', 'ok', { OK: 'fine' });
    const run = async (...lines: string[]) => exported(project({ 'secretrun.yaml': yaml('sources:', '  - type: vault', ...lines) }).dir, { VAULT_TOKEN: TOKEN });
    const denied = await run('    path: secret/locked');
    expect(denied.code).toBe(1);
    expect(denied.stderr).toBe('secretrun: layer "vault secret/locked" (secretrun.yaml:2:5): permission denied (HTTP 403) reading secret/locked\n');
    const missing = await run('    path: secret/data/nothing');
    expect(missing.stderr).toBe('secretrun: layer "vault secret/data/nothing" (secretrun.yaml:2:5): no secret at secret/data/nothing (HTTP 404) (without data/? give the path as `vault kv get` takes it)\n');
    expect((await run('    path: secret/nothing', '    optional: true')).json).toEqual({});
    vault.script('secret/data/ok', { status: 503, json: { errors: ['Vault is sealed'] } }, { status: 429, json: { errors: ['rate limit quota exceeded'] }, headers: { 'retry-after': '1' } });
    const healed = await run('    path: secret/ok');
    expect(healed.json).toEqual({ OK: 'fine' });
    expect(vault.requests.filter((q) => q.path === 'secret/data/ok')).toHaveLength(3);
    const wrong = await exported(project({ 'secretrun.yaml': yaml('sources:', '  - type: vault', '    path: secret/ok') }).dir, { VAULT_TOKEN: 'hvs.not-a-valid-token-xyz' });
    expect(wrong.stderr).not.toContain('hvs.not-a-valid-token-xyz');
    expect(wrong.code).toBe(1);
  });

  it('no token anywhere is a one-line error', async () => {
    const { dir } = project({ 'secretrun.yaml': yaml('sources:', '  - type: vault', '    path: secret/x') });
    const r = await exported(dir);
    expect(r.stderr).toBe('secretrun: layer "vault secret/x" (secretrun.yaml:2:5): no Vault token: set VAULT_TOKEN, log in with `vault login` (~/.vault-token), or give the layer an `auth:` method\n');
  });
});

describe('vault: logins', () => {
  beforeEach(() => {
    vault.mountKv('secret', 2);
    vault.put('secret', 'app', { FROM_VAULT: 'logged-in' });
  });

  it('approle with a secret_id file: one login shared by two layers', async () => {
    vault.enableLogin('approle', { roles: { 'role-abc': 'secret-id-xyz' } });
    const { dir } = project({
      'secretrun.yaml': yaml('sources:', '  - type: vault', '    path: secret/app', '    auth: { method: approle, role_id: role-abc, secret_id_file: sid }', '  - type: vault', '    path: secret/app', '    prefix: B_', '    auth: { method: approle, role_id: role-abc, secret_id_file: sid }'),
      sid: 'secret-id-xyz\n',
    });
    expect((await exported(dir)).json).toEqual({ FROM_VAULT: 'logged-in', B_FROM_VAULT: 'logged-in' });
    expect(vault.requests.filter((q) => q.path === 'auth/approle/login')).toHaveLength(1);
  });

  it('approle with a wrapped secret id: looked up, creation path checked, unwrapped once', async () => {
    vault.enableLogin('approle', { roles: { 'role-abc': 'secret-id-xyz' } });
    const good = vault.wrapSecretId('secret-id-xyz', 'auth/approle/role/web/secret-id');
    const ok = project({ 'secretrun.yaml': yaml('sources:', '  - type: vault', '    path: secret/app', `    auth: { method: approle, role_id: role-abc, secret_id: "${good}", wrapped: true, role_name: web }`) });
    expect((await exported(ok.dir)).json).toEqual({ FROM_VAULT: 'logged-in' });
    expect(vault.requests.filter((q) => q.path === 'sys/wrapping/unwrap')).toHaveLength(1);
    const forged = vault.wrapSecretId('secret-id-xyz', 'sys/wrapping/wrap');
    const bad = project({ 'secretrun.yaml': yaml('sources:', '  - type: vault', '    path: secret/app', `    auth: { method: approle, role_id: role-abc, secret_id: "${forged}", wrapped: true }`) });
    const r = await exported(bad.dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('the wrapping token was not created by auth/approle/role/<role>/secret-id; refusing to unwrap it');
    expect(vault.requests.filter((q) => q.path === 'sys/wrapping/unwrap')).toHaveLength(1);
  });

  it('kubernetes (jwt_file re-read and trimmed) and jwt at its own mount', async () => {
    vault.enableLogin('kubernetes', { roles: { app: 'k8s.jwt.token' } });
    vault.enableLogin('jwt', { roles: { ci: 'ci.jwt.token' } }, { mount: 'gitlab' });
    const k8s = project({ 'secretrun.yaml': yaml('sources:', '  - type: vault', '    path: secret/app', '    auth: { method: kubernetes, role: app, jwt_file: sa-token }'), 'sa-token': '  k8s.jwt.token\n' });
    expect((await exported(k8s.dir)).json).toEqual({ FROM_VAULT: 'logged-in' });
    const jwt = project({ 'secretrun.yaml': yaml('sources:', '  - type: vault', '    path: secret/app', '    auth: { method: jwt, role: ci, jwt: "${CI_JOB_JWT}", mount: gitlab }') });
    expect((await exported(jwt.dir, { CI_JOB_JWT: 'ci.jwt.token' })).json).toEqual({ FROM_VAULT: 'logged-in' });
  });

  it('a failing login is one line naming the layer and the method', async () => {
    vault.enableLogin('approle', { roles: { 'role-abc': 'secret-id-xyz' } });
    const { dir } = project({ 'secretrun.yaml': yaml('sources:', '  - type: vault', '    path: secret/app', '    auth: { method: approle, role_id: role-abc, secret_id: wrong-secret-id-1 }') });
    const r = await exported(dir);
    expect(r.stderr).toBe('secretrun: layer "vault secret/app" (secretrun.yaml:2:5): auth approle at auth/approle/login: the login was refused (HTTP 400: wrong role or credentials)\n');
  });
});

describe('vault: the aws login, signed by secretrun or by the AWS SDK', () => {
  const KEY_ID = 'AKIAFAKEFORTESTS0001';
  const SECRET_KEY = 'Qz7wK3vNx/R5tY7uJ2+mLp9BcD4eFgH6';
  const SESSION_TOKEN = 'FQoGZXIvYXdzEJr7/Hk2Lm8nR3xQ+vT0gWe9Zp==';
  const SDK_PACKAGES = /node_modules[\\/](@smithy[\\/]signature-v4|@aws-sdk[\\/]credential-provider-node)[\\/]/;
  const SIGNER = /^secretrun: debug: layer "vault secret\/app": auth aws signer: (.*)$/m;

  beforeEach(() => {
    vault.mountKv('secret', 2);
    vault.put('secret', 'app', { FROM_VAULT: 'logged-in' });
    vault.enableLogin('aws', { roles: { deploy: KEY_ID }, secretKeys: { [KEY_ID]: SECRET_KEY }, serverId: 'vault.example.com' });
  });

  /**
   * `export` with SECRETRUN_DEBUG=1, in a project whose HOME is `home/` (shared AWS files as given), and the
   * files of every package the CLI required from node_modules, noted at exit; the headers Vault was handed.
   */
  async function login(env: Record<string, string>, homeFiles: Record<string, string> = {}, auth = 'auth: { method: aws, role: deploy, header_value: vault.example.com, region: eu-west-1 }') {
    const files = Object.fromEntries(Object.entries(homeFiles).map(([path, text]) => [`home/${path}`, text]));
    const { dir, write } = project({ 'secretrun.yaml': yaml('sources:', '  - type: vault', '    path: secret/app', `    ${auth}`), ...files });
    const loaded = join(dir, 'loaded.txt');
    const preload = write('loaded.cjs', `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(loaded)}, Object.keys(require.cache).join('\\n')));`);
    const r = await runCommand(CLI_NODE, ['-r', preload, BIN, 'export', '--format', 'json'], { cwd: dir, env: { VAULT_ADDR: vault.origin, HOME: join(dir, 'home'), SECRETRUN_DEBUG: '1', ...env } });
    const sent = vault.requests.filter((q) => q.path === 'auth/aws/login').map((q) => JSON.parse(Buffer.from(String(q.body.iam_request_headers), 'base64').toString('utf8')) as Record<string, string[]>);
    for (const piece of [...secretPieces(SECRET_KEY), ...secretPieces(SESSION_TOKEN)]) expect(r.stdout + r.stderr).not.toContain(piece);
    return { r, signer: SIGNER.exec(r.stderr)?.[1], sdkLoaded: readFileSync(loaded, 'utf8').split('\n').filter((f) => SDK_PACKAGES.test(f)).length > 0, sent };
  }

  it('environment keys and a session token: signed by secretrun (the AWS SDK not loaded), accepted, in the region asked for, with the server id', async () => {
    const { r, signer, sdkLoaded, sent } = await login({ AWS_ACCESS_KEY_ID: KEY_ID, AWS_SECRET_ACCESS_KEY: SECRET_KEY, AWS_SESSION_TOKEN: SESSION_TOKEN });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ FROM_VAULT: 'logged-in' });
    expect(signer).toBe('lean (no AWS SDK), environment credentials');
    expect(sdkLoaded).toBe(false);
    expect(sent).toHaveLength(1);
    expect(Object.keys(sent[0])).toEqual(['host', 'content-type', 'x-vault-aws-iam-server-id', 'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256', 'authorization']);
    expect(sent[0].authorization[0]).toMatch(new RegExp(`^AWS4-HMAC-SHA256 Credential=${KEY_ID}/\\d{8}/eu-west-1/sts/aws4_request, `));
  });

  it('a wrong secret key through secretrun\'s signer: the signature does not verify, the login is refused', async () => {
    const { r, signer } = await login({ AWS_ACCESS_KEY_ID: KEY_ID, AWS_SECRET_ACCESS_KEY: `${SECRET_KEY}-wrong` });
    expect(signer).toBe('lean (no AWS SDK), environment credentials');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('secretrun: layer "vault secret/app" (secretrun.yaml:2:5): auth aws at auth/aws/login: the login was refused (HTTP 400: wrong role or credentials)\n');
  });

  it.each([
    ['AWS_PROFILE naming a profile of ~/.aws/credentials', { AWS_PROFILE: 'deploy' }, `[deploy]\naws_access_key_id = ${KEY_ID}\naws_secret_access_key = ${SECRET_KEY}\naws_session_token = ${SESSION_TOKEN}\n`, 'AWS SDK, AWS_PROFILE is set'],
    ['no keys in the environment, the default profile of ~/.aws/credentials', {}, `[default]\naws_access_key_id = ${KEY_ID}\naws_secret_access_key = ${SECRET_KEY}\n`, 'AWS SDK, no AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY'],
  ])('%s: signed by the AWS SDK, as before, and accepted', async (_, env, credentials, why) => {
    const { r, signer, sdkLoaded, sent } = await login(env, { '.aws/credentials': credentials });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ FROM_VAULT: 'logged-in' });
    expect(signer).toBe(why);
    expect(sdkLoaded).toBe(true);
    expect(sent).toHaveLength(1);
  });

  it('no region and no server id: us-east-1, no server id header (Vault\'s defaults)', async () => {
    vault.enableLogin('aws', { roles: { deploy: KEY_ID }, secretKeys: { [KEY_ID]: SECRET_KEY } });
    const { r, sent } = await login({ AWS_ACCESS_KEY_ID: KEY_ID, AWS_SECRET_ACCESS_KEY: SECRET_KEY }, {}, 'auth: { method: aws, role: deploy }');
    expect(r.code, r.stderr).toBe(0);
    expect(Object.keys(sent[0])).toEqual(['host', 'content-type', 'x-amz-date', 'x-amz-content-sha256', 'authorization']);
    expect(sent[0].authorization[0]).toContain('/us-east-1/sts/aws4_request, ');
  });
});

describe('vault: where found credentials go', () => {
  it('a .env setting VAULT_ADDR or VAULT_SKIP_VERIFY before a vault layer is refused, and the trap sees no connection', async () => {
    const trap = await startFakeVault();
    try {
      for (const line of [`VAULT_ADDR=${trap.origin}`, 'VAULT_SKIP_VERIFY=true']) {
        const { dir } = project({ 'secretrun.yaml': yaml('sources:', '  - type: dotenv', '    path: .env', '  - type: vault', '    path: secret/app'), '.env': `${line}\n` });
        const r = await runCli(['export'], { cwd: dir, env: { VAULT_TOKEN: TOKEN, VAULT_ADDR: line.startsWith('VAULT_ADDR') ? undefined : vault.origin } });
        expect(r.code).toBe(1);
        const option = line.startsWith('VAULT_ADDR') ? 'address' : 'skip_verify';
        expect(r.stderr).toContain(`\`${option}\` is filled from a key of layer "dotenv .env": secretrun does not send a Vault token it found itself`);
      }
      expect(trap.connections).toBe(0);
      expect(vault.connections).toBe(0);
    } finally {
      await trap.close();
    }
  });

  it('a token taken from the same earlier layer may go where that layer says', async () => {
    vault.addToken(TOKEN);
    vault.mountKv('secret', 2);
    vault.put('secret', 'app', { OK: 'yes' });
    const { dir } = project({
      'secretrun.yaml': yaml('sources:', '  - type: dotenv', '    path: .env', '  - type: vault', '    path: secret/app', '    auth: { token: "${VAULT_TOKEN}" }'),
      '.env': `VAULT_ADDR=${vault.origin}\nVAULT_TOKEN=${TOKEN}\n`,
    });
    const r = await runCli(['export', '--format', 'json'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toMatchObject({ OK: 'yes' });
  });
});

describe('vault: leases', () => {
  it('ls on a database path leaves no live lease', async () => {
    vault.addToken(TOKEN);
    vault.mountDynamic('database', 'database', { 'creds/app': { ttl: 60, maxTtl: 120, make: (n) => ({ username: `user-${n}`, password: `dyn-password-${n}` }) } });
    const { dir } = project({ 'secretrun.yaml': yaml('sources:', '  - type: vault', '    path: database/creds/app') });
    const r = await runCli(['ls'], { cwd: dir, env: { VAULT_ADDR: vault.origin, VAULT_TOKEN: TOKEN } });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('username');
    expect(vault.leases.size).toBe(1);
    for (const id of vault.leases.keys()) expect(vault.leaseLive(id)).toBe(false);
  });

  it('export hands the values out and leaves the lease to its TTL', async () => {
    vault.addToken(TOKEN);
    vault.mountDynamic('database', 'database', { 'creds/app': { ttl: 60, maxTtl: 120, make: (n) => ({ password: `dyn-password-${n}` }) } });
    const { dir } = project({ 'secretrun.yaml': yaml('sources:', '  - type: vault', '    path: database/creds/app') });
    expect((await exported(dir, { VAULT_TOKEN: TOKEN })).json).toEqual({ password: 'dyn-password-1' });
    for (const id of vault.leases.keys()) expect(vault.leaseLive(id)).toBe(true);
  });
});

describe('vault: the child', () => {
  it('run hands the values to the child', async () => {
    vault.addToken(TOKEN);
    vault.mountKv('secret', 2);
    vault.put('secret', 'app', { APP_SECRET: 'child-sees-this' });
    const { dir } = project({ 'secretrun.yaml': yaml('sources:', '  - type: vault', '    path: secret/app') });
    const r = await runCli(['--', process.execPath, '-e', PRINT_ENV, 'APP_SECRET'], { cwd: dir, env: { VAULT_ADDR: vault.origin, VAULT_TOKEN: TOKEN } });
    expect(JSON.parse(r.stdout)).toEqual({ APP_SECRET: 'child-sees-this' });
  });
});

describe('vault: check, offline', () => {
  it('reports auth fields, path xor paths, version with recursive, a bad kv, each at its line', async () => {
    const { dir } = project({
      'secretrun.yaml': yaml(
        'sources:',
        '  - type: vault',
        '    path: secret/a',
        '    auth: { method: approle, secret_id: x, secret_id_file: f, rol_id: r }',
        '  - type: vault',
        '    path: secret/b',
        '    paths: [secret/c]',
        '  - type: vault',
        '    path: secret/d',
        '    recursive: true',
        '    version: 2',
        '    kv: 3',
        '  - type: vault',
        '    path: secret/e',
        '    auth: { method: ldap }',
      ),
    });
    const r = await runCli(['check'], { cwd: dir });
    expect(r.code).toBe(1);
    const out = r.stderr + r.stdout;
    expect(out).toContain('sources[0].auth.rol_id: unknown key for auth method approle');
    expect(out).toContain('sources[0].auth.role_id: required by auth method approle');
    expect(out).toContain('sources[0].auth.secret_id: give exactly one of "secret_id" or "secret_id_file"');
    expect(out).toContain('sources[1].paths: give exactly one of "path" or "paths"');
    expect(out).toContain('sources[2].version: pins a KV v2 version of one secret');
    expect(out).toContain('sources[2].kv: "3" is not 1, 2 or none');
    expect(out).toContain('sources[3].auth.method: unknown auth method "ldap"');
    expect(vault.connections).toBe(0);
  });
});
