/**
 * `type: gcp-secret-manager`: Google Secret Manager's REST API v1 (contract section 1), over undici with the shared
 * retry policy, credentials from Google's application default credentials (./gcp/credentials.ts).
 *
 * - `secrets: [NAME, NAME@VERSION]` (one access each, the cheap quota), or `filter:` (one list call per page, then
 *   one access per secret; a disabled or destroyed `latest` is skipped, seen from the access answer alone).
 * - The key is the secret id made a variable name (`db-password` → `db_password`); `case: upper` is the core's.
 * - `endpoint` and `location` say where the token goes: never from an earlier layer's keys (`destination`).
 */
import { NotFoundError, SourceError } from '../core/errors.js';
import type { OptionSpecs } from '../core/validate.js';
import { ALLOW_INSECURE_HTTP, REMOTE_OPTIONS, defineSource, type LayerOptions } from './descriptor.js';
import { debugChannel } from './net/retry.js';
import { tokenFetchOptions } from './net/fetch.js';
import { mapConcurrently, payloadText, referenceFetch, SECRET_FORMAT_OPTION, SecretKeys } from './secret-keys.js';
import { withSession } from './session.js';
import { readInGroups } from '../core/references.js';
import type { ReferenceHook, SourceContext } from './types.js';

const OPTIONS = {
  project: {
    type: 'string',
    nonEmpty: true,
    description: 'Project id or number (default GOOGLE_CLOUD_PROJECT / GCLOUD_PROJECT, then the credentials file, then the metadata server; never gcloud).',
  },
  secrets: {
    type: 'list',
    minItems: 1,
    items: {
      type: 'string',
      pattern: { regex: '^[A-Za-z0-9_-]{1,255}(@[A-Za-z0-9_-]{1,63})?$', is: 'a secret id, optionally with @VERSION (e.g. db-password@3)' },
      description: 'A secret id, optionally `@VERSION` (a number or an alias; default `latest`).',
    },
    description: 'Secrets to read, `NAME` or `NAME@VERSION`; each is one key named after the secret.',
  },
  filter: {
    type: 'string',
    nonEmpty: true,
    description: 'Read every secret the list filter selects (e.g. `labels.app=api`), every page; disabled or destroyed latest versions are skipped.',
  },
  location: {
    type: 'string',
    destination: true,
    pattern: { regex: '^[a-z0-9-]+$', is: 'a Google Cloud location such as europe-west1' },
    description: 'Location of regional secrets (uses https://secretmanager.LOCATION.rep.googleapis.com).',
  },
  endpoint: {
    type: 'string',
    destination: true,
    pattern: { regex: '^https?://[^/?#@\\s]+/?$', is: 'a service root such as https://secretmanager.googleapis.com (scheme and host only)' },
    description: 'Service root (scheme and host) to which `/v1/...` is appended; default the global or regional Google endpoint.',
  },
  format: SECRET_FORMAT_OPTION,
  allow_insecure_http: ALLOW_INSECURE_HTTP,
  ...REMOTE_OPTIONS,
} as const satisfies OptionSpecs;

type GcpOptions = LayerOptions<typeof OPTIONS>;

/**
 * `ref+gcpsecrets://PROJECT/SECRET[?version=N]`: one access per distinct secret version, the project's in
 * parallel, shared with the layers that name it in the same resolve (`accessSecret`, ./gcp/client.ts). The
 * service root is Google's, or gcloud's own override variable from the parent environment
 * (`CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER`, scheme and host); never from a layer or the reference.
 */
const REFERENCE: ReferenceHook = {
  scheme: 'gcpsecrets',
  params: ['version'],
  pointer: 'allowed',
  check: (t) => {
    if (!/^[a-z0-9][a-z0-9-]{0,62}\/[A-Za-z0-9_-]{1,255}$/.test(t.path)) return 'the path is not PROJECT/SECRET (a project id or number, a secret id)';
    return t.params.version !== undefined && !/^[A-Za-z0-9_-]{1,63}$/.test(t.params.version) ? 'parameter "version" is not a version number or alias' : undefined;
  },
  resolve: (targets, context) =>
    readInGroups(targets, (t) => t.path.split('/')[0], async (group) => {
      const { accessSecret, serviceRoot } = await import('./gcp/client.js');
      const project = group[0].path.split('/')[0];
      const override = context.env.CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER;
      const api = { root: override ? new URL(override).origin : serviceRoot(undefined, undefined), project, context: withSession(context), fetch: referenceFetch(context, 'the Google access token', 'the Google credentials') };
      return mapConcurrently(group, async (t) => {
        const secret = t.path.split('/')[1];
        const version = t.params.version ?? 'latest';
        try {
          const got = await accessSecret(api, secret, version);
          if (got.kind === 'unavailable') throw new SourceError(`the version is disabled or destroyed (HTTP 400 ${got.status})`);
          return { value: payloadText(got.bytes, `secret ${secret}`) };
        } catch (err) {
          if (err instanceof NotFoundError) return undefined;
          throw err;
        }
      });
    }),
};

export default defineSource({
  type: 'gcp-secret-manager',
  description: 'Google Secret Manager (REST API v1, application default credentials).',
  options: OPTIONS,
  exclusive: [{ keys: ['secrets', 'filter'], exactlyOne: true }],
  remote: true,
  reference: REFERENCE,
  /** `gcp-secret-manager my-project db-password,api-key` or `... filter labels.app=api` */
  label: (o, fill) => {
    const what = typeof o.filter === 'string' ? `filter ${fill(o.filter)}` : Array.isArray(o.secrets) ? o.secrets.map((s) => fill(String(s))).join(',') : undefined;
    return [typeof o.project === 'string' ? fill(o.project) : undefined, what].filter(Boolean).join(' ') || undefined;
  },
  async load(options, context) {
    const { serviceRoot } = await import('./gcp/client.js');
    const { resolveProject } = await import('./gcp/credentials.js');
    const project = await resolveProject(options.project, context);
    const api = {
      root: serviceRoot(options.endpoint, options.location),
      project,
      location: options.location,
      context: withSession(context),
      fetch: tokenFetchOptions(options, context, { carries: 'the Google access token', credentialsName: 'the Google credentials' }),
    };
    return options.filter !== undefined ? loadFiltered(api, options, context) : loadNamed(api, options);
  },
});

type Api = import('./gcp/client.js').SecretManagerApi;

/** `NAME@VERSION` → name and version (default latest). */
export function parseSecretRef(entry: string): { name: string; version: string } {
  const at = entry.indexOf('@');
  return at < 0 ? { name: entry, version: 'latest' } : { name: entry.slice(0, at), version: entry.slice(at + 1) };
}

async function loadNamed(api: Api, options: GcpOptions): Promise<Record<string, string>> {
  const { accessSecret } = await import('./gcp/client.js');
  // The same entry twice is read once (quotas).
  const refs = [...new Set(options.secrets ?? [])].map(parseSecretRef);
  const missing: string[] = [];
  const payloads = await mapConcurrently(refs, async (ref) => {
    const what = `secret ${ref.name}${ref.version === 'latest' ? '' : `@${ref.version}`}`;
    try {
      const got = await accessSecret(api, ref.name, ref.version);
      if (got.kind === 'unavailable') throw new SourceError(`${what}: the version is disabled or destroyed (HTTP 400 ${got.status})`);
      return payloadText(got.bytes, what);
    } catch (err) {
      if (err instanceof NotFoundError) {
        missing.push(what);
        return undefined;
      }
      throw err;
    }
  });
  if (missing.length > 0 && (options.optional !== true || missing.length === refs.length)) {
    throw new NotFoundError(`not found in project ${api.project}: ${missing.join(', ')}`);
  }
  const keys = new SecretKeys();
  refs.forEach((ref, i) => {
    const text = payloads[i];
    if (text !== undefined) keys.add(ref.name, text, options.format);
  });
  return keys.keys;
}

async function loadFiltered(api: Api, options: GcpOptions, context: SourceContext): Promise<Record<string, string>> {
  const { accessSecret, listSecretIds } = await import('./gcp/client.js');
  const debug = debugChannel(context.env, context.layer);
  const ids = [...new Set(await listSecretIds(api, options.filter!))];
  const payloads = await mapConcurrently(ids, async (id) => {
    try {
      const got = await accessSecret(api, id);
      if (got.kind === 'payload') return payloadText(got.bytes, `secret ${id}`);
      debug?.(`skipped secret ${id}: its latest version is disabled or destroyed`);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      // Listed, yet gone or without a version by the time it was read.
      debug?.(`skipped secret ${id}: it has no latest version`);
    }
    return undefined;
  });
  const keys = new SecretKeys();
  ids.forEach((id, i) => {
    const text = payloads[i];
    if (text !== undefined) keys.add(id, text, options.format);
  });
  return keys.keys;
}
