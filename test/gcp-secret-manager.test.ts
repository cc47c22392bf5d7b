/**
 * `type: gcp-secret-manager` end to end: the built CLI against the loopback Secret Manager fake, with credentials
 * from the fake metadata server or a generated service-account key (a self-signed JWT: no token endpoint), under
 * the preload that ends the process on any connection to a real metadata service.
 */
import { generateKeyPairSync, randomBytes, verify, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { crc32c } from '../src/sources/gcp/crc32c.js';
import gcp from '../src/sources/gcp-secret-manager.js';
import { parseSecretRef } from '../src/sources/gcp/layer.js';
import { payloadText, SecretKeys } from '../src/sources/secret-keys.js';
import { makeContext } from './helpers/source-context.js';
import { serviceRoot } from '../src/sources/gcp/client.js';
import { ROOT, runCli, useTmpProjects } from './helpers/cli.js';
import { secretPieces, startFakeMetadata, startFakeSecretManager, type FakeSecretManagerOptions } from './helpers/fake-gcp.js';
import { closeAfterEach, startServer, type FakeServer } from './helpers/http-server.js';

// Several CLI runs per case, each loading a cloud credential library: give a loaded 2-core machine room.
vi.setConfig({ testTimeout: 90_000 });
const GUARD = join(ROOT, 'test/helpers/no-metadata.cjs');
const project = useTmpProjects(afterEach);
const { serve } = closeAfterEach(afterEach);

const METADATA_TOKEN = 'ya29.metadata-token-for-tests-0001';

describe('CRC32C (Castagnoli)', () => {
  it('matches the known check values', () => {
    expect(crc32c(Buffer.from(''))).toBe(0);
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.from('a'))).toBe(0xc1d04330);
    expect(crc32c(Buffer.alloc(32, 0))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    expect(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i)))).toBe(0x46dd794e);
  });
});

describe('gcp-secret-manager: options (pure)', () => {
  it('reads NAME@VERSION and picks the service root', () => {
    expect(parseSecretRef('db-password')).toEqual({ name: 'db-password', version: 'latest' });
    expect(parseSecretRef('db-password@3')).toEqual({ name: 'db-password', version: '3' });
    expect(serviceRoot(undefined, undefined)).toBe('https://secretmanager.googleapis.com');
    expect(serviceRoot(undefined, 'europe-west1')).toBe('https://secretmanager.europe-west1.rep.googleapis.com');
    expect(serviceRoot('http://127.0.0.1:9/', 'europe-west1')).toBe('http://127.0.0.1:9');
  });
});

/** The CLI's environment for a Google run: the guard preloaded, and whatever the test adds. */
function gcpEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return { NODE_OPTIONS: `--require ${GUARD}`, ...extra };
}

async function metadataSetup(fake: Partial<FakeSecretManagerOptions> & Pick<FakeSecretManagerOptions, 'secrets'>) {
  const metadata = await serve(startFakeMetadata({ project: 'proj-meta', token: METADATA_TOKEN }));
  const sm = await serve(startFakeSecretManager({ project: 'proj-meta', authorize: (a) => a === `Bearer ${METADATA_TOKEN}`, ...fake }));
  const env = gcpEnv({ GCE_METADATA_HOST: metadata.host, METADATA_SERVER_DETECTION: 'ping-only' });
  return { metadata, sm, env };
}

function layerFile(sm: { origin: string }, body: string, before = ''): string {
  return `sources:\n${before}  - type: gcp-secret-manager\n    endpoint: ${sm.origin}\n${body}`;
}

describe('gcp-secret-manager: the metadata server path', () => {
  it('loads named and pinned secrets, the project and token from the metadata server; the key is the id made a name', async () => {
    const { sm, metadata, env } = await metadataSetup({
      secrets: {
        'db-password': { versions: [{ data: 'pw-one' }, { data: 'pw-two' }] },
        'api-key': { versions: [{ data: 'key-one' }, { data: 'key-two', state: 'DISABLED' }] },
        '1st-token': { versions: [{ data: 'first' }] },
      },
    });
    const { dir } = project({ 'secretrun.yaml': layerFile(sm, '    secrets: [db-password, api-key@1, 1st-token, db-password]\n') });
    const r = await runCli(['export', '--format', 'json'], { cwd: dir, env });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ db_password: 'pw-two', api_key: 'key-one', _1st_token: 'first' });
    // Each secret read once (the repeated entry too), all with the metadata server's token.
    expect(sm.accesses.sort()).toEqual(['1st-token@latest', 'api-key@1', 'db-password@latest']);
    expect(metadata.tokensIssued()).toBe(1);
  });

  it('two layers in one run share the session: one token from the metadata server for both', async () => {
    const { sm, metadata, env } = await metadataSetup({ secrets: { 'db-password': { versions: [{ data: 'pw' }] }, 'api-key': { versions: [{ data: 'key' }] } } });
    const second = `  - type: gcp-secret-manager\n    endpoint: ${sm.origin}\n    secrets: [api-key]\n`;
    const { dir } = project({ 'secretrun.yaml': layerFile(sm, '    secrets: [db-password]\n') + second });
    const r = await runCli(['export', '--format', 'json'], { cwd: dir, env });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ db_password: 'pw', api_key: 'key' });
    expect(metadata.tokensIssued()).toBe(1);
  });

  it('loads google-auth-library only when such a layer runs, and no Azure or AWS module with it', async () => {
    const { sm, env } = await metadataSetup({ secrets: { a: { versions: [{ data: 'A' }] } } });
    const p = project({ 'secretrun.yaml': layerFile(sm, '    secrets: [a]\n') });
    const report = p.write(
      'report.cjs',
      "process.on('exit', () => process.stderr.write(JSON.stringify([...new Set(Object.keys(require.cache).map((f) => /node_modules[\\\\/]((?:@[^\\\\/]+[\\\\/])?[^\\\\/]+)/.exec(f)?.[1]).filter(Boolean))])))",
    );
    const r = await runCli(['export'], { cwd: p.dir, env: { ...env, NODE_OPTIONS: `${env.NODE_OPTIONS} --require ${report}` } });
    const packages: string[] = JSON.parse(r.stderr);
    expect(packages).toContain('google-auth-library');
    expect(packages.filter((name) => /^@azure|^@aws-sdk|^@google-cloud|^google-gax|^@grpc/.test(name))).toEqual([]);
  });

  it('a named secret whose version is disabled is an error; a missing one too, unless optional; 403 always', async () => {
    const { sm, env } = await metadataSetup({
      secrets: { off: { versions: [{ data: 'x', state: 'DISABLED' }] }, locked: { versions: [{ data: 'y' }] } },
      forbidden: ['locked'],
    });
    const run = async (body: string) => runCli(['export', '--format', 'json'], { cwd: project({ 'secretrun.yaml': layerFile(sm, body) }).dir, env });
    const off = await run('    secrets: [off]\n');
    expect(off.code).toBe(1);
    expect(off.stderr).toMatch(/secret off: the version is disabled or destroyed \(HTTP 400 FAILED_PRECONDITION\)/);
    const missing = await run('    secrets: [nope]\n');
    expect(missing.stderr).toMatch(/not found in project proj-meta: secret nope/);
    const optional = await run('    secrets: [nope]\n    optional: true\n');
    expect([optional.code, JSON.parse(optional.stdout)]).toEqual([0, {}]);
    const denied = await run('    secrets: [locked]\n    optional: true\n');
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/secret locked: permission denied \(HTTP 403 PERMISSION_DENIED\)/);
    expect(denied.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('reads regional secrets through the location’s path, the project from GOOGLE_CLOUD_PROJECT', async () => {
    const { sm, env } = await metadataSetup({ project: 'proj-env', location: 'europe-west1', secrets: { a: { versions: [{ data: 'regional' }] } } });
    const { dir } = project({ 'secretrun.yaml': layerFile(sm, '    location: europe-west1\n    secrets: [a]\n') });
    const r = await runCli(['export', '--format', 'json'], { cwd: dir, env: { ...env, GOOGLE_CLOUD_PROJECT: 'proj-env' } });
    expect(JSON.parse(r.stdout)).toEqual({ a: 'regional' });
    expect(sm.requests.map((q) => q.path)).toEqual(['/v1/projects/proj-env/locations/europe-west1/secrets/a/versions/latest:access']);
  });

  it('refuses a payload whose CRC32C does not match', async () => {
    const { sm, env } = await metadataSetup({ secrets: { bent: { versions: [{ data: 'payload' }] } }, corrupt: ['bent'] });
    const r = await runCli(['export'], { cwd: project({ 'secretrun.yaml': layerFile(sm, '    secrets: [bent]\n') }).dir, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/secret bent: the payload's CRC32C does not match/);
    expect(r.stdout).toBe('');
  });

  it('rides out a burst of 429s within the deadline', async () => {
    const { sm, env } = await metadataSetup({ secrets: { a: { versions: [{ data: 'A-value' }] } }, throttleFirst: 3 });
    const r = await runCli(['export', '--format', 'json'], { cwd: project({ 'secretrun.yaml': layerFile(sm, '    secrets: [a]\n    deadline: 20\n') }).dir, env });
    expect([r.code, JSON.parse(r.stdout)]).toEqual([0, { a: 'A-value' }]);
    expect(sm.requests.filter((q) => q.path.endsWith(':access'))).toHaveLength(4);
  });

  it('format: json makes a JSON-object payload into keys; a non-UTF-8 payload is an error naming the secret', async () => {
    const { sm, env } = await metadataSetup({
      secrets: { cfg: { versions: [{ data: '{"HOST":"db","PORT":5432}' }] }, bin: { versions: [{ data: Buffer.from([0xff, 0xfe, 0x00]) }] } },
    });
    const json = await runCli(['export', '--format', 'json'], { cwd: project({ 'secretrun.yaml': layerFile(sm, '    secrets: [cfg]\n    format: json\n') }).dir, env });
    expect(JSON.parse(json.stdout)).toEqual({ HOST: 'db', PORT: '5432' });
    const bin = await runCli(['export'], { cwd: project({ 'secretrun.yaml': layerFile(sm, '    secrets: [bin]\n') }).dir, env });
    expect(bin.stderr).toMatch(/secret bin is not UTF-8 text/);
  });

  it('an endpoint or location filled from an earlier layer is refused, naming the option and the layer', async () => {
    const { sm, env } = await metadataSetup({ secrets: { a: { versions: [{ data: 'A' }] } } });
    const { dir } = project({
      '.env': `SM_ROOT=${sm.origin}\nLOC=europe-west1\n`,
      'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n  - type: gcp-secret-manager\n    endpoint: ${SM_ROOT}\n    secrets: [a]\n',
    });
    const r = await runCli(['export'], { cwd: dir, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/`endpoint` is filled from a key of layer "dotenv \.env"/);
    expect(sm.requests).toHaveLength(0);
    const loc = project({
      '.env': 'LOC=europe-west1\n',
      'secretrun.yaml': `sources:\n  - type: dotenv\n    path: .env\n  - type: gcp-secret-manager\n    location: \${LOC}\n    endpoint: ${sm.origin}\n    secrets: [a]\n`,
    });
    expect((await runCli(['export'], { cwd: loc.dir, env })).stderr).toMatch(/`location` is filled from a key of layer "dotenv \.env"/);
    // The same value from the parent environment is the user's own word.
    const fromEnv = project({ 'secretrun.yaml': 'sources:\n  - type: gcp-secret-manager\n    endpoint: ${SM_ROOT}\n    secrets: [a]\n' });
    expect(JSON.parse((await runCli(['export', '--format', 'json'], { cwd: fromEnv.dir, env: { ...env, SM_ROOT: sm.origin } })).stdout)).toEqual({ a: 'A' });
  });
});

/** A service-account key file; its token_uri is a recorder that must never be called (self-signed JWT). */
function serviceAccount(dir: string, tokenUri: string, fields: Record<string, string> = {}): { path: string; publicKey: KeyObject; privatePem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const path = join(dir, 'sa.json');
  writeFileSync(
    path,
    JSON.stringify({
      type: 'service_account',
      project_id: 'proj-key',
      private_key_id: 'key-id-1',
      private_key: privatePem,
      client_email: 'reader@proj-key.iam.gserviceaccount.com',
      client_id: '1234567890',
      token_uri: tokenUri,
      ...fields,
    }),
    { mode: 0o600 },
  );
  return { path, publicKey, privatePem };
}

function verifiesWith(publicKey: KeyObject) {
  return (authorization: string | undefined) => {
    const [h, p, s] = (authorization ?? '').replace(/^Bearer /, '').split('.');
    if (!h || !p || !s) return false;
    return verify('RSA-SHA256', Buffer.from(`${h}.${p}`), publicKey, Buffer.from(s, 'base64url'));
  };
}

/** A `gcloud` on PATH that leaves a mark if anything runs it. */
function trapGcloud(dir: string): { path: string; ran: () => boolean } {
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  const mark = join(dir, 'gcloud-ran');
  writeFileSync(join(bin, 'gcloud'), `#!/bin/sh\ntouch '${mark}'\necho '{}'\n`);
  chmodSync(join(bin, 'gcloud'), 0o755);
  return { path: `${bin}:${process.env.PATH}`, ran: () => existsSync(mark) };
}

describe('gcp-secret-manager: a service-account key (self-signed JWT)', () => {
  let tokenEndpoint: FakeServer;

  it('lists with a filter across pages, skips disabled and destroyed latest versions (shown with SECRETRUN_DEBUG=1), never calls a token endpoint or gcloud', async () => {
    tokenEndpoint = await serve(startServer(() => ({ status: 500 })));
    const p = project();
    const key = serviceAccount(p.dir, `${tokenEndpoint.origin}/token`);
    const gcloud = trapGcloud(p.dir);
    const sm = await serve(
      startFakeSecretManager({
        project: 'proj-key',
        pageSize: 2,
        authorize: verifiesWith(key.publicKey),
        secrets: {
          'api-key': { versions: [{ data: 'k-1' }], labels: { app: 'api' } },
          'db-password': { versions: [{ data: 'p-1' }], labels: { app: 'api' } },
          'old-one': { versions: [{ data: 'o' }, { data: 'o2', state: 'DISABLED' }], labels: { app: 'api' } },
          'shredded': { versions: [{ data: 's', state: 'DESTROYED' }], labels: { app: 'api' } },
          'web-only': { versions: [{ data: 'w' }], labels: { app: 'web' } },
        },
      }),
    );
    p.write('secretrun.yaml', layerFile(sm, '    filter: labels.app=api\n'));
    const env = gcpEnv({ GOOGLE_APPLICATION_CREDENTIALS: key.path, PATH: gcloud.path, SECRETRUN_DEBUG: '1' });
    const r = await runCli(['export', '--format', 'json'], { cwd: p.dir, env });
    expect(JSON.parse(r.stdout)).toEqual({ api_key: 'k-1', db_password: 'p-1' });
    expect(r.stderr).toMatch(/skipped secret old-one: its latest version is disabled or destroyed/);
    expect(r.stderr).toMatch(/skipped secret shredded: its latest version is disabled or destroyed/);
    expect(sm.listCalls()).toBe(2); // four secrets, two a page
    expect(sm.requests.every((q) => q.path.startsWith('/v1/projects/proj-key/'))).toBe(true);
    expect(tokenEndpoint.requests).toHaveLength(0);
    expect(gcloud.ran()).toBe(false);
    // The leak corpus: neither the key nor a token in anything printed, even with SECRETRUN_DEBUG=1.
    const tokens = sm.requests.map((q) => String(q.headers.authorization).replace('Bearer ', ''));
    for (const secret of [...tokens, key.privatePem.split('\n')[1], 'k-1', 'p-1']) expect(r.stderr).not.toContain(secret);
  });

  it('two secrets that become one key are an error naming both', async () => {
    const p = project();
    const tokens = await serve(startServer(() => ({ status: 500 })));
    const key = serviceAccount(p.dir, `${tokens.origin}/token`);
    const sm = await serve(
      startFakeSecretManager({ project: 'proj-key', secrets: { 'a-b': { versions: [{ data: '1' }], labels: { x: 'y' } }, 'a_b': { versions: [{ data: '2' }], labels: { x: 'y' } } } }),
    );
    p.write('secretrun.yaml', layerFile(sm, '    filter: labels.x=y\n'));
    const r = await runCli(['export'], { cwd: p.dir, env: gcpEnv({ GOOGLE_APPLICATION_CREDENTIALS: key.path }) });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/secret a-b and secret a_b both give the key a_b/);
  });

  it('no project anywhere is an error asking for `project:`, and gcloud is never asked', async () => {
    const p = project();
    const tokens = await serve(startServer(() => ({ status: 500 })));
    const key = serviceAccount(p.dir, `${tokens.origin}/token`, { project_id: '' });
    const gcloud = trapGcloud(p.dir);
    p.write('secretrun.yaml', 'sources:\n  - type: gcp-secret-manager\n    endpoint: http://127.0.0.1:9\n    secrets: [a]\n');
    const r = await runCli(['export'], { cwd: p.dir, env: gcpEnv({ GOOGLE_APPLICATION_CREDENTIALS: key.path, PATH: gcloud.path }) });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no Google Cloud project: set `project:`/);
    expect(gcloud.ran()).toBe(false);
  });

  it('without any credentials: one line saying how to provide them, nothing reaches a metadata service', async () => {
    const p = project({ 'secretrun.yaml': 'sources:\n  - type: gcp-secret-manager\n    project: p1\n    endpoint: http://127.0.0.1:9\n    secrets: [a]\n' });
    const r = await runCli(['export'], { cwd: p.dir, env: gcpEnv() });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no Google credentials found/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('gcp-secret-manager: the leak corpus (SECRETRUN_DEBUG=1)', () => {
  it('no piece of a token or a value in anything printed, whatever fails and whatever the server quotes', async () => {
    const token = `ya29.${randomBytes(24).toString('base64url')}`;
    const value = randomBytes(24).toString('base64url');
    const metadata = await serve(startFakeMetadata({ project: 'proj-meta', token }));
    const env = gcpEnv({ GCE_METADATA_HOST: metadata.host, METADATA_SERVER_DETECTION: 'ping-only', SECRETRUN_DEBUG: '1' });
    const secrets = {
      locked: { versions: [{ data: value }] },
      bent: { versions: [{ data: value }] },
      'x-y': { versions: [{ data: value }], labels: { k: 'v' } },
      'x_y': { versions: [{ data: value }], labels: { k: 'v' } },
      notjson: { versions: [{ data: value }] },
    };
    const quoting = await serve(startFakeSecretManager({ project: 'proj-meta', secrets, forbidden: ['locked'], corrupt: ['bent'], quoteCredentials: true }));
    const rejecting = await serve(startFakeSecretManager({ project: 'proj-meta', secrets, authorize: () => false, quoteCredentials: true }));
    const cases = [
      layerFile(quoting, '    secrets: [locked]\n'),
      layerFile(quoting, '    secrets: [bent]\n'),
      layerFile(quoting, '    filter: labels.k=v\n'),
      layerFile(quoting, '    secrets: [notjson]\n    format: json\n'),
      layerFile(rejecting, '    secrets: [locked]\n'),
    ];
    for (const file of cases) {
      const r = await runCli(['export'], { cwd: project({ 'secretrun.yaml': file }).dir, env });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^secretrun: layer "gcp-secret-manager/m);
      const printed = r.stdout + r.stderr;
      for (const piece of [...secretPieces(token), ...secretPieces(value)]) expect(printed).not.toContain(piece);
    }
  }, 150_000);
});

describe('gcp-secret-manager: one credentials client per session', () => {
  it('layers sharing a session share one token; without a session each load gets its own', async () => {
    const metadata = await serve(startFakeMetadata({ project: 'proj-meta', token: METADATA_TOKEN }));
    const sm = await serve(startFakeSecretManager({ project: 'proj-meta', secrets: { a: { versions: [{ data: 'A' }] }, b: { versions: [{ data: 'B' }] } } }));
    const saved = { host: process.env.GCE_METADATA_HOST, detection: process.env.METADATA_SERVER_DETECTION };
    process.env.GCE_METADATA_HOST = metadata.host;
    process.env.METADATA_SERVER_DETECTION = 'ping-only';
    try {
      const session = new Map<string, unknown>();
      const options = (secret: string) => ({ type: 'gcp-secret-manager', project: 'proj-meta', endpoint: sm.origin, secrets: [secret] });
      const context = makeContext({ session, env: { GCE_METADATA_HOST: metadata.host } });
      expect(await gcp.load(options('a'), context)).toEqual({ a: 'A' });
      expect(await gcp.load(options('b'), context)).toEqual({ b: 'B' });
      expect(metadata.tokensIssued()).toBe(1);
      expect(context.secrets).toContain(METADATA_TOKEN);
      await gcp.load(options('a'), makeContext({ env: {} }));
      expect(metadata.tokensIssued()).toBe(2);
    } finally {
      for (const [name, value] of [['GCE_METADATA_HOST', saved.host], ['METADATA_SERVER_DETECTION', saved.detection]] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});

describe('secret keys (pure)', () => {
  it('names become variable names, JSON objects become keys, and a collision names both secrets', () => {
    const keys = new SecretKeys();
    keys.add('db-password', 'pw', 'raw');
    keys.add('9lives', 'cat', 'raw');
    keys.add('cfg', '{"HOST":"h","N":1,"O":{"a":true}}', 'json');
    expect(keys.keys).toEqual({ db_password: 'pw', _9lives: 'cat', HOST: 'h', N: '1', O: '{"a":true}' });
    expect(() => keys.add('db_password', 'x', 'raw')).toThrow('secret db-password and secret db_password both give the key db_password');
    expect(() => keys.add('list', '[1]', 'json')).toThrow('secret list is not a JSON object (`format: json`)');
    expect(() => payloadText(Buffer.from([0xc3]), 'secret s')).toThrow('secret s is not UTF-8 text');
    expect(() => payloadText(Buffer.from('a\0b'), 'secret s')).toThrow('secret s holds a NUL character');
  });
});
