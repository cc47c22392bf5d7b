/**
 * What an `azure-key-vault` layer and a `ref+azurekeyvault` reference do when they run: the descriptor
 * (../azure-key-vault.ts) holds the options and loads this module only then.
 */
import { NotFoundError } from '../../core/errors.js';
import { readInGroups } from '../../core/references.js';
import { debugChannel } from '../net/retry.js';
import { tokenFetchOptions } from '../net/fetch.js';
import { mapConcurrently } from '../concurrency.js';
import { referenceFetch, SecretKeys } from '../secret-keys.js';
import { withSession } from '../session.js';
import type { ReferenceTarget, ReferenceValue, SourceContext } from '../types.js';
import type { AzureOptions } from '../azure-key-vault.js';
import { getSecret, listSecrets, vaultTarget, type KeyVaultApi, type VaultTarget } from './client.js';

type Api = KeyVaultApi;

/**
 * `ref+azurekeyvault://NAME/SECRET[/VERSION]` targets, one read per distinct secret version, vaults in parallel,
 * shared with the layers that read it in the same resolve (`getSecret`, ./azure/client.ts).
 * `originOf` gives a vault's address from its name (`https://NAME.vault.azure.net`; tests point it at a fake).
 */
export async function readKeyVaultReferences(
  targets: readonly ReferenceTarget[],
  context: SourceContext,
  targetOf: (name: string) => VaultTarget,
): Promise<(ReferenceValue | undefined)[]> {
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

/** `ref+azurekeyvault` targets at the vaults their names give (`https://NAME.vault.azure.net`). */
export function readVaultTargetReferences(targets: readonly ReferenceTarget[], context: SourceContext): Promise<(ReferenceValue | undefined)[]> {
  return readKeyVaultReferences(targets, context, vaultTarget);
}

export function loadAzureLayer(options: AzureOptions, context: SourceContext): Promise<Record<string, string>> {
  const api: Api = {
    target: vaultTarget(options.vault),
    context: withSession(context),
    fetch: tokenFetchOptions(options, context, { carries: 'the Azure token' }),
  };
  return options.secrets !== undefined ? loadNamed(api, options) : loadListed(api, options, context);
}

/** `NAME/VERSION` → name and version (undefined: the latest). */
export function parseVaultRef(entry: string): { name: string; version?: string } {
  const slash = entry.indexOf('/');
  return slash < 0 ? { name: entry } : { name: entry.slice(0, slash), version: entry.slice(slash + 1) };
}

async function loadNamed(api: Api, options: AzureOptions): Promise<Record<string, string>> {
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
