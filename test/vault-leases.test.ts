/**
 * Vault leases end to end, with real time (the fake's TTLs are seconds): renewal at about two thirds of the TTL,
 * one re-read before the max TTL in watch mode, the old lease revoked, a login token kept alive under --no-exec,
 * revoke_on_exit. The built CLI runs fixtures/child/recorder.mjs (helpers/watch.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { sleep, starts, until, watchPlumbing } from './helpers/watch.js';
import { startFakeVault, type FakeVault } from './helpers/fake-vault.js';

const plumbing = watchPlumbing();
let vault: FakeVault | undefined;
afterEach(async () => {
  await plumbing.cleanup();
  await vault?.close();
  vault = undefined;
});

const TOKEN = 'hvs.root-token-for-lease-tests';
const reads = (v: FakeVault, path: string) => v.requests.filter((q) => q.method === 'GET' && q.path === path);

describe('vault leases', () => {
  it('--watch=2, a 6 s lease with a 9 s max TTL: one read per lease, renewed, re-read before the max TTL, old lease revoked', async () => {
    const v = (vault = await startFakeVault());
    v.addToken(TOKEN);
    v.mountDynamic('database', 'database', { 'creds/app': { ttl: 6, maxTtl: 9, make: (n) => ({ DB_USER: `user-${n}`, DB_PASSWORD: `dyn-password-${n}` }) } });
    const { dir } = plumbing.project({ 'secretrun.yaml': 'sources:\n  - type: vault\n    path: database/creds/app\n' });
    const w = await plumbing.startWatched(dir, ['--watch=2'], ['DB_USER'], { VAULT_ADDR: v.origin, VAULT_TOKEN: TOKEN });
    expect(w.first.env).toEqual({ DB_USER: 'user-1' });
    // Polls at ~2, 4, 6 s reuse the lease; a renewal at ~4 s learns the max TTL; the re-read comes at ~7 s.
    const second = await until(() => starts(w.log)[1], 'the restart with a fresh credential', 12_000);
    expect(second.env).toEqual({ DB_USER: 'user-2' });
    expect(reads(v, 'database/creds/app')).toHaveLength(2);
    const [first, next] = [...v.leases.values()];
    expect(first.renewals).toBeGreaterThanOrEqual(1);
    // The fresh credential came while the old one still worked (before the max TTL at 9 s).
    expect(next.issuedAt).toBeLessThan(first.maxExpiresAt);
    await until(() => first.revoked, 'the old lease revoked');
    expect(v.leaseLive(next.id)).toBe(true);
    w.proc.kill('SIGTERM');
    expect((await w.ended).code).toBe(0);
    expect(reads(v, 'database/creds/app')).toHaveLength(2);
  }, 30_000);

  it('--no-exec with an AppRole token of 4 s and a 60 s lease: the token is renewed, the lease still valid at 8 s', async () => {
    const v = (vault = await startFakeVault());
    v.enableLogin('approle', { roles: { 'role-1': 'secret-id-1' }, ttl: 4 });
    v.mountDynamic('database', 'database', { 'creds/app': { ttl: 60, maxTtl: 600, make: (n) => ({ DB_USER: `user-${n}` }) } });
    const { dir } = plumbing.project({
      'secretrun.yaml': 'sources:\n  - type: vault\n    path: database/creds/app\n    auth: { method: approle, role_id: role-1, secret_id: secret-id-1 }\n',
    });
    const w = await plumbing.startWatched(dir, ['--no-exec'], ['DB_USER'], { VAULT_ADDR: v.origin });
    expect(w.first.env).toEqual({ DB_USER: 'user-1' });
    await sleep(8000);
    const [lease] = [...v.leases.values()];
    expect(v.leaseLive(lease.id)).toBe(true);
    expect(v.requests.filter((q) => q.path === 'auth/token/renew-self').length).toBeGreaterThanOrEqual(2);
    w.proc.kill('SIGTERM');
    await w.ended;
  }, 20_000);

  it('a lease read with a login token keeps secretrun the parent even without --no-exec (shown with SECRETRUN_DEBUG=1)', async () => {
    const v = (vault = await startFakeVault());
    v.enableLogin('approle', { roles: { 'role-1': 'secret-id-1' } });
    v.mountDynamic('database', 'database', { 'creds/app': { ttl: 60, maxTtl: 600, make: (n) => ({ DB_USER: `user-${n}` }) } });
    const { dir } = plumbing.project({
      'secretrun.yaml': 'sources:\n  - type: vault\n    path: database/creds/app\n    auth: { method: approle, role_id: role-1, secret_id: secret-id-1 }\n',
    });
    const r = await runCli(['--', process.execPath, '-e', 'process.stdout.write(String(process.ppid))'], { cwd: dir, env: { VAULT_ADDR: v.origin, SECRETRUN_DEBUG: '1' } });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('secretrun: debug: held by the layers: layer "vault database/creds/app": a leased secret was read with a login token');
  });

  it('revoke_on_exit: after the child exits, its leases and the login token are revoked; the exit code stays', async () => {
    const v = (vault = await startFakeVault());
    v.enableLogin('approle', { roles: { 'role-1': 'secret-id-1' } });
    v.mountDynamic('database', 'database', { 'creds/app': { ttl: 60, maxTtl: 600, make: (n) => ({ DB_USER: `user-${n}` }) } });
    const { dir } = plumbing.project({
      'secretrun.yaml': 'sources:\n  - type: vault\n    path: database/creds/app\n    revoke_on_exit: true\n    auth: { method: approle, role_id: role-1, secret_id: secret-id-1 }\n',
    });
    const r = await runCli(['--', process.execPath, '-e', 'process.exit(7)'], { cwd: dir, env: { VAULT_ADDR: v.origin } });
    expect(r.code).toBe(7);
    expect(r.stderr).toBe('');
    const [lease] = [...v.leases.values()];
    expect(lease.revoked).toBe(true);
    expect([...v.tokens.values()].every((t) => t.revoked)).toBe(true);
  });

  it('revoke_on_exit refused by the policy is one warning, the exit code unchanged; a given token is never revoked', async () => {
    const v = (vault = await startFakeVault());
    v.addToken(TOKEN);
    v.denyLeaseRevoke = true;
    v.mountDynamic('database', 'database', { 'creds/app': { ttl: 60, maxTtl: 600, make: (n) => ({ DB_USER: `user-${n}` }) } });
    const { dir } = plumbing.project({ 'secretrun.yaml': 'sources:\n  - type: vault\n    path: database/creds/app\n    revoke_on_exit: true\n' });
    const r = await runCli(['--', process.execPath, '-e', 'process.exit(3)'], { cwd: dir, env: { VAULT_ADDR: v.origin, VAULT_TOKEN: TOKEN } });
    expect(r.code).toBe(3);
    expect(r.stderr).toBe('secretrun: warning: layer "vault database/creds/app": could not revoke: revoking the lease of database/creds/app: permission denied (HTTP 403; sys/leases/revoke needs "update", which Vault\'s default policy lacks)\n');
    expect(v.tokens.get(TOKEN)!.revoked).toBe(false);
  });
});

describe('vault leases outside watch mode', () => {
  it('a lease that will end under the running child is one warning naming the layer', async () => {
    const v = (vault = await startFakeVault());
    v.addToken(TOKEN);
    v.mountDynamic('aws', 'aws', { 'creds/deploy': { ttl: 60, maxTtl: 60, renewable: false, make: (n) => ({ AWS_KEY: `key-${n}` }) } });
    const { dir } = plumbing.project({ 'secretrun.yaml': 'sources:\n  - type: vault\n    path: aws/creds/deploy\n' });
    const r = await runCli(['--no-exec', '--', process.execPath, '-e', 'setTimeout(() => {}, 200)'], { cwd: dir, env: { VAULT_ADDR: v.origin, VAULT_TOKEN: TOKEN } });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^secretrun: warning: layer "vault aws\/creds\/deploy": a lease can no longer be extended and ends soon after \S+ while the process runs; run with --watch to get fresh credentials before then\n$/);
  });
});
