/**
 * `type: vault`: HashiCorp Vault or OpenBao, HTTP API v1 (docs/sources.md#vault). KV v1 and v2 with the mount and
 * its version detected once per mount and session, dynamic secrets with their leases (the lease hooks below),
 * logins (token, approle, kubernetes, jwt, aws) shared per session. The client and the login methods live in
 * ./vault/ and load only when a vault layer loads.
 */
import { NotFoundError, SourceError } from '../core/errors.js';
import type { OptionSpecs } from '../core/validate.js';
import { ALLOW_INSECURE_HTTP, REMOTE_OPTIONS, defineSource, type Fill } from './descriptor.js';
import type { ReferenceHook, SourceContext, SourceOptions } from './types.js';
import { isAbsolute, resolve } from 'node:path';
import { authIssues, vaultTrue } from './vault/auth-settings.js';

const OPTIONS = {
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
type Held = (import('./vault/read.js').LeaseState | import('./vault/auth.js').TokenState) & { revokeOnExit?: boolean };

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
  async load(options, context) {
    const [{ authSettings, obtainToken }, { readLayer, tlsTransport }] = await Promise.all([import('./vault/auth.js'), import('./vault/read.js')]);
    const { tokenFetchOptions } = await import('./net/fetch.js');
    const auth = authSettings(options.auth);
    const tokenFromLayer = context.filledFrom?.(['auth', 'token']) !== undefined;
    const found = auth.method !== 'token' || !(auth.token !== undefined && (tokenFromLayer || (context.filled?.(['auth', 'token']).length ?? 0) === 0));
    if (found) checkDestinations(context);
    const address = options.address.trim().replace(/\/+$/, '');
    if (address === '') throw new SourceError('no Vault address: set VAULT_ADDR or the layer\'s `address:`');
    if (!/^https?:\/\//i.test(address)) throw new SourceError('`address` must start with http:// or https://');
    const skipVerify = vaultTrue(options.skip_verify);
    if (skipVerify && !context.session?.has('vault-skip-verify-warned')) {
      context.session?.set('vault-skip-verify-warned', true);
      context.warn(`layer "${context.layer}": skip_verify is set: the Vault server's TLS certificate is not verified`);
    }
    const tls = { ca_cert: options.ca_cert || undefined, ca_path: options.ca_path || undefined, client_cert: options.client_cert || undefined, client_key: options.client_key || undefined, tls_server_name: options.tls_server_name || undefined, skip_verify: skipVerify };
    const { dispatcher, transport } = await tlsTransport(tls, context.configDir, context);
    const endpoint = {
      address,
      namespace: options.namespace.replace(/^\/+|\/+$/g, '') || undefined,
      fetch: { ...tokenFetchOptions(options, context, { carries: 'the Vault token' }), dispatcher },
      transport,
    };
    let { state: token } = await obtainToken(endpoint, auth, context, tokenFromLayer);
    if (options.revoke_on_exit && token.fromLogin) (token as Held).revokeOnExit = true;
    if (token.fromLogin) context.hold?.(token, { session: true });
    else if (token.found && context.session) {
      // A given token (VAULT_TOKEN, ~/.vault-token): one state per session, held so a run that stays the parent
      // can say once when it expires (`endingWarning`); it is never renewed or revoked.
      const key = `vault-given\0${endpoint.address}\0${endpoint.namespace ?? ''}\0${token.token}`;
      const shared = context.session.get(key) as typeof token | undefined;
      if (shared) token = shared;
      else context.session.set(key, token);
      context.hold?.(token, { session: true });
    }

    const kv = options.kv === undefined ? undefined : options.kv === 'none' ? 'none' : (Number(options.kv) as 1 | 2);
    if (options.kv !== undefined && !['1', '2', 'none'].includes(String(options.kv))) throw new SourceError('`kv`: expected 1, 2 or none');
    if (options.version !== undefined && (options.recursive || kv === 1 || kv === 'none')) throw new SourceError('`version` pins a KV v2 version of one secret: not with `recursive`, `kv: 1` or `kv: none`');
    const leasesKept = (context.cache?.get('vault-leases') as Map<string, Held> | undefined) ?? new Map<string, Held>();
    context.cache?.set('vault-leases', leasesKept);
    const reuse = (path: string) => {
      const lease = leasesKept.get(path);
      if (!lease || lease.kind !== 'lease' || lease.revoked || lease.token.token !== token.token) return undefined;
      const due = lease.renewable && !lease.capped ? lease.endsAt - 1000 : (lease.endsAt - Math.max(1000, Math.round(lease.ttlMs / 3)));
      return Date.now() < due ? lease : undefined;
    };
    const outcome = await readLayer(
      endpoint,
      token,
      { paths: options.path !== undefined ? [options.path] : options.paths ?? [], recursive: options.recursive, keyPath: options.key_path, version: options.version, mount: options.mount, kv, flatten: options.flatten },
      context,
      reuse,
    );
    for (const lease of outcome.leases) {
      if (options.revoke_on_exit) (lease as Held).revokeOnExit = true;
      context.hold?.(lease);
      leasesKept.set(lease.path, lease);
    }
    for (const lease of outcome.reused) context.hold?.(lease, { session: true });
    if (outcome.leasedKeys.length > 0) context.leased?.(outcome.leasedKeys);
    if (Object.keys(outcome.keys).length === 0 && options.recursive) throw new NotFoundError(`no secret under ${options.path}`);
    return outcome.keys;
  },
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

/** Contract, "where found credentials go": a destination option filled from an earlier layer's keys is refused. */
function checkDestinations(context: SourceContext): void {
  for (const option of DESTINATION_OPTIONS) {
    const layer = context.filledFrom?.([option]);
    if (layer !== undefined) {
      throw new SourceError(
        `\`${option}\` is filled from a key of layer "${layer}": secretrun does not send a Vault token it found itself (VAULT_TOKEN, ~/.vault-token, a login) where an earlier layer's keys point; set it in vars or the parent environment, or take the token from that layer too (\`auth: { token: \${VAULT_TOKEN} }\`)`,
      );
    }
  }
}
