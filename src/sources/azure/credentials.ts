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
    const known = await held.catch(() => undefined);
    if (known && known.expiresOnTimestamp - Date.now() > EXPIRY_MARGIN_MS) return known.token;
    context.session?.delete(key);
  }
  // The chain reads these itself; they join the redaction net before it does.
  for (const name of CREDENTIAL_VARIABLES) if (context.env[name]) context.secret(context.env[name]!);
  const fresh = sessionValue(context, key, async () => {
    const credential = await sessionValue(context, 'azure:credential', async () => {
      const { DefaultAzureCredential } = await loadPackage<Identity>('@azure/identity');
      return new DefaultAzureCredential() as TokenCredential;
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

/** A library failure as our own line: the error's class name, an HTTP status and a code at most. */
export function azureCredentialsError(err: unknown): SourceError {
  const e = (err ?? {}) as { name?: unknown; statusCode?: unknown; code?: unknown; errorResponse?: { error?: unknown } };
  const name = typeof e.name === 'string' && /^[A-Za-z]{1,60}$/.test(e.name) ? e.name : undefined;
  if (name === 'CredentialUnavailableError' || name === 'AggregateAuthenticationError') {
    return new SourceError(
      'no Azure credentials found: set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, use a managed or workload identity, or `az login` (AZURE_TOKEN_CREDENTIALS picks one)',
    );
  }
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const rawCode = typeof e.code === 'string' ? e.code : typeof e.errorResponse?.error === 'string' ? e.errorResponse.error : undefined;
  const code = rawCode && /^[A-Za-z0-9_.-]{1,60}$/.test(rawCode) ? rawCode : undefined;
  const detail = [name, status !== undefined ? `HTTP ${status}` : undefined, code].filter(Boolean).join(', ');
  return new SourceError(`could not get an Azure token${detail ? ` (${detail})` : ''}`);
}
