/**
 * `vault` through the library: `loadSecrets` logs in once per call and ignores `revoke_on_exit` (the caller keeps
 * the values); `watchSecrets` reuses a lease across reloads and revokes on `close()`.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSecrets, watchSecrets } from '../src/index.js';
import { useTmpProjects } from './helpers/cli.js';
import { useFakeVault, type FakeVault } from './helpers/fake-vault.js';

const project = useTmpProjects(afterEach);
let vault: FakeVault;
useFakeVault(beforeEach, afterEach, (v) => {
  vault = v;
  vault.enableLogin('approle', { roles: { 'role-1': 'secret-id-1' } });
  vault.mountDynamic('database', 'database', { 'creds/app': { ttl: 60, maxTtl: 600, make: (n) => ({ DB_USER: `user-${n}` }) } });
  vault.mountKv('secret', 2);
  vault.put('secret', 'app', { API: 'kv-value' });
});

const SOURCES = [
  'sources:',
  '  - type: vault',
  '    path: secret/app',
  '    auth: { method: approle, role_id: role-1, secret_id: secret-id-1 }',
  '  - type: vault',
  '    path: database/creds/app',
  '    revoke_on_exit: true',
  '    auth: { method: approle, role_id: role-1, secret_id: secret-id-1 }',
  '',
].join('\n');

describe('vault through the library', () => {
  it('loadSecrets: one login for both layers; revoke_on_exit is ignored', async () => {
    const { dir } = project({ 'secretrun.yaml': SOURCES });
    const secrets = await loadSecrets({ cwd: dir, processEnv: { VAULT_ADDR: vault.origin } });
    expect(Object.fromEntries(secrets)).toEqual({ API: 'kv-value', DB_USER: 'user-1' });
    expect(vault.requests.filter((q) => q.path === 'auth/approle/login')).toHaveLength(1);
    for (const id of vault.leases.keys()) expect(vault.leaseLive(id)).toBe(true);
  });

  it('watchSecrets: reload reuses the lease (no new credential); close() revokes it and the login', async () => {
    const { dir } = project({ 'secretrun.yaml': SOURCES });
    const watcher = await watchSecrets({ cwd: dir, processEnv: { VAULT_ADDR: vault.origin }, interval: 0 });
    expect(await watcher.reload()).toEqual([]);
    expect(vault.requests.filter((q) => q.path === 'database/creds/app')).toHaveLength(1);
    expect(vault.requests.filter((q) => q.path === 'secret/data/app')).toHaveLength(2);
    expect(vault.requests.filter((q) => q.path === 'auth/approle/login')).toHaveLength(1);
    await watcher.close();
    const [lease] = [...vault.leases.values()];
    expect(lease.revoked).toBe(true);
    expect([...vault.tokens.values()].every((t) => t.revoked)).toBe(true);
  });
});
