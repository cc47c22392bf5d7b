/**
 * The AWS JSON 1.1 requests our sources send (GetParametersByPath, GetParameters, GetSecretValue,
 * BatchGetSecretValue), made without the AWS SDK when the SDK would certainly make the same request: SigV4 from
 * node:crypto, node:http(s) through the client's watched agents. Loading the SDK costs about 75 ms of CPU at
 * start-up; this costs what node:http and node:crypto cost.
 *
 * `leanRoute` decides (conservatively: when in doubt, the SDK) from the layer's options and the environment the SDK
 * would read; `leanSdk` and `LeanClient` stand in for the SDK module and client the sources use
 * (`new sdk.XCommand(input)`, `client.send(command, { abortSignal })`, `client.config.region()`, `destroy()`), with
 * the SDK's outputs (blobs as Uint8Array, timestamps as Date) and the SDK's error objects (`name`, `$fault`,
 * `$metadata.httpStatusCode`, `$response.headers`, a network error's `code`), so the retry policy and every
 * message stay what they are on the SDK path (./errors.ts). The signer and the credential part of the route
 * (`environmentCredentials`) also sign Vault's AWS login (../vault/aws-login.ts).
 */
import { readFileSync } from 'node:fs';
import type { SourceContext } from '../types.js';
import { readKey, readOnce } from '../session.js';
import { sharedFiles } from './profiles.js';

/** What a service's JSON protocol needs beyond the SDK's model, for the commands the sources send. */
export interface LeanProtocol {
  /** The `x-amz-target` prefix: `AmazonSSM`, `secretsmanager`. */
  target: string;
  /** The SigV4 signing name (and endpoint prefix): `ssm`, `secretsmanager`. */
  signingName: string;
  /** The operations the source sends; `new sdk.<Operation>Command(input)` exists for these only. */
  operations: readonly string[];
  /** Error names the service models as server faults (the SDK's `$fault` comes from the model, not the status). */
  serverErrors: readonly string[];
}

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Put the secret parts of `credentials` (the secret key, a session token) in the redaction net. */
export function maskCredentials(credentials: AwsCredentials, context: Pick<SourceContext, 'secret'>): void {
  context.secret(credentials.secretAccessKey);
  if (credentials.sessionToken) context.secret(credentials.sessionToken);
}

// ---- SigV4 (pure) -------------------------------------------------------------------------------------------

/**
 * node:crypto, loaded on first use: this module is reached from the source registry on every start, and
 * node:crypto (with the stream modules it loads) is outside Node's start-up snapshot.
 */
const crypto = (): typeof import('node:crypto') => process.getBuiltinModule?.('node:crypto') ?? require('node:crypto');
const sha256 = (data: string | Buffer) => crypto().createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => crypto().createHmac('sha256', key).update(data).digest();

/** `20261207T053510Z` */
export function amzDate(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/**
 * The canonical request of SigV4 for a request to `path` without a query: every header given is signed (names in
 * lower case, sorted; values folded as the SDK's signer folds them: line breaks and runs of spaces and tabs made one
 * space, that space trimmed at either end).
 */
export function canonicalRequest(method: string, path: string, headers: Readonly<Record<string, string>>, payloadHash: string): { canonical: string; signedHeaders: string } {
  const names = Object.keys(headers).map((n) => n.toLowerCase());
  const byName = new Map(Object.entries(headers).map(([n, v]) => [n.toLowerCase(), v.replace(/[\r\n]/g, ' ').replace(/[ \t]+/g, ' ').replace(/^ | $/g, '')]));
  const sorted = [...new Set(names)].sort();
  const signedHeaders = sorted.join(';');
  const canonical = [method, path, '', ...sorted.map((n) => `${n}:${byName.get(n)}`), '', signedHeaders, payloadHash].join('\n');
  return { canonical, signedHeaders };
}

/**
 * The headers of a signed POST to `/`: the ones given, then `x-amz-date`, `x-amz-security-token` (with a session
 * token), `x-amz-content-sha256` and `authorization`, as the SDK's signer adds them and in its order (Vault's AWS
 * login hands these headers on as they are, ../vault/aws-login.ts).
 */
export function signedHeaders(
  headers: Readonly<Record<string, string>>,
  body: string,
  credentials: AwsCredentials,
  scope: { region: string; service: string; date: Date },
): Record<string, string> {
  const stamp = amzDate(scope.date);
  const day = stamp.slice(0, 8);
  const payloadHash = sha256(body);
  const all: Record<string, string> = { ...headers, 'x-amz-date': stamp };
  if (credentials.sessionToken) all['x-amz-security-token'] = credentials.sessionToken;
  all['x-amz-content-sha256'] = payloadHash;
  const { canonical, signedHeaders: signed } = canonicalRequest('POST', '/', all, payloadHash);
  const credentialScope = `${day}/${scope.region}/${scope.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', stamp, credentialScope, sha256(canonical)].join('\n');
  let key = hmac(`AWS4${credentials.secretAccessKey}`, day);
  for (const part of [scope.region, scope.service, 'aws4_request']) key = hmac(key, part);
  const signature = crypto().createHmac('sha256', key).update(stringToSign).digest('hex');
  all.authorization = `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${credentialScope}, SignedHeaders=${signed}, Signature=${signature}`;
  return all;
}

// ---- answers (pure) -------------------------------------------------------------------------------------------

/**
 * The error code of a JSON 1.1 error answer, as the SDK finds it: the body's `__type`, else its `code`, else the
 * `x-amzn-errortype` header; cleaned the SDK's way (`a,b` -> `a`, `Name:uri` -> `Name`, `ns#Name` -> `Name`).
 */
export function errorCode(headers: Readonly<Record<string, string | string[] | undefined>>, data: Record<string, unknown>): string | undefined {
  const clean = (raw: unknown) => {
    const text = String(raw).split(',')[0].split(':')[0];
    return text.includes('#') ? text.split('#')[1] : text;
  };
  if (data.__type !== undefined) return clean(data.__type);
  const codeKey = Object.keys(data).find((k) => k.toLowerCase() === 'code');
  if (codeKey !== undefined && data[codeKey] !== undefined) return clean(data[codeKey]);
  const header = Object.keys(headers).find((k) => k.toLowerCase() === 'x-amzn-errortype');
  return header !== undefined ? clean(headers[header]) : undefined;
}

/** The SDK's `$metadata` of an answer. */
function metadata(status: number, headers: Readonly<Record<string, string | string[] | undefined>>) {
  const requestId = headers['x-amzn-requestid'] ?? headers['x-amzn-request-id'] ?? headers['x-amz-request-id'];
  return { httpStatusCode: status, requestId: typeof requestId === 'string' ? requestId : undefined, attempts: 1, totalRetryDelay: 0 };
}

/**
 * An answer that is not JSON (a proxy's HTML page, a cut-off body): a SyntaxError with the status, as the SDK's
 * deserializer throws it; unlike the SDK's, its message quotes nothing of the body.
 */
function notJson(status: number, headers: Readonly<Record<string, string | string[] | undefined>>): Error {
  return Object.assign(new SyntaxError(`the answer (HTTP ${status}) is not JSON`), { $metadata: metadata(status, headers) });
}

/** Parse a JSON 1.1 body the SDK's way: empty is `{}`, anything else must be JSON. */
export function parseBody(text: string, status: number, headers: Readonly<Record<string, string | string[] | undefined>>): unknown {
  if (text.length === 0) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw notJson(status, headers);
  }
}

/**
 * The error the SDK throws for a JSON 1.1 error answer: the service's error name, `$fault`, `$metadata` and
 * (hidden, as in the SDK) `$response` with the headers, which the retry policy reads `retry-after` from. Its
 * message is the name, never AWS's text (it may quote the request). A body that is not JSON gives the SDK's
 * SyntaxError instead.
 */
export function serviceError(status: number, headers: Readonly<Record<string, string | string[] | undefined>>, body: string, serverErrors: readonly string[]): Error {
  let parsed: unknown;
  try {
    parsed = parseBody(body, status, headers);
  } catch (notJsonError) {
    return notJsonError as Error;
  }
  const data = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  const name = errorCode(headers, data) ?? 'Unknown';
  const fault = serverErrors.includes(name) || status >= 500 ? 'server' : 'client';
  const error = Object.assign(new Error(`${name} (HTTP ${status})`), { name, $fault: fault, $metadata: metadata(status, headers) });
  Object.defineProperty(error, '$response', { value: { statusCode: status, headers }, enumerable: false });
  return error;
}

/**
 * The clock correction the SDK keeps per client: every answer's `Date` (unless it came from a cache, `Age`, or
 * took over 15 minutes) sets the offset added to the signing time of the next request, so a machine whose clock is
 * off still signs requests AWS accepts after its first answer.
 */
export function clockOffset(headers: Readonly<Record<string, string | string[] | undefined>>, currentMs: number, sentAt: number, now = Date.now()): number {
  const date = headers.date;
  if (typeof date !== 'string' || headers.age !== undefined || now - sentAt > 900_000) return currentMs;
  const server = Date.parse(date);
  return Number.isNaN(server) ? currentMs : server - now;
}

/** Blob members (base64 in JSON) and timestamp members (epoch seconds) of the outputs we read, by member name. */
const BLOB_MEMBERS = new Set(['SecretBinary']);
const TIMESTAMP_MEMBERS = new Set(['CreatedDate', 'LastModifiedDate', 'LastAccessedDate', 'DeletedDate']);

/** An output as the SDK gives it: blobs as Uint8Array, timestamps as Date, everything else as parsed. */
export function sdkShaped(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sdkShaped);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(value)) {
    if (BLOB_MEMBERS.has(key) && typeof member === 'string') out[key] = new Uint8Array(Buffer.from(member, 'base64'));
    else if (TIMESTAMP_MEMBERS.has(key) && typeof member === 'number') out[key] = new Date(Math.round(member * 1000));
    else out[key] = sdkShaped(member);
  }
  return out;
}

// ---- when (the SDK would end at the same place) -----------------------------------------------------------------

/** The standard `aws` partition (the SDK's partition data); its default endpoint is `<prefix>.<region>.amazonaws.com`. */
const AWS_PARTITION_REGION = /^(us|eu|ap|sa|ca|me|af|il|mx)-[a-z]+-\d+$/;

/**
 * Settings of the SDK's default credential chain besides the keys: AWS_PROFILE makes it skip the environment's keys,
 * and the other two travel with the credentials it returns.
 */
const CREDENTIAL_VARIABLES = ['AWS_PROFILE', 'AWS_CREDENTIAL_SCOPE', 'AWS_ACCOUNT_ID'] as const;

/** Settings the SDK reads from the environment that could change the endpoint. */
const ENDPOINT_VARIABLES = ['AWS_USE_FIPS_ENDPOINT', 'AWS_USE_DUALSTACK_ENDPOINT', 'AWS_IGNORE_CONFIGURED_ENDPOINT_URLS'] as const;

/** Keys of the shared files that could change the endpoint, or whether AWS_ENDPOINT_URL* applies. */
const ENDPOINT_SETTINGS = /^[ \t]*(endpoint_url|services|use_fips_endpoint|use_dualstack_endpoint|ignore_configured_endpoint_urls)[ \t]*=|^[ \t]*\[[ \t]*services[ \t]/m;

/** The credentials are valid for at least this long (the SDK refreshes credentials expiring within 5 minutes). */
const EXPIRY_MARGIN_MS = 5 * 60_000;

/** The environment's credentials when the SDK's default chain would certainly take them, else why not (names only). */
export type CredentialRoute = { lean: true; credentials: AwsCredentials; why: string } | { lean: false; why: string };

export type LeanRoute = { lean: true; region: string; endpoint: string; credentials: AwsCredentials; why: string } | { lean: false; why: string };

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Whether the SDK's default credential chain (`@aws-sdk/credential-provider-node`) would certainly end at the
 * environment's static keys: its first link, which it skips when a profile is named (the layer's `profile`,
 * AWS_PROFILE). `env` is what the layer sees and `processEnv` what the SDK reads: they must agree on every AWS_
 * variable.
 */
export function environmentCredentials(profile: string | undefined, env: Env, processEnv: Env): CredentialRoute {
  const sdk = (why: string): CredentialRoute => ({ lean: false, why });
  if (profile !== undefined) return sdk('the layer names a profile');
  const differs = [...new Set([...Object.keys(env), ...Object.keys(processEnv)])].find((k) => k.startsWith('AWS_') && env[k] !== processEnv[k]);
  if (differs) return sdk(`${differs} differs from the process environment the SDK reads`);
  const set = CREDENTIAL_VARIABLES.find((name) => env[name] !== undefined);
  if (set) return sdk(`${set} is set`);
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) return sdk('no AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY');
  const expiry = env.AWS_CREDENTIAL_EXPIRATION;
  if (expiry !== undefined && !(new Date(expiry).getTime() - Date.now() > EXPIRY_MARGIN_MS)) return sdk('AWS_CREDENTIAL_EXPIRATION is near, past or not a date');
  const sessionToken = env.AWS_SESSION_TOKEN || undefined;
  return { lean: true, credentials: { accessKeyId, secretAccessKey, ...(sessionToken && { sessionToken }) }, why: 'environment credentials' };
}

/**
 * Whether the SDK would certainly sign with the environment's static keys (`environmentCredentials`), in a region
 * of the `aws` partition, and send to `endpointFor(region)` (as `endpointInUse` finds it), which a lean route
 * carries on; `why` says which way and why, for the debug line (names only). `verdictOf` says what a shared file
 * holds (`sharedFileVerdicts`: read once per resolve).
 */
export async function leanRoute(
  service: { endpointVariable: string },
  opts: { region?: string; profile?: string; endpoint?: string },
  env: Env,
  processEnv: Env,
  endpointFor: (region: string) => string,
  verdictOf: (path: string) => SharedFileVerdict | Promise<SharedFileVerdict>,
): Promise<LeanRoute> {
  const sdk = (why: string): LeanRoute => ({ lean: false, why });
  const chain = environmentCredentials(opts.profile, env, processEnv);
  if (!chain.lean) return chain;
  const set = ENDPOINT_VARIABLES.find((name) => env[name] !== undefined);
  if (set) return sdk(`${set} is set`);
  const region = opts.region ?? env.AWS_REGION;
  if (!region) return sdk('the region comes from the shared config file');
  if (!AWS_PARTITION_REGION.test(region)) return sdk('the region is not one of the standard aws partition');
  for (const name of [service.endpointVariable, 'AWS_ENDPOINT_URL']) if (env[name] === '') return sdk(`${name} is empty`);
  const endpoint = endpointFor(region);
  if (!plainEndpoint(endpoint)) return sdk('the endpoint has a path, query or user info');
  const files = sharedFiles(env);
  for (const [path, shown] of [[files.config, files.configShown], [files.credentials, files.credentialsShown]] as const) {
    const verdict = await verdictOf(path);
    if (verdict === 'unreadable') return sdk(`${shown} cannot be read`);
    if (verdict === 'endpoint settings') return sdk(`${shown} has endpoint settings`);
  }
  return { lean: true, region, endpoint, credentials: chain.credentials, why: chain.why };
}

/** An http(s) URL of a host alone: what the SDK turns into `POST /` on that host without a second thought. */
function plainEndpoint(endpoint: string): boolean {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return false;
  }
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.username === '' && url.password === '' && url.pathname === '/' && url.search === '' && url.hash === '' && !endpoint.includes('?');
}

/** What a shared file holds, as leanRoute asks it: only whether its keys could change the endpoint, never its text. */
export type SharedFileVerdict = 'no endpoint settings' | 'endpoint settings' | 'unreadable';

/** One shared file's verdict; a file that does not exist has no endpoint settings. */
export function sharedFileVerdict(path: string, readText: (path: string) => string | undefined = readIfPresent): SharedFileVerdict {
  let text: string | undefined;
  try {
    text = readText(path);
  } catch {
    return 'unreadable';
  }
  return text !== undefined && ENDPOINT_SETTINGS.test(text) ? 'endpoint settings' : 'no endpoint settings';
}

/**
 * Each shared file's verdict, read once per resolve (`context.reads`, keyed by the file's path): every AWS layer and
 * reference of a resolve asks about the same two files, and a re-resolve in watch mode reads them again. Only the
 * verdict is kept, never the text (the credentials file holds keys).
 */
export function sharedFileVerdicts(context: Pick<SourceContext, 'reads'>, readText?: (path: string) => string | undefined): (path: string) => Promise<SharedFileVerdict> {
  return (path) => readOnce(context, readKey('aws shared file', path), async () => sharedFileVerdict(path, readText));
}

/** A file's text, or undefined when it does not exist (any other failure throws). */
function readIfPresent(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw err;
  }
}

// ---- the stand-ins ----------------------------------------------------------------------------------------------

/**
 * node:https or node:http, loaded on first use (node:https brings node:tls, a few milliseconds): the module of the
 * lean client's requests and of the agents both clients send through (./client.ts).
 */
export function nodeHttp(https: boolean): Pick<typeof import('node:http'), 'Agent' | 'request'> {
  return https ? (process.getBuiltinModule?.('node:https') ?? require('node:https')) : (process.getBuiltinModule?.('node:http') ?? require('node:http'));
}

/** A command as the sources build it: `new sdk.GetParametersCommand(input)`. */
interface LeanCommand {
  operation: string;
  input: Record<string, unknown>;
}

/** `{ GetParametersCommand, ... }` for the protocol's operations. */
export function leanSdk(protocol: LeanProtocol): Record<string, new (input: Record<string, unknown>) => LeanCommand> {
  return Object.fromEntries(
    protocol.operations.map((operation) => [
      `${operation}Command`,
      class {
        operation = operation;
        constructor(public input: Record<string, unknown>) {}
      },
    ]),
  );
}

/** Where a lean client sends, and with what. */
export interface LeanTarget {
  protocol: LeanProtocol;
  endpoint: string;
  region: string;
  credentials: AwsCredentials;
  /** The agent for the endpoint's protocol (the client's watched one, see ./client.ts). */
  agent: unknown;
}

/** The client surface the sources use, over node:http(s). */
export class LeanClient {
  readonly config: { region(): Promise<string> };
  /** Added to the signing time (see `clockOffset`). */
  private clockOffsetMs = 0;

  constructor(private readonly target: LeanTarget) {
    this.config = { region: () => Promise.resolve(target.region) };
  }

  send(command: LeanCommand, options: { abortSignal?: AbortSignal } = {}): Promise<unknown> {
    const { protocol, endpoint, region, credentials } = this.target;
    const url = new URL(endpoint);
    // The SDK's JSON: the input's members as given, undefined ones left out (JSON.stringify does both).
    const body = JSON.stringify(command.input);
    const headers = signedHeaders(
      { 'content-length': String(Buffer.byteLength(body)), 'content-type': 'application/x-amz-json-1.1', host: url.host, 'x-amz-target': `${protocol.target}.${command.operation}` },
      body,
      credentials,
      { region, service: protocol.signingName, date: new Date(Date.now() + this.clockOffsetMs) },
    );
    const sentAt = Date.now();
    const transport = nodeHttp(url.protocol === 'https:');
    return new Promise((resolve, reject) => {
      const request = transport.request(
        {
          hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
          port: url.port || undefined,
          method: 'POST',
          path: '/',
          headers,
          agent: this.target.agent as import('node:http').Agent,
          signal: options.abortSignal,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', reject);
          response.on('end', () => {
            this.clockOffsetMs = clockOffset(response.headers, this.clockOffsetMs, sentAt);
            const status = response.statusCode ?? 0;
            const text = Buffer.concat(chunks).toString('utf8');
            try {
              if (status < 200 || status >= 300) throw serviceError(status, response.headers, text, protocol.serverErrors);
              const output = sdkShaped(parseBody(text, status, response.headers));
              resolve(Object.assign(output !== null && typeof output === 'object' ? output : {}, { $metadata: metadata(status, response.headers) }));
            } catch (err) {
              reject(err);
            }
          });
        },
      );
      // A refused, reset or unresolvable connection rejects with Node's error and its `code` (ECONNRESET, ...).
      request.on('error', reject);
      request.end(body);
    });
  }

  /** The agents are the caller's (withAwsClient destroys them), as with the SDK client. */
  destroy(): void {}
}
