/**
 * `type: azure-key-vault`: Azure Key Vault secrets over its REST API (contract section 1), with undici and the
 * shared retry policy, credentials from Azure's default chain (./azure/credentials.ts).
 *
 * - `secrets: [NAME, NAME/VERSION]` are always read (a disabled one is an error); without them, every enabled
 *   secret of the vault (`tags:` narrows), skipping disabled and certificate-backed (`managed: true`) ones, which
 *   would otherwise put certificate private keys into the environment.
 * - The key is the secret's name with `-` made `_` (`db-password` → `db_password`).
 * - `vault` says where the token goes: never from an earlier layer's keys (`destination`).
 */
import { NotFoundError } from '../core/errors.js';
import type { OptionSpecs } from '../core/validate.js';
import { ALLOW_INSECURE_HTTP, REMOTE_OPTIONS, defineSource, type LayerOptions } from './descriptor.js';
import { debugChannel } from './net/retry.js';
import { tokenFetchOptions } from './net/fetch.js';
import { mapConcurrently, referenceFetch, SECRET_FORMAT_OPTION, SecretKeys } from './secret-keys.js';
import { withSession } from './session.js';
import { readInGroups } from '../core/references.js';
import type { ReferenceHook, ReferenceTarget, ReferenceValue, SourceContext } from './types.js';

const OPTIONS = {
  vault: {
    type: 'string',
    required: true,
    nonEmpty: true,
    destination: true,
    pattern: {
      regex: '^([0-9A-Za-z-]{3,24}|https?://[^/?#@\\s]+/?)$',
      is: 'a vault name (3-24 letters, digits, -) or a URL such as https://NAME.vault.azure.net',
    },
    description: 'The vault: its name (`https://NAME.vault.azure.net`) or an https:// URL on a Key Vault domain (azure.net, azure.cn, usgovcloudapi.net).',
  },
  secrets: {
    type: 'list',
    minItems: 1,
    items: {
      type: 'string',
      pattern: { regex: '^[0-9A-Za-z-]{1,127}(/[0-9A-Za-z]{1,64})?$', is: 'a secret name, optionally with /VERSION' },
      description: 'A secret name, optionally `/VERSION`.',
    },
    description: 'Secrets to read, `NAME` or `NAME/VERSION` (default: every enabled secret of the vault).',
  },
  tags: {
    type: 'map',
    values: { type: 'string', description: 'The tag value the secret must have.' },
    description: 'Without `secrets`: only secrets carrying all of these tags.',
  },
  format: SECRET_FORMAT_OPTION,
  allow_insecure_http: ALLOW_INSECURE_HTTP,
  ...REMOTE_OPTIONS,
} as const satisfies OptionSpecs;

type AzureOptions = LayerOptions<typeof OPTIONS>;
type Api = import('./azure/client.js').KeyVaultApi;

/**
 * `ref+azurekeyvault://NAME/SECRET[/VERSION]` targets, one read per distinct secret version, vaults in parallel,
 * shared with the layers that read it in the same resolve (`getSecret`, ./azure/client.ts).
 * `originOf` gives a vault's address from its name (`https://NAME.vault.azure.net`; tests point it at a fake).
 */
export async function readKeyVaultReferences(
  targets: readonly ReferenceTarget[],
  context: SourceContext,
  targetOf: (name: string) => import('./azure/client.js').VaultTarget,
): Promise<(ReferenceValue | undefined)[]> {
  const { getSecret } = await import('./azure/client.js');
  return readInGroups(targets, (t) => t.path.split('/')[0].toLowerCase(), async (group) => {
    const api: Api = { target: targetOf(group[0].path.split('/')[0]), context: withSession(context), fetch: referenceFetch(context, 'the Azure token', 'the Azure token') };
    return mapConcurrently(group, async (t) => {
      const [, name, version] = t.path.split('/');
      try {
        return { value: (await getSecret(api, name, version)).value };
      } catch (err) {
        if (err instanceof NotFoundError) return undefined;
        throw err;
      }
    });
  });
}

const REFERENCE: ReferenceHook = {
  scheme: 'azurekeyvault',
  params: [],
  pointer: 'allowed',
  check: (t) => (/^[0-9A-Za-z-]{3,24}\/[0-9A-Za-z-]{1,127}(\/[0-9A-Za-z]{1,64})?$/.test(t.path) ? undefined : 'the path is not NAME/SECRET[/VERSION] (a vault name, never a host)'),
  resolve: async (targets, context) => {
    const { vaultTarget } = await import('./azure/client.js');
    return readKeyVaultReferences(targets, context, vaultTarget);
  },
};

export default defineSource({
  type: 'azure-key-vault',
  description: 'Azure Key Vault secrets (REST API, Azure default credentials).',
  options: OPTIONS,
  exclusive: [{ keys: ['secrets', 'tags'], why: '`tags` narrows the listing of a vault; named `secrets` are read as named' }],
  remote: true,
  /** `azure-key-vault my-vault` */
  reference: REFERENCE,
  label: (o, fill) => (typeof o.vault === 'string' ? fill(o.vault).replace(/^https?:\/\//, '').replace(/\/+$/, '') : undefined),
  async load(options, context) {
    const { vaultTarget } = await import('./azure/client.js');
    const api: Api = {
      target: vaultTarget(options.vault),
      context: withSession(context),
      fetch: tokenFetchOptions(options, context, { carries: 'the Azure token' }),
    };
    return options.secrets !== undefined ? loadNamed(api, options) : loadListed(api, options, context);
  },
});

/** `NAME/VERSION` → name and version (undefined: the latest). */
export function parseVaultRef(entry: string): { name: string; version?: string } {
  const slash = entry.indexOf('/');
  return slash < 0 ? { name: entry } : { name: entry.slice(0, slash), version: entry.slice(slash + 1) };
}

async function loadNamed(api: Api, options: AzureOptions): Promise<Record<string, string>> {
  const { getSecret } = await import('./azure/client.js');
  const refs = [...new Set(options.secrets)].map(parseVaultRef);
  const missing: string[] = [];
  const values = await mapConcurrently(refs, async (ref) => {
    try {
      return await getSecret(api, ref.name, ref.version);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      missing.push(`secret ${ref.name}${ref.version ? `/${ref.version}` : ''}`);
      return undefined;
    }
  });
  if (missing.length > 0 && (options.optional !== true || missing.length === refs.length)) {
    throw new NotFoundError(`not found in vault ${new URL(api.target.origin).host}: ${missing.join(', ')}`);
  }
  const keys = new SecretKeys();
  refs.forEach((ref, i) => {
    const secret = values[i];
    if (secret) keys.add(ref.name, secret.value, options.format);
  });
  return keys.keys;
}

async function loadListed(api: Api, options: AzureOptions, context: SourceContext): Promise<Record<string, string>> {
  const { getSecret, listSecrets } = await import('./azure/client.js');
  const debug = debugChannel(context.env, context.layer);
  const wanted = Object.entries(options.tags ?? {});
  const names: string[] = [];
  for (const s of await listSecrets(api)) {
    if (!wanted.every(([k, v]) => s.tags[k] === v)) continue;
    if (!s.enabled) debug?.(`skipped secret ${s.name}: disabled`);
    else if (s.managed) debug?.(`skipped secret ${s.name}: backs a certificate (managed)`);
    else names.push(s.name);
  }
  const values = await mapConcurrently(names, async (name) => {
    try {
      return await getSecret(api, name);
    } catch (err) {
      // Deleted between the listing and the read.
      if (!(err instanceof NotFoundError)) throw err;
      debug?.(`skipped secret ${name}: gone since the listing`);
      return undefined;
    }
  });
  const keys = new SecretKeys();
  names.forEach((name, i) => {
    const secret = values[i];
    if (secret) keys.add(name, secret.value, options.format);
  });
  return keys.keys;
}
