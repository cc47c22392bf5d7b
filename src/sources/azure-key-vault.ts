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
import type { OptionSpecs } from '../core/validate.js';
import { ALLOW_INSECURE_HTTP, REMOTE_OPTIONS, SECRET_FORMAT_OPTION, defineSource, type LayerOptions } from './descriptor.js';
import type { ReferenceHook } from './types.js';

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

export type AzureOptions = LayerOptions<typeof OPTIONS>;

const REFERENCE: ReferenceHook = {
  scheme: 'azurekeyvault',
  params: [],
  pointer: 'allowed',
  check: (t) => (/^[0-9A-Za-z-]{3,24}\/[0-9A-Za-z-]{1,127}(\/[0-9A-Za-z]{1,64})?$/.test(t.path) ? undefined : 'the path is not NAME/SECRET[/VERSION] (a vault name, never a host)'),
  resolve: async (targets, context) => (await import('./azure/layer.js')).readVaultTargetReferences(targets, context),
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
  load: async (options, context) => (await import('./azure/layer.js')).loadAzureLayer(options, context),
});
