/**
 * What a `vault` layer does when it runs: log in (or take the token found), read its paths, keep its leases. The
 * descriptor (../vault.ts) holds the options and the lease hooks, and loads this module only then.
 */
import { NotFoundError, SourceError } from '../../core/errors.js';
import type { LayerOptions } from '../descriptor.js';
import { tokenFetchOptions } from '../net/fetch.js';
import type { SourceContext } from '../types.js';
import { DESTINATION_OPTIONS, type Held, type OPTIONS } from '../vault.js';
import { vaultTrue } from './auth-settings.js';
import { authSettings, obtainToken } from './auth.js';
import { readLayer, tlsTransport } from './read.js';

type VaultOptions = LayerOptions<typeof OPTIONS>;

export async function loadVaultLayer(options: VaultOptions, context: SourceContext): Promise<Record<string, string>> {
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
}

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
