/**
 * `ref+azurekeyvault://NAME/SECRET[/VERSION]` end to end through the built CLI. A reference names a vault, never a
 * host, so the CLI goes to https://NAME.vault.azure.net on 443 as it would in production: a test preload
 * (host-redirect.cjs) routes that one destination to an HTTPS Key Vault fake on loopback, whose certificate from a
 * throwaway test CA (NODE_EXTRA_CA_CERTS) names *.vault.azure.net, so TLS is verified against the vault's real
 * name. Every other host ends the process. Tokens from the fake managed-identity endpoint on the same server.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PRINT_ENV, ROOT, runCli, useTmpProjects } from './helpers/cli.js';
import { startFakeKeyVault, type FakeKeyVault } from './helpers/fake-azure.js';
import { testCa } from './helpers/test-ca.js';
import { closeAfterEach } from './helpers/http-server.js';

vi.setConfig({ testTimeout: 90_000 });
const PRELOAD = join(ROOT, 'test/helpers/host-redirect.cjs');
const project = useTmpProjects(afterEach);
const servers = closeAfterEach(afterEach);

const TOKEN = 'eyJ0eXAi.managed-identity-for-azure-refs-0004';
const HEADER = 'identity-header-for-azure-refs-0005';

async function vault(tls = testCa().tls): Promise<FakeKeyVault> {
  const fake = await startFakeKeyVault({
    tls,
    tokens: [TOKEN],
    managedIdentity: { header: HEADER, token: TOKEN },
    secrets: { 'db-password': { value: 'az-two', versions: { v1: 'az-one' } }, api: { value: JSON.stringify({ key: 'az-api-key', n: 3 }) } },
  });
  servers.push(fake);
  return fake;
}

/** The vault `my-vault` (https://my-vault.vault.azure.net:443) is the fake; nothing else is reachable. */
function env(fake: FakeKeyVault, extra: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_OPTIONS: `--require ${PRELOAD}`,
    SECRETRUN_TEST_REDIRECT: `my-vault.vault.azure.net:443=127.0.0.1:${fake.port}`,
    NODE_EXTRA_CA_CERTS: testCa().caPath,
    AZURE_TOKEN_CREDENTIALS: 'ManagedIdentityCredential',
    IDENTITY_ENDPOINT: `${fake.origin}/msi/token`,
    IDENTITY_HEADER: HEADER,
    ...extra,
  };
}

describe('ref+azurekeyvault through the built CLI', () => {
  it('a committed .env: one read per distinct secret version, pointers and versions, at https://NAME.vault.azure.net', async () => {
    const fake = await vault();
    const { dir } = project({
      '.env': [
        'A=ref+azurekeyvault://my-vault/db-password',
        'B=postgres://u:ref+azurekeyvault://my-vault/db-password+@h',
        'C=ref+azurekeyvault://my-vault/db-password/v1',
        'D="ref+azurekeyvault://my-vault/api#/key"',
        'E="ref+azurekeyvault://my-vault/api#/n"',
        // Key Vault compares names case-insensitively: the same secret, not another read.
        'F=ref+azurekeyvault://MY-VAULT/DB-Password',
      ].join('\n'),
    });
    const r = await runCli(['--dotenv', '.env', '--', process.execPath, '-e', PRINT_ENV, 'A', 'B', 'C', 'D', 'E', 'F'], { cwd: dir, env: env(fake) });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ A: 'az-two', B: 'postgres://u:az-two@h', C: 'az-one', D: 'az-api-key', E: '3', F: 'az-two' });
    expect(fake.reads.sort()).toEqual(['api', 'db-password', 'db-password/v1']);
    // The vault was addressed by its own name (TLS verified for it), with a token for Key Vault's resource only.
    const reads = fake.requests.filter((q) => q.path.startsWith('/secrets/'));
    expect(new Set(reads.map((q) => q.headers.host))).toEqual(new Set(['my-vault.vault.azure.net']));
    expect(reads.every((q) => q.headers.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(fake.tokenResources).toEqual(['https://vault.azure.net']);
  });

  it('a layer and a reference naming the same secret: one read in the resolve, whichever asked first', async () => {
    const fake = await vault();
    const { dir } = project({
      'secretrun.yaml': 'sources:\n  - type: azure-key-vault\n    vault: my-vault\n    secrets: [db-password, api]\n    case: upper\n  - type: dotenv\n    path: .env\n',
      '.env': 'REF_DB=ref+azurekeyvault://my-vault/db-password\nREF_KEY="ref+azurekeyvault://my-vault/api#/key"\n',
    });
    const r = await runCli(['--', process.execPath, '-e', PRINT_ENV, 'DB_PASSWORD', 'REF_DB', 'REF_KEY'], { cwd: dir, env: env(fake) });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ DB_PASSWORD: 'az-two', REF_DB: 'az-two', REF_KEY: 'az-api-key' });
    expect(fake.reads.sort()).toEqual(['api', 'db-password']);
  });

  it('the route changes where the connection goes, not whom TLS verifies: a certificate that does not name the vault is refused', async () => {
    // Certificates for 127.0.0.1 and localhost only: the token endpoint passes, my-vault.vault.azure.net does not.
    const loopbackOnly = testCa(['127.0.0.1', 'localhost']);
    const fake = await vault(loopbackOnly.tls);
    const { dir } = project({ '.env': 'A=ref+azurekeyvault://my-vault/db-password\n' });
    const r = await runCli(['--dotenv', '.env', '--', process.execPath, '-e', 'process.exit(0)'], { cwd: dir, env: env(fake, { NODE_EXTRA_CA_CERTS: loopbackOnly.caPath }) });
    expect(r.code).toBe(125);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^secretrun: layer "dotenv \.env": A: ref\+azurekeyvault:\/\/my-vault\/db-password: network error \(ERR_TLS_CERT_ALTNAME_INVALID\) talking to https:\/\/my-vault\.vault\.azure\.net$/m);
    expect(fake.tokenResources).toEqual(['https://vault.azure.net']);
    expect(fake.reads).toEqual([]);
    expect(r.stderr).not.toContain(TOKEN);
  });
});
