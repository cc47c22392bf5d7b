/**
 * `type: ssm` — AWS SSM Parameter Store through the real AWS SDK (contract section 1).
 *
 * The SDK is imported lazily inside `load`, so runs without an ssm layer never pay for loading it. Credentials,
 * region and endpoint come from the SDK's own resolution chains (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL_SSM,
 * ~/.aws/config, SSO, container and instance roles); the layer's `region`, `profile` and `endpoint` only
 * override them when given. Retries are the SDK's own (standard mode by default), bounded by `retries`.
 */
import type { GetParametersByPathCommandOutput, Parameter, SSMClient } from '@aws-sdk/client-ssm';
import { NotFoundError, SourceError } from '../core/errors.js';
import { structuredToEnv } from '../formats/parse.js';
import { loadPackage } from '../core/import-external.js';
import { REMOTE_OPTIONS, defineSource, type Fill, type LayerOptions } from './descriptor.js';
import type { SourceContext, SourceOptions } from './types.js';

/** GetParametersByPath and GetParameters both accept at most 10 per call. */
const PAGE_SIZE = 10;
const FLATTEN_SEPARATOR = '__';

export interface SsmOptions {
  path?: string;
  recursive: boolean;
  names?: string[];
  region?: string;
  profile?: string;
  endpoint?: string;
  decrypt: boolean;
  uppercase: boolean;
  json: 'keep' | 'flatten';
  timeoutMs: number;
  retries: number;
  optional: boolean;
}

/** The options as the fetching code uses them, from the descriptor's reading of the layer. */
function ssmOptions(o: LayerOptions<typeof OPTIONS>): SsmOptions {
  return {
    path: o.path,
    recursive: o.recursive,
    names: o.names && [...new Set(o.names)],
    region: o.region || undefined,
    profile: o.profile || undefined,
    endpoint: o.endpoint || undefined,
    decrypt: o.decrypt,
    uppercase: o.uppercase,
    json: o.json,
    timeoutMs: Math.round(o.timeout * 1000),
    retries: o.retries,
    optional: o.optional === true,
  };
}

// ---- key names (pure) --------------------------------------------------------------------------------------

/** `/Production/ApiServer/` and `/Production/ApiServer` are the same path; `/` stays `/`. */
export function normalizePath(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}

/** The parameter name relative to the layer's path: `/Dev/WebServer/db/HOST` under `/Dev/WebServer` is `db/HOST`. */
export function relativeName(name: string, path: string): string {
  const base = normalizePath(path);
  const prefix = base === '/' ? '/' : `${base}/`;
  return name.startsWith(prefix) ? name.slice(prefix.length) : name.replace(/^\/+/, '');
}

/** The last segment of a parameter name: `/Named/P1` gives `P1`. */
export function lastSegment(name: string): string {
  const parts = name.split('/').filter((p) => p !== '');
  return parts[parts.length - 1] ?? name;
}

/** `/` and every other character that can't appear in an environment variable name become `_`. */
export function toEnvKey(relative: string, uppercase: boolean): string {
  let key = relative.replace(/[^A-Za-z0-9_]/g, '_');
  // A name can't start with a digit; prefixing keeps the digit rather than erasing it.
  if (/^[0-9]/.test(key)) key = `_${key}`;
  return uppercase ? key.toUpperCase() : key;
}

/** A loaded parameter on its way to becoming a key: where it came from, for collision messages. */
interface KeyedValue {
  key: string;
  value: string;
  origin: string;
}

/** Expand a JSON-object value into `KEY__sub__key` entries (`json: flatten`); anything else stays as text. */
export function flattenJsonValue(key: string, value: string, origin: string): KeyedValue[] {
  const parsed = parseJsonObject(value);
  if (parsed === undefined) return [{ key, value, origin }];
  const flat = structuredToEnv(parsed, { flatten: FLATTEN_SEPARATOR, origin });
  return Object.entries(flat).map(([sub, v]) => ({
    key: `${key}${FLATTEN_SEPARATOR}${sub.replace(/[^A-Za-z0-9_]/g, '_')}`,
    value: v,
    origin: `${origin} (JSON key ${sub})`,
  }));
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  if (!text.trimStart().startsWith('{')) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined; // Text that merely looks like JSON is kept as it is.
  }
}

/** Turn parameters into the layer's map; two parameters that give one key are an error naming both. */
export function parametersToEnv(params: Array<{ name: string; value: string }>, opts: Pick<SsmOptions, 'path' | 'uppercase' | 'json'>): Record<string, string> {
  const entries: KeyedValue[] = [];
  for (const { name, value } of params) {
    const relative = opts.path === undefined ? lastSegment(name) : relativeName(name, opts.path);
    const key = toEnvKey(relative, false);
    const origin = `parameter ${name}`;
    entries.push(...(opts.json === 'flatten' ? flattenJsonValue(key, value, origin) : [{ key, value, origin }]));
  }
  const out: Record<string, string> = {};
  const originOf = new Map<string, string>();
  for (const e of entries) {
    const key = opts.uppercase ? e.key.toUpperCase() : e.key;
    const earlier = originOf.get(key);
    if (earlier !== undefined) throw new SourceError(`${earlier} and ${e.origin} both give the key ${key}; rename one of them or use \`names\``);
    originOf.set(key, e.origin);
    out[key] = e.value;
  }
  return out;
}

// ---- fetching ----------------------------------------------------------------------------------------------

type SsmModule = typeof import('@aws-sdk/client-ssm');

interface Fetched {
  params: Array<{ name: string; value: string }>;
  missing: string[];
}

async function fetchByPath(sdk: SsmModule, client: SSMClient, opts: SsmOptions, signal: AbortSignal): Promise<Fetched> {
  const params: Fetched['params'] = [];
  const seenTokens = new Set<string>();
  let nextToken: string | undefined;
  let pages = 0;
  // A page may be empty while NextToken is still set, so only the absence of a token ends the listing.
  do {
    const page: GetParametersByPathCommandOutput = await client.send(
      new sdk.GetParametersByPathCommand({
        Path: normalizePath(opts.path!),
        Recursive: opts.recursive,
        WithDecryption: opts.decrypt,
        MaxResults: PAGE_SIZE,
        NextToken: nextToken,
      }),
      { abortSignal: signal },
    );
    pages++;
    params.push(...collect(page.Parameters));
    nextToken = page.NextToken || undefined;
    if (nextToken !== undefined) {
      // A service that hands back a token it already gave would otherwise loop forever.
      if (seenTokens.has(nextToken)) throw new SourceError(`GetParametersByPath returned the same NextToken twice after ${pages} pages`);
      seenTokens.add(nextToken);
    }
  } while (nextToken !== undefined);
  return { params, missing: [] };
}

async function fetchByNames(sdk: SsmModule, client: SSMClient, opts: SsmOptions, signal: AbortSignal): Promise<Fetched> {
  const batches = chunk(opts.names!, PAGE_SIZE);
  const pages = await Promise.all(
    batches.map((names) => client.send(new sdk.GetParametersCommand({ Names: names, WithDecryption: opts.decrypt }), { abortSignal: signal })),
  );
  // Keep the order of `names`, whatever order the service answers in.
  const byName = new Map(pages.flatMap((p) => collect(p.Parameters)).map((p) => [p.name, p] as const));
  const invalid = new Set(pages.flatMap((p) => p.InvalidParameters ?? []));
  const params = opts.names!.flatMap((n) => (byName.has(n) ? [byName.get(n)!] : []));
  const missing = opts.names!.filter((n) => invalid.has(n) || !byName.has(n));
  return { params, missing };
}

function collect(list: Parameter[] | undefined): Array<{ name: string; value: string }> {
  return (list ?? []).flatMap((p) => (p.Name !== undefined && p.Value !== undefined ? [{ name: p.Name, value: p.Value }] : []));
}

export function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

// ---- the client ----------------------------------------------------------------------------------------------

/**
 * On Node 20 the SDK prints a NodeVersionSupportWarning once per process. Its documented switch
 * (aws/aws-sdk-js-v3#7983) is AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true, read synchronously in the
 * client constructor. We set it only for that call and restore it, so the child's environment is untouched.
 */
export function withoutNodeVersionWarning<T>(construct: () => T): T {
  const name = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';
  const before = process.env[name];
  process.env[name] = 'true';
  try {
    return construct();
  } finally {
    if (before === undefined) delete process.env[name];
    else process.env[name] = before;
  }
}

function createClient(sdk: SsmModule, opts: SsmOptions, context: SourceContext): SSMClient {
  // Only set what the user gave: an explicit `endpoint: undefined` or `region: undefined` would be harmless
  // today, but leaving the keys out is what lets AWS_ENDPOINT_URL_SSM and the region chain apply for sure.
  const config: ConstructorParameters<SsmModule['SSMClient']>[0] = {
    maxAttempts: opts.retries + 1,
    requestHandler: { connectionTimeout: opts.timeoutMs, requestTimeout: opts.timeoutMs, throwOnRequestTimeout: true },
    // The SDK writes some warnings with console.warn unless given a logger; keep them to one line on our channel.
    logger: {
      debug: () => {},
      info: () => {},
      warn: (...args: unknown[]) => context.warn(`AWS SDK: ${sdkWarningText(args.map(String).join(' '))}`),
      error: () => {},
    },
  };
  if (opts.region) config.region = opts.region;
  if (opts.profile) config.profile = opts.profile;
  if (opts.endpoint) config.endpoint = opts.endpoint;
  return withoutNodeVersionWarning(() => new sdk.SSMClient(config));
}

async function resolveRegion(client: SSMClient, opts: SsmOptions, context: SourceContext): Promise<string> {
  let region: string | undefined;
  try {
    region = await client.config.region();
  } catch (err) {
    // The SDK's "Region is missing" does not say where to set one; anything else (an invalid name) is shown as is.
    if (!/region is missing/i.test(String((err as Error)?.message))) throw new SourceError(`AWS region: ${oneLine(String((err as Error)?.message ?? err))}`);
  }
  if (region) return region;
  throw new SourceError(`no AWS region: set \`region\` on the layer, AWS_REGION, or \`region\` in profile "${profileInUse(opts, context)}" of ${context.env.AWS_CONFIG_FILE ?? '~/.aws/config'}`);
}

function profileInUse(opts: SsmOptions, context: SourceContext): string {
  return opts.profile ?? context.env.AWS_PROFILE ?? 'default';
}

// ---- errors --------------------------------------------------------------------------------------------------

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** `@aws-sdk/credential-provider-node - defaultProvider::fromEnv WARNING: Multiple ...` -> `Multiple ...` */
function sdkWarningText(text: string): string {
  return oneLine(text).replace(/^@[\w.-]+\/[\w.-]+ - \S+ (?:WARNING:|\[WARN\])\s*/, '');
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EPIPE']);
const EXPIRED_NAMES = new Set(['ExpiredTokenException', 'ExpiredToken', 'RequestExpired']);
const BAD_CREDENTIAL_NAMES = new Set(['UnrecognizedClientException', 'InvalidSignatureException', 'InvalidClientTokenId', 'SignatureDoesNotMatch']);

interface ErrorScene {
  region: string;
  timeoutMs: number;
  /** Shared credentials and config files, as the SDK finds them (AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE). */
  files: string;
  endpoint: string;
  profile: string;
  profileFromOption: boolean;
  attempts: number;
}

/** Where credentials were looked for, so "no credentials" says what to fix. */
function credentialSources(scene: ErrorScene): string {
  const fromProfile = `profile "${scene.profile}" (${scene.profileFromOption ? 'layer option `profile`' : scene.profile === 'default' ? 'AWS_PROFILE unset' : 'AWS_PROFILE'}) in ${scene.files}`;
  // The SDK skips the static env pair once a profile is named, so only list it when it was consulted.
  const env = scene.profileFromOption || scene.profile !== 'default' ? '' : 'AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ';
  return `${env}${fromProfile}, AWS_WEB_IDENTITY_TOKEN_FILE, container and instance roles`;
}

/** One line for the user: the AWS error name, its message, and the region (never a value, never a stack). */
export function describeSsmError(err: unknown, scene: ErrorScene): string {
  const e = (err ?? {}) as { name?: string; message?: string; code?: string; $metadata?: { attempts?: number } };
  const name = e.name ?? 'Error';
  const message = oneLine(String(e.message ?? err));
  const where = `region ${scene.region}`;
  const attempts = e.$metadata?.attempts ?? scene.attempts;
  const tries = attempts > 1 ? `, ${attempts} attempts` : '';
  if (name === 'CredentialsProviderError') {
    const expired = /expired|refresh/i.test(message);
    return expired
      ? `AWS credentials have expired (${message}); sign in again, e.g. \`aws sso login --profile ${scene.profile}\` (${where})`
      : `no AWS credentials found: looked at ${credentialSources(scene)} (${where})`;
  }
  if (EXPIRED_NAMES.has(name)) return `${name}: AWS credentials have expired: ${message}; refresh them for profile "${scene.profile}" or renew AWS_SESSION_TOKEN (${where})`;
  if (BAD_CREDENTIAL_NAMES.has(name)) return `${name}: ${message} (the credentials were rejected; looked at ${credentialSources(scene)}) (${where})`;
  if (name === 'TimeoutError') {
    const phase = /establish a connection/.test(message) ? 'no connection' : 'no answer';
    return `cannot reach SSM at ${scene.endpoint}: ${phase} within ${scene.timeoutMs} ms (option \`timeout\`) (${where}${tries})`;
  }
  if (e.code !== undefined && NETWORK_CODES.has(e.code)) {
    return `cannot reach SSM at ${scene.endpoint}: ${message.includes(e.code) ? message : `${e.code} ${message}`} (${where}${tries})`;
  }
  return `${name}: ${message} (${where}${tries})`;
}

function endpointInUse(opts: SsmOptions, context: SourceContext, region: string): string {
  return opts.endpoint ?? context.env.AWS_ENDPOINT_URL_SSM ?? context.env.AWS_ENDPOINT_URL ?? `https://ssm.${region}.amazonaws.com`;
}

// ---- the source ----------------------------------------------------------------------------------------------

const OPTIONS = {
  path: { type: 'string', nonEmpty: true, description: 'Parameter path prefix, e.g. `/Production/ApiServer`; every page is followed.' },
  recursive: { type: 'boolean', default: false, description: 'Include parameters below sub-paths (default false).' },
  names: { type: 'list', items: { type: 'string', nonEmpty: true, description: 'A parameter name.' }, minItems: 1, description: 'Exact parameter names.' },
  region: { type: 'string', description: 'AWS region (default: the SDK region chain).' },
  profile: { type: 'string', description: 'Shared config/credentials profile.' },
  endpoint: {
    type: 'string',
    pattern: { regex: '^https?://[^\\s/?#]+', is: 'an http(s) URL such as https://ssm.eu-west-1.amazonaws.com' },
    description: 'Endpoint URL override (AWS_ENDPOINT_URL_SSM / AWS_ENDPOINT_URL are honoured too).',
  },
  decrypt: { type: 'boolean', default: true, description: 'Decrypt SecureString values (default true).' },
  uppercase: { type: 'boolean', default: false, description: 'Upper-case the key names.' },
  json: { type: 'enum', values: ['keep', 'flatten'], default: 'keep', description: 'JSON object values: keep the text (default) or flatten with `__`.' },
  ...REMOTE_OPTIONS,
} as const;

/** `ssm /Dev/WebServer`, or `ssm /Named/P1 (+2)` for a list of names. */
function label(o: SourceOptions, fill: Fill): string | undefined {
  if (typeof o.path === 'string') return fill(o.path);
  if (Array.isArray(o.names) && o.names.length > 0) return o.names.length === 1 ? fill(String(o.names[0])) : `${fill(String(o.names[0]))} (+${o.names.length - 1})`;
  return undefined;
}

export default defineSource({
  type: 'ssm',
  description: 'AWS SSM Parameter Store, through the AWS SDK and its standard credential chain.',
  options: OPTIONS,
  exclusive: [{ keys: ['path', 'names'], exactlyOne: true }],
  remote: true,
  label,
  async load(layerOptions, context) {
    const opts = ssmOptions(layerOptions);
    let sdk: SsmModule;
    try {
      sdk = await loadPackage<SsmModule>('@aws-sdk/client-ssm');
    } catch {
      throw new SourceError('the AWS SDK is not installed: run `npm install @aws-sdk/client-ssm`');
    }
    const client = createClient(sdk, opts, context);
    try {
      const region = await resolveRegion(client, opts, context);
      const scene: ErrorScene = {
        region,
        timeoutMs: opts.timeoutMs,
        files: `${context.env.AWS_SHARED_CREDENTIALS_FILE ?? '~/.aws/credentials'} and ${context.env.AWS_CONFIG_FILE ?? '~/.aws/config'}`,
        endpoint: endpointInUse(opts, context, region),
        profile: profileInUse(opts, context),
        profileFromOption: opts.profile !== undefined,
        attempts: opts.retries + 1,
      };
      let fetched: Fetched;
      try {
        fetched = opts.path !== undefined ? await fetchByPath(sdk, client, opts, context.signal) : await fetchByNames(sdk, client, opts, context.signal);
      } catch (err) {
        if (err instanceof SourceError) throw err;
        if (context.signal.aborted) throw new SourceError('cancelled');
        throw new SourceError(describeSsmError(err, scene), { cause: err });
      }
      if (fetched.missing.length > 0 && !opts.optional) {
        const list = fetched.missing.join(', ');
        throw new NotFoundError(`ParameterNotFound: ${fetched.missing.length === 1 ? 'parameter' : `${fetched.missing.length} parameters`} not found: ${list} (region ${region})`);
      }
      return parametersToEnv(fetched.params, opts);
    } finally {
      client.destroy();
    }
  },
});
