/**
 * Loopback fakes of Google's side: the metadata server (`GCE_METADATA_HOST`) and Secret Manager's REST API v1
 * (access with a base64 payload and its CRC32C, list with a `labels.K=V` filter and pages, version states, Google's
 * error shape, 429 bursts). Proven against @google-cloud/secret-manager in its REST fallback mode (test/gcp-fake.test.ts).
 */
import { crc32c } from '../../src/sources/gcp/crc32c.js';
import { startServer, type FakeServer, type LoggedRequest, type Reply } from './http-server.js';

export type VersionState = 'ENABLED' | 'DISABLED' | 'DESTROYED';

export interface FakeSecret {
  /** Versions 1..n in order; `latest` is the last one, whatever its state (as Google's). */
  versions: { data: string | Buffer; state?: VersionState }[];
  labels?: Record<string, string>;
}

export interface FakeSecretManagerOptions {
  project: string;
  /** Projects the fake also answers for (a project number, say); default only `project`. */
  aliases?: string[];
  location?: string;
  secrets: Record<string, FakeSecret>;
  /** Secrets listed per page (whatever pageSize the client asks). */
  pageSize?: number;
  /** Secrets whose every access answers with a wrong CRC32C. */
  corrupt?: string[];
  /** Secrets the caller may not read (403 PERMISSION_DENIED). */
  forbidden?: string[];
  /** Answer this many requests with 429 RESOURCE_EXHAUSTED first (a burst). */
  throttleFirst?: number;
  /** Decides on the Authorization header; default: any `Bearer ` token. */
  authorize?: (authorization: string | undefined) => boolean;
  /** Error messages quote the request's Authorization header, as a careless proxy might (the leak corpus). */
  quoteCredentials?: boolean;
}

export interface FakeSecretManager extends FakeServer {
  /** Access calls per `secret@version` as asked. */
  accesses: string[];
  /** List calls so far (one per page). */
  listCalls(): number;
}

function googleError(code: number, status: string, message: string): Reply {
  return { status: code, json: { error: { code, message, status } } };
}

/** `labels.app=api` (and `AND`-joined ones): the part of Google's filter grammar the tests use. */
function matchesFilter(secret: FakeSecret, filter: string | null): boolean {
  if (!filter) return true;
  return filter.split(/\s+AND\s+/).every((term) => {
    const m = /^labels\.([\w-]+)\s*[=:]\s*"?([\w-]*)"?$/.exec(term.trim());
    if (!m) throw new Error(`fake: filter not understood: ${term}`);
    return secret.labels?.[m[1]] === m[2];
  });
}

export async function startFakeSecretManager(opts: FakeSecretManagerOptions): Promise<FakeSecretManager> {
  const projects = new Set([opts.project, ...(opts.aliases ?? [])]);
  let throttles = opts.throttleFirst ?? 0;
  const accesses: string[] = [];
  let listCalls = 0;
  const handler = (req: LoggedRequest): Reply => {
    const reply = handle(req);
    if (!opts.quoteCredentials || !('json' in reply) || (reply.status ?? 200) < 400) return reply;
    return { ...reply, json: { error: { ...(reply.json as { error: object }).error, message: `denied for ${String(req.headers.authorization)}` } } };
  };
  const handle = (req: LoggedRequest): Reply => {
    if (throttles > 0) {
      throttles--;
      return googleError(429, 'RESOURCE_EXHAUSTED', 'Quota exceeded for quota metric');
    }
    const auth = req.headers.authorization;
    if (!(opts.authorize ?? ((a) => typeof a === 'string' && a.startsWith('Bearer ')))(auth)) {
      return googleError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.');
    }
    const m = /^\/v1\/projects\/([^/]+)(?:\/locations\/([^/]+))?\/secrets(?:\/([^/]+)\/versions\/([^/:]+):access)?$/.exec(req.path);
    if (!m || req.method !== 'GET') return googleError(404, 'NOT_FOUND', 'Method not found.');
    const [, project, location, secretId, version] = m.map((s) => (s === undefined ? s : decodeURIComponent(s)));
    if (!projects.has(project) || (location ?? undefined) !== opts.location) return googleError(404, 'NOT_FOUND', `Project or location not found`);
    if (secretId === undefined) {
      listCalls++;
      const all = Object.keys(opts.secrets).sort().filter((id) => matchesFilter(opts.secrets[id], req.query.get('filter')));
      const size = Math.min(Number(req.query.get('pageSize') || 25000), opts.pageSize ?? 25000);
      const start = Number(req.query.get('pageToken') || 0);
      const page = all.slice(start, start + size);
      const parent = `projects/${project}${location ? `/locations/${location}` : ''}`;
      return {
        json: {
          secrets: page.map((id) => ({ name: `${parent}/secrets/${id}`, labels: opts.secrets[id].labels ?? {} })),
          ...(start + size < all.length ? { nextPageToken: String(start + size) } : {}),
          totalSize: all.length,
        },
      };
    }
    accesses.push(`${secretId}@${version}`);
    const secret = opts.secrets[secretId];
    if (opts.forbidden?.includes(secretId)) return googleError(403, 'PERMISSION_DENIED', `Permission 'secretmanager.versions.access' denied for resource '${secretId}'`);
    if (!secret) return googleError(404, 'NOT_FOUND', `Secret [${secretId}] not found or has no versions.`);
    const n = version === 'latest' ? secret.versions.length : Number(version);
    const v = secret.versions[n - 1];
    if (!Number.isInteger(n) || !v) return googleError(404, 'NOT_FOUND', `Secret Version [${version}] not found.`);
    const state = v.state ?? 'ENABLED';
    if (state !== 'ENABLED') return googleError(400, 'FAILED_PRECONDITION', `Secret Version [${n}] is in ${state} state.`);
    const data = Buffer.from(v.data);
    const crc = opts.corrupt?.includes(secretId) ? (crc32c(data) + 1) >>> 0 : crc32c(data);
    return {
      json: {
        name: `projects/${project}/secrets/${secretId}/versions/${n}`,
        payload: { data: data.toString('base64'), dataCrc32c: String(crc) },
      },
    };
  };
  const server = await startServer(handler);
  return Object.assign(server, { accesses, listCalls: () => listCalls });
}

export interface FakeMetadataServer extends FakeServer {
  /** `127.0.0.1:PORT`, for GCE_METADATA_HOST. */
  host: string;
  tokensIssued(): number;
}

/** The GCE metadata server: project id, the default service account's token; `Metadata-Flavor: Google` both ways. */
export async function startFakeMetadata(opts: { project?: string; token: string }): Promise<FakeMetadataServer> {
  let tokensIssued = 0;
  const server = await startServer((req) => {
    const flavor = { 'metadata-flavor': 'Google' };
    if (req.headers['metadata-flavor'] !== 'Google') return { status: 403, headers: flavor, body: 'Missing Metadata-Flavor header' };
    const path = req.path.replace(/\/+$/, '');
    if (path === '/computeMetadata/v1/instance' || path === '/computeMetadata/v1') return { headers: flavor, body: 'ok' };
    if (path === '/computeMetadata/v1/project/project-id' && opts.project) return { headers: { ...flavor, 'content-type': 'application/text' }, body: opts.project };
    if (path === '/computeMetadata/v1/universe/universe-domain') return { headers: { ...flavor, 'content-type': 'application/text' }, body: 'googleapis.com' };
    if (path === '/computeMetadata/v1/instance/service-accounts/default/token') {
      tokensIssued++;
      return { headers: flavor, json: { access_token: opts.token, expires_in: 3599, token_type: 'Bearer' } };
    }
    return { status: 404, headers: flavor, body: 'not found' };
  });
  return Object.assign(server, { host: `127.0.0.1:${server.port}`, tokensIssued: () => tokensIssued });
}

/** Every 6-character piece of `secret`: what the leak checks look for in output. */
export function secretPieces(secret: string): string[] {
  return Array.from({ length: Math.max(0, secret.length - 5) }, (_, i) => secret.slice(i, i + 6));
}
