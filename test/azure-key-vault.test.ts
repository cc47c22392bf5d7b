/**
 * `type: azure-key-vault` end to end: the built CLI against the loopback Key Vault fake, with tokens from the
 * fake managed-identity endpoint (IDENTITY_ENDPOINT/IDENTITY_HEADER) or a fake `az` on PATH, AZURE_TOKEN_CREDENTIALS
 * naming the credential under test, under the preload that ends the process on any connection to a real metadata
 * service. The fake itself is proven with @azure/keyvault-secrets.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { checkChallenge, vaultTarget } from '../src/sources/azure/client.js';
import { parseVaultRef } from '../src/sources/azure/layer.js';
import { ROOT, runCli, useTmpProjects } from './helpers/cli.js';
import { secretPieces } from './helpers/fake-gcp.js';
import { fakeAzCli, startFakeKeyVault, type FakeKeyVault, type FakeKeyVaultOptions } from './helpers/fake-azure.js';
import { closeAfterEach } from './helpers/http-server.js';

// Several CLI runs per case, each loading a cloud credential library: give a loaded 2-core machine room.
vi.setConfig({ testTimeout: 90_000 });
const GUARD = join(ROOT, 'test/helpers/no-metadata.cjs');
const project = useTmpProjects(afterEach);
const servers = closeAfterEach(afterEach);

const MI_TOKEN = 'eyJ0eXAi.managed-identity-token-0001';
const MI_HEADER = 'identity-header-secret-0002';
const CLI_TOKEN = 'eyJ0eXAi.az-cli-token-0003';

async function vault(opts: Partial<FakeKeyVaultOptions> & Pick<FakeKeyVaultOptions, 'secrets'>): Promise<FakeKeyVault> {
  const fake = await startFakeKeyVault({ tokens: [MI_TOKEN, CLI_TOKEN], managedIdentity: { header: MI_HEADER, token: MI_TOKEN }, ...opts });
  servers.push(fake);
  return fake;
}

/** Managed identity, App Service style, and nothing else in the chain. */
function miEnv(fake: FakeKeyVault, extra: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_OPTIONS: `--require ${GUARD}`,
    AZURE_TOKEN_CREDENTIALS: 'ManagedIdentityCredential',
    IDENTITY_ENDPOINT: `${fake.origin}/msi/token`,
    IDENTITY_HEADER: MI_HEADER,
    ...extra,
  };
}

const layer = (fake: FakeKeyVault, body = '') => `sources:\n  - type: azure-key-vault\n    vault: ${fake.origin}\n${body}`;

async function exportJson(dir: string, env: Record<string, string>) {
  const r = await runCli(['export', '--format', 'json'], { cwd: dir, env });
  return { ...r, keys: r.code === 0 ? (JSON.parse(r.stdout) as Record<string, string>) : undefined };
}

describe('azure-key-vault: the vault and its challenge (pure)', () => {
  it('a vault name or a URL on a Key Vault domain, with its cloud’s resource; anything else refused', () => {
    expect(vaultTarget('my-vault')).toEqual({ origin: 'https://my-vault.vault.azure.net', resource: 'https://vault.azure.net' });
    expect(vaultTarget('https://kv1.vault.azure.cn/')).toEqual({ origin: 'https://kv1.vault.azure.cn', resource: 'https://vault.azure.cn' });
    expect(vaultTarget('https://kv1.vault.usgovcloudapi.net').resource).toBe('https://vault.usgovcloudapi.net');
    expect(vaultTarget('http://127.0.0.1:8200').resource).toBe('https://vault.azure.net');
    expect(() => vaultTarget('https://evil.example.com')).toThrow(/not an https:\/\/ URL on a Key Vault domain/);
    expect(() => vaultTarget('http://kv1.vault.azure.net')).toThrow(/not an https:\/\/ URL/);
    expect(() => vaultTarget('https://vault.azure.net.evil.com')).toThrow(/Key Vault domain/);
  });

  it('a challenge naming another resource, or one the vault is not under, is refused; its tenant is read', () => {
    const target = vaultTarget('my-vault');
    expect(checkChallenge('Bearer authorization="https://login.microsoftonline.com/tenant-9", resource="https://vault.azure.net"', target)).toEqual({ tenant: 'tenant-9' });
    expect(checkChallenge('Bearer authorization="https://login.microsoftonline.com/t", scope="https://vault.azure.net/.default"', target)).toEqual({ tenant: 't' });
    expect(() => checkChallenge('Bearer authorization="https://login.microsoftonline.com/t", resource="https://management.azure.com"', target)).toThrow(
      /names another resource \(management\.azure\.com, expected vault\.azure\.net\)/,
    );
    expect(() => checkChallenge('Bearer resource="https://vault.azure.cn"', target)).toThrow(/another resource/);
  });

  it('reads NAME/VERSION', () => {
    expect(parseVaultRef('db-password')).toEqual({ name: 'db-password' });
    expect(parseVaultRef('db-password/0a1b')).toEqual({ name: 'db-password', version: '0a1b' });
  });
});

describe('the Key Vault fake, read by @azure/keyvault-secrets', () => {
  it('gets, lists across nextLink pages and reports missing and disabled secrets as Key Vault does', async () => {
    const fake = await vault({
      pageSize: 2,
      secrets: {
        'db-password': { value: 'pw', versions: { v1: 'old-pw' } },
        'api-key': { value: 'k' },
        'off': { value: 'x', enabled: false },
        'tls-cert': { value: 'PEM', managed: true },
        'other': { value: 'o' },
      },
    });
    const { SecretClient } = await import('@azure/keyvault-secrets');
    const credential = { getToken: async () => ({ token: MI_TOKEN, expiresOnTimestamp: Date.now() + 3600_000 }) };
    const client = new SecretClient(fake.origin, credential, { allowInsecureConnection: true, disableChallengeResourceVerification: true, retryOptions: { maxRetries: 0 } });
    expect((await client.getSecret('db-password')).value).toBe('pw');
    expect((await client.getSecret('db-password', { version: 'v1' })).value).toBe('old-pw');
    const listed: { name: string; enabled?: boolean; managed?: boolean }[] = [];
    for await (const p of client.listPropertiesOfSecrets()) listed.push({ name: p.name, enabled: p.enabled, managed: p.managed });
    expect(listed.map((s) => s.name)).toEqual(['api-key', 'db-password', 'off', 'other', 'tls-cert']);
    expect(listed.find((s) => s.name === 'off')?.enabled).toBe(false);
    expect(listed.find((s) => s.name === 'tls-cert')?.managed).toBe(true);
    await expect(client.getSecret('nope')).rejects.toMatchObject({ statusCode: 404, code: 'SecretNotFound' });
    await expect(client.getSecret('off')).rejects.toMatchObject({ statusCode: 403, code: 'Forbidden' });
    // The client met the challenge first, then sent the token it was given.
    expect(fake.requests[0].headers.authorization).toBeUndefined();
    expect(fake.requests.at(-1)!.headers.authorization).toBe(`Bearer ${MI_TOKEN}`);
  });
});

describe('azure-key-vault: managed identity', () => {
  it('loads every enabled secret across pages, skipping disabled and certificate-backed ones (shown with SECRETRUN_DEBUG=1); `-` becomes `_`', async () => {
    const fake = await vault({
      pageSize: 2,
      secrets: {
        'db-password': { value: 'pw-value' },
        'api-key': { value: 'key-value', tags: { app: 'api' } },
        '9lives': { value: 'cat' },
        'off': { value: 'disabled-value', enabled: false },
        'tls-cert': { value: 'PRIVATE KEY PEM', managed: true },
      },
    });
    const { dir } = project({ 'secretrun.yaml': layer(fake) });
    const r = await exportJson(dir, miEnv(fake, { SECRETRUN_DEBUG: '1' }));
    expect(r.keys).toEqual({ db_password: 'pw-value', api_key: 'key-value', _9lives: 'cat' });
    expect(r.stderr).toMatch(/skipped secret off: disabled/);
    expect(r.stderr).toMatch(/skipped secret tls-cert: backs a certificate \(managed\)/);
    expect(fake.reads.sort()).toEqual(['9lives', 'api-key', 'db-password']);
    // One token, for the Key Vault resource only.
    expect(fake.tokenResources).toEqual(['https://vault.azure.net']);
    // The leak corpus: no token, identity header or value in anything printed, even with SECRETRUN_DEBUG=1.
    for (const s of [MI_TOKEN, MI_HEADER, 'pw-value', 'PRIVATE KEY PEM']) expect(r.stderr).not.toContain(s);

    const tagged = project({ 'secretrun.yaml': layer(fake, '    tags: { app: api }\n') });
    expect((await exportJson(tagged.dir, miEnv(fake))).keys).toEqual({ api_key: 'key-value' });
  });

  it('named and pinned secrets, and format: json', async () => {
    const fake = await vault({
      secrets: { 'db-password': { value: 'new', versions: { '0a1b': 'old' } }, 'cfg': { value: '{"HOST":"db","PORT":5432}', contentType: 'application/json' }, 'off': { value: 'x', enabled: false }, 'tls-cert': { value: 'PEM', managed: true } },
    });
    const run = (body: string) => exportJson(project({ 'secretrun.yaml': layer(fake, body) }).dir, miEnv(fake));
    expect((await run('    secrets: [db-password/0a1b, cfg, tls-cert]\n')).keys).toEqual({ db_password: 'old', cfg: '{"HOST":"db","PORT":5432}', tls_cert: 'PEM' });
    expect((await run('    secrets: [cfg]\n    format: json\n')).keys).toEqual({ HOST: 'db', PORT: '5432' });
  });

  it('a named disabled secret is an error, a missing one too unless optional', async () => {
    const fake = await vault({ secrets: { 'db-password': { value: 'new' }, 'off': { value: 'x', enabled: false } } });
    const run = (body: string) => exportJson(project({ 'secretrun.yaml': layer(fake, body) }).dir, miEnv(fake));
    const off = await run('    secrets: [off]\n');
    expect(off.code).toBe(1);
    expect(off.stderr).toMatch(/secret off is disabled \(HTTP 403 Forbidden\/SecretDisabled\)/);
    const missing = await run('    secrets: [nope, db-password]\n');
    expect(missing.stderr).toMatch(/not found in vault 127\.0\.0\.1:\d+: secret nope/);
    expect((await run('    secrets: [nope, db-password]\n    optional: true\n')).keys).toEqual({ db_password: 'new' });
  });

  it('rides out a burst of 429s within the deadline', async () => {
    const fake = await vault({ secrets: { 'a-b': { value: '1' }, 'a': { value: '2' } }, throttleFirst: 3 });
    const t = await exportJson(project({ 'secretrun.yaml': layer(fake, '    secrets: [a-b, a]\n    deadline: 20\n') }).dir, miEnv(fake));
    expect(t.keys).toEqual({ a_b: '1', a: '2' });
  });

  it('a challenge naming another resource is an error, and no token is minted for it', async () => {
    const fake = await vault({ secrets: { a: { value: '1' } }, tokens: ['something-else'], challengeResource: 'https://management.azure.com' });
    const r = await exportJson(project({ 'secretrun.yaml': layer(fake, '    secrets: [a]\n') }).dir, miEnv(fake));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/layer "azure-key-vault [^"]+".*the vault's 401 challenge names another resource \(management\.azure\.com, expected vault\.azure\.net\)/);
    expect(fake.tokenResources).toEqual(['https://vault.azure.net']);
  });

  it('a vault filled from an earlier layer is refused, naming the option and the layer', async () => {
    const fake = await vault({ secrets: { a: { value: '1' } } });
    const { dir } = project({ '.env': `KV=${fake.origin}\n`, 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n  - type: azure-key-vault\n    vault: ${KV}\n    secrets: [a]\n' });
    const r = await exportJson(dir, miEnv(fake));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/`vault` is filled from a key of layer "dotenv \.env"/);
    expect(fake.requests).toHaveLength(0);
    // From the environment's `vars`, the sources file's own text, it is the user's word.
    const fromVars = project({
      'secretrun.yaml': `default_environment: prod\nenvironments:\n  prod:\n    vars: { KV: "${fake.origin}" }\n    sources:\n      - type: azure-key-vault\n        vault: \${KV}\n        secrets: [a]\n`,
    });
    expect((await exportJson(fromVars.dir, miEnv(fake))).keys).toEqual({ a: '1' });
  });
});

describe('azure-key-vault: the Azure CLI credential', () => {
  it('takes the token from `az account get-access-token` for the Key Vault resource', async () => {
    const fake = await vault({ secrets: { 'db-password': { value: 'pw' } } });
    const p = project({ 'secretrun.yaml': layer(fake, '    secrets: [db-password]\n') });
    const az = fakeAzCli(p.dir, CLI_TOKEN);
    const r = await exportJson(p.dir, { NODE_OPTIONS: `--require ${GUARD}`, AZURE_TOKEN_CREDENTIALS: 'AzureCliCredential', PATH: az.path });
    expect(r.keys).toEqual({ db_password: 'pw' });
    expect(az.calls()).toHaveLength(1);
    expect(az.calls()[0]).toMatch(/account get-access-token .*--resource https:\/\/vault\.azure\.net/);
    expect(fake.requests.at(-1)!.headers.authorization).toBe(`Bearer ${CLI_TOKEN}`);
  });

  it('with no credential at all: one line naming the ways to provide one', async () => {
    const fake = await vault({ secrets: { a: { value: '1' } } });
    const r = await exportJson(project({ 'secretrun.yaml': layer(fake, '    secrets: [a]\n') }).dir, { NODE_OPTIONS: `--require ${GUARD}`, AZURE_TOKEN_CREDENTIALS: 'ManagedIdentityCredential', IDENTITY_ENDPOINT: `${fake.origin}/msi/token`, IDENTITY_HEADER: 'wrong-header' });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/could not get an Azure token|no Azure credentials found/);
    expect(r.stderr).not.toContain('wrong-header');
  });
});

describe('azure-key-vault: the leak corpus (SECRETRUN_DEBUG=1)', () => {
  it('no piece of a token, the identity header or a value in anything printed, whatever fails and whatever the server quotes', async () => {
    const token = `eyJ0.${randomBytes(24).toString('base64url')}`;
    const header = randomBytes(24).toString('base64url');
    const value = randomBytes(24).toString('base64url');
    const secrets = { locked: { value, enabled: false }, notjson: { value } };
    const quoting = await startFakeKeyVault({ secrets, tokens: [token], managedIdentity: { header, token }, quoteCredentials: true });
    const otherResource = await startFakeKeyVault({ secrets, tokens: [], managedIdentity: { header, token }, challengeResource: 'https://graph.microsoft.com', quoteCredentials: true });
    const rejecting = await startFakeKeyVault({ secrets, tokens: [], managedIdentity: { header, token }, quoteCredentials: true });
    servers.push(quoting, otherResource, rejecting);
    const env = (fake: FakeKeyVault, identityHeader = header) => ({ ...miEnv(fake, { SECRETRUN_DEBUG: '1' }), IDENTITY_HEADER: identityHeader });
    const cases: [FakeKeyVault, string, string?][] = [
      [quoting, '    secrets: [locked]\n'],
      [quoting, '    secrets: [notjson]\n    format: json\n'],
      [otherResource, '    secrets: [notjson]\n'],
      [rejecting, '    secrets: [notjson]\n'],
      [quoting, '    secrets: [notjson]\n', `${header}x`],
    ];
    for (const [fake, body, identityHeader] of cases) {
      const r = await runCli(['export'], { cwd: project({ 'secretrun.yaml': layer(fake, body) }).dir, env: env(fake, identityHeader) });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^secretrun: layer "azure-key-vault/m);
      const printed = r.stdout + r.stderr;
      for (const piece of [...secretPieces(token), ...secretPieces(header), ...secretPieces(value)]) expect(printed).not.toContain(piece);
    }
  }, 150_000);
});
