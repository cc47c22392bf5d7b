/**
 * The leak corpus for `vault` (as test/leak-corpus.test.ts does for the other types): with SECRETRUN_DEBUG=1, a
 * 401, a 403 and a failing login whose answers quote the token, secret id or JWT show no piece of them, and the
 * failure is one line naming the layer.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { runCli, useTmpProjects } from './helpers/cli.js';
import { useFakeVault, type FakeVault } from './helpers/fake-vault.js';

const project = useTmpProjects(afterEach);
let vault: FakeVault;
useFakeVault(beforeEach, afterEach, (v) => {
  vault = v;
  vault.mountKv('secret', 2);
  vault.put('secret', 'app', { A: 'b' });
});

/** Random, so no 6-character piece of it can be in secretrun's own text. */
const secret = () => `Q${randomBytes(18).toString('base64url').replace(/[-_]/g, 'x')}`;
const pieces = (s: string) => Array.from({ length: s.length - 5 }, (_, i) => s.slice(i, i + 6));

async function failing(yaml: string, env: Record<string, string>, ...secrets: string[]) {
  const { dir } = project({ 'secretrun.yaml': yaml });
  const r = await runCli(['export'], { cwd: dir, env: { VAULT_ADDR: vault.origin, SECRETRUN_DEBUG: '1', ...env } });
  expect(r.code).toBe(1);
  for (const s of secrets) for (const p of pieces(s)) expect(r.stderr, `stderr holds "${p}"`).not.toContain(p);
  const failure = r.stderr.split('\n').filter((l) => l.startsWith('secretrun: layer'));
  expect(failure).toHaveLength(1);
  expect(failure[0]).toContain('layer "vault secret/app"');
  return failure[0];
}

describe('vault: the leak corpus, with SECRETRUN_DEBUG=1', () => {
  it('a 401 whose body quotes the token', async () => {
    const token = secret();
    vault.script('secret/', { status: 401, json: { errors: [`token ${token} is not valid`] } });
    expect(await failing('sources:\n  - type: vault\n    path: secret/app\n    kv: 2\n    mount: secret\n', { VAULT_TOKEN: token }, token)).toContain('rejected (HTTP 401');
  });

  it('a 403 whose body quotes the token', async () => {
    const token = secret();
    vault.addToken(token, { deny: ['secret/'] });
    vault.script('secret/data/app', { status: 403, json: { errors: [`permission denied for ${token}`] } });
    expect(await failing('sources:\n  - type: vault\n    path: secret/app\n    kv: 2\n    mount: secret\n', { VAULT_TOKEN: token }, token)).toContain('permission denied (HTTP 403) reading secret/app');
  });

  it('a failing approle login whose answer quotes the secret id, and a JWT login', async () => {
    const secretId = secret();
    vault.enableLogin('approle', { roles: { 'role-1': 'another' } });
    vault.script('auth/approle/login', { status: 400, json: { errors: [`invalid secret id ${secretId}`] } });
    await failing(`sources:\n  - type: vault\n    path: secret/app\n    auth: { method: approle, role_id: role-1, secret_id: "${secretId}" }\n`, {}, secretId);
    const jwt = secret();
    vault.enableLogin('jwt', { roles: { ci: 'other' } });
    vault.script('auth/jwt/login', { status: 403, json: { errors: [`bad jwt ${jwt}`] } });
    await failing('sources:\n  - type: vault\n    path: secret/app\n    auth: { method: jwt, role: ci, jwt: "${CI_JWT}" }\n', { CI_JWT: jwt }, jwt);
  });
});
