/**
 * The lean AWS client (src/sources/aws/lean.ts), its pure parts: SigV4 against the SDK's own signer
 * (@smithy/signature-v4 with its pure-JS SHA-256, an independent implementation), the canonical request, the
 * error names the SDK would give, the SDK's output shapes, and the rule that decides when the SDK is not needed.
 */
import { describe, expect, it } from 'vitest';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256Js } from '@smithy/core/checksum';
import { amzDate, canonicalRequest, clockOffset, environmentCredentials, errorCode, leanRoute, sdkShaped, serviceError, sharedFileVerdict, sharedFileVerdicts, signedHeaders, type AwsCredentials } from '../src/sources/aws/lean.js';

const DATE = new Date('2026-12-07T05:35:10.123Z');
const KEYS: AwsCredentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const WITH_TOKEN: AwsCredentials = { ...KEYS, sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLE//token+with/odd=chars' };

/** The SDK signer's headers for the same request, in its order. */
async function sdkSigned(headers: Record<string, string>, body: string, credentials: AwsCredentials, region: string, service: string): Promise<Record<string, string>> {
  const signer = new SignatureV4({ credentials, region, service, sha256: Sha256Js, uriEscapePath: true });
  const signed = await signer.sign({ method: 'POST', protocol: 'https:', hostname: headers.host, path: '/', query: {}, headers: { ...headers }, body }, { signingDate: DATE });
  return signed.headers;
}

describe('SigV4 signing', () => {
  const cases: Array<[string, string, string, string, AwsCredentials]> = [
    ['ssm, keys only', 'ssm.eu-west-1.amazonaws.com', 'AmazonSSM.GetParametersByPath', '{"Path":"/a/b","Recursive":true,"WithDecryption":true,"MaxResults":10}', KEYS],
    ['ssm, with a session token', 'ssm.us-east-1.amazonaws.com', 'AmazonSSM.GetParameters', '{"Names":["/x:3","/y"],"WithDecryption":false}', WITH_TOKEN],
    ['secretsmanager on a loopback port, unicode in the body', '127.0.0.1:4566', 'secretsmanager.GetSecretValue', '{"SecretId":"prod/ä p","VersionStage":"AWSCURRENT"}', WITH_TOKEN],
    ['an empty JSON body', 'secretsmanager.ap-southeast-2.amazonaws.com', 'secretsmanager.BatchGetSecretValue', '{}', KEYS],
  ];
  it.each(cases)('%s: the same headers as @smithy/signature-v4, in its order', async (_, host, target, body, credentials) => {
    const region = host.split('.')[1]?.match(/^[a-z]+-[a-z]+-\d$/) ? host.split('.')[1] : 'us-east-1';
    const service = target.startsWith('AmazonSSM') ? 'ssm' : 'secretsmanager';
    const base = { 'content-length': String(Buffer.byteLength(body)), 'content-type': 'application/x-amz-json-1.1', host, 'x-amz-target': target };
    const ours = signedHeaders(base, body, credentials, { region, service, date: DATE });
    expect(Object.entries(ours)).toEqual(Object.entries(await sdkSigned(base, body, credentials, region, service)));
    expect(ours['x-amz-date']).toBe('20261207T053510Z');
    expect(ours['x-amz-security-token']).toBe(credentials.sessionToken);
    expect(ours.authorization).toContain(`Credential=AKIDEXAMPLE/20261207/${region}/${service}/aws4_request, SignedHeaders=`);
  });

  it.each([
    ['plain', 'vault.example.com'],
    ['runs of spaces and tabs, spaces at either end', '  vault \t\t example   com '],
    ['a line break', 'vault\r\nexample'],
  ])('a header value the user gives (Vault\'s server id), %s: folded as the SDK folds it', async (_, value) => {
    const base = { host: 'sts.amazonaws.com', 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', 'x-vault-aws-iam-server-id': value };
    const body = 'Action=GetCallerIdentity&Version=2011-06-15';
    const ours = signedHeaders(base, body, WITH_TOKEN, { region: 'eu-west-1', service: 'sts', date: DATE });
    expect(Object.entries(ours)).toEqual(Object.entries(await sdkSigned(base, body, WITH_TOKEN, 'eu-west-1', 'sts')));
  });

  it('a different secret key, body or date gives a different signature', () => {
    const base = { 'content-type': 'application/x-amz-json-1.1', host: 'ssm.eu-west-1.amazonaws.com', 'x-amz-target': 'AmazonSSM.GetParameters' };
    const sign = (body: string, credentials: AwsCredentials, date = DATE) => signedHeaders(base, body, credentials, { region: 'eu-west-1', service: 'ssm', date }).authorization;
    const one = sign('{"Names":["/a"]}', KEYS);
    expect(sign('{"Names":["/b"]}', KEYS)).not.toBe(one);
    expect(sign('{"Names":["/a"]}', { ...KEYS, secretAccessKey: 'other' })).not.toBe(one);
    expect(sign('{"Names":["/a"]}', KEYS, new Date(DATE.getTime() + 1000))).not.toBe(one);
  });

  it('the canonical request: method, path, empty query, sorted lower-case headers with trimmed values, signed names, payload hash', () => {
    const { canonical, signedHeaders: names } = canonicalRequest('POST', '/', { 'X-Amz-Target': 'AmazonSSM.GetParameters', Host: 'h', 'content-type': '  a   b ' }, 'abc');
    expect(names).toBe('content-type;host;x-amz-target');
    expect(canonical).toBe('POST\n/\n\ncontent-type:a b\nhost:h\nx-amz-target:AmazonSSM.GetParameters\n\ncontent-type;host;x-amz-target\nabc');
    expect(amzDate(DATE)).toBe('20261207T053510Z');
  });
});

describe('error names, as the SDK finds them', () => {
  it.each([
    [{}, { __type: 'com.amazon.coral.service#AccessDeniedException', message: 'no' }, 'AccessDeniedException'],
    [{}, { __type: 'ParameterNotFound' }, 'ParameterNotFound'],
    [{ 'x-amzn-errortype': 'ThrottlingException:http://internal.amazon.com/coral/' }, {}, 'ThrottlingException'],
    [{ 'X-Amzn-ErrorType': 'A,B' }, {}, 'A'],
    [{}, { code: 'Foo#Bar' }, 'Bar'],
    [{ 'x-amzn-errortype': 'FromHeader' }, { __type: 'FromBody' }, 'FromBody'],
    [{}, {}, undefined],
  ])('%j %j -> %s', (headers, data, name) => {
    expect(errorCode(headers, data)).toBe(name);
  });

  it('an error answer becomes the SDK error object: name, $fault from the model or the status, $metadata, retry-after readable, no AWS text', () => {
    const denied = serviceError(400, {}, '{"__type":"AccessDeniedException","message":"User arn:aws:iam::1:user/x is not authorized on /secret/path"}', []);
    expect(denied).toMatchObject({ name: 'AccessDeniedException', $fault: 'client', $metadata: { httpStatusCode: 400 } });
    expect(denied.message).not.toContain('/secret/path');
    expect(serviceError(400, {}, '{"__type":"InternalServerError"}', ['InternalServerError'])).toMatchObject({ $fault: 'server' });
    expect(serviceError(503, { 'retry-after': '2' }, '', [])).toMatchObject({ name: 'Unknown', $fault: 'server' });
    expect((serviceError(503, { 'retry-after': '2' }, '', []) as unknown as { $response: { headers: Record<string, string> } }).$response.headers['retry-after']).toBe('2');
    const html = serviceError(502, {}, '<html>bad gateway, key=hunter2</html>', []);
    expect(html).toMatchObject({ name: 'SyntaxError', $metadata: { httpStatusCode: 502 } });
    expect(html.message).not.toContain('hunter2');
  });
});

describe('clock correction, as the SDK keeps it', () => {
  const NOW = Date.parse('2026-12-07T06:00:00Z');
  it('an answer\'s Date sets the offset; a cached answer (Age), a slow one or a Date that is not one leaves it', () => {
    expect(clockOffset({ date: 'Mon, 07 Dec 2026 06:10:00 GMT' }, 0, NOW - 100, NOW)).toBe(600_000);
    expect(clockOffset({ date: 'Mon, 07 Dec 2026 05:59:58 GMT' }, 600_000, NOW - 100, NOW)).toBe(-2000);
    expect(clockOffset({ date: 'Mon, 07 Dec 2026 06:10:00 GMT', age: '30' }, 5, NOW - 100, NOW)).toBe(5);
    expect(clockOffset({ date: 'Mon, 07 Dec 2026 06:10:00 GMT' }, 5, NOW - 900_001, NOW)).toBe(5);
    expect(clockOffset({ date: 'yesterday' }, 5, NOW, NOW)).toBe(5);
    expect(clockOffset({}, 5, NOW, NOW)).toBe(5);
  });
});

describe('outputs, as the SDK shapes them', () => {
  it('blobs become Uint8Array and timestamps Date, at any depth; strings that merely look so stay as they are', () => {
    const out = sdkShaped({ SecretBinary: 'aGVsbG8=', CreatedDate: 1700000000.5, SecretValues: [{ SecretBinary: 'AAE=', SecretString: 'aGVsbG8=' }], Version: 3 }) as Record<string, unknown>;
    expect(out.SecretBinary).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(out.SecretBinary as Uint8Array).toString()).toBe('hello');
    expect(out.CreatedDate).toEqual(new Date(1700000000500));
    expect((out.SecretValues as Array<Record<string, unknown>>)[0]).toEqual({ SecretBinary: new Uint8Array([0, 1]), SecretString: 'aGVsbG8=' });
    expect(out.Version).toBe(3);
  });
});

describe('leanRoute: the SDK unless it would certainly send the same request', () => {
  const ENV = { AWS_ACCESS_KEY_ID: 'AKID', AWS_SECRET_ACCESS_KEY: 'sk', AWS_REGION: 'eu-west-1', HOME: '/nowhere' };
  const SERVICE = { endpointVariable: 'AWS_ENDPOINT_URL_SSM' };
  const endpoint = (opts: { endpoint?: string }, env: Record<string, string | undefined>) => (region: string) =>
    opts.endpoint ?? env.AWS_ENDPOINT_URL_SSM ?? env.AWS_ENDPOINT_URL ?? `https://ssm.${region}.amazonaws.com`;
  const route = (env: Record<string, string | undefined>, opts: { region?: string; profile?: string; endpoint?: string } = {}, files: Record<string, string> = {}, processEnv = env) =>
    leanRoute(SERVICE, opts, env, processEnv, endpoint(opts, env), (path) => sharedFileVerdict(path, (p) => files[p]));

  it('environment keys, a region from the layer or AWS_REGION, no shared files: lean, with the session token when set', async () => {
    expect(await route(ENV)).toEqual({ lean: true, region: 'eu-west-1', endpoint: 'https://ssm.eu-west-1.amazonaws.com', credentials: { accessKeyId: 'AKID', secretAccessKey: 'sk' }, why: 'environment credentials' });
    expect(await route({ ...ENV, AWS_SESSION_TOKEN: 'tok' }, { region: 'us-west-2' })).toMatchObject({ lean: true, region: 'us-west-2', credentials: { sessionToken: 'tok' } });
    expect(await route({ ...ENV, AWS_ENDPOINT_URL_SSM: 'http://127.0.0.1:4566' })).toMatchObject({ lean: true, endpoint: 'http://127.0.0.1:4566' });
    expect(await route({ ...ENV, AWS_CREDENTIAL_EXPIRATION: new Date(Date.now() + 3600_000).toISOString() })).toMatchObject({ lean: true });
    expect(await route(ENV, {}, { '/nowhere/.aws/config': '[default]\nregion = us-east-1\noutput = json\n' })).toMatchObject({ lean: true });
  });

  it.each<[string, Record<string, string | undefined>, { region?: string; profile?: string; endpoint?: string }, Record<string, string>, RegExp]>([
    ['a profile on the layer', ENV, { profile: 'p' }, {}, /profile/],
    ['AWS_PROFILE (the SDK then skips the environment keys)', { ...ENV, AWS_PROFILE: 'p' }, {}, {}, /AWS_PROFILE/],
    ['no secret key', { ...ENV, AWS_SECRET_ACCESS_KEY: undefined }, {}, {}, /AWS_SECRET_ACCESS_KEY/],
    ['an empty access key', { ...ENV, AWS_ACCESS_KEY_ID: '' }, {}, {}, /AWS_ACCESS_KEY_ID/],
    ['no region but from the config file', { ...ENV, AWS_REGION: undefined, AWS_DEFAULT_REGION: 'eu-west-1' }, {}, {}, /config file/],
    ['a China region', ENV, { region: 'cn-north-1' }, {}, /partition/],
    ['a GovCloud region', { ...ENV, AWS_REGION: 'us-gov-west-1' }, {}, {}, /partition/],
    ['an ISO region', ENV, { region: 'us-iso-east-1' }, {}, /partition/],
    ['a FIPS pseudo-region', ENV, { region: 'fips-us-east-1' }, {}, /partition/],
    ['AWS_USE_FIPS_ENDPOINT', { ...ENV, AWS_USE_FIPS_ENDPOINT: 'false' }, {}, {}, /AWS_USE_FIPS_ENDPOINT/],
    ['AWS_USE_DUALSTACK_ENDPOINT', { ...ENV, AWS_USE_DUALSTACK_ENDPOINT: 'true' }, {}, {}, /DUALSTACK/],
    ['AWS_IGNORE_CONFIGURED_ENDPOINT_URLS', { ...ENV, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' }, {}, {}, /IGNORE/],
    ['an expiry within five minutes', { ...ENV, AWS_CREDENTIAL_EXPIRATION: new Date(Date.now() + 60_000).toISOString() }, {}, {}, /EXPIRATION/],
    ['an expiry that is not a date', { ...ENV, AWS_CREDENTIAL_EXPIRATION: 'soon' }, {}, {}, /EXPIRATION/],
    ['an endpoint with a path', ENV, { endpoint: 'https://proxy.example/ssm' }, {}, /path/],
    ['an endpoint with user info', { ...ENV, AWS_ENDPOINT_URL: 'https://u:p@proxy.example' }, {}, {}, /user info/],
    ['an empty AWS_ENDPOINT_URL_SSM', { ...ENV, AWS_ENDPOINT_URL_SSM: '' }, {}, {}, /empty/],
    ['endpoint_url in the config file', ENV, {}, { '/nowhere/.aws/config': '[default]\nendpoint_url = http://x\n' }, /config has endpoint settings/],
    ['a services section', { ...ENV, AWS_CONFIG_FILE: '/c' }, {}, { '/c': '[profile x]\nservices = s\n[services s]\nssm =\n  endpoint_url = http://x\n' }, /\/c has endpoint settings/],
    ['use_fips_endpoint in the credentials file', ENV, {}, { '/nowhere/.aws/credentials': '[default]\nuse_fips_endpoint=true\n' }, /credentials has endpoint settings/],
  ])('%s: the SDK', async (_, env, opts, files, why) => {
    const r = await route(env, opts, files);
    expect(r.lean).toBe(false);
    expect(r.why).toMatch(why);
  });

  it('the layer environment and the process environment the SDK reads must agree on every AWS_ variable', async () => {
    expect(await route(ENV, {}, {}, { ...ENV, AWS_SESSION_TOKEN: 'tok' })).toMatchObject({ lean: false, why: expect.stringMatching(/AWS_SESSION_TOKEN differs/) });
    expect(await route(ENV, {}, {}, { ...ENV, PATH: '/bin' })).toMatchObject({ lean: true });
  });

  it('the credential part alone (environmentCredentials, as the Vault AWS login asks it): endpoint and region settings do not matter to it', async () => {
    const endpointOnly = { ...ENV, AWS_REGION: undefined, AWS_USE_FIPS_ENDPOINT: 'true', AWS_ENDPOINT_URL: 'https://u:p@proxy.example/x' };
    expect(environmentCredentials(undefined, endpointOnly, endpointOnly)).toEqual({ lean: true, credentials: { accessKeyId: 'AKID', secretAccessKey: 'sk' }, why: 'environment credentials' });
    expect((await route(endpointOnly)).lean).toBe(false);
    for (const [env, why] of [
      [{ ...ENV, AWS_PROFILE: 'p' }, /AWS_PROFILE is set/],
      [{ ...ENV, AWS_CREDENTIAL_SCOPE: 'eu-west-1' }, /AWS_CREDENTIAL_SCOPE/],
      [{ ...ENV, AWS_ACCOUNT_ID: '123456789012' }, /AWS_ACCOUNT_ID/],
      [{ ...ENV, AWS_SECRET_ACCESS_KEY: '' }, /AWS_SECRET_ACCESS_KEY/],
    ] as const) {
      expect(environmentCredentials(undefined, env, env)).toMatchObject({ lean: false, why: expect.stringMatching(why) });
    }
    expect(environmentCredentials('p', ENV, ENV)).toMatchObject({ lean: false, why: expect.stringMatching(/profile/) });
    expect(environmentCredentials(undefined, ENV, { ...ENV, AWS_ACCESS_KEY_ID: 'other' })).toMatchObject({ lean: false, why: expect.stringMatching(/AWS_ACCESS_KEY_ID differs/) });
  });

  it('a shared file that cannot be read: the SDK', async () => {
    const denied = () => {
      throw Object.assign(new Error('denied'), { code: 'EACCES' });
    };
    const r = await leanRoute(SERVICE, {}, ENV, ENV, endpoint({}, ENV), (path) => sharedFileVerdict(path, denied));
    expect(r).toMatchObject({ lean: false, why: expect.stringMatching(/cannot be read/) });
  });

  it('each shared file is read once per resolve (context.reads), whatever the number of layers asking; a new resolve reads again', async () => {
    const read: string[] = [];
    const readText = (path: string) => {
      read.push(path);
      return path.endsWith('config') ? '[default]\noutput = json\n' : undefined;
    };
    const resolve = async (reads: Map<string, Promise<unknown>>) => {
      const verdicts = sharedFileVerdicts({ reads }, readText);
      return Promise.all([ENV, { ...ENV, AWS_ENDPOINT_URL_SSM: 'http://127.0.0.1:4566' }, ENV].map((env) => leanRoute(SERVICE, {}, env, env, endpoint({}, env), verdicts)));
    };
    const first = await resolve(new Map());
    expect(first.map((r) => r.lean)).toEqual([true, true, true]);
    expect(read).toEqual(['/nowhere/.aws/config', '/nowhere/.aws/credentials']);
    await resolve(new Map());
    expect(read).toHaveLength(4);
    // A verdict of endpoint settings is shared as well: every layer of the resolve takes the SDK.
    const shared = new Map<string, Promise<unknown>>();
    const settings = await Promise.all([0, 1].map(() => leanRoute(SERVICE, {}, ENV, ENV, endpoint({}, ENV), sharedFileVerdicts({ reads: shared }, () => '[default]\nendpoint_url = http://x\n'))));
    expect(settings.map((r) => r.why)).toEqual(['~/.aws/config has endpoint settings', '~/.aws/config has endpoint settings']);
  });
});
