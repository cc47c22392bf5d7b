/**
 * `type: secretsmanager` — AWS Secrets Manager through the real AWS SDK (contract section 1), on ./aws/ like ssm.
 *
 * - `secret_id` (name or ARN) or `secret_ids: [...]`, read at `version_stage` (default AWSCURRENT).
 * - A SecretString holding a JSON object becomes keys, with a json layer's rules (`select`, `flatten`). Anything
 *   else (plain text, a binary secret as base64 text) needs `key: NAME`, which takes the whole secret as one key
 *   and is allowed with a single `secret_id` only.
 * - Several ids are fetched concurrently. For AWSCURRENT, BatchGetSecretValue serves up to 20 ids per call; it
 *   reports a missing id in `Errors[]`, not as an exception. Without the batch permission (access denied on the
 *   whole call) the ids are read one GetSecretValue each. Other stages have no batch form.
 * - A missing secret is a NotFoundError naming the id (`optional: true`: an empty layer, or with `secret_ids` the
 *   missing ones skipped). Two secrets giving one key is an error naming both.
 * - One read per secret per resolve (`context.reads`): layers and `ref+awssecrets://` references naming one secret
 *   (the same id as written, stage, region, endpoint and credentials) share the first read, in flight or done.
 */
import { ENV_NAME_PATTERN } from '../core/names.js';
import type { BatchGetSecretValueCommandOutput, GetSecretValueCommandOutput, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { NotFoundError, SourceError } from '../core/errors.js';
import { jsonObject, structuredToEnv } from '../formats/parse.js';
import { readInGroups } from '../core/references.js';
import { eachLimited } from './concurrency.js';
import { readEach, settled } from './aws/reads.js';
import { readKey } from './session.js';
import { allPages, awsOptions, awsOptionSpecs, awsReferenceProblem, chunk, referenceAwsOptions, resourceLabel, withAwsClient, type AwsCall, type AwsOptions, type AwsService } from './aws/client.js';
import { awsErrorName, httpStatus, isAccessDenied } from './aws/errors.js';
import { STRUCTURED_OPTIONS, defineSource, type Fill, type LayerOptions } from './descriptor.js';
import type { ReferenceHook, SourceContext, SourceOptions } from './types.js';

/** BatchGetSecretValue takes at most 20 ids per call. */
export const BATCH_SIZE = 20;
/** GetSecretValue calls in flight at once when ids are read one by one. */
const CONCURRENCY = 8;
export const DEFAULT_VERSION_STAGE = 'AWSCURRENT';

export interface SecretsManagerOptions extends AwsOptions {
  ids: string[];
  /** True when the layer named its ids with `secret_ids` (messages say which option to change). */
  many: boolean;
  versionStage: string;
  key?: string;
  select?: string;
  flatten?: string;
  optional: boolean;
}

/** The options as the fetching code uses them; the rules the option specs can't express are checked here. */
export function secretsManagerOptions(o: LayerOptions<typeof OPTIONS>): SecretsManagerOptions {
  if (o.key !== undefined && o.secret_ids !== undefined) throw new SourceError('`key` takes one whole secret, so it needs `secret_id`, not `secret_ids`');
  if (o.key !== undefined && (o.select !== undefined || o.flatten !== undefined)) {
    throw new SourceError('`key` loads the whole secret as one key; `select` and `flatten` apply to a JSON secret loaded without `key`');
  }
  return {
    ...awsOptions(o),
    ids: o.secret_id !== undefined ? [o.secret_id] : [...new Set(o.secret_ids ?? [])],
    many: o.secret_ids !== undefined,
    versionStage: o.version_stage,
    key: o.key,
    select: o.select,
    flatten: o.flatten,
    optional: o.optional === true,
  };
}

// ---- values to keys (pure) -----------------------------------------------------------------------------------

/** One secret as fetched: its text, or its bytes for a binary secret. */
export interface FetchedSecret {
  id: string;
  text?: string;
  binary?: Uint8Array;
}

/** The keys one secret gives. Messages name the secret and what to set, never its content. */
export function secretToEnv(secret: FetchedSecret, opts: Pick<SecretsManagerOptions, 'key' | 'select' | 'flatten' | 'many'>): Record<string, string> {
  const origin = `secret ${secret.id}`;
  if (opts.key !== undefined) {
    if (secret.text !== undefined) return { [opts.key]: secret.text };
    return { [opts.key]: Buffer.from(secret.binary ?? new Uint8Array()).toString('base64') };
  }
  const fix = opts.many ? 'read it with its own layer (`secret_id` and `key: NAME`)' : 'set `key: NAME` to load it as one key';
  if (secret.text === undefined) throw new SourceError(`${origin} is binary; ${fix} (base64 text, or decoded with \`decode\`)`);
  const object = jsonObject(secret.text);
  if (object === undefined) throw new SourceError(`${origin} is not a JSON object; ${fix}`);
  return structuredToEnv(object, { origin, select: opts.select, flatten: opts.flatten });
}

/** Merge the secrets' keys in the order of the ids; two secrets giving one key is an error naming both. */
export function secretsToEnv(secrets: FetchedSecret[], opts: Pick<SecretsManagerOptions, 'key' | 'select' | 'flatten' | 'many'>): Record<string, string> {
  const out: Record<string, string> = {};
  const originOf = new Map<string, string>();
  for (const secret of secrets) {
    for (const [key, value] of Object.entries(secretToEnv(secret, opts))) {
      const earlier = originOf.get(key);
      if (earlier !== undefined) throw new SourceError(`secret ${earlier} and secret ${secret.id} both give the key ${key}; use \`select\`, \`only\` or separate layers with \`prefix\``);
      originOf.set(key, secret.id);
      out[key] = value;
    }
  }
  return out;
}

/** Does a BatchGetSecretValue entry answer the requested id (a name, a full ARN, or an ARN without its suffix)? */
export function answersId(id: string, entry: { Name?: string; ARN?: string }): boolean {
  if (id === entry.Name || id === entry.ARN) return true;
  // A partial ARN (without the 6-character random suffix) names the same secret.
  return id.startsWith('arn:') && entry.ARN !== undefined && entry.ARN.startsWith(`${id}-`) && entry.ARN.length === id.length + 7;
}

// ---- fetching ------------------------------------------------------------------------------------------------

type SecretsManagerModule = typeof import('@aws-sdk/client-secrets-manager');

/** What the store said about one id: its text or bytes, or undefined for "no such secret" (each asker words it). */
type SecretRead = Pick<FetchedSecret, 'text' | 'binary'> | undefined;

type Call = AwsCall<SecretsManagerModule, SecretsManagerClient>;

const NOT_FOUND = 'ResourceNotFoundException';
/** Refusals about one secret: the message names it, and not AWS's own text (a validation error may quote input). */
const PER_SECRET_ERRORS = new Set(['AccessDeniedException', 'DecryptionFailure', 'InvalidRequestException', 'InvalidParameterException']);

const asRead = (answer: { SecretString?: string; SecretBinary?: Uint8Array }): SecretRead =>
  answer.SecretString !== undefined ? { text: answer.SecretString } : { binary: answer.SecretBinary };

async function getOne(call: Call, id: string, versionStage: string): Promise<SecretRead> {
  let out: GetSecretValueCommandOutput;
  try {
    const command = new call.sdk.GetSecretValueCommand({ SecretId: id, VersionStage: versionStage });
    out = await call.retrying('GetSecretValue', (abortSignal) => call.client.send(command, { abortSignal }));
  } catch (err) {
    const name = awsErrorName(err);
    if (name === NOT_FOUND) return undefined;
    if (PER_SECRET_ERRORS.has(name)) throw new SourceError(`${name} reading secret ${id} (${httpStatus(err)}region ${call.region})`);
    throw err;
  }
  return asRead(out);
}

const getEach = (call: Call, ids: string[], versionStage: string): Promise<SecretRead>[] => eachLimited(ids, CONCURRENCY, (id) => getOne(call, id, versionStage));

/**
 * Up to 20 ids in one call (following NextToken, though a list of ids normally fits one page), an outcome per id:
 * a missing id is in `Errors[]`, not an exception, and another error there fails that id only.
 */
function getBatch(call: Call, ids: string[]): Promise<SecretRead>[] {
  const batch = (async (): Promise<Promise<SecretRead>[]> => {
    let pages: BatchGetSecretValueCommandOutput[];
    try {
      pages = await allPages('BatchGetSecretValue', (nextToken) => {
        const command = new call.sdk.BatchGetSecretValueCommand({ SecretIdList: ids, NextToken: nextToken });
        return call.retrying('BatchGetSecretValue', (abortSignal) => call.client.send(command, { abortSignal }));
      });
    } catch (err) {
      // No secretsmanager:BatchGetSecretValue permission: GetSecretValue on each secret may still be allowed.
      if (isAccessDenied(err)) return getEach(call, ids, DEFAULT_VERSION_STAGE);
      throw err;
    }
    const values = pages.flatMap((p) => p.SecretValues ?? []);
    const errors = pages.flatMap((p) => p.Errors ?? []).filter((e) => e.ErrorCode !== NOT_FOUND);
    const failure = (e: (typeof errors)[number]) => new SourceError(`${e.ErrorCode ?? 'Error'} reading secret ${e.SecretId ?? '(unnamed)'} (region ${call.region})`);
    return ids.map(async (id) => {
      const entry = values.find((v) => answersId(id, v));
      if (entry !== undefined) return asRead(entry);
      // An error that names no id we asked for is every unanswered id's: absence is not proven.
      const error = errors.find((e) => e.SecretId === id) ?? errors.find((e) => !ids.includes(e.SecretId ?? ''));
      if (error) throw failure(error);
      return undefined;
    });
  })();
  return ids.map((_, i) => batch.then((each) => each[i]));
}

/**
 * Each id's outcome, one read per id, stage and store per resolution (`context.reads`), whether a layer or a
 * reference asked. The key is the id as written: a secret named by its ARN in one place and by its name in
 * another is read twice (only the answer would tell they are one). The ids not read yet are fetched as before:
 * for AWSCURRENT and several ids, BatchGetSecretValue by twenties; else GetSecretValue each (the batch call has
 * no version stage).
 */
function readSecrets(call: Call, context: SourceContext, ids: readonly string[], versionStage: string): Promise<SecretRead[]> {
  const keyOf = (id: string) => readKey(call.store, 'secret', id, versionStage);
  return settled(
    readEach(context, ids, keyOf, (rest) =>
      rest.length === 1 || versionStage !== DEFAULT_VERSION_STAGE ? getEach(call, rest, versionStage) : chunk(rest, BATCH_SIZE).flatMap((batch) => getBatch(call, batch)),
    ),
  );
}

// ---- the source ----------------------------------------------------------------------------------------------

const SECRETS_MANAGER: AwsService<SecretsManagerModule, SecretsManagerClient> = {
  packageName: '@aws-sdk/client-secrets-manager',
  title: 'Secrets Manager',
  endpointVariable: 'AWS_ENDPOINT_URL_SECRETS_MANAGER',
  hostPrefix: 'secretsmanager',
  createClient: (sdk, config) => new sdk.SecretsManagerClient(config),
  lean: { target: 'secretsmanager', signingName: 'secretsmanager', operations: ['GetSecretValue', 'BatchGetSecretValue'], serverErrors: ['InternalServiceError'] },
};

const OPTIONS = {
  secret_id: { type: 'string', nonEmpty: true, description: 'Name or ARN of one secret.' },
  secret_ids: {
    type: 'list',
    items: { type: 'string', nonEmpty: true, description: 'A secret name or ARN.' },
    minItems: 1,
    description: 'Names or ARNs of several secrets, fetched concurrently; each must hold a JSON object.',
  },
  version_stage: { type: 'string', nonEmpty: true, default: DEFAULT_VERSION_STAGE, description: 'Staging label of the version to read (default `AWSCURRENT`), e.g. `AWSPREVIOUS`.' },
  key: {
    type: 'string',
    pattern: { regex: ENV_NAME_PATTERN, is: 'an environment variable name for the whole secret (letters, digits and _, not starting with a digit)' },
    description: 'Load the whole secret (text, or binary as base64) as this one key; needed for a secret that is not a JSON object. Only with `secret_id`.',
  },
  ...STRUCTURED_OPTIONS,
  ...awsOptionSpecs(SECRETS_MANAGER),
} as const;

/**
 * `ref+awssecrets://SECRET_ID[?version_stage=...]`: the targets of one region and stage, each distinct id once
 * (BatchGetSecretValue for several at AWSCURRENT, as a layer's `secret_ids`); a binary secret as base64 text.
 */
const REFERENCE: ReferenceHook = {
  scheme: 'awssecrets',
  params: ['region', 'version_stage'],
  pointer: 'allowed',
  check: awsReferenceProblem,
  resolve: (targets, context) =>
    readInGroups(targets, (t) => JSON.stringify([t.params.region ?? '', t.params.version_stage ?? DEFAULT_VERSION_STAGE]), async (group) => {
      const stage = group[0].params.version_stage ?? DEFAULT_VERSION_STAGE;
      const reads = await withAwsClient(SECRETS_MANAGER, referenceAwsOptions(group[0]), context, (call) => readSecrets(call, context, group.map((t) => t.path), stage));
      return reads.map((s) => s && { value: s.text ?? Buffer.from(s.binary ?? new Uint8Array()).toString('base64') });
    }),
};

/** `secretsmanager prod/api`, or `secretsmanager prod/db (+2)` for a list. */
const label = (o: SourceOptions, fill: Fill) => resourceLabel(o.secret_id, o.secret_ids, fill);

export default defineSource({
  type: 'secretsmanager',
  description: 'AWS Secrets Manager, through the AWS SDK and its standard credential chain.',
  options: OPTIONS,
  exclusive: [{ keys: ['secret_id', 'secret_ids'], exactlyOne: true }],
  remote: true,
  label,
  reference: REFERENCE,
  async load(layerOptions, context) {
    const opts = secretsManagerOptions(layerOptions);
    const { reads, region } = await withAwsClient(SECRETS_MANAGER, opts, context, async (call) => ({
      region: call.region,
      reads: await readSecrets(call, context, opts.ids, opts.versionStage),
    }));
    const secrets = opts.ids.flatMap((id, i): FetchedSecret[] => (reads[i] ? [{ id, ...reads[i] }] : []));
    const missing = opts.ids.filter((_, i) => reads[i] === undefined);
    if (missing.length > 0 && !(opts.optional && opts.many)) {
      const what = missing.length === 1 ? 'secret' : `${missing.length} secrets`;
      const stage = opts.versionStage === DEFAULT_VERSION_STAGE ? '' : ` at version stage ${opts.versionStage}`;
      // With a single secret_id and `optional: true` the core turns this into an empty layer.
      throw new NotFoundError(`${NOT_FOUND}: ${what} not found${stage}: ${missing.join(', ')} (region ${region})`);
    }
    return secretsToEnv(secrets, opts);
  },
});
