/**
 * `type: gcp-secret-manager`: Google Secret Manager's REST API v1 (contract section 1), over undici with the shared
 * retry policy, credentials from Google's application default credentials (./gcp/credentials.ts).
 *
 * - `secrets: [NAME, NAME@VERSION]` (one access each, the cheap quota), or `filter:` (one list call per page, then
 *   one access per secret; a disabled or destroyed `latest` is skipped, seen from the access answer alone).
 * - The key is the secret id made a variable name (`db-password` → `db_password`); `case: upper` is the core's.
 * - `endpoint` and `location` say where the token goes: never from an earlier layer's keys (`destination`).
 */
import type { OptionSpecs } from '../core/validate.js';
import { ALLOW_INSECURE_HTTP, REMOTE_OPTIONS, SECRET_FORMAT_OPTION, defineSource, type LayerOptions } from './descriptor.js';
import type { ReferenceHook } from './types.js';

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

export type GcpOptions = LayerOptions<typeof OPTIONS>;

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
  resolve: async (targets, context) => (await import('./gcp/layer.js')).readGcpReferences(targets, context),
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
  load: async (options, context) => (await import('./gcp/layer.js')).loadGcpLayer(options, context),
});
