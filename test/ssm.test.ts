/**
 * `type: ssm` against a real SSM API emulator (moto_server, started by test/setup/moto.ts) through the real
 * AWS SDK. Every request goes to 127.0.0.1; the environment holds dummy credentials only.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { NotFoundError } from '../src/core/errors.js';
import ssm, { normalizePath, parametersToEnv, relativeName } from '../src/sources/ssm.js';
import { toEnvKey } from '../src/core/names.js';
import {
  applyProcessEnv,
  closedPortUrl,
  dummyAwsEnv,
  expectOneLine,
  failure,
  makeContext,
  numberedParameters,
  runInProject,
  seedParameters,
  startAwsProxy,
  startSilentServer,
  type SeedParameter,
} from './helpers/moto.js';
import { PRINT_ENV } from './helpers/cli.js';
import { startBlackhole } from './helpers/blackhole.js';

const moto = inject('motoEndpoint');
// Its own namespace, so other files can use the same moto_server in parallel (and re-runs start clean).
const NS = `/SrSsmTest-${process.pid}-${Date.now().toString(36)}`;
const API = `${NS}/Production/ApiServer`;

const DATABASES = { default: { HOST: 'db.internal', PORT: 5432, OPTIONS: { sslmode: 'require' } } };
const seed: SeedParameter[] = [
  ...numberedParameters(`${NS}/Big`, 35),
  ...numberedParameters(`${NS}/Named`, 23),
  ...numberedParameters(`${NS}/Hundred`, 100),
  { name: `${API}/SECRET_KEY`, value: 'plain s3cret, decrypted', type: 'SecureString' },
  { name: `${API}/ALLOWED_HOSTS`, value: 'a.example.com,b.example.com', type: 'StringList' },
  { name: `${API}/DATABASES`, value: JSON.stringify(DATABASES) },
  { name: `${API}/feature.flag-x`, value: 'on' },
  { name: `${API}/db/HOST`, value: 'nested-host' },
  { name: `${API}/db/deeper/USER`, value: 'nested-user' },
  { name: `${NS}/Collide/foo-bar`, value: 'dash' },
  { name: `${NS}/Collide/foo_bar`, value: 'underscore' },
  { name: `${NS}/Lower/db_host`, value: 'h' },
  { name: `${NS}/Lower/nested/port`, value: '1' },
];


/** Load with the moto endpoint unless the test says otherwise. */
function load(options: Record<string, unknown>, ctx = makeContext()) {
  return ssm.load({ type: 'ssm', endpoint: moto, ...options }, ctx);
}


beforeAll(async () => {
  if (moto) await seedParameters(moto, seed);
});

describe.skipIf(!moto)('ssm layer against moto_server', () => {
  let restoreEnv: () => void;
  beforeAll(async () => {
    restoreEnv = applyProcessEnv(dummyAwsEnv());
  });
  afterAll(() => restoreEnv?.());

  it('follows every page of a path: 35 parameters come from 4 GetParametersByPath calls', async () => {
    const proxy = await startAwsProxy(moto);
    try {
      const out = await load({ path: `${NS}/Big`, endpoint: proxy.url });
      expect(Object.keys(out).sort()).toEqual(numberedParameters('', 35).map((p) => p.name.slice(1)));
      expect(out.P00).toBe('value-00');
      expect(out.P34).toBe('value-34');
      expect(proxy.targets).toEqual(Array(4).fill('AmazonSSM.GetParametersByPath'));
    } finally {
      await proxy.close();
    }
  });

  it('keeps going when a page is empty but NextToken is still set', async () => {
    const EMPTY = 'token-of-an-empty-page';
    const proxy = await startAwsProxy(moto, {
      intercept: (n, body) => {
        if (n === 1) return { status: 200, json: { Parameters: [], NextToken: EMPTY } };
        const request = JSON.parse(body) as { NextToken?: string };
        // Continue from the empty page: moto itself never saw that token, so ask it for its first page.
        return request.NextToken === EMPTY ? { forwardBody: JSON.stringify({ ...request, NextToken: undefined }) } : undefined;
      },
    });
    try {
      const out = await load({ path: `${NS}/Big`, endpoint: proxy.url });
      expect(Object.keys(out)).toHaveLength(35);
      expect(proxy.targets).toHaveLength(5);
    } finally {
      await proxy.close();
    }
  });

  it('loads one level by default: SecureString decrypted, StringList as comma text, JSON kept, odd characters as _', async () => {
    const out = await load({ path: API });
    expect(out).toEqual({
      SECRET_KEY: 'plain s3cret, decrypted',
      ALLOWED_HOSTS: 'a.example.com,b.example.com',
      DATABASES: JSON.stringify(DATABASES),
      feature_flag_x: 'on',
    });
  });

  it('recursive: true adds the sub-paths, with / turned into _', async () => {
    const out = await load({ path: API, recursive: true });
    expect(out).toMatchObject({ db_HOST: 'nested-host', db_deeper_USER: 'nested-user', SECRET_KEY: 'plain s3cret, decrypted' });
    expect(Object.keys(out)).toHaveLength(6);
  });

  it('a trailing / on path makes no difference', async () => {
    expect(await load({ path: `${API}/`, recursive: true })).toEqual(await load({ path: API, recursive: true }));
  });

  it('decrypt: false leaves SecureString values encrypted', async () => {
    const out = await load({ path: API, decrypt: false });
    expect(out.SECRET_KEY).toBeDefined();
    expect(out.SECRET_KEY).not.toBe('plain s3cret, decrypted');
    expect(out.ALLOWED_HOSTS).toBe('a.example.com,b.example.com');
  });

  it('uppercase: true upper-cases the keys', async () => {
    expect(await load({ path: `${NS}/Lower`, recursive: true, uppercase: true })).toEqual({ DB_HOST: 'h', NESTED_PORT: '1' });
  });

  it('json: flatten expands JSON-object values with __', async () => {
    const out = await load({ path: API, json: 'flatten' });
    expect(out).toMatchObject({
      DATABASES__default__HOST: 'db.internal',
      DATABASES__default__PORT: '5432',
      DATABASES__default__OPTIONS__sslmode: 'require',
      ALLOWED_HOSTS: 'a.example.com,b.example.com',
    });
    expect(out.DATABASES).toBeUndefined();
  });

  it('names: 23 names are fetched in 3 GetParameters batches, keyed by their last segment', async () => {
    const names = numberedParameters(`${NS}/Named`, 23).map((p) => p.name);
    const proxy = await startAwsProxy(moto);
    try {
      const out = await load({ names, endpoint: proxy.url });
      expect(Object.keys(out)).toEqual(names.map((n) => n.split('/').pop()));
      expect(out.N22).toBeUndefined();
      expect(out.P22).toBe('value-22');
      expect(proxy.targets).toEqual(Array(3).fill('AmazonSSM.GetParameters'));
    } finally {
      await proxy.close();
    }
  });

  it('names: missing parameters are one not-found error listing all of them', async () => {
    const names = [...numberedParameters(`${NS}/Named`, 12).map((p) => p.name), `${NS}/Named/NOPE1`, `${NS}/Nowhere/NOPE2`];
    const err = await failure(load({ names }));
    expect(err).toBeInstanceOf(NotFoundError);
    expectOneLine(err);
    expect(err.message).toContain(`${NS}/Named/NOPE1`);
    expect(err.message).toContain(`${NS}/Nowhere/NOPE2`);
    expect(err.message).not.toContain('P00');
  });

  it('names with optional: true skips the missing ones and keeps the rest', async () => {
    const out = await load({ names: [`${NS}/Named/P01`, `${NS}/Named/NOPE`, `${API}/SECRET_KEY`], optional: true });
    expect(out).toEqual({ P01: 'value-01', SECRET_KEY: 'plain s3cret, decrypted' });
  });

  it('two parameters that normalise to the same key are an error naming both', async () => {
    const err = await failure(load({ path: `${NS}/Collide` }));
    expectOneLine(err);
    expect(err.message).toContain(`${NS}/Collide/foo-bar`);
    expect(err.message).toContain(`${NS}/Collide/foo_bar`);
    expect(err.message).toContain('foo_bar');
    expect(err.message).not.toMatch(/dash|underscore/);
  });

  it('needs exactly one of path and names, and a URL as endpoint', async () => {
    expect((await failure(load({}))).message).toBe('missing required key: give one of "path" or "names"');
    expect((await failure(load({ path: API, names: ['/a'] }))).message).toBe('`names`: give exactly one of "path" or "names", not both');
    expect((await failure(load({ path: API, endpoint: 'localhost:4566' }))).message).toBe('`endpoint`: "localhost:4566" is not an http(s) URL such as https://ssm.eu-west-1.amazonaws.com');
  });

  it('an invalid region name is reported as such, not as a missing region', async () => {
    const err = await failure(load({ path: API, region: 'eu west 1' }));
    expectOneLine(err);
    expect(err.message).toMatch(/^AWS region: .*region/i);
    expect(err.message).not.toMatch(/no AWS region/);
  });

  it('honours AWS_ENDPOINT_URL_SSM (over AWS_ENDPOINT_URL) when the layer has no endpoint', async () => {
    const proxy = await startAwsProxy(moto);
    const restore = applyProcessEnv({ AWS_ENDPOINT_URL_SSM: proxy.url, AWS_ENDPOINT_URL: await closedPortUrl() });
    try {
      const out = await ssm.load({ type: 'ssm', path: API, retries: 0 }, makeContext());
      expect(out.SECRET_KEY).toBe('plain s3cret, decrypted');
      expect(proxy.targets).toEqual(['AmazonSSM.GetParametersByPath']);
    } finally {
      restore();
      await proxy.close();
    }
  });

  it('honours AWS_ENDPOINT_URL alone, and the endpoint option beats both variables', async () => {
    const restore = applyProcessEnv({ AWS_ENDPOINT_URL: moto });
    try {
      expect((await ssm.load({ type: 'ssm', names: [`${NS}/Named/P05`] }, makeContext())).P05).toBe('value-05');
    } finally {
      restore();
    }
    const closed = await closedPortUrl();
    const restore2 = applyProcessEnv({ AWS_ENDPOINT_URL_SSM: closed, AWS_ENDPOINT_URL: closed });
    try {
      expect((await load({ names: [`${NS}/Named/P06`], retries: 0 })).P06).toBe('value-06');
    } finally {
      restore2();
    }
  });

  it('a closed port is a clean one-line error naming the endpoint and region, quickly', async () => {
    const url = await closedPortUrl();
    const started = Date.now();
    const err = await failure(load({ path: API, endpoint: url, region: 'eu-west-1' }));
    expect(Date.now() - started).toBeLessThan(8000);
    expectOneLine(err);
    expect(err.message).toMatch(new RegExp(`^cannot reach SSM at ${url}: .*ECONNREFUSED.*\\(region eu-west-1, 4 attempts in [\\d.]+ s\\)$`));
  });

  it('an endpoint URL carrying a token or userinfo is shown as scheme, host and port only', async () => {
    const url = await closedPortUrl();
    const endpoint = `${url.replace('://', '://bob:hunter22@')}/gw?token=t0ps3cret`;
    const err = await failure(load({ path: API, endpoint, region: 'eu-west-1', retries: 0 }));
    expectOneLine(err);
    expect(err.message).toContain(`cannot reach SSM at ${url}: `);
    expect(err.message).not.toMatch(/hunter22|t0ps3cret|bob/);
  });

  it('an endpoint that accepts but never answers: the request is waited for twice as long once more (retries: 1), not sent again, then given up', async () => {
    const silent = await startSilentServer();
    try {
      const started = Date.now();
      const err = await failure(load({ path: API, endpoint: silent.url, timeout: 0.3, retries: 1 }));
      expect(Date.now() - started).toBeLessThan(5000);
      expectOneLine(err);
      expect(err.message).toMatch(/^cannot reach SSM at http:\/\/127\.0\.0\.1:\d+: no answer within 0\.9 s \(options `timeout` and `retries`\) \(region us-east-1\)$/);
    } finally {
      await silent.close();
    }
  });

  it('an endpoint that never accepts the connection is tried again at `timeout` each, without doubling (retries: 2)', async () => {
    const hole = await startBlackhole();
    try {
      const err = await failure(load({ path: API, endpoint: hole.origin, timeout: 0.3, retries: 2 }));
      expectOneLine(err);
      // Doubling waits (0.3 + 0.6 + 1.2 s) would report "no answer within 2.1 s"; these are three connections of 0.3 s.
      expect(err.message).toMatch(/^cannot reach SSM at http:\/\/127\.0\.0\.1:\d+: no connection within 0\.3 s \(options? `timeout`(?: and `retries`)?\) \(region us-east-1, 3 attempts in [\d.]+ s\)$/);
    } finally {
      await hole.close();
    }
  });

  it('stops promptly when the run is cancelled', async () => {
    const silent = await startSilentServer();
    const abort = new AbortController();
    try {
      const started = Date.now();
      const pending = failure(load({ path: API, endpoint: silent.url, timeout: 30 }, makeContext({ signal: abort.signal })));
      setTimeout(() => abort.abort(), 200);
      const err = await pending;
      expect(Date.now() - started).toBeLessThan(3000);
      expect(err.message).toBe('cancelled');
    } finally {
      await silent.close();
    }
  });

  it('AccessDeniedException is reported by name with the region, without retrying', async () => {
    const message = 'User: arn:aws:iam::123456789012:user/ci is not authorized to perform: ssm:GetParametersByPath';
    const proxy = await startAwsProxy(moto, { failFirst: 99, failWith: { status: 400, type: 'AccessDeniedException', message } });
    try {
      const err = await failure(load({ path: API, endpoint: proxy.url }));
      expectOneLine(err);
      // AWS's own text is not shown: it may quote the request.
      expect(err.message).toBe('AccessDeniedException: the credentials in use may not make this SSM call (HTTP 400, region us-east-1)');
      expect(proxy.targets).toHaveLength(1);
    } finally {
      await proxy.close();
    }
  });

  it('an expired session token says so', async () => {
    const proxy = await startAwsProxy(moto, { failFirst: 99, failWith: { status: 400, type: 'ExpiredTokenException', message: 'The security token included in the request is expired' } });
    try {
      const err = await failure(load({ path: API, endpoint: proxy.url }));
      expectOneLine(err);
      expect(err.message).toMatch(/^ExpiredTokenException: AWS credentials have expired: .*AWS_SESSION_TOKEN.*\(region us-east-1\)$/);
    } finally {
      await proxy.close();
    }
  });

  it('missing credentials: says so and names the env vars and profile it looked at', async () => {
    const restore = applyProcessEnv({ AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined });
    try {
      const err = await failure(load({ path: API }));
      expectOneLine(err);
      expect(err.message).toMatch(/^no AWS credentials found: looked at AWS_ACCESS_KEY_ID\/AWS_SECRET_ACCESS_KEY, profile "default"/);
      expect(err.message).toContain('(region us-east-1)');
      // A profile that neither shared file defines is named as the cause (test/aws-profile.test.ts has more).
      const err2 = await failure(load({ path: API, profile: 'ci-readonly' }));
      expect(err2.message).toMatch(/^profile "ci-readonly" \(layer option `profile`\) not found in \S+config or \S+credentials$/);
    } finally {
      restore();
    }
  });

  it('no region anywhere is a clean error saying where to set one', async () => {
    const restore = applyProcessEnv({ AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined });
    try {
      const err = await failure(load({ path: API }));
      expectOneLine(err);
      expect(err.message).toMatch(/^no AWS region: set `region` on the layer, AWS_REGION/);
    } finally {
      restore();
    }
  });

  it('leaves process.env as it found it (the warning switch is set only while the client is built)', async () => {
    await load({ path: API });
    expect(process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED).toBeUndefined();
  });
});

describe.skipIf(!moto)('secretrun with an ssm layer (built CLI)', () => {
  const secretrun = runInProject;

  it('100 parameters reach the child, with nothing on stderr (no SDK warning) and no SDK switch leaked', async () => {
    const keys = numberedParameters('', 100).map((p) => p.name.slice(1));
    const yaml = `sources:\n  - type: ssm\n    path: ${NS}/Hundred\n    endpoint: ${moto}\n`;
    const r = await secretrun(yaml, ['--', process.execPath, '-e', PRINT_ENV, ...keys, 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const env = JSON.parse(r.stdout) as Record<string, string | null>;
    expect(keys.filter((k) => env[k] !== `value-${k.slice(1)}`)).toEqual([]);
    expect(env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED).toBeNull();
  });

  it('the CLI takes the SDK from its vendored bundle (dist/vendor/aws.cjs), not from node_modules/@aws-sdk', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'secretrun-ssm-trace-'));
    try {
      // Preloaded into the CLI: at exit, every package file Node's CommonJS loader loaded from node_modules.
      writeFileSync(join(dir, 'trace.cjs'), "process.on('exit', () => process.stderr.write(JSON.stringify(Object.keys(require.cache).filter((f) => f.includes('node_modules')))))");
      const yaml = `sources:\n  - type: ssm\n    path: ${NS}/Hundred\n    endpoint: ${moto}\n`;
      const r = await secretrun(yaml, ['--no-exec', '--', 'true'], { NODE_OPTIONS: `--require ${join(dir, 'trace.cjs')}` });
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stderr)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('interpolates path: ${NS}/${STAGE}/ApiServer from the environment vars, with AWS_ENDPOINT_URL_SSM as the endpoint', async () => {
    const yaml = [
      'default_environment: prod',
      'sources:',
      '  - type: ssm',
      `    path: ${NS}/\${STAGE}/ApiServer`,
      '    recursive: true',
      '    json: flatten',
      'environments:',
      '  prod:',
      '    vars: { STAGE: Production }',
      '  dev:',
      '    vars: { STAGE: Dev }',
      '',
    ].join('\n');
    const r = await secretrun(yaml, ['--', process.execPath, '-e', PRINT_ENV, 'SECRET_KEY', 'DATABASES__default__HOST', 'db_HOST'], { AWS_ENDPOINT_URL_SSM: moto });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ SECRET_KEY: 'plain s3cret, decrypted', DATABASES__default__HOST: 'db.internal', db_HOST: 'nested-host' });
    // Dev has no parameters: an empty path is an empty layer, not an error.
    const dev = await secretrun(yaml, ['-e', 'dev', '--', process.execPath, '-e', PRINT_ENV, 'SECRET_KEY'], { AWS_ENDPOINT_URL_SSM: moto });
    expect(dev.stderr).toBe('');
    expect(JSON.parse(dev.stdout)).toEqual({ SECRET_KEY: null });
  });

  it('a failing ssm layer stops the run with exit 125 and one line naming the layer', async () => {
    const closed = await closedPortUrl();
    const yaml = `sources:\n  - type: ssm\n    path: ${API}\n    endpoint: ${closed}\n    region: eu-west-1\n    retries: 1\n`;
    const r = await secretrun(yaml, ['--', process.execPath, '-e', 'process.stdout.write("child ran")']);
    expect(r.code).toBe(125);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`layer "ssm ${API}" (secretrun.yaml:2:5): cannot reach SSM at ${closed}: ECONNREFUSED`);
    expect(r.stderr).toMatch(/\(region eu-west-1, 2 attempts in [\d.]+ s\)\n$/);
  });

  it('names with one missing: an error naming it, or with optional: true the others still arrive', async () => {
    const layer = (optional: boolean) =>
      `sources:\n  - type: ssm\n    endpoint: ${moto}\n    optional: ${optional}\n    names: [${NS}/Named/P03, ${NS}/Named/GONE]\n`;
    const strict = await secretrun(layer(false), ['--', process.execPath, '-e', PRINT_ENV, 'P03']);
    expect(strict.code).toBe(125);
    expect(strict.stderr).toContain(`parameter not found: ${NS}/Named/GONE`);
    const lenient = await secretrun(layer(true), ['--', process.execPath, '-e', PRINT_ENV, 'P03', 'GONE']);
    expect(lenient.stderr).toBe('');
    expect(JSON.parse(lenient.stdout)).toEqual({ P03: 'value-03', GONE: null });
  });
});

describe('ssm key names (pure)', () => {
  it('keys are relative to the path, whatever its trailing slashes, and / is turned into _', () => {
    expect(relativeName('/Dev/WebServer/db/HOST', '/Dev/WebServer')).toBe('db/HOST');
    expect(relativeName('/Dev/WebServer/db/HOST', '/Dev/WebServer//')).toBe('db/HOST');
    expect(relativeName('/TOP', '/')).toBe('TOP');
    expect(normalizePath('///')).toBe('/');
    expect(toEnvKey('db/HOST', false)).toBe('db_HOST');
  });

  it('invalid characters become _, a leading digit gets a _ in front, case is kept unless uppercase', () => {
    expect(toEnvKey('feature.flag-x', false)).toBe('feature_flag_x');
    expect(toEnvKey('1password', false)).toBe('_1password');
    expect(toEnvKey('MixedCase', false)).toBe('MixedCase');
    expect(toEnvKey('a.b', true)).toBe('A_B');
  });

  it('uppercase collisions and flatten collisions are errors naming both sources', () => {
    expect(() => parametersToEnv([{ name: '/p/key', value: 'a' }, { name: '/p/KEY', value: 'b' }], { path: '/p', uppercase: true, json: 'keep' })).toThrow(
      'parameter /p/key and parameter /p/KEY both give the key KEY',
    );
    expect(() =>
      parametersToEnv([{ name: '/p/DB', value: '{"HOST":"x"}' }, { name: '/p/DB__HOST', value: 'y' }], { path: '/p', uppercase: false, json: 'flatten' }),
    ).toThrow(/parameter \/p\/DB \(JSON key HOST\) and parameter \/p\/DB__HOST both give the key DB__HOST/);
  });

  it('json: flatten leaves arrays, scalars and text that only looks like JSON as text', () => {
    const params = [
      { name: '/p/LIST', value: '[1,2]' },
      { name: '/p/NUM', value: '42' },
      { name: '/p/BROKEN', value: '{not json' },
      { name: '/p/OBJ', value: '{"a":{"b":null,"c":[1]},"d":true}' },
    ];
    expect(parametersToEnv(params, { path: '/p', uppercase: false, json: 'flatten' })).toEqual({
      LIST: '[1,2]',
      NUM: '42',
      BROKEN: '{not json',
      OBJ__a__c: '[1]',
      OBJ__d: 'true',
    });
  });
});
