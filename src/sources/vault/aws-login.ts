/**
 * Vault's AWS IAM login: a `sts:GetCallerIdentity` request signed (SigV4) with the AWS SDK's own signer and its
 * default credential chain, handed to Vault, which replays it to STS. Loaded only for `auth.method: aws`; the
 * secret key never leaves this process (only the signature does).
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SourceError } from '../../core/errors.js';
import { loadPackage } from '../../core/import-external.js';
import type { SourceContext } from '../types.js';
import type { AuthSettings } from './auth.js';

const STS_URL = 'https://sts.amazonaws.com/';
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

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export async function awsLoginBody(settings: Extract<AuthSettings, { method: 'aws' }>, context: SourceContext): Promise<Record<string, string>> {
  const [{ SignatureV4 }, { defaultProvider }] = await Promise.all([
    loadPackage<{ SignatureV4: new (o: Record<string, unknown>) => { sign(req: unknown): Promise<{ headers: Record<string, string> }> } }>('@smithy/signature-v4'),
    loadPackage<{ defaultProvider: (o?: Record<string, unknown>) => () => Promise<Credentials> }>('@aws-sdk/credential-provider-node'),
  ]);
  let credentials: Credentials;
  try {
    credentials = await defaultProvider()();
  } catch (err) {
    const name = (err as { name?: unknown })?.name;
    throw new SourceError(`auth aws: no AWS credentials from the SDK's default chain (${typeof name === 'string' && /^[A-Za-z]{1,60}$/.test(name) ? name : 'error'})`);
  }
  context.secret(credentials.secretAccessKey);
  if (credentials.sessionToken) context.secret(credentials.sessionToken);
  const region = settings.region ?? 'us-east-1';
  const headers: Record<string, string> = { host: 'sts.amazonaws.com', 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };
  if (settings.header_value) headers['x-vault-aws-iam-server-id'] = settings.header_value;
  const signer = new SignatureV4({ credentials, region, service: 'sts', sha256: Sha256 });
  const signed = await signer.sign({ method: 'POST', protocol: 'https:', hostname: 'sts.amazonaws.com', path: '/', headers, body: STS_BODY });
  // Vault expects each header's values as a list.
  const asLists = Object.fromEntries(Object.entries(signed.headers).map(([k, v]) => [k, [v]]));
  context.secret(signed.headers.authorization);
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  return { iam_http_request_method: 'POST', iam_request_url: b64(STS_URL), iam_request_body: b64(STS_BODY), iam_request_headers: b64(JSON.stringify(asLists)) };
}
