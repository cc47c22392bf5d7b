/**
 * `type: vault`: HashiCorp Vault or OpenBao, HTTP API v1 (docs/sources.md#vault). KV v1 and v2 with the mount and
 * its version detected once per mount and session, dynamic secrets with their leases (the lease hooks below),
 * logins (token, approle, kubernetes, jwt, aws) shared per session. The client and the login methods live in
 * ./vault/ and load only when a vault layer loads.
 */
import type { OptionSpecs } from '../core/validate.js';
import { ALLOW_INSECURE_HTTP, REMOTE_OPTIONS, defineSource, type Fill } from './descriptor.js';
import type { ReferenceHook, SourceOptions } from './types.js';
import { isAbsolute, resolve } from 'node:path';
import { authIssues } from './vault/auth-settings.js';

export const OPTIONS = {
  address: { type: 'string', default: '${VAULT_ADDR}', description: 'Vault address, e.g. `https://vault.example.com:8200` (default `${VAULT_ADDR}`).' },
  namespace: { type: 'string', default: '${VAULT_NAMESPACE:-}', description: 'Namespace, sent as `X-Vault-Namespace` (default `${VAULT_NAMESPACE}` when set).' },
  path: { type: 'string', nonEmpty: true, description: 'The secret as `vault kv get` takes it, `MOUNT/SECRET` (without `data/`), or a dynamic path such as `database/creds/app`.' },
  paths: { type: 'list', items: { type: 'string', nonEmpty: true, description: 'A secret path.' }, minItems: 1, description: 'Several secrets; their fields are merged (a key in two of them is an error unless `key_path`).' },
  recursive: { type: 'boolean', default: false, description: 'Load every secret under `path` (LIST at every level).' },
  key_path: { type: 'boolean', default: false, description: "Prefix each key with its secret's path below `path` (`db/password` gives `db_password`)." },
  version: { type: 'integer', minimum: 1, is: 'a KV v2 version number', description: 'Pin a KV v2 version.' },
  mount: { type: 'string', nonEmpty: true, description: 'The mount, instead of asking Vault (`sys/internal/ui/mounts`).' },
  kv: { type: 'string', scalars: true, pattern: { regex: '^(1|2|none)$', is: '1, 2 or none' }, description: 'The KV version of the mount, instead of asking Vault: `1`, `2`, or `none` (not a KV mount).' },
  flatten: { type: 'string', description: 'Separator for flattening nested JSON fields into keys, e.g. `__`.' },
  auth: {
    type: 'map',
    values: { type: 'string', scalars: true, description: 'A setting of the auth method.' },
    credential: { when: 'filled', is: 'auth setting', literalKeys: ['token', 'secret_id', 'jwt'] },
    description:
      'How to get a token: `{ method: token }` (default: `token`, else VAULT_TOKEN, else ~/.vault-token), `approle` (`role_id`, `secret_id` or `secret_id_file`, `role_name`, `wrapped`), `kubernetes` (`role`, `jwt_file`), `jwt` (`role`, `jwt` or `jwt_file`), `aws` (`role`, `header_value`, `region`); `mount` defaults to the method.',
  },
  ca_cert: { type: 'string', default: '${VAULT_CACERT:-}', description: 'PEM file of the CA to trust (default VAULT_CACERT).' },
  ca_path: { type: 'string', default: '${VAULT_CAPATH:-}', description: 'Directory of PEM CA files (default VAULT_CAPATH).' },
  client_cert: { type: 'string', default: '${VAULT_CLIENT_CERT:-}', description: 'PEM client certificate (default VAULT_CLIENT_CERT).' },
  client_key: { type: 'string', default: '${VAULT_CLIENT_KEY:-}', description: 'PEM client key (default VAULT_CLIENT_KEY).' },
  tls_server_name: { type: 'string', default: '${VAULT_TLS_SERVER_NAME:-}', description: 'Server name for SNI and verification (default VAULT_TLS_SERVER_NAME).' },
  skip_verify: { type: 'string', scalars: true, default: '${VAULT_SKIP_VERIFY:-}', description: 'Skip TLS verification (default VAULT_SKIP_VERIFY); prints a warning.' },
  revoke_on_exit: { type: 'boolean', default: false, description: 'Revoke the leases and login tokens secretrun obtained when it exits (keeps secretrun as the parent).' },
  allow_insecure_http: ALLOW_INSECURE_HTTP,
  ...REMOTE_OPTIONS,
} as const satisfies OptionSpecs;

/** Options that say where the token goes: never filled from an earlier layer's keys when secretrun found the token. */
export const DESTINATION_OPTIONS = ['address', 'namespace', 'ca_cert', 'ca_path', 'client_cert', 'client_key', 'tls_server_name', 'skip_verify'] as const;

/** The held states, as the lease hooks see them. */
export type Held = (import('./vault/read.js').LeaseState | import('./vault/auth.js').TokenState) & { revokeOnExit?: boolean };

const label = (o: SourceOptions, fill: Fill) =>
  typeof o.path === 'string' ? fill(o.path) : Array.isArray(o.paths) && typeof o.paths[0] === 'string' ? `${fill(o.paths[0])}${o.paths.length > 1 ? ` (+${o.paths.length - 1})` : ''}` : undefined;

/** `ref+vault://PATH?namespace=NS&version=N#/field`: the parent environment's Vault and token chain (./vault/references.ts). */
const REFERENCE: ReferenceHook = {
  scheme: 'vault',
  params: ['namespace', 'version'],
  pointer: 'required',
  check: (t) => (t.params.version !== undefined && !/^[1-9][0-9]{0,9}$/.test(t.params.version) ? 'parameter "version" is not a KV v2 version number (1 or more)' : undefined),
  resolve: async (targets, context) => (await import('./vault/references.js')).readVaultReferences(targets, context),
};

export default defineSource({
  type: 'vault',
  description: 'HashiCorp Vault or OpenBao: KV v1/v2 and dynamic secrets with their leases; token, AppRole, Kubernetes, JWT and AWS IAM logins.',
  options: OPTIONS,
  exclusive: [{ keys: ['path', 'paths'], exactlyOne: true }],
  remote: true,
  reference: REFERENCE,
  label,
  moreIssues(layer, written) {
    const auth = layer.auth;
    const issues: { path: string[]; message: string }[] = [];
    // A value of the wrong type is the option spec's report; the auth fields are checked once every value is a scalar.
    const scalars = (o: object) => Object.values(o).every((v) => ['string', 'number', 'boolean'].includes(typeof v));
    if (auth !== null && typeof auth === 'object' && !Array.isArray(auth) && scalars(auth)) {
      const method = (auth as Record<string, unknown>).method;
      if (!(written && typeof method === 'string' && method.includes('${'))) for (const [key, message] of authIssues(auth as Record<string, unknown>)) issues.push({ path: ['auth', key], message });
    }
    // A number escapes the string pattern (`kv: 2` is written as a number): checked here.
    if (typeof layer.kv === 'number' && layer.kv !== 1 && layer.kv !== 2) issues.push({ path: ['kv'], message: `"${layer.kv}" is not 1, 2 or none` });
    if (layer.version !== undefined && (layer.recursive === true || String(layer.kv) === '1' || layer.kv === 'none')) {
      issues.push({ path: ['version'], message: 'pins a KV v2 version of one secret: not with `recursive`, `kv: 1` or `kv: none`' });
    }
    return issues;
  },
  privateFiles(options, context) {
    const auth = options.auth ?? {};
    const out = [];
    for (const [key, role] of [['secret_id_file', 'auth.secret_id_file'], ['jwt_file', 'auth.jwt_file']] as const) {
      const shown = auth[key];
      if (typeof shown === 'string' && shown !== '' && !shown.includes('${')) out.push({ path: isAbsolute(shown) ? shown : resolve(context.configDir, shown), shown, role });
    }
    return out;
  },
  load: async (options, context) => (await import('./vault/layer.js')).loadVaultLayer(options, context),
  release: async (state, signal) => {
    const held = state as Held;
    const { revokeLease, revokeToken } = await import('./vault/read.js');
    if (held.kind === 'lease') await revokeLease(held, signal);
    else await revokeToken(held, signal);
  },
  renewAt: (state) => {
    const held = state as Held;
    if (held.revoked) return undefined;
    if (held.kind === 'lease') return held.renewable && !held.capped ? held.renewedAt + Math.round((held.ttlMs * 2) / 3) : undefined;
    return held.fromLogin && held.renewable && held.ttlMs > 0 ? held.renewedAt + Math.round((held.ttlMs * 2) / 3) : undefined;
  },
  renew: async (state, signal) => {
    const held = state as Held;
    const { renewLease, renewToken } = await import('./vault/read.js');
    if (held.kind === 'lease') await renewLease(held, signal);
    else await renewToken(held, signal);
  },
  refreshAt: (state) => {
    const held = state as Held;
    if (held.kind !== 'lease' || held.revoked) return undefined;
    if (held.renewable && !held.capped) return undefined;
    return held.endsAt - Math.max(1000, Math.round(held.ttlMs / 3));
  },
  parentReason: (state) => {
    const held = state as Held;
    if (held.revokeOnExit) return 'revoke_on_exit is set';
    if (held.kind === 'lease' && held.token.fromLogin) return "a leased secret was read with a login token, and Vault revokes a token's leases when the token expires";
    return undefined;
  },
  releaseAtExit: (state) => (state as Held).revokeOnExit === true,
  endingWarning: async (state, signal) => {
    const held = state as Held;
    if (held.kind !== 'token' || held.fromLogin || held.revoked) return undefined;
    const { tokenEnd } = await import('./vault/auth.js');
    const end = await tokenEnd(held, signal);
    return end === undefined ? undefined : `the Vault token it was given is not renewable and expires at ${new Date(end).toISOString()}, while the process runs; Vault revokes its leases then (use a login method, \`auth:\`, or a longer-lived token)`;
  },
});
