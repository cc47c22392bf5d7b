/**
 * `type: ssm` — AWS SSM Parameter Store through the real AWS SDK (contract section 1).
 *
 * What every AWS source shares (credentials, region, AWS_ENDPOINT_URL_SSM, retries, lazy SDK loading, error
 * messages) lives in ./aws/; this module is what is SSM's own: the options, the paging, the key names.
 */
import type { GetParametersByPathCommandOutput, Parameter, SSMClient } from '@aws-sdk/client-ssm';
import { NotFoundError, SourceError } from '../core/errors.js';
import { structuredToEnv } from '../formats/parse.js';
import { readInGroups } from '../core/references.js';
import { allPages, awsOptions, awsOptionSpecs, awsReferenceProblem, chunk, jsonObject, referenceAwsOptions, resourceLabel, withAwsClient, type AwsCall, type AwsOptions, type AwsService } from './aws/client.js';
import { defineSource, type Fill, type LayerOptions } from './descriptor.js';
import type { ReferenceHook, ReferenceTarget, ReferenceValue, SourceOptions } from './types.js';

/** GetParametersByPath and GetParameters both accept at most 10 per call. */
const PAGE_SIZE = 10;
const FLATTEN_SEPARATOR = '__';

export interface SsmOptions extends AwsOptions {
  path?: string;
  recursive: boolean;
  names?: string[];
  decrypt: boolean;
  uppercase: boolean;
  json: 'keep' | 'flatten';
  optional: boolean;
}

/** The options as the fetching code uses them, from the descriptor's reading of the layer. */
function ssmOptions(o: LayerOptions<typeof OPTIONS>): SsmOptions {
  return {
    ...awsOptions(o),
    path: o.path,
    recursive: o.recursive,
    names: o.names && [...new Set(o.names)],
    decrypt: o.decrypt,
    uppercase: o.uppercase,
    json: o.json,
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
  const parsed = jsonObject(value);
  if (parsed === undefined) return [{ key, value, origin }];
  const flat = structuredToEnv(parsed, { flatten: FLATTEN_SEPARATOR, origin });
  return Object.entries(flat).map(([sub, v]) => ({
    key: `${key}${FLATTEN_SEPARATOR}${sub.replace(/[^A-Za-z0-9_]/g, '_')}`,
    value: v,
    origin: `${origin} (JSON key ${sub})`,
  }));
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

type SsmCall = AwsCall<SsmModule, SSMClient>;

async function fetchByPath({ sdk, client, retrying }: SsmCall, opts: SsmOptions): Promise<Fetched> {
  const pages = await allPages('GetParametersByPath', (nextToken): Promise<GetParametersByPathCommandOutput> => {
    const command = new sdk.GetParametersByPathCommand({
      Path: normalizePath(opts.path!),
      Recursive: opts.recursive,
      WithDecryption: opts.decrypt,
      MaxResults: PAGE_SIZE,
      NextToken: nextToken,
    });
    return retrying('GetParametersByPath', (abortSignal) => client.send(command, { abortSignal }));
  });
  return { params: pages.flatMap((page) => collect(page.Parameters)), missing: [] };
}

async function fetchByNames({ sdk, client, retrying }: SsmCall, opts: SsmOptions): Promise<Fetched> {
  const batches = chunk(opts.names!, PAGE_SIZE);
  const pages = await Promise.all(
    batches.map((names) => {
      const command = new sdk.GetParametersCommand({ Names: names, WithDecryption: opts.decrypt });
      return retrying('GetParameters', (abortSignal) => client.send(command, { abortSignal }));
    }),
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

/**
 * `ref+awsssm://PATH` targets of one region: every distinct name (with its `:version`) once, by tens, decrypted.
 * An answer is matched by name and version (moto, unlike AWS, sends no `Selector`); without `version` the newest.
 */
async function readReferences({ sdk, client, retrying }: SsmCall, targets: ReferenceTarget[]): Promise<(ReferenceValue | undefined)[]> {
  const names = targets.map((t) => `/${t.path.replace(/^\/+/, '')}${t.params.version === undefined ? '' : `:${t.params.version}`}`);
  const pages = await Promise.all(
    chunk([...new Set(names)], PAGE_SIZE).map((batch) => {
      const command = new sdk.GetParametersCommand({ Names: batch, WithDecryption: true });
      return retrying('GetParameters', (abortSignal) => client.send(command, { abortSignal }));
    }),
  );
  const answers = pages.flatMap((p) => p.Parameters ?? []);
  return names.map((n) => {
    const [name, version] = n.split(':');
    const found = answers.filter((p) => p.Name === name && p.Value !== undefined && (version === undefined ? !p.Selector : String(p.Version) === version));
    const newest = found.sort((a, b) => (b.Version ?? 0) - (a.Version ?? 0))[0];
    return newest && { value: newest.Value! };
  });
}

const REFERENCE: ReferenceHook = {
  scheme: 'awsssm',
  params: ['region', 'version'],
  pointer: 'refused',
  check: (t) => awsReferenceProblem(t) ?? (t.params.version !== undefined && !/^[1-9][0-9]{0,9}$/.test(t.params.version) ? 'parameter "version" is not a version number such as 3' : undefined),
  resolve: (targets, context) =>
    readInGroups(targets, (t) => t.params.region ?? '', (group) => withAwsClient(SSM, referenceAwsOptions(group[0]), context, (call) => readReferences(call, group))),
};

// ---- the source ----------------------------------------------------------------------------------------------

const SSM: AwsService<SsmModule, SSMClient> = {
  packageName: '@aws-sdk/client-ssm',
  title: 'SSM',
  endpointVariable: 'AWS_ENDPOINT_URL_SSM',
  hostPrefix: 'ssm',
  createClient: (sdk, config) => new sdk.SSMClient(config),
};

const OPTIONS = {
  path: { type: 'string', nonEmpty: true, description: 'Parameter path prefix, e.g. `/Production/ApiServer`; every page is followed.' },
  recursive: { type: 'boolean', default: false, description: 'Include parameters below sub-paths (default false).' },
  names: { type: 'list', items: { type: 'string', nonEmpty: true, description: 'A parameter name.' }, minItems: 1, description: 'Exact parameter names.' },
  decrypt: { type: 'boolean', default: true, description: 'Decrypt SecureString values (default true).' },
  uppercase: { type: 'boolean', default: false, description: 'Upper-case the key names.' },
  json: { type: 'enum', values: ['keep', 'flatten'], default: 'keep', description: 'JSON object values: keep the text (default) or flatten with `__`.' },
  ...awsOptionSpecs(SSM),
} as const;

/** `ssm /Dev/WebServer`, or `ssm /Named/P1 (+2)` for a list of names. */
const label = (o: SourceOptions, fill: Fill) => resourceLabel(o.path, o.names, fill);

export default defineSource({
  type: 'ssm',
  description: 'AWS SSM Parameter Store, through the AWS SDK and its standard credential chain.',
  options: OPTIONS,
  exclusive: [{ keys: ['path', 'names'], exactlyOne: true }],
  remote: true,
  label,
  reference: REFERENCE,
  async load(layerOptions, context) {
    const opts = ssmOptions(layerOptions);
    const { fetched, region } = await withAwsClient(SSM, opts, context, async (call) => ({
      region: call.region,
      fetched: opts.path !== undefined ? await fetchByPath(call, opts) : await fetchByNames(call, opts),
    }));
    if (fetched.missing.length > 0 && !opts.optional) {
      const list = fetched.missing.join(', ');
      throw new NotFoundError(`ParameterNotFound: ${fetched.missing.length === 1 ? 'parameter' : `${fetched.missing.length} parameters`} not found: ${list} (region ${region})`);
    }
    return parametersToEnv(fetched.params, opts);
  },
});
