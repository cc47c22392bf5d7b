/**
 * Loopback fakes of Azure's side: Key Vault's secrets REST API (get, list with `nextLink`, the 401 challenge,
 * disabled, managed and missing secrets, Key Vault's error shape, 429 bursts), the managed-identity token endpoint
 * (`IDENTITY_ENDPOINT`/`IDENTITY_HEADER`, App Service style) on the same server, a fake `az` for the CLI
 * credential, and an HTTPS fake of Entra ID's client-secret endpoints. The Key Vault fake is proven against
 * @azure/keyvault-secrets (test/azure-key-vault.test.ts), the authority by @azure/identity itself.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, type FakeServer, type LoggedRequest, type Reply } from './http-server.js';

export interface FakeVaultSecret {
  value: string;
  enabled?: boolean;
  managed?: boolean;
  tags?: Record<string, string>;
  contentType?: string;
  /** Older versions by id; the top-level value is the latest. */
  versions?: Record<string, string>;
}

export interface FakeKeyVaultOptions {
  secrets: Record<string, FakeVaultSecret>;
  /** The bearer tokens accepted; anything else gets the challenge. */
  tokens: string[];
  /** Items per listing page. */
  pageSize?: number;
  /** What the 401 challenge names (default the public cloud's Key Vault resource) and its tenant. */
  challengeResource?: string;
  challengeTenant?: string;
  /** Answer this many secret requests with 429 first. */
  throttleFirst?: number;
  /** The managed-identity endpoint (`/msi/token`): the identity header it requires and the token it issues. */
  managedIdentity?: { header: string; token: string };
  /** Error messages quote the request's Authorization header, as a careless proxy might (the leak corpus). */
  quoteCredentials?: boolean;
  /** Serve HTTPS with this key and certificate (test/helpers/test-ca.ts), as a real vault does. */
  tls?: { key: string; cert: string };
}

export interface FakeKeyVault extends FakeServer {
  /** Secret reads as asked (`name` or `name/version`). */
  reads: string[];
  /** The `resource` of every token the managed-identity endpoint issued. */
  tokenResources: string[];
}

function vaultError(status: number, code: string, message: string, inner?: string): Reply {
  return { status, json: { error: { code, message, ...(inner ? { innererror: { code: inner } } : {}) } } };
}

export async function startFakeKeyVault(opts: FakeKeyVaultOptions): Promise<FakeKeyVault> {
  const reads: string[] = [];
  const tokenResources: string[] = [];
  let throttles = opts.throttleFirst ?? 0;
  let origin = '';
  const handler = (req: LoggedRequest): Reply => {
    const reply = handle(req);
    if (!opts.quoteCredentials || !('json' in reply) || (reply.status ?? 200) < 400) return reply;
    const quoted = `denied for ${String(req.headers.authorization)} ${String(req.headers['x-identity-header'])}`;
    const error = (reply.json as { error?: unknown }).error;
    return { ...reply, json: { error: { ...(typeof error === 'object' ? error : { code: 'Denied' }), message: quoted }, error_description: quoted } };
  };
  const handle = (req: LoggedRequest): Reply => {
    if (req.path === '/msi/token' && opts.managedIdentity) {
      if (req.headers['x-identity-header'] !== opts.managedIdentity.header) return { status: 401, json: { error: 'invalid identity header' } };
      const resource = req.query.get('resource') ?? '';
      tokenResources.push(resource);
      return {
        json: { access_token: opts.managedIdentity.token, expires_on: String(Math.floor(Date.now() / 1000) + 3600), resource, token_type: 'Bearer' },
      };
    }
    if (!req.query.get('api-version')) return vaultError(400, 'BadParameter', 'The api-version query parameter is required.');
    const auth = String(req.headers.authorization ?? '');
    if (!opts.tokens.some((t) => auth === `Bearer ${t}`)) {
      const resource = opts.challengeResource ?? 'https://vault.azure.net';
      return {
        status: 401,
        headers: { 'www-authenticate': `Bearer authorization="https://login.microsoftonline.com/${opts.challengeTenant ?? '72f988bf-0000-0000-0000-000000000001'}", resource="${resource}"` },
        json: { error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' } },
      };
    }
    if (throttles > 0) {
      throttles--;
      return { ...vaultError(429, 'Throttled', 'Rate limit is exceeded.'), headers: { 'retry-after': '0' } };
    }
    const m = /^\/secrets(?:\/([^/]+)(?:\/([^/]+))?)?\/?$/.exec(req.path);
    if (!m || req.method !== 'GET') return vaultError(400, 'BadParameter', 'Unsupported path.');
    const [, rawName, version] = m;
    if (rawName === undefined) {
      const names = Object.keys(opts.secrets).sort();
      const size = Math.min(Number(req.query.get('maxresults') || 25), opts.pageSize ?? 25);
      const start = Number(req.query.get('$skiptoken') || 0);
      const page = names.slice(start, start + size);
      return {
        json: {
          value: page.map((name) => {
            const s = opts.secrets[name];
            return {
              id: `${origin}/secrets/${name}`,
              attributes: { enabled: s.enabled !== false, created: 1700000000, updated: 1700000000, recoveryLevel: 'Recoverable+Purgeable' },
              tags: s.tags ?? {},
              ...(s.contentType ? { contentType: s.contentType } : {}),
              ...(s.managed ? { managed: true } : {}),
            };
          }),
          nextLink: start + size < names.length ? `${origin}/secrets?api-version=${req.query.get('api-version')}&$skiptoken=${start + size}&maxresults=${size}` : null,
        },
      };
    }
    const name = decodeURIComponent(rawName);
    reads.push(version ? `${name}/${version}` : name);
    // Key Vault compares object names case-insensitively.
    const s = opts.secrets[Object.keys(opts.secrets).find((n) => n.toLowerCase() === name.toLowerCase()) ?? name];
    if (!s || (version && !s.versions?.[version])) return vaultError(404, 'SecretNotFound', `A secret with (name/id) ${name} was not found in this key vault.`);
    if (s.enabled === false) return vaultError(403, 'Forbidden', 'Operation get is not allowed on a disabled secret.', 'SecretDisabled');
    const v = version ?? 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
    return {
      json: {
        value: version ? s.versions![version] : s.value,
        id: `${origin}/secrets/${name}/${v}`,
        attributes: { enabled: true, created: 1700000000, updated: 1700000000, recoveryLevel: 'Recoverable+Purgeable' },
        tags: s.tags ?? {},
        ...(s.contentType ? { contentType: s.contentType } : {}),
        ...(s.managed ? { managed: true, kid: `${origin}/keys/${name}/${v}` } : {}),
      },
    };
  };
  const server = await startServer(handler, { tls: opts.tls });
  origin = server.origin;
  return Object.assign(server, { reads, tokenResources });
}

/** An `az` on PATH that prints an access token for `az account get-access-token` and logs its arguments. */
export function fakeAzCli(dir: string, token: string): { path: string; calls: () => string[] } {
  const bin = join(dir, 'az-bin');
  mkdirSync(bin, { recursive: true });
  const log = join(dir, 'az-calls.log');
  const expires = Math.floor(Date.now() / 1000) + 3600;
  const answer = JSON.stringify({ accessToken: token, expiresOn: new Date(expires * 1000).toISOString().replace('T', ' ').replace('Z', '.000000'), expires_on: expires, subscription: 'sub-1', tenant: 'tenant-1', tokenType: 'Bearer' });
  writeFileSync(join(bin, 'az'), `#!/bin/sh\necho "$*" >> '${log}'\ncat <<'JSON'\n${answer}\nJSON\n`);
  chmodSync(join(bin, 'az'), 0o755);
  return { path: `${bin}:${process.env.PATH}`, calls: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []) };
}

export interface FakeAuthorityOptions {
  tenant: string;
  clientId: string;
  clientSecret: string;
  /** The access token issued for a good client secret. */
  token: string;
  /** The server's TLS key and certificate (test/helpers/test-ca.ts): MSAL speaks only https to an authority. */
  tls: { key: string; cert: string };
  /** A refusal quotes the secret it was sent, as a careless proxy might (the leak corpus). */
  quoteSecret?: boolean;
}

export interface FakeAuthority extends FakeServer {
  /** Each token request's form, as sent. */
  tokenRequests: URLSearchParams[];
}

/**
 * Microsoft Entra ID's side of a client secret (v2 endpoints), over HTTPS: the tenant's OpenID configuration
 * (`/{tenant}/v2.0/.well-known/openid-configuration`, pointing back here) and the token endpoint
 * (`POST /{tenant}/oauth2/v2.0/token`, `grant_type=client_credentials`), which checks the client id and secret and
 * issues tokens for Key Vault's resource only. Refusals have Entra's error shape (`invalid_client` with an AADSTS
 * code and a description quoting the client id). Anything else is a 404, so an unexpected request shows in `requests`.
 */
export async function startFakeAuthority(opts: FakeAuthorityOptions): Promise<FakeAuthority> {
  const tokenRequests: URLSearchParams[] = [];
  let origin = '';
  const aadError = (status: number, error: string, code: number, description: string): Reply => ({
    status,
    json: {
      error,
      error_description: `AADSTS${code}: ${description} Trace ID: 0f6c3e4a-0000-4000-8000-000000000001 Correlation ID: 5b1d2c3e-0000-4000-8000-000000000002 Timestamp: 2026-01-01 00:00:00Z`,
      error_codes: [code],
      timestamp: '2026-01-01 00:00:00Z',
      trace_id: '0f6c3e4a-0000-4000-8000-000000000001',
      correlation_id: '5b1d2c3e-0000-4000-8000-000000000002',
      error_uri: `${origin}/error?code=${code}`,
    },
  });
  const base = () => `${origin}/${opts.tenant}`;
  const server = await startServer((req) => {
    if (req.method === 'GET' && req.path === `/${opts.tenant}/v2.0/.well-known/openid-configuration`) {
      return {
        json: {
          token_endpoint: `${base()}/oauth2/v2.0/token`,
          token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
          jwks_uri: `${base()}/discovery/v2.0/keys`,
          response_modes_supported: ['query', 'fragment', 'form_post'],
          subject_types_supported: ['pairwise'],
          id_token_signing_alg_values_supported: ['RS256'],
          response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
          scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
          issuer: `${base()}/v2.0`,
          authorization_endpoint: `${base()}/oauth2/v2.0/authorize`,
          device_authorization_endpoint: `${base()}/oauth2/v2.0/devicecode`,
          end_session_endpoint: `${base()}/oauth2/v2.0/logout`,
          tenant_region_scope: 'EU',
          cloud_instance_name: 'microsoftonline.com',
        },
      };
    }
    if (req.method === 'POST' && req.path === `/${opts.tenant}/oauth2/v2.0/token`) {
      const form = new URLSearchParams(req.body);
      tokenRequests.push(form);
      if (form.get('grant_type') !== 'client_credentials') return aadError(400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
      if (form.get('client_id') !== opts.clientId) return aadError(400, 'unauthorized_client', 700016, `Application with identifier '${form.get('client_id')}' was not found in the directory.`);
      if (form.get('client_secret') !== opts.clientSecret) {
        const quoted = opts.quoteSecret ? ` The secret sent was '${form.get('client_secret')}'.` : '';
        return aadError(401, 'invalid_client', 7000215, `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${opts.clientId}'.${quoted}`);
      }
      if (form.get('scope') !== 'https://vault.azure.net/.default') return aadError(400, 'invalid_scope', 1002012, `The provided value for scope ${form.get('scope')} is not valid.`);
      return { json: { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: opts.token } };
    }
    return { status: 404, json: { error: 'not_found' } };
  }, { tls: opts.tls });
  origin = server.origin;
  return Object.assign(server, { tokenRequests });
}
