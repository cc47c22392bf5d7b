/**
 * The lean AWS client against the SDK, end to end: the built CLI runs each layer twice, once with the keys in the
 * environment (the lean client, src/sources/aws/lean.ts) and once with the same keys from a profile in a temp
 * shared credentials file (AWS_PROFILE: the SDK), and must print the same thing and exit the same way. The debug
 * line says which client each run used. Against moto_server for the data, and against a real node:http server on
 * 127.0.0.1 for the faults; nothing of a value, the secret key, the session token or a signature may show.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { closedPortUrl, dummyAwsEnv, numberedParameters, seedParameters, seedSecrets, waitForMoto } from './helpers/moto.js';
import { startBlackhole } from './helpers/blackhole.js';
import { testCa } from './helpers/test-ca.js';
import { signedHeaders } from '../src/sources/aws/lean.js';
import { runCli, tmpProject, useTmpProjects, type CliResult } from './helpers/cli.js';
import { sequence, startServer, type Handler, type Reply } from './helpers/http-server.js';
import { secretPieces } from './helpers/fake-gcp.js';

const moto = inject('motoEndpoint');
const NS = `/SrLean-${process.pid}-${Date.now().toString(36)}`;
const SM = NS.slice(1);

const KEY_ID = 'AKIDLEANTEST';
const SECRET_KEY = 'wJ7q+Zx9/Kp3LmN2vB8cR4tY6uI0oPaSdFgHjKl5';
const SESSION_TOKEN = 'FQoGZXIvYXdzEJr1wEaDHk2Lm8nR3xQ7+vT0/gWe==';
const CANARY = 'c4nary-value-never-printed';

const project = useTmpProjects(afterEach);
let credentialsFile: string;
let cleanupCredentials: () => void;

beforeAll(() => {
  const keep = tmpProject();
  cleanupCredentials = keep.cleanup;
  credentialsFile = join(keep.dir, 'credentials');
  writeFileSync(
    credentialsFile,
    `[lean-keys]\naws_access_key_id = ${KEY_ID}\naws_secret_access_key = ${SECRET_KEY}\n[lean-session]\naws_access_key_id = ${KEY_ID}\naws_secret_access_key = ${SECRET_KEY}\naws_session_token = ${SESSION_TOKEN}\n`,
  );
});

afterAll(() => cleanupCredentials());

/** The environment of each path: the same keys, from the environment (lean) or from a profile (the SDK). */
function pathEnv(path: 'lean' | 'sdk', extra: Record<string, string | undefined>, session: boolean): Record<string, string | undefined> {
  const keys =
    path === 'lean'
      ? { AWS_ACCESS_KEY_ID: KEY_ID, AWS_SECRET_ACCESS_KEY: SECRET_KEY, AWS_SESSION_TOKEN: session ? SESSION_TOKEN : undefined }
      : { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_PROFILE: session ? 'lean-session' : 'lean-keys', AWS_SHARED_CREDENTIALS_FILE: credentialsFile };
  return dummyAwsEnv({ ...keys, SECRETRUN_DEBUG: '1', ...extra });
}

const DEBUG_LINE = /^secretrun: debug: .*\n?/gm;
/**
 * What a user sees without SECRETRUN_DEBUG (the retry lines name a wait that is random), less what differs from
 * run to run: a fresh server's port, the time the attempts took.
 */
const shownOf = (r: CliResult) => ({
  code: r.code,
  stdout: r.stdout,
  stderr: r.stderr
    .replace(DEBUG_LINE, '')
    // SECRETRUN_DEBUG's stack frames: which of Node's timer and tick frames appear depends on when the last attempt ended.
    .replace(/^ +at .*\n/gm, '')
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT')
    .replace(/ in \d+(\.\d+)? s\)/g, ' in T s)'),
});

/**
 * Run `args` in a project of `files` on both paths; each run must say it took its path (for every AWS client it
 * made), and both must show the same. `fresh` gives each run a fresh endpoint (a fault server's sequence).
 */
async function onBoth(
  files: Record<string, string>,
  args: string[],
  opts: { extra?: Record<string, string | undefined>; session?: boolean; fresh?: () => Promise<{ env: Record<string, string>; close(): Promise<void> }> } = {},
): Promise<{ lean: CliResult; sdk: CliResult }> {
  const { dir } = project(files);
  const run = async (path: 'lean' | 'sdk') => {
    const endpoint = await opts.fresh?.();
    try {
      return await runCli(args, { cwd: dir, env: pathEnv(path, { ...opts.extra, ...endpoint?.env }, opts.session ?? false) });
    } finally {
      await endpoint?.close();
    }
  };
  const lean = await run('lean');
  const sdk = await run('sdk');
  const clients = (r: CliResult) => [...r.stderr.matchAll(/ client: (lean \(no AWS SDK\)|AWS SDK), /g)].map((m) => m[1]);
  expect(clients(lean).length, lean.stderr).toBeGreaterThan(0);
  expect(new Set(clients(lean)), lean.stderr).toEqual(new Set(['lean (no AWS SDK)']));
  expect(new Set(clients(sdk)), sdk.stderr).toEqual(new Set(['AWS SDK']));
  expect(shownOf(lean)).toEqual(shownOf(sdk));
  for (const r of [lean, sdk]) {
    for (const piece of [...secretPieces(SECRET_KEY), ...secretPieces(SESSION_TOKEN), CANARY]) {
      expect(r.stdout + r.stderr).not.toContain(piece);
    }
  }
  return { lean, sdk };
}

const ssmLayer = (lines: string) => ({ 'secretrun.yaml': `sources:\n  - type: ssm\n    endpoint: ${moto}\n${lines}` });
const smLayer = (lines: string) => ({ 'secretrun.yaml': `sources:\n  - type: secretsmanager\n    endpoint: ${moto}\n${lines}` });
const EXPORT = ['export', '--format', 'json'];

describe.skipIf(!moto)('the same answers on both paths, against moto_server', () => {
  beforeAll(async () => {
    await seedParameters(moto, [
      ...numberedParameters(`${NS}/Many`, 23),
      { name: `${NS}/App/PLAIN`, value: 'plain-value' },
      { name: `${NS}/App/SECURE`, value: 'secure-value-decrypted', type: 'SecureString' },
      { name: `${NS}/App/LIST`, value: 'a,b,c', type: 'StringList' },
      { name: `${NS}/App/JSON`, value: JSON.stringify({ host: 'h', port: 5432 }) },
      { name: `${NS}/App/deep/er/NESTED`, value: 'nested-value' },
      { name: `${NS}/Versioned`, value: 'version-one' },
    ]);
    await seedParameters(moto, [{ name: `${NS}/Versioned`, value: 'version-two' }]);
    await seedSecrets(moto, [
      { name: `${SM}/json`, value: JSON.stringify({ USER: 'app', PASSWORD: 'pw-from-json', nested: { a: 1 } }) },
      { name: `${SM}/json2`, value: JSON.stringify({ TOKEN: 'token-two' }) },
      { name: `${SM}/text`, value: 'plain secret text' },
      { name: `${SM}/binary`, value: new Uint8Array([0, 1, 2, 250, 255]) },
      { name: `${SM}/rotated`, value: JSON.stringify({ R: 'old' }), then: [JSON.stringify({ R: 'new' })] },
    ]);
  });

  it.each([
    ['a path, one level', `    path: ${NS}/App\n`],
    ['a path, recursive, flattened JSON, upper-cased', `    path: ${NS}/App\n    recursive: true\n    json: flatten\n    uppercase: true\n`],
    ['SecureString without decryption', `    path: ${NS}/App\n    decrypt: false\n`],
    ['23 parameters over three pages', `    path: ${NS}/Many\n`],
    ['names, in order', `    names: [${NS}/App/SECURE, ${NS}/App/PLAIN, ${NS}/Many/P07]\n`],
    ['12 names over two GetParameters calls', `    names: [${numberedParameters(`${NS}/Many`, 12).map((p) => p.name).join(', ')}]\n`],
    ['a missing name (exit 125, one line naming it)', `    names: [${NS}/App/PLAIN, ${NS}/App/NOPE]\n`],
    ['a missing name, optional', `    names: [${NS}/App/PLAIN, ${NS}/App/NOPE]\n    optional: true\n`],
    ['an empty path', `    path: ${NS}/Nothing\n`],
  ])('ssm: %s', async (_, lines) => {
    const { lean } = await onBoth(ssmLayer(lines), EXPORT);
    expect(lean.stdout + lean.stderr).not.toBe('');
  });

  it('ssm with a session token: the same values, and the token goes along (moto accepts it)', async () => {
    const { lean } = await onBoth(ssmLayer(`    path: ${NS}/App\n`), EXPORT, { session: true });
    expect(JSON.parse(lean.stdout)).toMatchObject({ PLAIN: 'plain-value', SECURE: 'secure-value-decrypted' });
  });

  it('references: a parameter at a version and the newest, a secret and a pointer into one', async () => {
    const { lean } = await onBoth(
      {
        'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n',
        '.env': `OLD=ref+awsssm://${NS}/Versioned?version=1\nNEW=ref+awsssm://${NS}/Versioned\nTEXT=ref+awssecrets://${SM}/text\nPW="ref+awssecrets://${SM}/json#/PASSWORD"\n`,
      },
      EXPORT,
      { extra: { AWS_ENDPOINT_URL: moto } },
    );
    expect(JSON.parse(lean.stdout)).toEqual({ OLD: 'version-one', NEW: 'version-two', TEXT: 'plain secret text', PW: 'pw-from-json' });
  });

  it.each([
    ['a JSON secret', `    secret_id: ${SM}/json\n`],
    ['a JSON secret, flattened', `    secret_id: ${SM}/json\n    flatten: __\n`],
    ['a text secret as one key', `    secret_id: ${SM}/text\n    key: TEXT\n`],
    ['a binary secret as one key (base64)', `    secret_id: ${SM}/binary\n    key: BIN\n`],
    ['a text secret without key (an error)', `    secret_id: ${SM}/text\n`],
    ['the previous version', `    secret_id: ${SM}/rotated\n    version_stage: AWSPREVIOUS\n`],
    ['a batch of two (BatchGetSecretValue)', `    secret_ids: [${SM}/json, ${SM}/json2]\n`],
    ['a batch with a missing id', `    secret_ids: [${SM}/json, ${SM}/missing]\n`],
    ['a batch with a missing id, optional', `    secret_ids: [${SM}/json, ${SM}/missing]\n    optional: true\n`],
    ['a missing secret', `    secret_id: ${SM}/missing\n`],
  ])('secretsmanager: %s', async (_, lines) => {
    await onBoth(smLayer(lines), EXPORT);
  });

  it('the binary secret arrives byte for byte', async () => {
    const { lean } = await onBoth(smLayer(`    secret_id: ${SM}/binary\n    key: BIN\n`), EXPORT);
    expect(Buffer.from(JSON.parse(lean.stdout).BIN, 'base64')).toEqual(Buffer.from([0, 1, 2, 250, 255]));
  });
});

// ---- faults, through a real server on 127.0.0.1 ------------------------------------------------------------------

const awsError = (status: number, type: string, headers: Record<string, string> = {}): Reply => ({
  status,
  headers: { 'content-type': 'application/x-amz-json-1.1', ...headers },
  body: JSON.stringify({ __type: type, message: `refused for ${CANARY}` }),
});
const PARAMETERS: Reply = { status: 200, json: { Parameters: [{ Name: '/fault/A', Value: 'fault-a', Type: 'String', Version: 1 }] } };

/** A fresh server per run, so each path meets the same sequence; `seen` keeps every request of both runs. */
function faultServer(handler: () => Handler, seen: Array<{ authorization?: string; target?: string }>, variable = 'AWS_ENDPOINT_URL_SSM') {
  return async () => {
    const server = await startServer(handler());
    return {
      env: { [variable]: server.origin },
      close: async () => {
        seen.push(...server.requests.map((r) => ({ authorization: r.headers.authorization as string | undefined, target: r.headers['x-amz-target'] as string | undefined })));
        await server.close();
      },
    };
  };
}

describe('the same message on both paths for each fault', () => {
  const layer = (extra = '') => ({ 'secretrun.yaml': `sources:\n  - type: ssm\n    path: /fault\n    region: eu-west-1\n${extra}` });

  it.each<[string, () => Handler, string, RegExp, number]>([
    ['400 AccessDeniedException', () => sequence(awsError(400, 'AccessDeniedException')), '', /AccessDeniedException: the credentials in use may not make this SSM call \(HTTP 400, region eu-west-1\)/, 1],
    ['400 with the name in x-amzn-errortype only', () => sequence({ status: 400, headers: { 'x-amzn-errortype': 'ValidationException:http://internal/' }, body: '' }), '', /ValidationException from SSM \(HTTP 400, region eu-west-1\)/, 1],
    ['500, retried once', () => sequence(awsError(500, 'InternalServerError')), '    retries: 1\n', /InternalServerError from SSM \(HTTP 500, region eu-west-1, 2 attempts/, 1],
    ['an HTML 502 from a proxy, retried once', () => sequence({ status: 502, headers: { 'content-type': 'text/html' }, body: `<html><body>Bad gateway ${CANARY}</body></html>` }), '    retries: 1\n', /the answer of SSM at http:\/\/127\.0\.0\.1:\d+ is not AWS JSON \(HTTP 502, region eu-west-1, 2 attempts/, 1],
    ['a 200 with broken JSON', () => sequence({ status: 200, body: `{"Parameters":[{"Name":"/fault/A","Value":"${CANARY}` }), '', /the answer of SSM at http:\/\/127\.0\.0\.1:\d+ is not AWS JSON \(HTTP 200, region eu-west-1\)/, 1],
    ['a connection reset in the middle of the body', () => sequence({ resetMidBody: { partial: '{"Parameters":[{"Name":"/fault/A",', length: 500 } }), '    retries: 0\n', /cannot reach SSM at http:\/\/127\.0\.0\.1:\d+: ECONNRESET \(region eu-west-1\)/, 1],
    ['a connection reset, retried once', () => sequence({ resetBeforeHeaders: true }), '    retries: 1\n', /cannot reach SSM at http:\/\/127\.0\.0\.1:\d+: ECONNRESET \(region eu-west-1, 2 attempts/, 1],
    ['a server that never answers', () => sequence({ hang: true }), '    timeout: 0.3\n    retries: 0\n', /cannot reach SSM at http:\/\/127\.0\.0\.1:\d+: no answer within 0\.3 s/, 1],
  ])('%s', async (_, handler, extra, message, code) => {
    const seen: Array<{ authorization?: string }> = [];
    const { lean } = await onBoth(layer(extra), EXPORT, { fresh: faultServer(handler, seen) });
    expect(lean.code).toBe(code);
    // `export` fails with 1 (contract: `run` 125, `diff` 2, others 1). The first line is the message (SECRETRUN_DEBUG=1 adds the stack below it, the same on both paths).
    expect(lean.stderr.replace(DEBUG_LINE, '').split('\n')[0]).toMatch(message);
    const signatures = seen.map((r) => /Signature=([0-9a-f]{64})/.exec(r.authorization ?? '')?.[1]).filter((s) => s !== undefined);
    expect(signatures.length).toBeGreaterThan(0);
    for (const signature of signatures) expect(lean.stderr).not.toContain(signature.slice(0, 16));
  });

  it('400 ThrottlingException, then the answer: retried, the values arrive on both paths', async () => {
    const seen: Array<{ target?: string }> = [];
    const { lean } = await onBoth(layer(), EXPORT, { fresh: faultServer(() => sequence(awsError(400, 'ThrottlingException'), PARAMETERS), seen) });
    expect(JSON.parse(lean.stdout)).toEqual({ A: 'fault-a' });
    expect(seen.map((r) => r.target)).toEqual(Array(4).fill('AmazonSSM.GetParametersByPath'));
  });

  it('a server whose clock is an hour ahead: the next page is signed at its time (the SDK\'s clock correction), on both paths', async () => {
    const ahead = () => new Date(Date.now() + 3600_000);
    const skewed: Handler = (req) => {
      const date = { date: ahead().toUTCString() };
      if (!JSON.parse(req.body).NextToken) return { status: 200, headers: date, json: { Parameters: [{ Name: '/fault/A', Value: 'fault-a', Type: 'String', Version: 1 }], NextToken: 'page-2' } };
      const signedAt = Date.parse(String(req.headers['x-amz-date']).replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
      if (Math.abs(signedAt - ahead().getTime()) > 120_000) return { ...awsError(400, 'InvalidSignatureException'), headers: { ...date, 'content-type': 'application/x-amz-json-1.1' } };
      return { status: 200, headers: date, json: { Parameters: [{ Name: '/fault/B', Value: 'fault-b', Type: 'String', Version: 1 }] } };
    };
    const { lean } = await onBoth(layer(), EXPORT, { fresh: faultServer(() => skewed, []) });
    expect(JSON.parse(lean.stdout)).toEqual({ A: 'fault-a', B: 'fault-b' });
  });

  it.each<[string, () => Promise<{ origin: string; close(): Promise<void> }>, string, RegExp]>([
    ['a closed port', async () => ({ origin: await closedPortUrl(), close: async () => {} }), '    retries: 1\n', /cannot reach SSM at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED \(region eu-west-1, 2 attempts/],
    ['a host that never accepts the connection', startBlackhole, '    timeout: 0.3\n    retries: 1\n', /cannot reach SSM at http:\/\/127\.0\.0\.1:\d+: no connection within 0\.3 s \(options `timeout` and `retries`\) \(region eu-west-1, 2 attempts/],
  ])('%s: the same message on both paths', async (_, start, extra, message) => {
    const fresh = async () => {
      const target = await start();
      return { env: { AWS_ENDPOINT_URL_SSM: target.origin }, close: () => target.close() };
    };
    const { lean } = await onBoth(layer(extra), EXPORT, { fresh });
    expect(lean.code).toBe(1);
    expect(lean.stderr.replace(DEBUG_LINE, '').split('\n')[0]).toMatch(message);
  });

  it('Secrets Manager without the batch permission: BatchGetSecretValue is refused, each secret is read alone, on both paths', async () => {
    const seen: Array<{ target?: string }> = [];
    const handler = (): Handler => (req) => {
      if (req.headers['x-amz-target'] === 'secretsmanager.BatchGetSecretValue') return awsError(400, 'AccessDeniedException');
      const id = JSON.parse(req.body).SecretId as string;
      return { status: 200, json: { Name: id, ARN: `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${id}-AbCdEf`, SecretString: JSON.stringify({ [id.toUpperCase()]: `${id}-value` }), CreatedDate: 1700000000.123 } };
    };
    const fresh = faultServer(handler, seen, 'AWS_ENDPOINT_URL_SECRETS_MANAGER');
    const { lean } = await onBoth({ 'secretrun.yaml': 'sources:\n  - type: secretsmanager\n    secret_ids: [one, two]\n    region: eu-west-1\n' }, EXPORT, { fresh });
    expect(JSON.parse(lean.stdout)).toEqual({ ONE: 'one-value', TWO: 'two-value' });
    expect(seen.map((r) => r.target).sort()).toEqual([...Array(2).fill('secretsmanager.BatchGetSecretValue'), ...Array(4).fill('secretsmanager.GetSecretValue')]);
  });

  it('an https:// endpoint (a CA from NODE_EXTRA_CA_CERTS): the same answer over TLS on both paths; an untrusted certificate, the same refusal', async () => {
    const ca = testCa();
    const tls = async () => {
      const server = await startServer(() => PARAMETERS, { tls: ca.tls });
      return { env: { AWS_ENDPOINT_URL_SSM: server.origin }, close: () => server.close() };
    };
    const { lean } = await onBoth(layer(), EXPORT, { fresh: tls, extra: { NODE_EXTRA_CA_CERTS: ca.caPath } });
    expect(JSON.parse(lean.stdout)).toEqual({ A: 'fault-a' });
    const untrusted = await onBoth(layer('    retries: 0\n'), EXPORT, { fresh: tls });
    expect(untrusted.lean.code).toBe(1);
    expect(untrusted.lean.stderr.replace(DEBUG_LINE, '').split('\n')[0]).toMatch(/cannot reach SSM at https:\/\/127\.0\.0\.1:\d+: TLS [A-Z_]+ \(is the server's CA trusted\? NODE_EXTRA_CA_CERTS adds one\) \(region eu-west-1\)$/);
  });

  it('503 with Retry-After: throttling, waited for as asked, then the answer', async () => {
    const { lean } = await onBoth(layer(), EXPORT, { fresh: faultServer(() => sequence(awsError(503, 'ServiceUnavailable', { 'retry-after': '1' }), PARAMETERS), []) });
    expect(JSON.parse(lean.stdout)).toEqual({ A: 'fault-a' });
  });
});

// ---- signatures, checked by moto_server's IAM emulation ----------------------------------------------------------

/**
 * A moto_server of this file's own that checks signatures after its first 4 actions (INITIAL_NO_AUTH_ACTION_COUNT):
 * an IAM user with an access key and a policy, and one parameter, are made first, unsigned in effect.
 */
async function startCheckingMoto(): Promise<{ url: string; keyId: string; secret: string; stop(): void }> {
  const port = await new Promise<number>((resolve) => {
    const probe = createNetServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as { port: number };
      probe.close(() => resolve(free));
    });
  });
  const child = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { env: { ...process.env, INITIAL_NO_AUTH_ACTION_COUNT: '4' }, stdio: 'ignore', detached: true });
  const stop = () => {
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      // already gone
    }
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForMoto(url);
    // Signed with made-up keys: moto does not check the first 4 actions.
    const call = async (service: string, headers: Record<string, string>, body: string) => {
      const signed = signedHeaders({ ...headers, host: `127.0.0.1:${port}` }, body, { accessKeyId: 'AKIDSETUP', secretAccessKey: 'setup' }, { region: 'us-east-1', service, date: new Date() });
      const res = await fetch(`${url}/`, { method: 'POST', headers: signed, body });
      const text = await res.text();
      if (!res.ok) throw new Error(`moto setup ${service}: HTTP ${res.status}`);
      return text;
    };
    const iam = (params: Record<string, string>) => call('iam', { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, new URLSearchParams({ ...params, Version: '2010-05-08' }).toString());
    await iam({ Action: 'CreateUser', UserName: 'lean' });
    const key = await iam({ Action: 'CreateAccessKey', UserName: 'lean' });
    const policy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['ssm:*'], Resource: '*' }] };
    await iam({ Action: 'PutUserPolicy', UserName: 'lean', PolicyName: 'ssm', PolicyDocument: JSON.stringify(policy) });
    await call('ssm', { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AmazonSSM.PutParameter' }, JSON.stringify({ Name: '/signed/A', Value: 'signed-a', Type: 'SecureString' }));
    return { url, keyId: /<AccessKeyId>([^<]+)</.exec(key)![1], secret: /<SecretAccessKey>([^<]+)</.exec(key)![1], stop };
  } catch (err) {
    stop();
    throw err;
  }
}

describe.skipIf(!moto)('signatures checked by moto_server (INITIAL_NO_AUTH_ACTION_COUNT)', () => {
  let checking: Awaited<ReturnType<typeof startCheckingMoto>>;
  beforeAll(async () => {
    checking = await startCheckingMoto();
  }, 40_000);
  afterAll(() => checking?.stop());

  const signedLayer = () => ({ 'secretrun.yaml': `sources:\n  - type: ssm\n    path: /signed\n    region: us-east-1\n    endpoint: ${checking.url}\n    retries: 0\n` });
  const lean = (secret: string, extra: Record<string, string> = {}) =>
    runCli(EXPORT, { cwd: project(signedLayer()).dir, env: dummyAwsEnv({ AWS_ACCESS_KEY_ID: checking.keyId, AWS_SECRET_ACCESS_KEY: secret, SECRETRUN_DEBUG: '1', ...extra }) });

  it('the right secret key is accepted through the lean client, a wrong one is refused (403), with the same message as the SDK', async () => {
    const right = await lean(checking.secret);
    expect(right.stderr).toMatch(/SSM client: lean/);
    expect(right.code, right.stderr).toBe(0);
    expect(JSON.parse(right.stdout)).toEqual({ A: 'signed-a' });

    const wrong = await lean(`${checking.secret.slice(0, -1)}X`);
    expect(wrong.stderr).toMatch(/SSM client: lean/);
    expect(wrong.code).toBe(1);
    // moto answers a JSON service's refusal in XML, which neither client reads as AWS JSON: the status tells.
    expect(wrong.stderr).toMatch(/\(HTTP 403, region us-east-1\)/);
    expect(wrong.stderr).not.toContain(checking.secret.slice(0, 12));

    // The SDK with the same wrong key (forced by an SDK-only setting that changes nothing here): the same line.
    const sdk = await lean(`${checking.secret.slice(0, -1)}X`, { AWS_USE_DUALSTACK_ENDPOINT: 'false' });
    expect(sdk.stderr).toMatch(/SSM client: AWS SDK/);
    expect(shownOf(sdk)).toEqual(shownOf(wrong));
  });
});
