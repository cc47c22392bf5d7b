/**
 * `ref+gcpsecrets://` and `ref+azurekeyvault://` against the Google and Azure fakes (test/helpers/fake-gcp.ts,
 * fake-azure.ts): one read per distinct secret version, pointers, versions, and the store address taken from the
 * parent environment only. Google end to end through the built CLI; Azure's hook called directly here for its
 * parameter and not-found rules, its vault's address pointed at the loopback fake (end to end through the built CLI
 * at https://NAME.vault.azure.net: references-azure.test.ts).
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseReferences, ReferenceResolver, schemesOf } from '../src/core/references.js';
import azureKeyVault from '../src/sources/azure-key-vault.js';
import { readKeyVaultReferences } from '../src/sources/azure/layer.js';
import gcp from '../src/sources/gcp-secret-manager.js';
import { ROOT, runCli, useTmpProjects, PRINT_ENV } from './helpers/cli.js';
import { startFakeKeyVault } from './helpers/fake-azure.js';
import { startFakeMetadata, startFakeSecretManager } from './helpers/fake-gcp.js';
import { applyProcessEnv, makeContext } from './helpers/moto.js';
import { closeAfterEach } from './helpers/http-server.js';

const GUARD = join(ROOT, 'test/helpers/no-metadata.cjs');
const project = useTmpProjects(afterEach);
const servers = closeAfterEach(afterEach);

describe('ref+gcpsecrets', () => {
  it('a committed .env: one access per distinct secret version, pointers and versions; the endpoint from gcloud\'s override variable', async () => {
    const token = 'ya29.metadata-token-for-refs-0001';
    const metadata = await startFakeMetadata({ project: 'proj-meta', token });
    const sm = await startFakeSecretManager({
      project: 'proj-ref',
      authorize: (a) => a === `Bearer ${token}`,
      secrets: {
        'db-password': { versions: [{ data: 'pw-one' }, { data: 'pw-two' }] },
        api: { versions: [{ data: JSON.stringify({ key: 'api-key-1', n: 3 }) }] },
      },
    });
    servers.push(metadata, sm);
    const { dir } = project({
      '.env': [
        'A=ref+gcpsecrets://proj-ref/db-password',
        'B=postgres://u:ref+gcpsecrets://proj-ref/db-password+@h',
        'C=ref+gcpsecrets://proj-ref/db-password?version=1',
        'D="ref+gcpsecrets://proj-ref/api#/key"',
        'E="ref+gcpsecrets://proj-ref/api#/n"',
      ].join('\n'),
    });
    const env = { NODE_OPTIONS: `--require ${GUARD}`, GCE_METADATA_HOST: metadata.host, METADATA_SERVER_DETECTION: 'ping-only', CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER: `${sm.origin}/` };
    const r = await runCli(['--dotenv', '.env', '--', process.execPath, '-e', PRINT_ENV, 'A', 'B', 'C', 'D', 'E'], { cwd: dir, env });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ A: 'pw-two', B: 'postgres://u:pw-two@h', C: 'pw-one', D: 'api-key-1', E: '3' });
    expect(sm.accesses.sort()).toEqual(['api@latest', 'db-password@1', 'db-password@latest']);
  });

  it('refuses what the scheme does not take, naming the key', () => {
    const schemes = schemesOf([gcp]);
    expect(() => parseReferences('ref+gcpsecrets://p/s?endpoint=http://x', schemes)).toThrow('parameter "endpoint" is not accepted (accepted: version)');
    expect(() => parseReferences('ref+gcpsecrets://just-a-secret', schemes)).toThrow('the path is not PROJECT/SECRET');
  });
});

describe('ref+azurekeyvault', () => {
  it('one read per distinct secret version, a pointer into a JSON value; no parameters at all', async () => {
    const header = 'identity-header-for-refs-0002';
    const token = 'eyJ0eXAi.managed-identity-for-refs-0003';
    const fake = await startFakeKeyVault({
      tokens: [token],
      managedIdentity: { header, token },
      secrets: { 'db-password': { value: 'az-two', versions: { v1: 'az-one' } }, api: { value: JSON.stringify({ key: 'az-api-key' }) } },
    });
    servers.push(fake);
    const env = { AZURE_TOKEN_CREDENTIALS: 'ManagedIdentityCredential', IDENTITY_ENDPOINT: `${fake.origin}/msi/token`, IDENTITY_HEADER: header };
    const restore = applyProcessEnv(env);
    try {
      const schemes = new Map([['azurekeyvault', { ...azureKeyVault.reference!, resolve: (targets, context) => readKeyVaultReferences(targets, context, () => ({ origin: fake.origin, resource: 'https://vault.azure.net' })) } as typeof azureKeyVault.reference & object]]);
      const resolver = new ReferenceResolver(schemes, { ...makeContext({ env: { ...process.env } }), session: new Map() });
      const pending = (key: string, value: string) => ({ key, value, refs: parseReferences(value, schemes), fail: (m: string) => new Error(m) });
      const got = await resolver.resolve([
        pending('A', 'ref+azurekeyvault://my-vault/db-password'),
        pending('B', 'x=ref+azurekeyvault://my-vault/db-password+'),
        pending('C', 'ref+azurekeyvault://my-vault/db-password/v1'),
        pending('D', 'ref+azurekeyvault://my-vault/api#/key'),
      ]);
      expect(got.map((g) => g.value)).toEqual(['az-two', 'x=az-two', 'az-one', 'az-api-key']);
      expect(fake.reads.sort()).toEqual(['api', 'db-password', 'db-password/v1']);
      await expect(resolver.resolve([pending('M', 'ref+azurekeyvault://my-vault/gone')])).rejects.toThrow('M: ref+azurekeyvault://my-vault/gone: not found');
    } finally {
      restore();
    }
    const schemes = schemesOf([azureKeyVault]);
    expect(() => parseReferences('ref+azurekeyvault://my-vault/s?version=1', schemes)).toThrow('parameter "version" is not accepted (it takes none)');
    expect(() => parseReferences('ref+azurekeyvault://evil.example.com/s', schemes)).toThrow('a vault name, never a host');
  });
});
