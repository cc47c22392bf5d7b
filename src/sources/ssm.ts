/**
 * `type: ssm` — AWS SSM Parameter Store through the real AWS SDK (contract section 1), or the requests it would
 * send, without it, when that is certain (./aws/lean.ts).
 *
 * What every AWS source shares (credentials, region, AWS_ENDPOINT_URL_SSM, retries, lazy SDK loading, error
 * messages) lives in ./aws/; this module is what is SSM's own: the options, the paging, the key names.
 */
import type { GetParametersByPathCommandOutput, Parameter, SSMClient } from '@aws-sdk/client-ssm';
import { NotFoundError, SourceError } from '../core/errors.js';
import { jsonObject, structuredToEnv } from '../formats/parse.js';
import { toEnvKey } from '../core/names.js';
import { readInGroups } from '../core/references.js';
import { readEach, settled } from './aws/reads.js';
import { readKey, readOnce, recordRead } from './session.js';
import { allPages, awsOptions, awsOptionSpecs, awsReferenceProblem, chunk, referenceAwsOptions, resourceLabel, withAwsClient, type AwsCall, type AwsOptions, type AwsService } from './aws/client.js';
import { defineSource, type Fill, type LayerOptions } from './descriptor.js';
import type { ReferenceHook, ReferenceTarget, ReferenceValue, SourceContext, SourceOptions } from './types.js';

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
//
// One read per parameter per resolve (`context.reads`), whether a layer or a `ref+awsssm://` reference asked. A
// read's key is the store (`call.store`: endpoint, region, credentials), the name as sent, the version (none: the
// newest) and whether it was decrypted. A `path` listing records each parameter it returned, so a reference to
// one of them is served from it once the page holding it has arrived (a listing still in flight cannot tell which
// names it will hold, and a listing never proves a name absent, so nothing is recorded for names outside it).

type SsmModule = typeof import('@aws-sdk/client-ssm');

type SsmCall = AwsCall<SsmModule, SSMClient>;

/** One parameter to read by name: the newest value, or `version`. */
interface ParameterName {
  name: string;
  version?: string;
}

const parameterKey = (call: SsmCall, { name, version }: ParameterName, decrypt: boolean) => readKey(call.store, 'parameter', name, version, decrypt ? 'decrypted' : 'as stored');

/** What a listing returned, for the names and references that ask later: each value under its name and its version. */
function recordListed(call: SsmCall, context: SourceContext, list: Parameter[] | undefined, decrypt: boolean): void {
  for (const p of list ?? []) {
    if (p.Name === undefined || p.Value === undefined) continue;
    recordRead(context, parameterKey(call, { name: p.Name }, decrypt), Promise.resolve(p.Value));
    if (p.Version !== undefined) recordRead(context, parameterKey(call, { name: p.Name, version: String(p.Version) }, decrypt), Promise.resolve(p.Value));
  }
}

/** Every parameter under the layer's path (every page); two layers listing the same path share one listing. */
function listPath(call: SsmCall, context: SourceContext, opts: SsmOptions): Promise<Array<{ name: string; value: string }>> {
  const path = normalizePath(opts.path!);
  return readOnce(context, readKey(call.store, 'path', path, opts.recursive ? 'recursive' : 'one level', opts.decrypt ? 'decrypted' : 'as stored'), async () => {
    const pages = await allPages('GetParametersByPath', async (nextToken): Promise<GetParametersByPathCommandOutput> => {
      const command = new call.sdk.GetParametersByPathCommand({ Path: path, Recursive: opts.recursive, WithDecryption: opts.decrypt, MaxResults: PAGE_SIZE, NextToken: nextToken });
      const page = await call.retrying('GetParametersByPath', (abortSignal) => call.client.send(command, { abortSignal }));
      recordListed(call, context, page.Parameters, opts.decrypt);
      return page;
    });
    return pages.flatMap((page) => collect(page.Parameters));
  });
}

/**
 * GetParameters by tens: each name's value, or undefined when the service has none. An answer is matched by name
 * and version (moto, unlike AWS, sends no `Selector`); without a version, the newest.
 */
function getParameters({ sdk, client, retrying }: SsmCall, wanted: ParameterName[], decrypt: boolean): Promise<string | undefined>[] {
  return chunk(wanted, PAGE_SIZE).flatMap((batch) => {
    const command = new sdk.GetParametersCommand({ Names: batch.map((p) => (p.version === undefined ? p.name : `${p.name}:${p.version}`)), WithDecryption: decrypt });
    const answer = retrying('GetParameters', (abortSignal) => client.send(command, { abortSignal }));
    return batch.map(async ({ name, version }) => {
      const found = ((await answer).Parameters ?? []).filter((p) => p.Name === name && p.Value !== undefined && (version === undefined ? !p.Selector : String(p.Version) === version));
      return found.sort((a, b) => (b.Version ?? 0) - (a.Version ?? 0))[0]?.Value;
    });
  });
}

/** Each name's value in order, one read per name per resolve: what a listing or an earlier read gave, then the rest. */
function readParameters(call: SsmCall, context: SourceContext, wanted: ParameterName[], decrypt: boolean): Promise<(string | undefined)[]> {
  return settled(readEach(context, wanted, (p) => parameterKey(call, p, decrypt), (rest) => getParameters(call, rest, decrypt)));
}

function collect(list: Parameter[] | undefined): Array<{ name: string; value: string }> {
  return (list ?? []).flatMap((p) => (p.Name !== undefined && p.Value !== undefined ? [{ name: p.Name, value: p.Value }] : []));
}

/** `ref+awsssm://PATH` targets of one region: `/PATH` (with its `?version=`), decrypted, as the layers read them. */
async function readReferences(call: SsmCall, context: SourceContext, targets: ReferenceTarget[]): Promise<(ReferenceValue | undefined)[]> {
  const values = await readParameters(call, context, targets.map((t) => ({ name: `/${t.path.replace(/^\/+/, '')}`, version: t.params.version })), true);
  return values.map((value) => (value === undefined ? undefined : { value }));
}

/** A `names:` layer: the values in the order of `names`, and the names the service has not. */
async function readNames(call: SsmCall, context: SourceContext, opts: SsmOptions): Promise<{ params: Array<{ name: string; value: string }>; missing: string[] }> {
  const names = opts.names!;
  const values = await readParameters(call, context, names.map((name) => ({ name })), opts.decrypt);
  return {
    params: names.flatMap((name, i) => (values[i] === undefined ? [] : [{ name, value: values[i] }])),
    missing: names.filter((_, i) => values[i] === undefined),
  };
}

const REFERENCE: ReferenceHook = {
  scheme: 'awsssm',
  params: ['region', 'version'],
  pointer: 'refused',
  check: (t) => awsReferenceProblem(t) ?? (t.params.version !== undefined && !/^[1-9][0-9]{0,9}$/.test(t.params.version) ? 'parameter "version" is not a version number such as 3' : undefined),
  resolve: (targets, context) =>
    readInGroups(targets, (t) => t.params.region ?? '', (group) => withAwsClient(SSM, referenceAwsOptions(group[0]), context, (call) => readReferences(call, context, group))),
};

// ---- the source ----------------------------------------------------------------------------------------------

const SSM: AwsService<SsmModule, SSMClient> = {
  packageName: '@aws-sdk/client-ssm',
  title: 'SSM',
  endpointVariable: 'AWS_ENDPOINT_URL_SSM',
  hostPrefix: 'ssm',
  createClient: (sdk, config) => new sdk.SSMClient(config),
  lean: { target: 'AmazonSSM', signingName: 'ssm', operations: ['GetParametersByPath', 'GetParameters'], serverErrors: ['InternalServerError'] },
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
      fetched: opts.path !== undefined ? { params: await listPath(call, context, opts), missing: [] } : await readNames(call, context, opts),
    }));
    if (fetched.missing.length > 0 && !opts.optional) {
      const list = fetched.missing.join(', ');
      throw new NotFoundError(`ParameterNotFound: ${fetched.missing.length === 1 ? 'parameter' : `${fetched.missing.length} parameters`} not found: ${list} (region ${region})`);
    }
    return parametersToEnv(fetched.params, opts);
  },
});
