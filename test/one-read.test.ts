/**
 * One read per secret per resolve (contract 3b, issues #28/#29), whether layers or references ask: Vault KV,
 * Google Secret Manager and Azure Key Vault, counted at the loopback fakes (test/helpers/fake-*.ts), never in our
 * code. Different versions are different reads; a Vault leased path is read by each asker (each read mints a
 * credential); a watch re-resolve reads again (the memo lives for one resolution).
 */
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseReferences, ReferenceResolver } from '../src/core/references.js';
import azureKeyVault from '../src/sources/azure-key-vault.js';
import { readKeyVaultReferences } from '../src/sources/azure/layer.js';
import type { ReferenceHook } from '../src/sources/types.js';
import { readKv } from '../src/sources/vault/read.js';
import { PRINT_ENV, ROOT, runCli, useTmpProjects } from './helpers/cli.js';
import { startFakeKeyVault, type FakeKeyVault, type FakeVaultSecret } from './helpers/fake-azure.js';
import { startFakeMetadata, startFakeSecretManager, type FakeSecret } from './helpers/fake-gcp.js';
import { startFakeVault, type FakeVault } from './helpers/fake-vault.js';
import { applyProcessEnv } from './helpers/moto.js';
import { makeContext } from './helpers/source-context.js';
import { starts, until, watchPlumbing } from './helpers/watch.js';
import { closeAfterEach } from './helpers/http-server.js';

// Each case is one or two CLI runs loading a cloud credential library: room for a loaded 2-core machine.
vi.setConfig({ testTimeout: 90_000 });
const GUARD = join(ROOT, 'test/helpers/no-metadata.cjs');
const project = useTmpProjects(afterEach);
const watching = watchPlumbing();
afterAll(watching.cleanup);
const { serve } = closeAfterEach(afterEach);

const printed = (...keys: string[]) => ['--', process.execPath, '-e', PRINT_ENV, ...keys];

/**
 * `secretrun --listen 127.0.0.1:0 -- recorder KEYS...`: after the first child, `change` (assert, then change the
 * store), one trigger (unsigned: loopback, no secret set), and the restarted child, which proves the re-resolve done.
 */
async function reResolve(dir: string, keys: string[], env: Record<string, string>, change: () => void) {
  const w = await watching.startWatched(dir, ['--listen', '127.0.0.1:0'], keys, env);
  const port = Number((await until(() => /listening for reload webhooks on http:\/\/[^\s]+:(\d+)\n/.exec(w.stderr()), 'the listening line'))[1]);
  change();
  const status = await new Promise<number>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end();
  });
  expect(status).toBe(202);
  const second = await until(() => starts(w.log)[1], 'the restarted child', 20_000);
  w.proc.kill('SIGTERM');
  await w.ended;
  return { first: w.first, second };
}

describe('vault: one KV read per resolve', () => {
  const TOKEN = 'hvs.root-token-for-one-read';
  let vault: FakeVault;
  beforeEach(async () => {
    vault = await startFakeVault();
    vault.addToken(TOKEN);
    vault.mountKv('secret', 2);
    vault.put('secret', 'app/db', { user: 'app-user', password: 'pw-1', port: 5432 });
    vault.put('secret', 'app/db', { user: 'app-user', password: 'pw-2', port: 5432 });
  });
  afterEach(async () => {
    await vault.close();
  });
  const reads = (path: string) => vault.requests.filter((q) => q.method === 'GET' && q.path === path);
  const env = () => ({ VAULT_ADDR: vault.origin, VAULT_TOKEN: TOKEN });
  const VAULT_DB = '  - type: vault\n    path: secret/app/db\n';
  /** Two layers on one secret, one plain and one with `rename`. */
  const SAME_TWICE = `${VAULT_DB}${VAULT_DB}    rename: { password: DB_PASSWORD }\n`;

  it('three layers naming one secret (path, path with rename, a recursive walk): one read, every layer its keys', async () => {
    const { dir } = project({
      'secretrun.yaml': `sources:\n${SAME_TWICE}  - type: vault\n    path: secret/app\n    recursive: true\n    key_path: true\n`,
    });
    const r = await runCli(['export', '--format', 'json'], { cwd: dir, env: env() });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ user: 'app-user', password: 'pw-2', port: '5432', DB_PASSWORD: 'pw-2', db_user: 'app-user', db_password: 'pw-2', db_port: '5432' });
    expect(reads('secret/data/app/db')).toHaveLength(1);
  });

  it('a layer and ref+vault naming one secret version share its read; another version is another read', async () => {
    const { dir } = project({
      'secretrun.yaml': `sources:\n${VAULT_DB}${VAULT_DB}    version: 1\n    rename: { password: OLD_PASSWORD }\n    only: [password]\n  - type: dotenv\n    path: .env\n`,
      '.env': ['REF_PASSWORD="ref+vault://secret/app/db#/password"', 'REF_PORT="ref+vault://secret/app/db#/port"', 'REF_OLD="ref+vault://secret/app/db?version=1#/password"'].join('\n'),
    });
    const r = await runCli(printed('password', 'OLD_PASSWORD', 'REF_PASSWORD', 'REF_PORT', 'REF_OLD'), { cwd: dir, env: env() });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ password: 'pw-2', OLD_PASSWORD: 'pw-1', REF_PASSWORD: 'pw-2', REF_PORT: '5432', REF_OLD: 'pw-1' });
    // Two versions, two reads: latest once and version 1 once, for two layers and three references.
    expect(reads('secret/data/app/db').map((q) => q.query.get('version')).sort()).toEqual(['1', null].sort());
  });

  it('a leased path named by a layer and a reference is read twice: each read mints its own credential', async () => {
    vault.mountDynamic('database', 'database', { 'creds/app': { ttl: 600, maxTtl: 3600, make: (n) => ({ username: `user-${n}`, password: `dyn-pass-${n}` }) } });
    const { dir } = project({
      'secretrun.yaml': 'sources:\n  - type: vault\n    path: database/creds/app\n  - type: dotenv\n    path: .env\n',
      '.env': 'REF_USER="ref+vault://database/creds/app#/username"\n',
    });
    const r = await runCli(printed('username', 'REF_USER'), { cwd: dir, env: env() });
    expect(r.code, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout) as Record<string, string>;
    expect(new Set([got.username, got.REF_USER])).toEqual(new Set(['user-1', 'user-2']));
    expect(reads('database/creds/app')).toHaveLength(2);
    expect(vault.leases.size).toBe(2);
  });

  it('readKv: askers of one resolution share the read, each with its own copy of the data; another token identity reads', async () => {
    const endpoint = { address: vault.origin, fetch: { retries: 0 } };
    const token = { kind: 'token', token: TOKEN, endpoint, fromLogin: false, found: true, renewable: false, renewedAt: 0, ttlMs: 0, layer: 't', identity: 'given-a' } as const;
    const info = { mount: 'secret', kv: 2 } as const;
    const context = { reads: new Map<string, Promise<unknown>>() };
    const [a, b] = await Promise.all([readKv(endpoint, token, info, 'app/db', undefined, context), readKv(endpoint, token, info, 'app/db', undefined, context)]);
    // Turning fields into keys converts them in place (formats/parse.ts): one asker's doing so is not another's.
    a.port = '5432';
    expect(b).toEqual({ user: 'app-user', password: 'pw-2', port: 5432 });
    expect(reads('secret/data/app/db')).toHaveLength(1);
    await readKv(endpoint, { ...token, identity: 'given-b' }, info, 'app/db', undefined, context);
    await readKv(endpoint, token, info, 'app/db', undefined, { reads: new Map() });
    expect(reads('secret/data/app/db')).toHaveLength(3);
  });

  it('a watch re-resolve reads again, once for both layers', async () => {
    const { dir } = watching.project({ 'secretrun.yaml': `sources:\n${SAME_TWICE}` });
    const run = await reResolve(dir, ['password', 'DB_PASSWORD'], env(), () => {
      expect(reads('secret/data/app/db')).toHaveLength(1);
      vault.put('secret', 'app/db', { user: 'app-user', password: 'pw-3' });
    });
    expect(run.first.env).toEqual({ password: 'pw-2', DB_PASSWORD: 'pw-2' });
    expect(run.second.env).toEqual({ password: 'pw-3', DB_PASSWORD: 'pw-3' });
    expect(reads('secret/data/app/db')).toHaveLength(2);
  });
});

describe('gcp-secret-manager: one access per secret version per resolve', () => {
  const TOKEN = 'ya29.metadata-token-for-one-read';
  async function setup(secrets: Record<string, FakeSecret>) {
    const metadata = await serve(startFakeMetadata({ project: 'proj-one', token: TOKEN }));
    const sm = await serve(startFakeSecretManager({ project: 'proj-one', authorize: (a) => a === `Bearer ${TOKEN}`, secrets }));
    const env = { NODE_OPTIONS: `--require ${GUARD}`, GCE_METADATA_HOST: metadata.host, METADATA_SERVER_DETECTION: 'ping-only', CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER: `${sm.origin}/` };
    const layer = (body: string) => `  - type: gcp-secret-manager\n    endpoint: ${sm.origin}\n${body}`;
    return { sm, env, layer };
  }
  const cfg = () => ({ versions: [{ data: '{"HOST":"db-1"}' }, { data: '{"HOST":"db-2"}' }], labels: { app: 'api' } });

  it('named, filtered and json layers naming one secret: one access, every layer its keys; a shared 404 too', async () => {
    const { sm, env, layer } = await setup({ cfg: cfg() });
    const { dir } = project({
      'secretrun.yaml': `sources:\n${layer('    secrets: [cfg, gone]\n    optional: true\n')}${layer('    secrets: [cfg, gone]\n    format: json\n    optional: true\n')}${layer('    filter: labels.app=api\n    rename: { cfg: FILTERED }\n')}${layer('    filter: labels.app=api\n    rename: { cfg: AGAIN }\n')}`,
    });
    const r = await runCli(['export', '--format', 'json'], { cwd: dir, env });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ cfg: '{"HOST":"db-2"}', HOST: 'db-2', FILTERED: '{"HOST":"db-2"}', AGAIN: '{"HOST":"db-2"}' });
    expect(sm.accesses.sort()).toEqual(['cfg@latest', 'gone@latest']);
    // Two layers with one filter: one list call (the project-wide 600-a-minute quota).
    expect(sm.listCalls()).toBe(1);
  });

  it('a layer and ref+gcpsecrets share the access of one version; latest and version 1 are two accesses', async () => {
    const { sm, env, layer } = await setup({ cfg: cfg() });
    const { dir } = project({
      'secretrun.yaml': `sources:\n${layer('    secrets: [cfg]\n    format: json\n')}${layer('    secrets: [cfg@1]\n    rename: { cfg: OLD }\n')}  - type: dotenv\n    path: .env\n`,
      '.env': 'A="ref+gcpsecrets://proj-one/cfg#/HOST"\nB=ref+gcpsecrets://proj-one/cfg\nC="ref+gcpsecrets://proj-one/cfg?version=1#/HOST"\n',
    });
    const r = await runCli(printed('HOST', 'OLD', 'A', 'B', 'C'), { cwd: dir, env });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ HOST: 'db-2', OLD: '{"HOST":"db-1"}', A: 'db-2', B: '{"HOST":"db-2"}', C: 'db-1' });
    expect(sm.accesses.sort()).toEqual(['cfg@1', 'cfg@latest']);
  });

  it('a watch re-resolve reads again, once for both layers', async () => {
    const secrets = { cfg: cfg() };
    const { sm, env, layer } = await setup(secrets);
    const { dir } = watching.project({ 'secretrun.yaml': `sources:\n${layer('    secrets: [cfg]\n    format: json\n')}${layer('    secrets: [cfg]\n')}` });
    const run = await reResolve(dir, ['HOST', 'cfg'], env, () => {
      expect(sm.accesses).toEqual(['cfg@latest']);
      secrets.cfg.versions.push({ data: '{"HOST":"db-3"}' });
    });
    expect(run.first.env).toEqual({ HOST: 'db-2', cfg: '{"HOST":"db-2"}' });
    expect(run.second.env).toEqual({ HOST: 'db-3', cfg: '{"HOST":"db-3"}' });
    expect(sm.accesses).toEqual(['cfg@latest', 'cfg@latest']);
  });
});

describe('azure-key-vault: one get per secret version per resolve', () => {
  const TOKEN = 'eyJ0eXAi.managed-identity-for-one-read';
  const HEADER = 'identity-header-for-one-read';
  async function setup(secrets: Record<string, FakeVaultSecret>) {
    const fake = await serve(startFakeKeyVault({ tokens: [TOKEN], managedIdentity: { header: HEADER, token: TOKEN }, secrets }));
    const env = { NODE_OPTIONS: `--require ${GUARD}`, AZURE_TOKEN_CREDENTIALS: 'ManagedIdentityCredential', IDENTITY_ENDPOINT: `${fake.origin}/msi/token`, IDENTITY_HEADER: HEADER };
    const layer = (body = '') => `  - type: azure-key-vault\n    vault: ${fake.origin}\n${body}`;
    return { fake, env, layer };
  }
  const fixture = (): Record<string, FakeVaultSecret> => ({ 'db-password': { value: 'az-2', versions: { v1: 'az-1' } }, cfg: { value: '{"HOST":"h"}' } });

  it('named, json and listed layers naming one secret: one get each, every layer its keys; another version, another get', async () => {
    const { fake, env, layer } = await setup(fixture());
    const { dir } = project({
      'secretrun.yaml': `sources:\n${layer('    secrets: [db-password, cfg, gone]\n    optional: true\n')}${layer('    secrets: [cfg, gone]\n    format: json\n    optional: true\n')}${layer('    rename: { db_password: LISTED }\n')}${layer('    secrets: [db-password/v1]\n    rename: { db_password: OLD }\n')}${layer('    rename: { db_password: AGAIN }\n')}`,
    });
    const r = await runCli(['export', '--format', 'json'], { cwd: dir, env });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ db_password: 'az-2', cfg: '{"HOST":"h"}', HOST: 'h', LISTED: 'az-2', OLD: 'az-1', AGAIN: 'az-2' });
    expect(fake.reads.sort()).toEqual(['cfg', 'db-password', 'db-password/v1', 'gone']);
    // Two layers listing the vault: one listing.
    expect(fake.requests.filter((q) => q.path === '/secrets')).toHaveLength(1);
  });

  // A reference names a vault, never a host, so the CLI can't point one at the loopback fake: the layer's `load`
  // and the reference hook are called as resolve.ts calls them, with one session and one `reads` map.
  it('a layer and ref+azurekeyvault naming one secret share its get; a pinned version is its own', async () => {
    const { fake, env } = await setup(fixture());
    const restore = applyProcessEnv({ ...env, NODE_OPTIONS: undefined });
    try {
      const hook: ReferenceHook = { ...azureKeyVault.reference!, resolve: (targets, context) => readKeyVaultReferences(targets, context, () => ({ origin: fake.origin, resource: 'https://vault.azure.net' })) };
      const schemes = new Map([['azurekeyvault', hook]]);
      const shared = { session: new Map<string, unknown>(), reads: new Map<string, Promise<unknown>>(), env: { ...process.env } };
      const resolver = new ReferenceResolver(schemes, { ...makeContext({ layer: 'references' }), ...shared });
      const pending = (key: string, value: string) => ({ key, value, refs: parseReferences(value, schemes), fail: (m: string) => new Error(m) });
      const options = { vault: fake.origin, secrets: ['db-password', 'cfg'], format: 'raw', timeout: 10, retries: 2, deadline: 20, allow_insecure_http: false };
      const [keys, refs] = await Promise.all([
        azureKeyVault.load(options, { ...makeContext({ layer: 'kv' }), ...shared }),
        resolver.resolve([pending('A', 'ref+azurekeyvault://my-vault/db-password'), pending('B', 'ref+azurekeyvault://my-vault/cfg#/HOST'), pending('C', 'ref+azurekeyvault://my-vault/db-password/v1')]),
      ]);
      expect(keys).toEqual({ db_password: 'az-2', cfg: '{"HOST":"h"}' });
      expect(refs.map((g) => g.value)).toEqual(['az-2', 'h', 'az-1']);
      expect(fake.reads.sort()).toEqual(['cfg', 'db-password', 'db-password/v1']);
      // A new resolution (a new `reads` map) reads again.
      await azureKeyVault.load(options, { ...makeContext({ layer: 'kv' }), ...shared, reads: new Map() });
      expect(fake.reads.filter((n) => n === 'db-password')).toHaveLength(2);
    } finally {
      restore();
    }
  });

  it('a watch re-resolve reads again, once for both layers', async () => {
    const secrets = fixture();
    const { fake, env, layer } = await setup(secrets);
    const { dir } = watching.project({ 'secretrun.yaml': `sources:\n${layer('    secrets: [db-password]\n')}${layer('    rename: { db_password: LISTED }\n')}` });
    const run = await reResolve(dir, ['db_password', 'LISTED'], env, () => {
      expect(fake.reads.filter((n) => n === 'db-password')).toHaveLength(1);
      secrets['db-password'].value = 'az-3';
    });
    expect(run.first.env).toEqual({ db_password: 'az-2', LISTED: 'az-2' });
    expect(run.second.env).toEqual({ db_password: 'az-3', LISTED: 'az-3' });
    expect(fake.reads.filter((n) => n === 'db-password')).toHaveLength(2);
  });
});
