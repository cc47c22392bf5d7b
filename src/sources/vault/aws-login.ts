/**
 * Vault's AWS IAM login: a `sts:GetCallerIdentity` request signed with SigV4, handed to Vault, which replays it to
 * STS. Loaded only for `auth.method: aws`; the secret key never leaves this process (only the signature does).
 *
 * When the AWS SDK's default credential chain would certainly end at the environment's keys
 * (`environmentCredentials`, the credential part of the lean AWS route), the request is signed by secretrun's own
 * signer (../aws/lean.ts) and the SDK is not loaded; otherwise by the SDK's signer with the credentials of its
 * default chain. Both give the same headers, in the same order.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SourceError } from '../../core/errors.js';
import { loadPackage } from '../../core/import-external.js';
import { environmentCredentials, maskCredentials, signedHeaders, type AwsCredentials } from '../aws/lean.js';
import { debugChannel } from '../net/retry.js';
import type { SourceContext } from '../types.js';
import type { AuthSettings } from './auth.js';

const STS_BODY = 'Action=GetCallerIdentity&Version=2011-06-15';

/** The SHA-256 the signer asks for (`Checksum`), from node:crypto. */
class Sha256 {
  #hash: Hash | Hmac;
  constructor(secret?: string | Uint8Array) {
    this.#hash = secret === undefined ? createHash('sha256') : createHmac('sha256', secret);
  }
  update(data: string | Uint8Array): void {
    this.#hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }
  reset(): void {}
}

type AwsAuth = Extract<AuthSettings, { method: 'aws' }>;

/**
 * The STS host a login is signed for. Without `region`: the global endpoint, which takes us-east-1 signatures (the
 * default of `vault login -method=aws`, and of Vault's own `sts_endpoint`). With one: that region's endpoint, as the
 * Vault CLI signs for `region=...` (the global endpoint refuses a signature scoped to another region); Vault must be
 * configured with the same endpoint (`sts_endpoint`, `sts_region`). China's regions are in their own domain.
 */
export function stsHost(region: string | undefined): string {
  if (region === undefined || region === 'us-east-1') return 'sts.amazonaws.com';
  return `sts.${region}.${region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com'}`;
}

export async function awsLoginBody(settings: AwsAuth, context: SourceContext): Promise<Record<string, string>> {
  const region = settings.region ?? 'us-east-1';
  const host = stsHost(settings.region);
  const headers: Record<string, string> = { host, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };
  if (settings.header_value) headers['x-vault-aws-iam-server-id'] = settings.header_value;
  // process.env: what the SDK's chain would read; the layer's environment must agree with it.
  const route = environmentCredentials(undefined, context.env, process.env);
  debugChannel(context.env, context.layer)?.(`auth aws signer: ${route.lean ? 'lean (no AWS SDK)' : 'AWS SDK'}, ${route.why}`);
  let signed: Record<string, string>;
  if (route.lean) {
    maskCredentials(route.credentials, context);
    signed = signedHeaders(headers, STS_BODY, route.credentials, { region, service: 'sts', date: new Date() });
  } else {
    signed = await sdkSigned(headers, region, context);
  }
  context.secret(signed.authorization);
  // Vault expects each header's values as a list.
  const asLists = Object.fromEntries(Object.entries(signed).map(([k, v]) => [k, [v]]));
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  return { iam_http_request_method: 'POST', iam_request_url: b64(`https://${host}/`), iam_request_body: b64(STS_BODY), iam_request_headers: b64(JSON.stringify(asLists)) };
}

/** `headers` signed by the SDK's signer (@smithy/signature-v4) with the credentials of its default chain. */
async function sdkSigned(headers: Record<string, string>, region: string, context: SourceContext): Promise<Record<string, string>> {
  const [{ SignatureV4 }, { defaultProvider }] = await Promise.all([
    loadPackage<{ SignatureV4: new (o: Record<string, unknown>) => { sign(req: unknown): Promise<{ headers: Record<string, string> }> } }>('@smithy/signature-v4'),
    loadPackage<{ defaultProvider: (o?: Record<string, unknown>) => () => Promise<AwsCredentials> }>('@aws-sdk/credential-provider-node'),
  ]);
  let credentials: AwsCredentials;
  try {
    credentials = await defaultProvider()();
  } catch (err) {
    const name = (err as { name?: unknown })?.name;
    throw new SourceError(`auth aws: no AWS credentials from the SDK's default chain (${typeof name === 'string' && /^[A-Za-z]{1,60}$/.test(name) ? name : 'error'})`);
  }
  maskCredentials(credentials, context);
  const signer = new SignatureV4({ credentials, region, service: 'sts', sha256: Sha256 });
  const signed = await signer.sign({ method: 'POST', protocol: 'https:', hostname: headers.host, path: '/', headers, body: STS_BODY });
  return signed.headers;
}
