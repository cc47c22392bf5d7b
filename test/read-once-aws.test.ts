/**
 * One read per SSM parameter and Secrets Manager secret per resolve, whether layers or references asked for it
 * (contract section 3b, issue 29): the built CLI against moto_server through a counting loopback proxy, so the
 * reads are counted where the store receives them. What makes reads distinct (version, stage, decryption, region,
 * credentials) still reads apart, and every watch re-resolve reads again. The shared AWS files, which decide
 * whether a layer needs the SDK (src/sources/aws/lean.ts), are read once per resolve as well.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { withoutNodeVersionWarning } from '../src/sources/aws/client.js';
import { BIN, CLI_NODE, PRINT_ENV, runCli, runCommand, useTmpProjects } from './helpers/cli.js';
import { startServer } from './helpers/http-server.js';
import { dummyAwsEnv, seedParameters, seedSecrets, startAwsProxy, type AwsProxy } from './helpers/moto.js';
import { starts, until, watchPlumbing } from './helpers/watch.js';

const moto = inject('motoEndpoint');
const NS = `SrReadOnce-${process.pid}-${Date.now().toString(36)}`;
const project = useTmpProjects(afterEach);

const API = { TOKEN: 'api-token-R7w2', KEYNAME: 'API_JSON' };
const PLAIN = 'plain-secret-Kp4z';

let proxy: AwsProxy;
afterEach(() => {
  proxy?.targets.splice(0);
  proxy?.served.splice(0);
});

const count = (target: string) => proxy.targets.filter((t) => t === target).length;
/** The requests the store served that name `name` (a parameter name or a secret id, as a whole JSON string). */
const readsOf = (name: string) => proxy.served.filter((body) => body.includes(JSON.stringify(name)) || body.includes(JSON.stringify(`${name}:`).slice(0, -1))).length;

/** `run` with a child printing `keys` as JSON, the dummy AWS environment pointed at the proxy. */
async function childEnv(dir: string, keys: string[], env: Record<string, string | undefined> = {}, args: string[] = []): Promise<Record<string, string | null>> {
  const r = await runCli([...args, '--', process.execPath, '-e', PRINT_ENV, ...keys], { cwd: dir, env: dummyAwsEnv({ AWS_ENDPOINT_URL: proxy.url, ...env }) });
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout);
}

const yaml = (...lines: string[]) => `${lines.join('\n')}\n`;

describe.skipIf(!moto)('one read per secret per resolve, against moto_server', () => {
  beforeAll(async () => {
    await seedParameters(moto, [
      { name: `/${NS}/app/db/password`, value: 'db-pw-Hq3x', type: 'SecureString' },
      { name: `/${NS}/app/db/user`, value: 'app' },
      { name: `/${NS}/app/host`, value: 'db.internal' },
      { name: `/${NS}/app/versioned`, value: 'versioned-v1' },
      { name: `/${NS}/outside`, value: 'outside-value' },
      { name: `/${NS}/regional`, value: 'regional-us' },
      { name: `/${NS}/watch/P`, value: 'watch-v1' },
    ]);
    await seedParameters(moto, [{ name: `/${NS}/app/versioned`, value: 'versioned-v2' }]);
    const eu = withoutNodeVersionWarning(() => new SSMClient({ endpoint: moto, region: 'eu-west-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } }));
    await eu.send(new PutParameterCommand({ Name: `/${NS}/regional`, Value: 'regional-eu', Type: 'String', Overwrite: true }));
    eu.destroy();
    await seedSecrets(moto, [
      { name: `${NS}/api`, value: JSON.stringify(API) },
      { name: `${NS}/plain`, value: PLAIN },
      { name: `${NS}/other`, value: JSON.stringify({ OTHER: 'other-value' }) },
      { name: `${NS}/rotated`, value: 'rotated-v1', then: ['rotated-v2'] },
    ]);
    proxy = await startAwsProxy(moto);
  });
  afterAll(() => proxy?.close());

  describe('secretsmanager', () => {
    it('layers naming the same secret read it once, whatever they take from it; a list reads only what is not read yet', async () => {
      const { dir } = project({
        'secretrun.yaml': yaml(
          'sources:',
          '  - type: secretsmanager',
          `    secret_id: ${NS}/api`,
          '  - type: secretsmanager',
          `    secret_id: ${NS}/api`,
          '    key: WHOLE',
          '  - type: secretsmanager',
          `    secret_ids: [${NS}/api, ${NS}/other]`,
          '    prefix: LIST_',
        ),
      });
      expect(await childEnv(dir, ['TOKEN', 'WHOLE', 'LIST_TOKEN', 'LIST_OTHER'])).toEqual({ TOKEN: API.TOKEN, WHOLE: JSON.stringify(API), LIST_TOKEN: API.TOKEN, LIST_OTHER: 'other-value' });
      expect(readsOf(`${NS}/api`)).toBe(1);
      expect(readsOf(`${NS}/other`)).toBe(1);
      expect(proxy.served).toHaveLength(2);
    });

    it('a layer and a ref+awssecrets reference to its secret: one read, the reference asks no BatchGetSecretValue', async () => {
      const { dir } = project({
        'secretrun.yaml': yaml('sources:', '  - type: secretsmanager', `    secret_id: ${NS}/api`, '    key: API', '  - type: dotenv', '    path: .env'),
        '.env': `REF_TOKEN="ref+awssecrets://${NS}/api#/TOKEN"\nREF_KEYNAME="ref+awssecrets://${NS}/api#/KEYNAME"\nREF_PLAIN=ref+awssecrets://${NS}/plain\n`,
      });
      expect(await childEnv(dir, ['API', 'REF_TOKEN', 'REF_KEYNAME', 'REF_PLAIN'])).toEqual({ API: JSON.stringify(API), REF_TOKEN: API.TOKEN, REF_KEYNAME: API.KEYNAME, REF_PLAIN: PLAIN });
      expect(readsOf(`${NS}/api`)).toBe(1);
      // The one secret the layer did not read is the reference batch's only id: a GetSecretValue, no batch call.
      expect(readsOf(`${NS}/plain`)).toBe(1);
      expect(count('secretsmanager.BatchGetSecretValue')).toBe(0);
      expect(proxy.served).toHaveLength(2);
    });

    it('a reference read first (a later layer\'s option uses it) serves the layer that names its secret', async () => {
      const { dir } = project({
        'secretrun.yaml': yaml('sources:', '  - type: dotenv', '    path: .env', '  - type: secretsmanager', `    secret_id: ${NS}/api`, '    key: ${KEYNAME}'),
        '.env': `KEYNAME="ref+awssecrets://${NS}/api#/KEYNAME"\n`,
      });
      expect(await childEnv(dir, ['KEYNAME', 'API_JSON'])).toEqual({ KEYNAME: API.KEYNAME, API_JSON: JSON.stringify(API) });
      expect(proxy.served).toHaveLength(1);
    });

    it('another version stage is another read; a missing secret names its own layer and its own key', async () => {
      const { dir } = project({
        'secretrun.yaml': yaml(
          'sources:',
          '  - type: secretsmanager',
          `    secret_id: ${NS}/rotated`,
          '    key: CURRENT',
          '  - type: secretsmanager',
          `    secret_id: ${NS}/rotated`,
          '    version_stage: AWSPREVIOUS',
          '    key: PREVIOUS',
          '  - type: dotenv',
          '    path: .env',
        ),
        '.env': `REF_CURRENT=ref+awssecrets://${NS}/rotated\nREF_PREVIOUS=ref+awssecrets://${NS}/rotated?version_stage=AWSPREVIOUS\n`,
      });
      expect(await childEnv(dir, ['CURRENT', 'PREVIOUS', 'REF_CURRENT', 'REF_PREVIOUS'])).toEqual({ CURRENT: 'rotated-v2', PREVIOUS: 'rotated-v1', REF_CURRENT: 'rotated-v2', REF_PREVIOUS: 'rotated-v1' });
      expect(readsOf(`${NS}/rotated`)).toBe(2);

      const gone = project({
        'secretrun.yaml': yaml('sources:', '  - type: secretsmanager', `    secret_id: ${NS}/gone`, '    key: GONE', '  - type: dotenv', '    path: .env'),
        '.env': `REF_GONE=ref+awssecrets://${NS}/gone\n`,
      });
      proxy.served.splice(0);
      const layerFails = await runCli(['export'], { cwd: gone.dir, env: dummyAwsEnv({ AWS_ENDPOINT_URL: proxy.url }) });
      expect(layerFails.stderr).toBe(`secretrun: layer "secretsmanager ${NS}/gone" (secretrun.yaml:2:5): ResourceNotFoundException: secret not found: ${NS}/gone (region us-east-1)\n`);
      // With the layer optional, the reference to the same missing secret is the error, in its own words; one read.
      gone.write('secretrun.yaml', yaml('sources:', '  - type: secretsmanager', `    secret_id: ${NS}/gone`, '    key: GONE', '    optional: true', '  - type: dotenv', '    path: .env'));
      proxy.served.splice(0);
      const refFails = await runCli(['export'], { cwd: gone.dir, env: dummyAwsEnv({ AWS_ENDPOINT_URL: proxy.url }) });
      expect(refFails.stderr).toBe(`secretrun: layer "dotenv .env" (secretrun.yaml:6:5): REF_GONE: ref+awssecrets://${NS}/gone: not found\n`);
      expect(readsOf(`${NS}/gone`)).toBe(1);
    });
    it('a per-secret error in a batch answer fails that secret, named, never quoting the service\'s text', async () => {
      const batch = await startAwsProxy(moto, {
        intercept: (_, body) =>
          body.includes('SecretIdList')
            ? { status: 200, json: { SecretValues: [{ Name: `${NS}/api`, ARN: `arn:aws:secretsmanager:us-east-1:123456789012:secret:${NS}/api-AbCdEf`, SecretString: '{"A":"1"}' }], Errors: [{ SecretId: `${NS}/other`, ErrorCode: 'DecryptionFailure', Message: 'quoted-input-Zz9' }] } }
            : undefined,
      });
      try {
        const { dir } = project({ 'secretrun.yaml': yaml('sources:', '  - type: secretsmanager', `    secret_ids: [${NS}/api, ${NS}/other]`) });
        const r = await runCli(['export'], { cwd: dir, env: dummyAwsEnv({ AWS_ENDPOINT_URL: batch.url }) });
        expect(r.code).toBe(1);
        expect(r.stderr).toBe(`secretrun: layer "secretsmanager ${NS}/api (+1)" (secretrun.yaml:2:5): DecryptionFailure reading secret ${NS}/other (region us-east-1)\n`);
        expect(batch.targets).toEqual(['secretsmanager.BatchGetSecretValue']);
      } finally {
        await batch.close();
      }
    });
  });

  describe('ssm', () => {
    it('a path layer serves references to the parameters it listed; a name outside it is one GetParameters', async () => {
      const { dir } = project({
        'secretrun.yaml': yaml('sources:', '  - type: ssm', `    path: /${NS}/app`, '    recursive: true', '    prefix: APP_', '  - type: dotenv', '    path: .env'),
        '.env': [
          `PASSWORD=ref+awsssm://${NS}/app/db/password`,
          `URL=postgres://ref+awsssm://${NS}/app/db/user+@ref+awsssm:///${NS}/app/host+/app`,
          `V2=ref+awsssm://${NS}/app/versioned?version=2`,
          `OUTSIDE=ref+awsssm://${NS}/outside`,
        ].join('\n'),
      });
      expect(await childEnv(dir, ['APP_db_password', 'PASSWORD', 'URL', 'V2', 'OUTSIDE'])).toEqual({
        APP_db_password: 'db-pw-Hq3x',
        PASSWORD: 'db-pw-Hq3x',
        URL: 'postgres://app@db.internal/app',
        V2: 'versioned-v2',
        OUTSIDE: 'outside-value',
      });
      expect(count('AmazonSSM.GetParametersByPath')).toBe(1);
      expect(count('AmazonSSM.GetParameters')).toBe(1);
      const asked = JSON.parse(proxy.served[proxy.targets.indexOf('AmazonSSM.GetParameters')]) as { Names: string[] };
      expect(asked.Names).toEqual([`/${NS}/outside`]);
    });

    it('two layers listing one path list it once; a names layer and references share each name\'s read', async () => {
      const { dir } = project({
        'secretrun.yaml': yaml(
          'sources:',
          '  - type: ssm',
          `    path: /${NS}/app/db`,
          '  - type: ssm',
          `    path: /${NS}/app/db/`,
          '    uppercase: true',
          '  - type: ssm',
          `    names: [/${NS}/outside, /${NS}/regional]`,
          '  - type: dotenv',
          '    path: .env',
        ),
        '.env': `A=ref+awsssm://${NS}/outside\nB=ref+awsssm:///${NS}/regional\n`,
      });
      expect(await childEnv(dir, ['user', 'USER', 'outside', 'regional', 'A', 'B'])).toEqual({ user: 'app', USER: 'app', outside: 'outside-value', regional: 'regional-us', A: 'outside-value', B: 'regional-us' });
      expect(count('AmazonSSM.GetParametersByPath')).toBe(1);
      expect(count('AmazonSSM.GetParameters')).toBe(1);
      expect(proxy.served).toHaveLength(2);
    });

    it('another version, no decryption, another region: each is a read of its own', async () => {
      const { dir } = project({
        'secretrun.yaml': yaml(
          'sources:',
          '  - type: ssm',
          `    path: /${NS}/app/db`,
          '    decrypt: false',
          '    prefix: RAW_',
          '  - type: ssm',
          `    names: [/${NS}/regional]`,
          '    region: eu-west-1',
          '    prefix: EU_',
          '  - type: dotenv',
          '    path: .env',
        ),
        '.env': [
          `PASSWORD=ref+awsssm://${NS}/app/db/password`,
          `V1=ref+awsssm://${NS}/app/versioned?version=1`,
          `US=ref+awsssm://${NS}/regional`,
          `EU=ref+awsssm://${NS}/regional?region=eu-west-1`,
        ].join('\n'),
      });
      const env = await childEnv(dir, ['RAW_password', 'PASSWORD', 'V1', 'US', 'EU', 'EU_regional']);
      expect(env.RAW_password).not.toBe('db-pw-Hq3x'); // as stored: moto gives the KMS form
      expect(env).toEqual({ RAW_password: env.RAW_password, PASSWORD: 'db-pw-Hq3x', V1: 'versioned-v1', US: 'regional-us', EU: 'regional-eu', EU_regional: 'regional-eu' });
      // The decrypted password and version 1 are read (one batch in us-east-1), as is the us-east-1 parameter;
      // the eu-west-1 reference is the layer's read.
      expect(readsOf(`/${NS}/app/db/password`)).toBe(1);
      expect(readsOf(`/${NS}/regional`)).toBe(2);
      expect(count('AmazonSSM.GetParameters')).toBe(2);
      expect(count('AmazonSSM.GetParametersByPath')).toBe(1);
    });
  });

  it('a layer\'s profile that AWS_PROFILE does not name reads on its own; the same profile either way shares the read', async () => {
    const { dir, write } = project({
      'secretrun.yaml': yaml('sources:', '  - type: secretsmanager', `    secret_id: ${NS}/plain`, '    key: LAYER', '    profile: other', '  - type: dotenv', '    path: .env'),
      '.env': `REF=ref+awssecrets://${NS}/plain\n`,
    });
    // Credentials from the shared files only: [default] for the default chain, [other] for the layer.
    const credentials = write('aws/credentials', '[default]\naws_access_key_id = default-key\naws_secret_access_key = default-secret\n[other]\naws_access_key_id = other-key\naws_secret_access_key = other-secret\n');
    const files = { AWS_SHARED_CREDENTIALS_FILE: credentials, AWS_CONFIG_FILE: write('aws/config', ''), AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined };
    expect(await childEnv(dir, ['LAYER', 'REF'], files)).toEqual({ LAYER: PLAIN, REF: PLAIN });
    expect(readsOf(`${NS}/plain`)).toBe(2);
    expect(proxy.served).toHaveLength(2);

    proxy.served.splice(0);
    expect(await childEnv(dir, ['LAYER', 'REF'], { ...files, AWS_PROFILE: 'other' })).toEqual({ LAYER: PLAIN, REF: PLAIN });
    expect(readsOf(`${NS}/plain`)).toBe(1);
  });

  it('a layer\'s own endpoint is another store, unless it is the one the environment names', async () => {
    const second = await startAwsProxy(moto);
    try {
      const { dir, write } = project({
        'secretrun.yaml': yaml('sources:', '  - type: secretsmanager', `    secret_id: ${NS}/plain`, '    key: LAYER', `    endpoint: ${second.url}`, '  - type: dotenv', '    path: .env'),
        '.env': `REF=ref+awssecrets://${NS}/plain\n`,
      });
      expect(await childEnv(dir, ['LAYER', 'REF'])).toEqual({ LAYER: PLAIN, REF: PLAIN });
      expect([second.served.length, proxy.served.length]).toEqual([1, 1]);
      write('secretrun.yaml', yaml('sources:', '  - type: secretsmanager', `    secret_id: ${NS}/plain`, '    key: LAYER', `    endpoint: ${proxy.url}`, '  - type: dotenv', '    path: .env'));
      proxy.served.splice(0);
      expect(await childEnv(dir, ['LAYER', 'REF'])).toEqual({ LAYER: PLAIN, REF: PLAIN });
      expect([second.served.length, proxy.served.length]).toEqual([1, 1]);
    } finally {
      await second.close();
    }
  });

  it('every watch re-resolve reads again: a layer and a reference to one parameter both get its new value', async () => {
    const plumbing = watchPlumbing();
    try {
      const { dir } = plumbing.project({
        'secretrun.yaml': yaml('sources:', '  - type: ssm', `    path: /${NS}/watch`, '  - type: dotenv', '    path: .env'),
        '.env': `REF=ref+awsssm://${NS}/watch/P\n`,
      });
      const env = dummyAwsEnv({ AWS_ENDPOINT_URL: proxy.url }) as Record<string, string>;
      const w = await plumbing.startWatched(dir, ['--watch=2'], ['P', 'REF'], env);
      expect(w.first.env).toEqual({ P: 'watch-v1', REF: 'watch-v1' });
      await seedParameters(moto, [{ name: `/${NS}/watch/P`, value: 'watch-v2' }]);
      const second = await until(() => starts(w.log)[1], 'a restart with the new value', 15_000);
      expect(second.env).toEqual({ P: 'watch-v2', REF: 'watch-v2' });
      // One listing per resolve, the reference served from it every time.
      expect(count('AmazonSSM.GetParametersByPath')).toBeGreaterThanOrEqual(2);
      expect(count('AmazonSSM.GetParameters')).toBe(0);
    } finally {
      await plumbing.cleanup();
    }
  });
});

describe('the shared AWS files, once per resolve', () => {
  it('three AWS layers of two services (lean clients): ~/.aws/config and ~/.aws/credentials are each read once', async () => {
    const server = await startServer((req) => {
      const target = String(req.headers['x-amz-target']);
      if (target === 'AmazonSSM.GetParametersByPath') return { json: { Parameters: [{ Name: `${JSON.parse(req.body).Path}/P`, Value: 'p', Type: 'String', Version: 1 }] } };
      if (target === 'secretsmanager.GetSecretValue') return { json: { Name: 'app', VersionId: 'v1', SecretString: '{"S":"s"}', VersionStages: ['AWSCURRENT'] } };
      return { status: 400, json: { __type: 'UnknownOperationException' } };
    });
    try {
      const { dir, write } = project({
        'secretrun.yaml': yaml('sources:', '  - type: ssm', '    path: /a', '    prefix: A_', '  - type: ssm', '    path: /b', '    prefix: B_', '  - type: secretsmanager', '    secret_id: app'),
        'aws/config': '[default]\noutput = json\n',
        'aws/credentials': '[other]\naws_access_key_id = AKIDOTHER\n',
      });
      const files = [join(dir, 'aws/config'), join(dir, 'aws/credentials')];
      const counts = join(dir, 'reads.json');
      const preload = write(
        'reads.cjs',
        `const fs = require('fs'); const real = fs.readFileSync; const n = {}; fs.readFileSync = function (p, ...a) { n[String(p)] = (n[String(p)] ?? 0) + 1; return real.call(this, p, ...a); }; process.on('exit', () => fs.writeFileSync(${JSON.stringify(counts)}, JSON.stringify(n)));`,
      );
      const env = dummyAwsEnv({ AWS_ENDPOINT_URL: server.origin, AWS_CONFIG_FILE: files[0], AWS_SHARED_CREDENTIALS_FILE: files[1], SECRETRUN_DEBUG: '1' });
      const r = await runCommand(CLI_NODE, ['-r', preload, BIN, 'export', '--format', 'json'], { cwd: dir, env });
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ A_P: 'p', B_P: 'p', S: 's' });
      expect([...r.stderr.matchAll(/ client: lean \(no AWS SDK\), environment credentials$/gm)]).toHaveLength(3);
      const read = JSON.parse(readFileSync(counts, 'utf8')) as Record<string, number>;
      expect(files.map((f) => read[f])).toEqual([1, 1]);
    } finally {
      await server.close();
    }
  });
});
