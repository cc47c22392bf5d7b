/**
 * The fake Vault (helpers/fake-vault.ts) is held to the documented API by an independent client, node-vault (a
 * test-only dependency), so the source's tests don't just agree with a fake written by the same hand.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import nodeVault from 'node-vault';
import { useFakeVault, type FakeVault } from './helpers/fake-vault.js';

let vault: FakeVault;
useFakeVault(beforeEach, afterEach, (v) => (vault = v));

const client = (token?: string, namespace?: string) => nodeVault({ endpoint: vault.origin, token, namespace });

async function failure(p: Promise<unknown>): Promise<{ status: number; message: string; body: any }> {
  try {
    await p;
  } catch (err: any) {
    return { status: err.response?.statusCode, message: err.message, body: err.response?.body };
  }
  throw new Error('expected a failure');
}

describe('the fake Vault, through node-vault', () => {
  it('KV v2: read, versions, soft-deleted 404 with metadata, LIST on metadata/, mount preflight', async () => {
    vault.addToken('root');
    vault.mountKv('secret', 2);
    vault.put('secret', 'app/db', { password: 'one' });
    vault.put('secret', 'app/db', { password: 'two' });
    vault.put('secret', 'app/api', { key: 'k' });
    const v = client('root');
    expect((await v.read('secret/data/app/db')).data).toMatchObject({ data: { password: 'two' }, metadata: { version: 2 } });
    expect((await v.read('secret/data/app/db?version=1')).data.data).toEqual({ password: 'one' });
    expect((await v.list('secret/metadata/app')).data.keys).toEqual(['api', 'db']);
    expect(vault.requests.at(-1)!.method).toBe('LIST');
    expect((await v.list('secret/metadata')).data.keys).toEqual(['app/']);
    expect((await v.read('sys/internal/ui/mounts/secret/app/db')).data).toMatchObject({ path: 'secret/', type: 'kv', options: { version: '2' } });
    vault.deleteVersion('secret', 'app/db', 2);
    const deleted = await failure(v.read('secret/data/app/db'));
    expect(deleted.status).toBe(404);
    expect(deleted.body.data.metadata).toMatchObject({ version: 2, destroyed: false });
    expect(deleted.body.errors).toBeUndefined();
    expect((await failure(v.read('secret/data/nothing'))).body).toEqual({ errors: [] });
  });

  it('KV v1 and an old server whose mounts endpoint is 404', async () => {
    vault.addToken('root');
    vault.mountKv('kv', 1);
    vault.put('kv', 'team/one', { A: '1' });
    vault.oldServer = true;
    const v = client('root');
    expect((await v.read('kv/team/one')).data).toEqual({ A: '1' });
    expect((await v.list('kv/team')).data.keys).toEqual(['one']);
    expect((await failure(v.read('sys/internal/ui/mounts/kv/team/one'))).status).toBe(404);
  });

  it('errors: 403 without a valid token, 503 sealed, 429 scripted with Retry-After', async () => {
    vault.addToken('root', { deny: ['secret/data/locked'] });
    vault.mountKv('secret', 2);
    vault.put('secret', 'locked', { a: 'b' });
    expect(await failure(client('wrong').read('secret/data/locked'))).toMatchObject({ status: 403, message: 'permission denied' });
    expect(await failure(client('root').read('secret/data/locked'))).toMatchObject({ status: 403 });
    vault.script('secret/', { status: 429, json: { errors: ['rate limit quota exceeded'] }, headers: { 'retry-after': '1' } });
    expect(await failure(client('root').read('secret/data/x'))).toMatchObject({ status: 429, message: 'rate limit quota exceeded' });
    vault.sealed = true;
    expect(await failure(client('root').read('secret/data/x'))).toMatchObject({ status: 503, message: 'Vault is sealed' });
  });

  it('logins: approle (plain and wrapped secret id), kubernetes, jwt', async () => {
    vault.enableLogin('approle', { roles: { 'role-1': 'secret-1' }, roleName: 'web' });
    vault.enableLogin('kubernetes', { roles: { app: 'k8s.jwt.value' } });
    vault.enableLogin('jwt', { roles: { ci: 'ci.jwt.value' } }, { mount: 'gitlab' });
    const v = client();
    const approle = await v.approleLogin({ role_id: 'role-1', secret_id: 'secret-1' });
    expect(vault.tokenLive(approle.auth.client_token)).toBe(true);
    expect((await failure(v.approleLogin({ role_id: 'role-1', secret_id: 'nope' }))).status).toBe(400);
    const wrapping = vault.wrapSecretId('secret-1', 'auth/approle/role/web/secret-id');
    expect((await v.write('sys/wrapping/lookup', { token: wrapping })).data.creation_path).toBe('auth/approle/role/web/secret-id');
    expect((await v.unwrap({ token: wrapping })).data.secret_id).toBe('secret-1');
    expect((await failure(v.unwrap({ token: wrapping }))).status).toBe(400);
    expect((await v.kubernetesLogin({ role: 'app', jwt: 'k8s.jwt.value', mount_point: 'kubernetes' })).auth.client_token).toMatch(/^hvs\./);
    expect((await v.jwtLogin({ role: 'ci', jwt: 'ci.jwt.value', mount_point: 'gitlab' })).auth.client_token).toMatch(/^hvs\./);
    expect((await failure(v.jwtLogin({ role: 'ci', jwt: 'forged', mount_point: 'gitlab' }))).status).toBe(403);
  });

  it('tokens: lookup-self, renew-self up to max TTL, revoke-self; a dead token ends its leases', async () => {
    vault.addToken('t', { ttl: 30, maxTtl: 40 });
    vault.mountDynamic('database', 'database', { 'creds/app': { ttl: 60, maxTtl: 120, make: (n) => ({ username: `u${n}`, password: `p${n}` }) } });
    const v = client('t');
    expect((await v.tokenLookupSelf()).data.ttl).toBe(30);
    expect((await v.tokenRenewSelf({ increment: 3600 })).auth.lease_duration).toBeLessThanOrEqual(40);
    const read = await v.read('database/creds/app');
    expect(read).toMatchObject({ renewable: true, lease_duration: 60, data: { username: 'u1' } });
    expect(vault.leaseLive(read.lease_id)).toBe(true);
    const renewed = await v.write('sys/leases/renew', { lease_id: read.lease_id, increment: 60 });
    expect(renewed.lease_duration).toBe(60);
    await v.tokenRevokeSelf();
    expect(vault.leaseLive(read.lease_id)).toBe(false);
  });

  it('leases: renew is capped at max TTL; revoke ends one; the default policy may refuse revoke', async () => {
    vault.addToken('root');
    vault.mountDynamic('database', 'database', { 'creds/app': { ttl: 60, maxTtl: 90, make: (n) => ({ username: `u${n}` }) } });
    const v = client('root');
    const read = await v.read('database/creds/app');
    const renewed = await v.renew({ lease_id: read.lease_id, increment: 3600 });
    expect(renewed.lease_duration).toBeLessThanOrEqual(90);
    expect(renewed.warnings).toHaveLength(1);
    vault.denyLeaseRevoke = true;
    expect((await failure(v.revoke({ lease_id: read.lease_id }))).status).toBe(403);
    vault.denyLeaseRevoke = false;
    await v.revoke({ lease_id: read.lease_id });
    expect(vault.leaseLive(read.lease_id)).toBe(false);
  });

  it('namespaces: mounts and tokens are per namespace', async () => {
    vault.addToken('ns-token', { namespace: 'team-a' });
    vault.mountKv('secret', 2, 'team-a');
    vault.put('secret', 'x', { A: 'in-a' }, 'team-a');
    expect((await client('ns-token', 'team-a').read('secret/data/x')).data.data).toEqual({ A: 'in-a' });
    expect((await failure(client('ns-token').read('secret/data/x'))).status).toBe(403);
  });
});
