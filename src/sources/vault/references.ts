/**
 * `ref+vault://PATH?namespace=NS&version=N#/field` (contract section 3b): the secret as `vault kv get` takes it,
 * or a dynamic path such as `database/creds/app`; the field is required. The store is the parent environment's
 * Vault (VAULT_ADDR, VAULT_NAMESPACE, VAULT_CACERT and the other TLS variables) with the standard token chain
 * (VAULT_TOKEN, else ~/.vault-token): never a layer's address or token. The mount and its KV version are detected
 * as for a layer (once per mount and session); a secret that is not KV is leased, and its lease is held like a
 * layer's (renewed, re-read, released).
 */
import { NotFoundError, SourceError } from '../../core/errors.js';
import type { ReferenceTarget, ReferenceValue, SourceContext } from '../types.js';
import { debugChannel } from '../net/retry.js';
import { referenceFetch } from '../secret-keys.js';
import { obtainToken } from './auth.js';
import type { VaultEndpoint } from './client.js';
import { vaultTrue } from './auth-settings.js';
import { checkCapabilities, mountOf, readKv, readLeased, tlsTransport, trimPath } from './read.js';

/** Vault's (Go's strconv.ParseBool) spelling of true. */

export async function readVaultReferences(targets: readonly ReferenceTarget[], context: SourceContext): Promise<(ReferenceValue | undefined)[]> {
  const env = context.env;
  const address = (env.VAULT_ADDR ?? '').trim().replace(/\/+$/, '');
  if (address === '') throw new SourceError('no Vault address: ref+vault reads the parent environment\'s VAULT_ADDR');
  if (!/^https?:\/\//i.test(address)) throw new SourceError('VAULT_ADDR must start with http:// or https://');
  const tls = {
    ca_cert: env.VAULT_CACERT || undefined,
    ca_path: env.VAULT_CAPATH || undefined,
    client_cert: env.VAULT_CLIENT_CERT || undefined,
    client_key: env.VAULT_CLIENT_KEY || undefined,
    tls_server_name: env.VAULT_TLS_SERVER_NAME || undefined,
    skip_verify: vaultTrue(env.VAULT_SKIP_VERIFY),
  };
  // `transport` as a layer's (vault.ts): a reference and a layer with the same TLS settings share a KV read.
  const { dispatcher, transport } = await tlsTransport(tls, context.configDir, context);
  const fetch = { ...referenceFetch(context, 'the Vault token', 'the Vault token'), debug: debugChannel(env, 'ref+vault'), dispatcher };
  const endpointFor = (namespace: string | undefined): VaultEndpoint => ({ address, namespace: (namespace ?? env.VAULT_NAMESPACE ?? '').replace(/^\/+|\/+$/g, '') || undefined, fetch, transport });
  // One token for every target: VAULT_TOKEN, else ~/.vault-token (the token method with nothing written).
  const { state: token } = await obtainToken(endpointFor(undefined), { method: 'token', token: undefined }, { ...context, layer: 'ref+vault' }, false);
  return Promise.all(
    targets.map(async (target) => {
      const endpoint = endpointFor(target.params.namespace);
      const path = trimPath(target.path);
      const version = target.params.version === undefined ? undefined : Number(target.params.version);
      try {
        const info = await mountOf(endpoint, token, path, {}, context);
        if (info.kv === 'none') {
          if (version !== undefined) throw new SourceError('parameter "version" pins a KV v2 version, and this path is not on a KV mount');
          // `check --resolve`: reading would mint a credential and a lease; ask what the token may do instead.
          if (context.checking) {
            await checkCapabilities(endpoint, token, path);
            return { value: '', leased: true, unread: true };
          }
          // Never memoized: every read mints a credential and a lease (a layer reading the path reads its own).
          const lease = await readLeased(endpoint, token, path);
          if (lease.id !== '') context.hold?.(lease);
          return { value: JSON.stringify(lease.data), leased: true };
        }
        if (version !== undefined && info.kv !== 2) throw new SourceError('parameter "version" pins a KV v2 version, and this mount is KV v1');
        const rel = path === info.mount ? '' : path.slice(info.mount.length + 1);
        return { value: JSON.stringify(await readKv(endpoint, token, info, rel, version, context)) };
      } catch (err) {
        if (err instanceof NotFoundError) return undefined;
        throw err;
      }
    }),
  );
}
