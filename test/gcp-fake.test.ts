/**
 * The Secret Manager fake (test/helpers/fake-gcp.ts) is Google's API as Google's own client sees it:
 * @google-cloud/secret-manager in its REST fallback mode, pointed at loopback over http, with a self-signed JWT
 * from a generated service-account key (no token endpoint).
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeSecretManager, type FakeSecretManager } from './helpers/fake-gcp.js';
import { closeAfterEach } from './helpers/http-server.js';

const servers = closeAfterEach(afterEach);

async function officialClient(fake: FakeSecretManager) {
  const { SecretManagerServiceClient } = await import('@google-cloud/secret-manager');
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return new SecretManagerServiceClient({
    fallback: true,
    protocol: 'http',
    apiEndpoint: '127.0.0.1',
    port: fake.port,
    projectId: 'proj-1',
    credentials: { client_email: 'reader@proj-1.iam.gserviceaccount.com', private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() },
  });
}

describe('the Secret Manager fake, read by @google-cloud/secret-manager (REST fallback)', () => {
  it('accesses a version (payload and CRC32C), lists with a filter across pages, and answers errors in Google’s shape', async () => {
    const fake = await startFakeSecretManager({
      project: 'proj-1',
      pageSize: 2,
      secrets: {
        'db-password': { versions: [{ data: 'old' }, { data: 's3cret-v2' }], labels: { app: 'api' } },
        'api-key': { versions: [{ data: 'k' }], labels: { app: 'api' } },
        'other': { versions: [{ data: 'o' }], labels: { app: 'web' } },
        'gone': { versions: [{ data: 'x', state: 'DESTROYED' }], labels: { app: 'api' } },
      },
    });
    servers.push(fake);
    const client = await officialClient(fake);
    const [version] = await client.accessSecretVersion({ name: 'projects/proj-1/secrets/db-password/versions/latest' });
    expect(Buffer.from(version.payload!.data as Uint8Array).toString()).toBe('s3cret-v2');
    expect(Number(version.payload!.dataCrc32c)).toBeGreaterThan(0);
    const [pinned] = await client.accessSecretVersion({ name: 'projects/proj-1/secrets/db-password/versions/1' });
    expect(Buffer.from(pinned.payload!.data as Uint8Array).toString()).toBe('old');

    const listed: string[] = [];
    for await (const s of client.listSecretsAsync({ parent: 'projects/proj-1', filter: 'labels.app=api' })) listed.push(s.name!);
    expect(listed).toEqual(['projects/proj-1/secrets/api-key', 'projects/proj-1/secrets/db-password', 'projects/proj-1/secrets/gone']);
    expect(fake.listCalls()).toBe(2);

    await expect(client.accessSecretVersion({ name: 'projects/proj-1/secrets/gone/versions/latest' })).rejects.toThrow(/"status":"FAILED_PRECONDITION"/);
    await expect(client.accessSecretVersion({ name: 'projects/proj-1/secrets/nope/versions/latest' })).rejects.toThrow(/"status":"NOT_FOUND"/);
    // Every request carried a bearer token the client signed itself.
    expect(fake.requests.every((r) => /^Bearer ey/.test(String(r.headers.authorization)))).toBe(true);
    await client.close();
  });
});
