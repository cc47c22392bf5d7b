/**
 * Azure's default credential chain through @azure/identity (loaded only when an Azure layer runs): an environment
 * service principal, workload identity, managed identity (`IDENTITY_ENDPOINT`/`IDENTITY_HEADER` included), the
 * Azure CLI; `AZURE_TOKEN_CREDENTIALS` picks one, as the library documents.
 *
 * A token is only ever requested for a Key Vault resource (`https://vault.azure.net` and its sovereign twins), the
 * one the caller passes, never for a resource a server names. Tokens are shared per session and joins the
 * redaction net when obtained. Library errors (RestError and AuthenticationError keep the request and its
 * headers) are reduced to a name, a status and a code on the spot; never kept, printed or chained.
 */
import { SourceError } from '../../core/errors.js';
import { loadPackage } from '../../core/import-external.js';
import { sessionValue } from '../session.js';
import type { SourceContext } from '../types.js';

type Identity = typeof import('@azure/identity');
type TokenCredential = import('@azure/identity').TokenCredential;

/** Variables of the default chain that hold a credential (a client secret, an identity header, a password). */
const CREDENTIAL_VARIABLES = ['AZURE_CLIENT_SECRET', 'AZURE_CLIENT_CERTIFICATE_PASSWORD', 'AZURE_PASSWORD', 'IDENTITY_HEADER', 'MSI_SECRET'];

/**
 * Microsoft's own authority hosts, public and sovereign (MSAL's built-in instance metadata, msal-common 16). For
 * these MSAL needs no instance discovery and nothing changes here.
 */
const MICROSOFT_AUTHORITY_HOSTS = new Set([
  'login.microsoftonline.com', 'login.windows.net', 'login.microsoft.com', 'sts.windows.net',
  'login.partner.microsoftonline.cn', 'login.chinacloudapi.cn', 'login.microsoftonline.de',
  'login.microsoftonline.us', 'login.usgovcloudapi.net', 'login-us.microsoftonline.com',
  'login.sovcloud-identity.fr', 'login.sovcloud-identity.de', 'login.sovcloud-identity.sg',
  'login.windows-ppe.net', 'sts.windows-ppe.net', 'login.microsoft-ppe.com',
]);

/**
 * The chain's options. An `AZURE_AUTHORITY_HOST` on any other host (Azure Stack, a private or air-gapped cloud, an
 * authority of the user's own) turns MSAL's instance discovery off: MSAL would otherwise first ask the public cloud
 * (`https://login.microsoftonline.com/common/discovery/instance?authorization_endpoint=<that authority>`) to vouch
 * for it, which a disconnected cloud cannot reach (the token request then fails) and which tells Microsoft's public
 * cloud about a private authority. @azure/identity documents `disableInstanceDiscovery` for exactly these clouds;
 * the authority is then taken as the environment names it, as the client secret beside it is. MSAL still reads the
 * authority's own OpenID configuration and checks its issuer. Unset, or a Microsoft host: no option, no change.
 */
export function credentialOptions(env: SourceContext['env']): { disableInstanceDiscovery?: true } {
  const host = env.AZURE_AUTHORITY_HOST;
  if (!host) return {};
  let hostname: string;
  try {
    hostname = new URL(host).hostname.toLowerCase();
  } catch {
    return {}; // the library reports a malformed authority itself
  }
  return MICROSOFT_AUTHORITY_HOSTS.has(hostname) ? {} : { disableInstanceDiscovery: true };
}

/** Refresh a shared token this long before it expires. */
const EXPIRY_MARGIN_MS = 2 * 60_000;

interface HeldToken {
  token: string;
  expiresOnTimestamp: number;
}

/**
 * A bearer token for `resource` (`https://vault.azure.net`). `tenantId` only when the credential has none of its
 * own and the vault's challenge named one.
 */
export async function azureToken(resource: string, context: SourceContext, tenantId?: string): Promise<string> {
  const key = `azure:token:${resource}:${tenantId ?? ''}`;
  const held = context.session?.get(key) as Promise<HeldToken> | undefined;
  if (held) {
    // A token still being obtained is waited for, and its failure is this reader's too: concurrent reads of one
    // resolve never send a refused credential twice. (A failure is not kept: the next resolve asks afresh.)
    const known = await held;
    if (known.expiresOnTimestamp - Date.now() > EXPIRY_MARGIN_MS) {
      context.secret(known.token);
      return known.token;
    }
    context.session?.delete(key);
  }
  // The chain reads these itself; they join the redaction net before it does.
  for (const name of CREDENTIAL_VARIABLES) if (context.env[name]) context.secret(context.env[name]!);
  const fresh = sessionValue(context, key, async () => {
    const credential = await sessionValue(context, 'azure:credential', async () => {
      const { DefaultAzureCredential } = await loadPackage<Identity>('@azure/identity');
      return new DefaultAzureCredential(credentialOptions(context.env)) as TokenCredential;
    });
    let got: { token: string; expiresOnTimestamp: number } | null;
    try {
      got = await credential.getToken(`${resource}/.default`, { abortSignal: context.signal, ...(tenantId ? { tenantId } : {}) });
    } catch (err) {
      throw azureCredentialsError(err);
    }
    if (!got?.token) throw new SourceError('could not get an Azure token (the credential gave none)');
    context.secret(got.token);
    return { token: got.token, expiresOnTimestamp: got.expiresOnTimestamp };
  });
  const { token } = await fresh;
  context.secret(token);
  return token;
}

/** Does the credential carry a tenant of its own? (Then a vault's challenge never changes it.) */
export function credentialHasTenant(env: SourceContext['env']): boolean {
  return !!env.AZURE_TENANT_ID;
}

/**
 * Entra's error and AADSTS code (`invalid_client, AADSTS7000215`) from MSAL's message, which begins
 * `<error>: Error(s): <codes> - Timestamp: ...`: two codes of a fixed shape, never the description around them.
 */
function entraError(e: { message?: unknown; errorResponse?: { errorDescription?: unknown } }): string | undefined {
  for (const text of [e.errorResponse?.errorDescription, e.message]) {
    const m = typeof text === 'string' ? /^\s*([a-z_]{3,40}): Error\(s\): (\d{1,10})[ ,-]/.exec(text) : null;
    if (m) return `${m[1]}, AADSTS${m[2]}`;
  }
  return undefined;
}

/** A library failure as our own line: the error's class name, an HTTP status and a code at most. */
export function azureCredentialsError(err: unknown): SourceError {
  const e = (err ?? {}) as { name?: unknown; message?: unknown; statusCode?: unknown; code?: unknown; errorResponse?: { error?: unknown; errorDescription?: unknown } };
  const name = typeof e.name === 'string' && /^[A-Za-z]{1,60}$/.test(e.name) ? e.name : undefined;
  if (name === 'CredentialUnavailableError' || name === 'AggregateAuthenticationError') {
    return new SourceError(
      'no Azure credentials found: set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, use a managed or workload identity, or `az login` (AZURE_TOKEN_CREDENTIALS picks one)',
    );
  }
  const entra = entraError(e);
  // Entra's refusals reach us only as text (MSAL's ServerError, re-wrapped by @azure/identity, whose
  // EnvironmentCredential also stamps a status 400 of its own whatever Entra answered): its error and AADSTS codes
  // are taken from their fixed place, and that status is dropped.
  const status = typeof e.statusCode === 'number' && !entra ? e.statusCode : undefined;
  const rawCode = typeof e.code === 'string' ? e.code : typeof e.errorResponse?.error === 'string' ? e.errorResponse.error : undefined;
  const code = entra ?? (rawCode && /^[A-Za-z0-9_.-]{1,60}$/.test(rawCode) ? rawCode : undefined);
  const detail = [name, status !== undefined ? `HTTP ${status}` : undefined, code].filter(Boolean).join(', ');
  return new SourceError(`could not get an Azure token${detail ? ` (${detail})` : ''}`);
}
