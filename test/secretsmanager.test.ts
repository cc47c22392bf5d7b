/**
 * `type: secretsmanager` against a real Secrets Manager emulator (moto_server, started by test/setup/moto.ts)
 * through the real AWS SDK, seeded with the SDK. Every request goes to 127.0.0.1; the environment holds dummy
 * credentials only. A loopback proxy in front of moto records the operations and plays throttling and refusals.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { NotFoundError } from '../src/core/errors.js';
import { withoutNodeVersionWarning } from '../src/sources/aws/client.js';
import { readOptions } from '../src/core/validate.js';
import secretsmanager, { answersId, secretsManagerOptions, secretsToEnv } from '../src/sources/secretsmanager.js';
import { applyProcessEnv, closedPortUrl, dummyAwsEnv, expectOneLine, failure, makeContext, runInProject, seedSecrets, startAwsProxy, type SeedSecret } from './helpers/moto.js';
import { PRINT_ENV } from './helpers/cli.js';

const moto = inject('motoEndpoint');
// Its own namespace, so other files can use the same moto_server in parallel (and re-runs start clean).
const NS = `SrSmTest-${process.pid}-${Date.now().toString(36)}`;
const DB = { HOST: 'db.internal', PORT: 5432, OPTIONS: { sslmode: 'require' }, EMPTY: null };
const BINARY = new Uint8Array([0x68, 0x69, 0x00, 0xff, 0x10]); // not UTF-8 text
const seed: SeedSecret[] = [
  { name: `${NS}/db`, value: JSON.stringify(DB) },
  { name: `${NS}/api`, value: JSON.stringify({ API_KEY: 'k-123', API_URL: 'https://api.example.com' }) },
  { name: `${NS}/other`, value: JSON.stringify({ OTHER: 'o' }) },
  { name: `${NS}/clash`, value: JSON.stringify({ API_KEY: 'from clash' }) },
  { name: `${NS}/text`, value: 'just a plain token' },
  { name: `${NS}/text-json-array`, value: '["a","b"]' },
  { name: `${NS}/bin`, value: BINARY },
  { name: `${NS}/bin-text`, value: new TextEncoder().encode('decoded text') },
  { name: `${NS}/rotated`, value: JSON.stringify({ PASSWORD: 'v1' }), then: [JSON.stringify({ PASSWORD: 'v2' }), JSON.stringify({ PASSWORD: 'v3' })] },
  ...Array.from({ length: 25 }, (_, i) => ({ name: `${NS}/many/${i}`, value: JSON.stringify({ [`K${i}`]: `v${i}` }) })),
];

function load(options: Record<string, unknown>, ctx = makeContext({ layer: 'secretsmanager test' })) {
  return secretsmanager.load({ type: 'secretsmanager', endpoint: moto, ...options }, ctx);
}


describe.skipIf(!moto)('secretsmanager layer against moto_server', () => {
  let restoreEnv: () => void;
  beforeAll(async () => {
    restoreEnv = applyProcessEnv(dummyAwsEnv());
    await seedSecrets(moto, seed);
  });
  afterAll(() => restoreEnv?.());

  it('a JSON secret becomes keys, as a json layer: numbers as text, nested objects as JSON, null omitted', async () => {
    const proxy = await startAwsProxy(moto);
    try {
      expect(await load({ secret_id: `${NS}/db`, endpoint: proxy.url })).toEqual({ HOST: 'db.internal', PORT: '5432', OPTIONS: '{"sslmode":"require"}' });
      expect(proxy.targets).toEqual(['secretsmanager.GetSecretValue']);
    } finally {
      await proxy.close();
    }
  });

  it('select and flatten work as for a json layer', async () => {
    expect(await load({ secret_id: `${NS}/db`, flatten: '__' })).toMatchObject({ OPTIONS__sslmode: 'require', HOST: 'db.internal' });
    expect(await load({ secret_id: `${NS}/db`, select: 'OPTIONS' })).toEqual({ sslmode: 'require' });
    const err = await failure(load({ secret_id: `${NS}/db`, select: 'HOST' }));
    expectOneLine(err);
    expect(err.message).toContain(`secret ${NS}/db: select "HOST" points at a string`);
  });

  it('a text secret needs `key`, and with it becomes that one key', async () => {
    expect(await load({ secret_id: `${NS}/text`, key: 'TOKEN' })).toEqual({ TOKEN: 'just a plain token' });
    const err = await failure(load({ secret_id: `${NS}/text` }));
    expectOneLine(err);
    expect(err.message).toBe(`secret ${NS}/text is not a JSON object; set \`key: NAME\` to load it as one key`);
    // JSON that is not an object is "any other string" too.
    expect((await failure(load({ secret_id: `${NS}/text-json-array` }))).message).toContain('is not a JSON object');
    // With `key`, a JSON secret is taken whole.
    expect(await load({ secret_id: `${NS}/api`, key: 'API_JSON' })).toEqual({ API_JSON: JSON.stringify({ API_KEY: 'k-123', API_URL: 'https://api.example.com' }) });
  });

  it('a binary secret needs `key` and arrives as base64 text', async () => {
    expect(await load({ secret_id: `${NS}/bin`, key: 'BLOB' })).toEqual({ BLOB: Buffer.from(BINARY).toString('base64') });
    const err = await failure(load({ secret_id: `${NS}/bin` }));
    expectOneLine(err);
    expect(err.message).toMatch(new RegExp(`^secret ${NS}/bin is binary; set \`key: NAME\``));
  });

  it('several ids at AWSCURRENT: one BatchGetSecretValue call, keys merged in the order of the ids', async () => {
    const proxy = await startAwsProxy(moto);
    try {
      const out = await load({ secret_ids: [`${NS}/api`, `${NS}/other`, `${NS}/db`], endpoint: proxy.url });
      expect(out).toEqual({ API_KEY: 'k-123', API_URL: 'https://api.example.com', OTHER: 'o', HOST: 'db.internal', PORT: '5432', OPTIONS: '{"sslmode":"require"}' });
      expect(Object.keys(out)[0]).toBe('API_KEY');
      expect(proxy.targets).toEqual(['secretsmanager.BatchGetSecretValue']);
    } finally {
      await proxy.close();
    }
  });

  it('25 ids are two batches of at most 20, sent concurrently', async () => {
    const proxy = await startAwsProxy(moto);
    try {
      const ids = Array.from({ length: 25 }, (_, i) => `${NS}/many/${i}`);
      const out = await load({ secret_ids: ids, endpoint: proxy.url });
      expect(Object.keys(out)).toEqual(Array.from({ length: 25 }, (_, i) => `K${i}`));
      expect(proxy.targets).toEqual(['secretsmanager.BatchGetSecretValue', 'secretsmanager.BatchGetSecretValue']);
    } finally {
      await proxy.close();
    }
  });

  it('without the batch permission (access denied on the whole call), each id is read on its own', async () => {
    const denied = { status: 400, type: 'AccessDeniedException', message: 'not authorized to perform: secretsmanager:BatchGetSecretValue' };
    const proxy = await startAwsProxy(moto, { failFirst: 1, failWith: denied });
    try {
      const out = await load({ secret_ids: [`${NS}/api`, `${NS}/other`], endpoint: proxy.url });
      expect(out).toEqual({ API_KEY: 'k-123', API_URL: 'https://api.example.com', OTHER: 'o' });
      expect(proxy.targets).toEqual(['secretsmanager.BatchGetSecretValue', 'secretsmanager.GetSecretValue', 'secretsmanager.GetSecretValue']);
    } finally {
      await proxy.close();
    }
  });

  it('access denied on a secret fails fast, naming the secret', async () => {
    const denied = { status: 400, type: 'AccessDeniedException', message: 'User ci is not authorized to perform: secretsmanager:GetSecretValue' };
    const proxy = await startAwsProxy(moto, { failFirst: 99, failWith: denied });
    try {
      const err = await failure(load({ secret_id: `${NS}/api`, endpoint: proxy.url }));
      expectOneLine(err);
      expect(err.message).toBe(`AccessDeniedException reading secret ${NS}/api (HTTP 400, region us-east-1)`);
      expect(proxy.targets).toHaveLength(1);
    } finally {
      await proxy.close();
    }
  });

  it('two secrets giving the same key are an error naming both, never a value', async () => {
    const err = await failure(load({ secret_ids: [`${NS}/api`, `${NS}/clash`] }));
    expectOneLine(err);
    expect(err.message).toMatch(new RegExp(`^secret ${NS}/api and secret ${NS}/clash both give the key API_KEY`));
    expect(err.message).not.toMatch(/k-123|from clash/);
  });

  it('version_stage reads another version, one GetSecretValue per id (the batch call has no stage)', async () => {
    expect(await load({ secret_id: `${NS}/rotated` })).toEqual({ PASSWORD: 'v3' });
    expect(await load({ secret_id: `${NS}/rotated`, version_stage: 'AWSPREVIOUS' })).toEqual({ PASSWORD: 'v2' });
    const proxy = await startAwsProxy(moto);
    try {
      const out = await load({ secret_ids: [`${NS}/rotated`, `${NS}/other`], version_stage: 'AWSCURRENT', endpoint: proxy.url });
      expect(out).toEqual({ PASSWORD: 'v3', OTHER: 'o' });
      proxy.targets.length = 0;
      const err = await failure(load({ secret_ids: [`${NS}/rotated`, `${NS}/other`], version_stage: 'AWSPREVIOUS', endpoint: proxy.url }));
      // `other` was never rotated, so it has no AWSPREVIOUS version.
      expect(err).toBeInstanceOf(NotFoundError);
      expect(err.message).toBe(`ResourceNotFoundException: secret not found at version stage AWSPREVIOUS: ${NS}/other (region us-east-1)`);
      expect(proxy.targets).toEqual(['secretsmanager.GetSecretValue', 'secretsmanager.GetSecretValue']);
    } finally {
      await proxy.close();
    }
  });

  it('a missing secret is a not-found error naming it; in a batch (Errors[]) every missing id is named', async () => {
    const one = await failure(load({ secret_id: `${NS}/nope` }));
    expect(one).toBeInstanceOf(NotFoundError);
    expectOneLine(one);
    expect(one.message).toBe(`ResourceNotFoundException: secret not found: ${NS}/nope (region us-east-1)`);
    const many = await failure(load({ secret_ids: [`${NS}/api`, `${NS}/gone1`, `${NS}/other`, `${NS}/gone2`] }));
    expect(many).toBeInstanceOf(NotFoundError);
    expect(many.message).toBe(`ResourceNotFoundException: 2 secrets not found: ${NS}/gone1, ${NS}/gone2 (region us-east-1)`);
  });

  it('optional: true with secret_ids skips the missing ones and keeps the rest', async () => {
    expect(await load({ secret_ids: [`${NS}/other`, `${NS}/gone`], optional: true })).toEqual({ OTHER: 'o' });
  });

  it('a secret named by its ARN, full or without the random suffix, is found in a batch', async () => {
    const proxy = await startAwsProxy(moto);
    try {
      const client = withoutNodeVersionWarning(() => new SecretsManagerClient({ endpoint: moto, region: 'us-east-1' }));
      const arn = (await client.send(new DescribeSecretCommand({ SecretId: `${NS}/other` }))).ARN!;
      client.destroy();
      const partial = arn.slice(0, -7);
      expect(await load({ secret_ids: [arn, `${NS}/api`], endpoint: proxy.url })).toMatchObject({ OTHER: 'o', API_KEY: 'k-123' });
      expect(await load({ secret_ids: [partial, `${NS}/api`], endpoint: proxy.url })).toMatchObject({ OTHER: 'o', API_KEY: 'k-123' });
    } finally {
      await proxy.close();
    }
  });

  it('honours AWS_ENDPOINT_URL_SECRETS_MANAGER (over AWS_ENDPOINT_URL) when the layer has no endpoint', async () => {
    const proxy = await startAwsProxy(moto);
    const restore = applyProcessEnv({ AWS_ENDPOINT_URL_SECRETS_MANAGER: proxy.url, AWS_ENDPOINT_URL: await closedPortUrl() });
    try {
      const out = await secretsmanager.load({ type: 'secretsmanager', secret_id: `${NS}/other`, retries: 0 }, makeContext());
      expect(out).toEqual({ OTHER: 'o' });
      expect(proxy.targets).toEqual(['secretsmanager.GetSecretValue']);
    } finally {
      restore();
      await proxy.close();
    }
  });

  it('throttling (ThrottlingException from a proxy in front of moto) is retried with backoff', async () => {
    const proxy = await startAwsProxy(moto, { failFirst: 2 });
    try {
      expect(await load({ secret_ids: [`${NS}/api`, `${NS}/other`], endpoint: proxy.url })).toEqual({ API_KEY: 'k-123', API_URL: 'https://api.example.com', OTHER: 'o' });
      expect(proxy.targets).toEqual(Array(3).fill('secretsmanager.BatchGetSecretValue'));
    } finally {
      await proxy.close();
    }
  });

  it('a closed port names Secrets Manager, the endpoint and the region', async () => {
    const url = await closedPortUrl();
    const err = await failure(load({ secret_id: `${NS}/api`, endpoint: url, retries: 1 }));
    expectOneLine(err);
    expect(err.message).toMatch(new RegExp(`^cannot reach Secrets Manager at ${url}: .*ECONNREFUSED.*\\(region us-east-1, 2 attempts in [\\d.]+ s\\)$`));
  });
});

describe.skipIf(!moto)('secretrun with a secretsmanager layer (built CLI)', () => {
  beforeAll(async () => {
    await seedSecrets(moto, [
      { name: `${NS}/cli/db`, value: JSON.stringify({ DB_PASSWORD: 'pw-cli' }) },
      { name: `${NS}/cli/bin`, value: new TextEncoder().encode('decoded text') },
    ]);
  });

  const secretrun = runInProject;

  it('keys reach the child with nothing on stderr; a binary secret is decoded with `decode`', async () => {
    const yaml = [
      'sources:',
      '  - type: secretsmanager',
      `    secret_id: ${NS}/cli/db`,
      '  - type: secretsmanager',
      `    secret_id: ${NS}/cli/bin`,
      '    key: BLOB',
      '    decode: { BLOB: base64 }',
      '',
    ].join('\n');
    const r = await secretrun(yaml, ['--', process.execPath, '-e', PRINT_ENV, 'DB_PASSWORD', 'BLOB'], { AWS_ENDPOINT_URL_SECRETS_MANAGER: moto });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ DB_PASSWORD: 'pw-cli', BLOB: 'decoded text' });
  });

  it('a missing secret stops the run with exit 125 and one line naming the layer and the id; optional: true gives an empty layer', async () => {
    const layer = (optional: boolean) => `sources:\n  - type: secretsmanager\n    secret_id: ${NS}/cli/gone\n    optional: ${optional}\n`;
    const strict = await secretrun(layer(false), ['--', process.execPath, '-e', 'process.stdout.write("child ran")'], { AWS_ENDPOINT_URL: moto });
    expect(strict.code).toBe(125);
    expect(strict.stdout).toBe('');
    expect(strict.stderr.trim().split('\n')).toHaveLength(1);
    expect(strict.stderr).toContain(`layer "secretsmanager ${NS}/cli/gone" (secretrun.yaml:2:5): ResourceNotFoundException: secret not found: ${NS}/cli/gone`);
    const lenient = await secretrun(layer(true), ['export', '--format', 'json'], { AWS_ENDPOINT_URL: moto });
    expect(lenient.stderr).toBe('');
    expect(lenient.code).toBe(0);
    expect(JSON.parse(lenient.stdout)).toEqual({});
  });

  it('the sources file is checked: unknown keys and a key with secret_ids are located errors', async () => {
    const bad = await secretrun(`sources:\n  - type: secretsmanager\n    secret_id: x\n    secretid: y\n`, ['check']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/secretrun\.yaml:4:5.*secretid/);
    const both = await secretrun(`sources:\n  - type: secretsmanager\n    secret_ids: [a, b]\n    key: K\n`, ['export'], { AWS_ENDPOINT_URL: moto });
    expect(both.code).toBe(1);
    expect(both.stderr).toContain('`key` takes one whole secret, so it needs `secret_id`, not `secret_ids`');
  });
});

describe('secretsmanager options and keys (pure)', () => {
  it('needs exactly one of secret_id and secret_ids; key only with secret_id and only as a variable name', async () => {
    const reject = (raw: Record<string, unknown>) => failure(secretsmanager.load(raw, makeContext()));
    expect((await reject({})).message).toMatch(/secret_id.*secret_ids/);
    expect((await reject({ secret_id: 'a', secret_ids: ['b'] })).message).toMatch(/secret_id.*secret_ids/);
    expect((await reject({ secret_ids: [] })).message).toMatch(/secret_ids/);
    expect((await reject({ secret_id: 'a', key: '1X' })).message).toMatch(/`key`.*environment variable name/);
    expect((await reject({ secret_id: 'a', key: 'K', select: 'x' })).message).toMatch(/`select` and `flatten` apply/);
    expect((await reject({ secret_ids: ['a'], key: 'K' })).message).toBe('`key` takes one whole secret, so it needs `secret_id`, not `secret_ids`');
    expect((await reject({ secret_id: 'a', endpoint: 'localhost:4566' })).message).toMatch(/`endpoint`.*an http\(s\) URL such as https:\/\/secretsmanager\.eu-west-1\.amazonaws\.com/);
    expect(secretsManagerOptions(readOptions(secretsmanager, { secret_ids: ['a', 'b', 'a'] }) as Parameters<typeof secretsManagerOptions>[0])).toMatchObject({
      ids: ['a', 'b'],
      many: true,
      versionStage: 'AWSCURRENT',
      timeoutMs: 10_000,
      retries: 3,
      deadlineMs: 120_000,
    });
  });

  it('a batch entry answers a name, a full ARN, or an ARN without its random suffix', () => {
    const entry = { Name: 'prod/db', ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf' };
    expect(answersId('prod/db', entry)).toBe(true);
    expect(answersId(entry.ARN, entry)).toBe(true);
    expect(answersId('arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db', entry)).toBe(true);
    expect(answersId('prod/d', entry)).toBe(false);
    expect(answersId('arn:aws:secretsmanager:us-east-1:123456789012:secret:prod', entry)).toBe(false);
  });

  it('a secret without a value never quotes it in an error', () => {
    expect(() => secretsToEnv([{ id: 's', text: 'hunter2-secret' }], { many: false })).toThrow(/^secret s is not a JSON object; set `key: NAME`/);
    expect(() => secretsToEnv([{ id: 's', text: 'hunter2-secret' }], { many: true })).toThrow(/^secret s is not a JSON object; read it with its own layer \(`secret_id` and `key: NAME`\)$/);
    expect(() => secretsToEnv([{ id: 's', text: '{"A": "hunter2-secret", "B": {bad' }], { many: false })).toThrow(/^secret s is not a JSON object/);
  });
});
