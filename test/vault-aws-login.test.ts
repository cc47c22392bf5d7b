/**
 * Vault's AWS login body (src/sources/vault/aws-login.ts) on its two paths at one fixed instant: signed by
 * secretrun's own signer with the environment's keys, and by the SDK's signer with the same keys from a profile of
 * its default chain. Vault replays the headers as given, so the two bodies must be the same, byte for byte, and STS
 * (here @smithy/signature-v4, helpers/fake-vault.ts `stsAccepts`) must accept them.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { awsLoginBody, stsHost } from '../src/sources/vault/aws-login.js';
import { authIssues } from '../src/sources/vault/auth-settings.js';
import type { AuthSettings } from '../src/sources/vault/auth.js';
import { stsAccepts } from './helpers/fake-vault.js';
import { makeContext } from './helpers/source-context.js';

const KEY_ID = 'AKIAVAULTLOGIN00001';
const SECRET_KEY = 'vK2m+Qw8/Zr5LpN3xB7cT4yU6iO0aS9dFgHjKl1';
const SESSION_TOKEN = 'IQoJb3JpZ2luX2VjVAULT//login+token/odd=chars';
const NOW = new Date('2026-12-07T05:35:10.123Z');
const SETTINGS: Extract<AuthSettings, { method: 'aws' }> = { method: 'aws', mount: 'aws', role: 'deploy', header_value: 'vault.example.com', region: 'eu-west-1' };

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'secretrun-aws-login-'));
  writeFileSync(join(dir, 'credentials'), `[p]\naws_access_key_id = ${KEY_ID}\naws_secret_access_key = ${SECRET_KEY}\naws_session_token = ${SESSION_TOKEN}\n`);
  // The SDK reads process.env: only this test's AWS_ variables, none of the machine's.
  for (const name of Object.keys(process.env)) if (name.startsWith('AWS_')) vi.stubEnv(name, undefined);
  vi.stubEnv('AWS_CONFIG_FILE', join(dir, 'config'));
  vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', join(dir, 'credentials'));
  vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(NOW);
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
  rmSync(dir, { recursive: true, force: true });
});

/** The login body with `env` set in the process environment (and the layer's), and what it marked secret. */
async function loginWith(env: Record<string, string>, settings = SETTINGS) {
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  const context = makeContext({ env: { ...process.env } });
  const body = await awsLoginBody(settings, context);
  for (const name of Object.keys(env)) vi.stubEnv(name, undefined);
  return { body, secrets: context.secrets };
}

const headersOf = (body: Record<string, string>) => JSON.parse(Buffer.from(body.iam_request_headers, 'base64').toString('utf8')) as Record<string, string[]>;

describe('vault auth aws: the lean signer and the SDK sign the same request', () => {
  it('environment keys (lean) and the same keys from a profile (SDK): the same body byte for byte, accepted by STS, the same secrets masked', async () => {
    const lean = await loginWith({ AWS_ACCESS_KEY_ID: KEY_ID, AWS_SECRET_ACCESS_KEY: SECRET_KEY, AWS_SESSION_TOKEN: SESSION_TOKEN });
    const sdk = await loginWith({ AWS_PROFILE: 'p' });
    expect(lean.body).toEqual(sdk.body);
    expect(JSON.stringify(lean.body)).toBe(JSON.stringify(sdk.body));
    const headers = headersOf(lean.body);
    expect(Object.keys(headers)).toEqual(['host', 'content-type', 'x-vault-aws-iam-server-id', 'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256', 'authorization']);
    expect(headers['x-amz-date']).toEqual(['20261207T053510Z']);
    expect(headers.authorization[0]).toMatch(new RegExp(`^AWS4-HMAC-SHA256 Credential=${KEY_ID}/20261207/eu-west-1/sts/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token;x-vault-aws-iam-server-id, Signature=[0-9a-f]{64}$`));
    const first = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, v[0]]));
    expect(await stsAccepts(first, 'Action=GetCallerIdentity&Version=2011-06-15', { [KEY_ID]: SECRET_KEY })).toBe(true);
    expect(await stsAccepts(first, 'Action=GetCallerIdentity&Version=2011-06-15', { [KEY_ID]: `${SECRET_KEY}x` })).toBe(false);
    for (const { secrets } of [lean, sdk]) expect(new Set(secrets)).toEqual(new Set([SECRET_KEY, SESSION_TOKEN, headers.authorization[0]]));
  });

  it('without a session token, no region and no server id: the same body on both paths (us-east-1, no token header)', async () => {
    writeFileSync(join(dir, 'credentials'), `[p]\naws_access_key_id = ${KEY_ID}\naws_secret_access_key = ${SECRET_KEY}\n`);
    const settings = { ...SETTINGS, header_value: undefined, region: undefined };
    const { body: lean } = await loginWith({ AWS_ACCESS_KEY_ID: KEY_ID, AWS_SECRET_ACCESS_KEY: SECRET_KEY }, settings);
    expect(JSON.stringify(lean)).toBe(JSON.stringify((await loginWith({ AWS_PROFILE: 'p' }, settings)).body));
    const headers = headersOf(lean);
    expect(Object.keys(headers)).toEqual(['host', 'content-type', 'x-amz-date', 'x-amz-content-sha256', 'authorization']);
    expect(headers.authorization[0]).toContain('/20261207/us-east-1/sts/aws4_request');
  });

  it('signs for the STS endpoint of its region, as the Vault CLI does: the global one without `region` (us-east-1), else the regional one', async () => {
    const env = { AWS_ACCESS_KEY_ID: KEY_ID, AWS_SECRET_ACCESS_KEY: SECRET_KEY };
    const urlOf = (body: Record<string, string>) => Buffer.from(body.iam_request_url, 'base64').toString('utf8');
    for (const [region, host, scope] of [
      [undefined, 'sts.amazonaws.com', 'us-east-1'],
      ['us-east-1', 'sts.amazonaws.com', 'us-east-1'],
      ['eu-west-1', 'sts.eu-west-1.amazonaws.com', 'eu-west-1'],
      ['us-gov-west-1', 'sts.us-gov-west-1.amazonaws.com', 'us-gov-west-1'],
      ['cn-north-1', 'sts.cn-north-1.amazonaws.com.cn', 'cn-north-1'],
    ] as const) {
      expect(stsHost(region)).toBe(host);
      const { body } = await loginWith(env, { ...SETTINGS, region });
      const headers = headersOf(body);
      expect(urlOf(body)).toBe(`https://${host}/`);
      expect(headers.host).toEqual([host]);
      expect(headers.authorization[0]).toContain(`/20261207/${scope}/sts/aws4_request,`);
      expect(await stsAccepts(Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, v[0]])), 'Action=GetCallerIdentity&Version=2011-06-15', { [KEY_ID]: SECRET_KEY })).toBe(true);
    }
  });

  it('a `region` that is not an AWS region name is a problem of the auth mapping (it names the host signed for)', () => {
    for (const region of ['eu-west-1', 'us-gov-east-1', 'ap-southeast-3', 'cn-northwest-1']) expect(authIssues({ method: 'aws', role: 'r', region })).toEqual([]);
    for (const region of ['evil.example.com/x', 'EU-WEST-1', 'eu-west', 'eu-west-1.attacker', 'eu west 1']) {
      expect(authIssues({ method: 'aws', role: 'r', region })).toEqual([['region', 'not an AWS region name (such as eu-west-1)']]);
    }
  });
});
