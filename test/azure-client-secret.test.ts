/**
 * `type: azure-key-vault` with a service principal's client secret (`AZURE_TENANT_ID`/`AZURE_CLIENT_ID`/
 * `AZURE_CLIENT_SECRET`, `AZURE_TOKEN_CREDENTIALS=EnvironmentCredential`), end to end: the built CLI runs
 * @azure/identity and MSAL against an HTTPS fake of Entra ID on loopback (`AZURE_AUTHORITY_HOST`, its throwaway CA
 * in `NODE_EXTRA_CA_CERTS`), then reads the loopback Key Vault fake with the token it issued. A preload ends the
 * process on any lookup of or connection to a host other than loopback, so MSAL's instance discovery
 * (login.microsoftonline.com) cannot happen unnoticed.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { azureCredentialsError, credentialOptions } from '../src/sources/azure/credentials.js';
import { PRINT_ENV, ROOT, runCli, useTmpProjects } from './helpers/cli.js';
import { secretPieces } from './helpers/fake-gcp.js';
import { startFakeAuthority, startFakeKeyVault, type FakeAuthority, type FakeAuthorityOptions, type FakeKeyVault } from './helpers/fake-azure.js';
import { closeAfterEach } from './helpers/http-server.js';
import { testCa } from './helpers/test-ca.js';

// Each CLI run loads @azure/identity and MSAL: give a loaded 2-core machine room.
vi.setConfig({ testTimeout: 90_000 });
const GUARD = join(ROOT, 'test/helpers/loopback-only.cjs');
const project = useTmpProjects(afterEach);
const servers = closeAfterEach(afterEach);

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const CLIENT_ID = '0e3f7b2a-1c4d-4e5f-8a9b-0c1d2e3f4a5b';

async function fakes(opts: Partial<FakeAuthorityOptions> = {}): Promise<{ authority: FakeAuthority; vault: FakeKeyVault; secret: string; token: string }> {
  const secret = opts.clientSecret ?? `Xq8~${randomBytes(18).toString('base64url')}`;
  const token = opts.token ?? `eyJ0eXAiOiJKV1QifQ.${randomBytes(24).toString('base64url')}`;
  const authority = await startFakeAuthority({ tenant: TENANT, clientId: CLIENT_ID, clientSecret: secret, token, tls: testCa().tls, ...opts });
  const vault = await startFakeKeyVault({ secrets: { 'db-password': { value: 'pw-from-vault' }, 'api-key': { value: 'key-from-vault' } }, tokens: [token] });
  servers.push(authority, vault);
  return { authority, vault, secret, token };
}

/** The client-secret path and nothing else: an environment service principal against the fake authority. */
function spEnv(authority: FakeAuthority, clientSecret: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_OPTIONS: `--require ${GUARD}`,
    NODE_EXTRA_CA_CERTS: testCa().caPath,
    AZURE_TOKEN_CREDENTIALS: 'EnvironmentCredential',
    AZURE_AUTHORITY_HOST: authority.origin,
    AZURE_TENANT_ID: TENANT,
    AZURE_CLIENT_ID: CLIENT_ID,
    AZURE_CLIENT_SECRET: clientSecret,
    ...extra,
  };
}

const layer = (vault: FakeKeyVault) => `sources:\n  - type: azure-key-vault\n    vault: ${vault.origin}\n    secrets: [db-password, api-key]\n`;

describe('azure-key-vault: instance discovery (pure)', () => {
  it('is turned off only for an AZURE_AUTHORITY_HOST that is not one of Microsoft’s authority hosts', () => {
    expect(credentialOptions({})).toEqual({});
    for (const host of ['https://login.microsoftonline.com', 'https://login.microsoftonline.us/', 'https://login.chinacloudapi.cn', 'https://LOGIN.PARTNER.MICROSOFTONLINE.CN']) {
      expect(credentialOptions({ AZURE_AUTHORITY_HOST: host })).toEqual({});
    }
    for (const host of ['https://adfs.azurestack.local/adfs', 'https://login.microsoftonline.com.evil.example', 'https://127.0.0.1:8443']) {
      expect(credentialOptions({ AZURE_AUTHORITY_HOST: host })).toEqual({ disableInstanceDiscovery: true });
    }
    expect(credentialOptions({ AZURE_AUTHORITY_HOST: 'not a url' })).toEqual({});
  });
});

describe('azure-key-vault: an authority’s refusal (pure)', () => {
  it('keeps Entra’s error and AADSTS code from MSAL’s text, never the description, and drops the status EnvironmentCredential invents', () => {
    const description = "invalid_client: Error(s): 7000215 - Timestamp: 2026-01-01 - Description: AADSTS7000215: Invalid client secret provided for app 'c1'. The secret sent was 'hunter2-secret'. - Correlation ID: x";
    const wrapped = Object.assign(new Error(`EnvironmentCredential authentication failed. Status code: 400\nMore details:\n${description}`), {
      name: 'AuthenticationError',
      statusCode: 400,
      errorResponse: { error: 'EnvironmentCredential authentication failed. To troubleshoot, visit https://aka.ms/x.', errorDescription: description },
    });
    expect(azureCredentialsError(wrapped).message).toBe('could not get an Azure token (AuthenticationError, invalid_client, AADSTS7000215)');
    const direct = Object.assign(new Error(description), { name: 'AuthenticationRequiredError' });
    expect(azureCredentialsError(direct).message).toBe('could not get an Azure token (AuthenticationRequiredError, invalid_client, AADSTS7000215)');
    // Anything else keeps the status and a code of a plain shape, as before.
    const managed = Object.assign(new Error('boom hunter2-secret'), { name: 'AuthenticationError', statusCode: 401, errorResponse: { error: 'invalid_request', errorDescription: 'quoted hunter2-secret' } });
    expect(azureCredentialsError(managed).message).toBe('could not get an Azure token (AuthenticationError, HTTP 401, invalid_request)');
  });
});

describe('azure-key-vault: a client secret through an HTTPS authority', () => {
  it('gets a Key Vault token from the authority and reads the vault with it; the keys reach the child', async () => {
    const { authority, vault, secret, token } = await fakes();
    const { dir } = project({ 'secretrun.yaml': layer(vault) });
    const r = await runCli(['run', '--', process.execPath, '-e', PRINT_ENV, 'db_password', 'api_key', 'AZURE_CLIENT_SECRET'], { cwd: dir, env: spEnv(authority, secret) });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ db_password: 'pw-from-vault', api_key: 'key-from-vault', AZURE_CLIENT_SECRET: secret });
    // What MSAL asked of the authority: the tenant's OpenID configuration, then one token request. No instance
    // discovery (the guard would have ended the process), nothing else.
    expect(authority.requests.map((q) => `${q.method} ${q.path}`)).toEqual([
      `GET /${TENANT}/v2.0/.well-known/openid-configuration`,
      `POST /${TENANT}/oauth2/v2.0/token`,
    ]);
    expect(authority.tokenRequests).toHaveLength(1);
    const form = authority.tokenRequests[0];
    expect(Object.fromEntries(['grant_type', 'client_id', 'client_secret', 'scope'].map((k) => [k, form.get(k)]))).toEqual({
      grant_type: 'client_credentials',
      client_id: CLIENT_ID,
      client_secret: secret,
      scope: 'https://vault.azure.net/.default',
    });
    expect(vault.reads.sort()).toEqual(['api-key', 'db-password']);
    expect(vault.requests.every((q) => q.headers.authorization === `Bearer ${token}`)).toBe(true);
  });

  it('the whole default chain (no AZURE_TOKEN_CREDENTIALS) takes the service principal first and tries nothing else', async () => {
    const { authority, vault, secret } = await fakes();
    const env = spEnv(authority, secret);
    delete env.AZURE_TOKEN_CREDENTIALS;
    const r = await runCli(['export', '--format', 'json'], { cwd: project({ 'secretrun.yaml': layer(vault) }).dir, env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ db_password: 'pw-from-vault', api_key: 'key-from-vault' });
    expect(authority.tokenRequests).toHaveLength(1);
  });

  it('a wrong client secret: one line naming the layer and Entra’s code, 125, and no secret or token printed even with SECRETRUN_DEBUG=1', async () => {
    const { authority, vault, secret, token } = await fakes({ quoteSecret: true });
    const wrong = `${secret.slice(0, -4)}Zz9_`;
    const { dir } = project({ 'secretrun.yaml': layer(vault) });
    for (const debug of [{}, { SECRETRUN_DEBUG: '1' }] as Record<string, string>[]) {
      const r = await runCli(['run', '--', process.execPath, '-e', 'process.exit(0)'], { cwd: dir, env: spEnv(authority, wrong, debug) });
      expect(r.code).toBe(125);
      expect(r.stdout).toBe('');
      if (!('SECRETRUN_DEBUG' in debug)) expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^secretrun: layer "azure-key-vault 127\.0\.0\.1:\d+" \(secretrun\.yaml:2:5\): could not get an Azure token \(AuthenticationError, invalid_client, AADSTS7000215\)$/m);
      expect(r.stderr).not.toContain(CLIENT_ID);
      for (const piece of [...secretPieces(wrong), ...secretPieces(secret), ...secretPieces(token)]) expect(r.stdout + r.stderr).not.toContain(piece);
    }
    expect(authority.tokenRequests.map((f) => f.get('client_secret'))).toEqual([wrong, wrong]);
    expect(vault.requests).toHaveLength(0);
  });
});
