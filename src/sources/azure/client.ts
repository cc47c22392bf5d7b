/**
 * Key Vault's secrets REST API over undici (net/fetch.ts: the shared retry policy; 429 retried until `deadline`),
 * with a token from ./credentials.ts for the vault's own cloud only. Two calls: `getSecret` (one secret, latest or
 * a version; references `ref+azurekeyvault://` reuse it) and `listSecrets` (every page, `nextLink` kept to the vault).
 *
 * A 401 carries a challenge (`WWW-Authenticate: Bearer authorization="https://login.../TENANT",
 * resource="https://vault.azure.net"`). It may give a tenant (used only when the credential has none), never a
 * resource: one naming another resource, or one the vault's host is not under, is an error, and no token is minted for it.
 */
import { NotFoundError, SourceError } from '../../core/errors.js';
import { isLoopbackHost } from '../../core/urls.js';
import { displayUrl, fetchText, jsonAnswer, type FetchOptions, type FetchResponse } from '../net/fetch.js';
import { everyPage } from '../net/pages.js';
import { readKey, readOnce } from '../session.js';
import type { SourceContext } from '../types.js';
import { azureToken, credentialHasTenant } from './credentials.js';

/** Key Vault's secrets API version (GA since 2024; 7.4 answers the same shapes). */
export const API_VERSION = '7.5';
const PAGE_SIZE = 25;

/** The Key Vault domain of each cloud, and the resource its tokens are for. */
const CLOUDS = [
  { suffix: '.vault.azure.net', resource: 'https://vault.azure.net' },
  { suffix: '.vault.azure.cn', resource: 'https://vault.azure.cn' },
  { suffix: '.vault.usgovcloudapi.net', resource: 'https://vault.usgovcloudapi.net' },
] as const;

export const VAULT_NAME = /^[0-9A-Za-z-]{3,24}$/;

/** Where a vault is and which resource its tokens are for. */
export interface VaultTarget {
  /** `https://NAME.vault.azure.net` (or a loopback fake's origin). */
  origin: string;
  /** `https://vault.azure.net`: the only resource a token is requested for. */
  resource: string;
}

/**
 * A vault name (`my-vault` → `https://my-vault.vault.azure.net`) or an https:// URL on a Key Vault domain;
 * http(s) to loopback for tests (the public cloud's resource).
 */
export function vaultTarget(vault: string): VaultTarget {
  if (VAULT_NAME.test(vault)) return { origin: `https://${vault.toLowerCase()}.vault.azure.net`, resource: CLOUDS[0].resource };
  let url: URL;
  try {
    url = new URL(vault);
  } catch {
    throw new SourceError('`vault` is neither a vault name (3-24 letters, digits and -) nor a URL');
  }
  const host = url.hostname.toLowerCase();
  if (isLoopbackHost(host) && (url.protocol === 'http:' || url.protocol === 'https:')) return { origin: url.origin, resource: CLOUDS[0].resource };
  const cloud = CLOUDS.find((c) => host.endsWith(c.suffix) && host.length > c.suffix.length);
  if (url.protocol !== 'https:' || !cloud) {
    throw new SourceError(`\`vault\` ${url.protocol}//${url.host} is not an https:// URL on a Key Vault domain (${CLOUDS.map((c) => c.suffix.slice(1)).join(', ')})`);
  }
  return { origin: url.origin, resource: cloud.resource };
}

export interface KeyVaultApi {
  target: VaultTarget;
  fetch: FetchOptions;
  context: SourceContext;
}

/** A secret as Key Vault answers it; `value` only from a read, never from a listing. */
export interface VaultSecret {
  name: string;
  value?: string;
  enabled: boolean;
  managed: boolean;
  contentType?: string;
  tags: Record<string, string>;
}

/**
 * Read one secret (latest, or `version`). Missing: NotFoundError. Disabled: an error saying so. Any other refusal:
 * an error with the status and Key Vault's code (naming the secret, never a layer: each caller words its own).
 *
 * Once per resolution (`context.reads`), whichever layer (named or listed) or `ref+azurekeyvault` asks, the answer
 * shared, a 404 or a disabled secret included. The key: the vault's origin, the name and the version, compared
 * case-insensitively as Key Vault compares them (latest and a pinned version are two reads). The credential is not
 * in it: layers and references alike take the session's default chain from the parent environment, for the
 * resource the origin implies (no layer option picks credentials); if one ever does, its identity joins the key.
 */
export function getSecret(api: KeyVaultApi, name: string, version?: string): Promise<VaultSecret & { value: string }> {
  // Key Vault compares object identifiers case-insensitively (its docs: "always compare them as case-insensitive
  // strings"): `DB-PASSWORD` and `db-password` are one secret, read once. The origin is lower case already.
  return readOnce(api.context, readKey('azure-key-vault', api.target.origin, name.toLowerCase(), version?.toLowerCase()), () => readSecret(api, name, version));
}

async function readSecret(api: KeyVaultApi, name: string, version: string | undefined): Promise<VaultSecret & { value: string }> {
  const what = `secret ${name}${version ? `/${version}` : ''}`;
  const path = `/secrets/${encodeURIComponent(name)}${version ? `/${encodeURIComponent(version)}` : ''}`;
  const response = await call(api, `${api.target.origin}${path}?api-version=${API_VERSION}`, what);
  const secret = toSecret(jsonAnswer(response, what), name);
  if (typeof secret.value !== 'string') throw new SourceError(`${what}: the answer holds no value`);
  return secret as VaultSecret & { value: string };
}

/** Every secret of the vault (no values), following `nextLink` within the vault. */
export function listSecrets(api: KeyVaultApi): Promise<VaultSecret[]> {
  // Two layers listing one vault list it once per resolve (Key Vault's 4,000 transactions per 10 s are per vault).
  return readOnce(api.context, readKey('azure-key-vault list', api.target.origin), () => listAllSecrets(api)).then((list) => [...list]);
}

async function listAllSecrets(api: KeyVaultApi): Promise<VaultSecret[]> {
  type Page = { value?: unknown[]; nextLink?: unknown };
  const first = `${api.target.origin}/secrets?api-version=${API_VERSION}&maxresults=${PAGE_SIZE}`;
  const pages = await everyPage(
    async (next): Promise<Page> => jsonAnswer(await call(api, next === undefined ? first : new URL(next, api.target.origin).href, 'the listing'), 'the listing') as Page,
    (page) => {
      const next = typeof page.nextLink === 'string' && page.nextLink !== '' ? page.nextLink : undefined;
      // The token goes to the vault only: a next page elsewhere is refused, not followed.
      if (next !== undefined && new URL(next, api.target.origin).origin !== api.target.origin) throw new SourceError('the listing\'s nextLink points outside the vault; refusing to follow it');
      return next;
    },
    () => 'the listing repeated a nextLink; stopping rather than looping',
  );
  const out: VaultSecret[] = [];
  for (const item of pages.flatMap((page) => page.value ?? [])) {
    const id = (item as { id?: unknown })?.id;
    if (typeof id !== 'string') continue;
    const name = decodeURIComponent(new URL(id, api.target.origin).pathname.split('/').filter(Boolean)[1] ?? '');
    if (name) out.push(toSecret(item, name));
  }
  return out;
}

function toSecret(doc: unknown, name: string): VaultSecret {
  const d = (doc ?? {}) as { value?: unknown; attributes?: { enabled?: unknown }; managed?: unknown; contentType?: unknown; tags?: unknown };
  const tags: Record<string, string> = {};
  if (d.tags && typeof d.tags === 'object') for (const [k, v] of Object.entries(d.tags)) if (typeof v === 'string') tags[k] = v;
  return {
    name,
    value: typeof d.value === 'string' ? d.value : undefined,
    enabled: d.attributes?.enabled !== false,
    managed: d.managed === true,
    contentType: typeof d.contentType === 'string' ? d.contentType : undefined,
    tags,
  };
}

/** One authorized GET, with the challenge rules on a 401 (one retry with the challenge's tenant at most). */
async function call(api: KeyVaultApi, url: string, what: string): Promise<FetchResponse> {
  let tenant: string | undefined;
  for (let attempt = 0; ; attempt++) {
    const token = await azureToken(api.target.resource, api.context, tenant);
    const response = await fetchText(
      { url, headers: { authorization: `Bearer ${token}`, accept: 'application/json' } },
      { ...api.fetch, answers: [400, 401, 403, 404] },
    );
    if (response.status === 200) return response;
    if (response.status === 401) {
      const challenge = checkChallenge(response.headers['www-authenticate'], api.target);
      if (attempt === 0 && challenge.tenant && !credentialHasTenant(api.context.env)) {
        tenant = challenge.tenant;
        continue;
      }
      throw new SourceError(`${what}: the Azure token was rejected (HTTP 401 from ${displayUrl(url)})`);
    }
    throw statusError(response, what);
  }
}

/**
 * Read a 401's challenge: its resource (or scope) must be this vault's resource and the vault's host must be under
 * it; its tenant (the last path segment of `authorization`) is returned. Anything else is refused.
 */
export function checkChallenge(header: string | undefined, target: VaultTarget): { tenant?: string } {
  const params: Record<string, string> = {};
  for (const m of (header ?? '').matchAll(/([A-Za-z_]+)="([^"]*)"/g)) params[m[1].toLowerCase()] = m[2];
  const named = params.resource ?? params.scope?.replace(/\/\.default$/, '');
  if (named !== undefined) {
    let namedHost: string;
    try {
      namedHost = new URL(named).host.toLowerCase();
    } catch {
      throw new SourceError('the vault\'s 401 challenge names a resource that is not a URL; refusing to get a token for it');
    }
    const expected = new URL(target.resource).host;
    const vaultHost = new URL(target.origin).hostname.toLowerCase();
    const underIt = isLoopbackHost(vaultHost) || vaultHost.endsWith(`.${namedHost}`);
    if (namedHost !== expected || !underIt) {
      throw new SourceError(`the vault's 401 challenge names another resource (${namedHost}, expected ${expected}); refusing to get a token for it`);
    }
  }
  const authority = params.authorization ?? params.authorization_uri;
  let tenant: string | undefined;
  try {
    tenant = authority ? new URL(authority).pathname.split('/').filter(Boolean)[0] : undefined;
  } catch {
    tenant = undefined;
  }
  return { tenant: tenant && /^[0-9A-Za-z.-]{1,100}$/.test(tenant) ? tenant : undefined };
}

/** Key Vault's error code (`SecretNotFound`, `Forbidden`) and inner code (`SecretDisabled`, `ForbiddenByPolicy`). */
export function vaultErrorCodes(response: Pick<FetchResponse, 'text'>): string[] {
  const codes: string[] = [];
  try {
    let e = (JSON.parse(response.text) as { error?: unknown })?.error as { code?: unknown; innererror?: unknown } | undefined;
    for (let depth = 0; e && typeof e === 'object' && depth < 4; depth++, e = e.innererror as typeof e) {
      if (typeof e.code === 'string' && /^[A-Za-z0-9_.]{1,60}$/.test(e.code)) codes.push(e.code);
    }
  } catch {
    /* not JSON: the status alone */
  }
  return codes;
}

function statusError(response: FetchResponse, what: string): Error {
  const codes = vaultErrorCodes(response);
  const code = `HTTP ${response.status}${codes.length ? ` ${codes.join('/')}` : ''}`;
  if (response.status === 404) return new NotFoundError(`${what} not found (${code})`);
  if (codes.includes('SecretDisabled')) return new SourceError(`${what} is disabled (${code})`);
  if (response.status === 403) return new SourceError(`${what}: permission denied (${code}); the identity needs the Key Vault Secrets User role (or a get/list access policy)`);
  return new SourceError(`${what}: ${code}`);
}
