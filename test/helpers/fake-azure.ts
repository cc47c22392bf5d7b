/**
 * Loopback fakes of Azure's side: Key Vault's secrets REST API (get, list with `nextLink`, the 401 challenge,
 * disabled, managed and missing secrets, Key Vault's error shape, 429 bursts), the managed-identity token endpoint
 * (`IDENTITY_ENDPOINT`/`IDENTITY_HEADER`, App Service style) on the same server, and a fake `az` for the CLI
 * credential. Proven against @azure/keyvault-secrets (test/azure-key-vault.test.ts).
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
    const s = opts.secrets[name];
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
  const server = await startServer(handler);
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
