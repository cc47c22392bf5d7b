/**
 * Secret Manager's REST API v1 over undici (net/fetch.ts: the shared retry policy, 429 retried until `deadline`),
 * with a token from ./credentials.ts. Two calls: `accessSecret` (one version's payload, CRC32C verified) and
 * `listSecretIds` (every page of a filtered listing). References (`ref+gcpsecrets://`) reuse `accessSecret`.
 *
 * Google's error answers (`{"error": {"code": 400, "status": "FAILED_PRECONDITION", "message": ...}}`) are read
 * for their `status` only; the message may quote the request and is never shown.
 */
import { NotFoundError, SourceError } from '../../core/errors.js';
import { fetchText, jsonAnswer, type FetchOptions, type FetchResponse } from '../net/fetch.js';
import { everyPage } from '../net/pages.js';
import { crc32c } from './crc32c.js';
import { googleAuthHeaders } from './credentials.js';
import { readKey, readOnce } from '../session.js';
import type { SourceContext } from '../types.js';

export const DEFAULT_ENDPOINT = 'https://secretmanager.googleapis.com';
/** Secrets per listing page: the API's maximum, so a listing costs as few of the 600-per-minute list calls as it can. */
const PAGE_SIZE = 25000;

/** Where and how to call the API. */
export interface SecretManagerApi {
  /** The service root, `https://secretmanager.googleapis.com` or a regional one; `/v1/...` is appended. */
  root: string;
  project: string;
  location?: string;
  /** timeout, retries, deadline, signal, debug, transport rule. */
  fetch: FetchOptions;
  context: SourceContext;
}

/** The service root: `endpoint` as given, else the regional endpoint of `location`, else the global one. */
export function serviceRoot(endpoint: string | undefined, location: string | undefined): string {
  if (endpoint) return endpoint.replace(/\/+$/, '');
  return location ? `https://secretmanager.${location}.rep.googleapis.com` : DEFAULT_ENDPOINT;
}

function parent(api: SecretManagerApi): string {
  const project = `projects/${encodeURIComponent(api.project)}`;
  return api.location ? `${project}/locations/${encodeURIComponent(api.location)}` : project;
}

/** What an access came to: the payload, or (in a listing) a version that can't be read because of its state. */
export type Accessed = { kind: 'payload'; bytes: Uint8Array } | { kind: 'unavailable'; status: string };

/**
 * Read one version of one secret (`latest` by default). A 404 is a NotFoundError; a 400 FAILED_PRECONDITION (the
 * version is disabled or destroyed) comes back as `unavailable`, for the caller to decide; a 403 and any other
 * failure is an error naming the secret (never a layer: each caller words its own message around it).
 *
 * Once per resolution (`context.reads`), whichever layer (`secrets:`, `filter:`) or `ref+gcpsecrets` asks, the
 * answer shared, a 404 or a disabled version included. The key is what makes the access distinct: service root,
 * project, location, secret, version as written (`latest` and `3` are two reads). The credentials are not in it:
 * layers and references alike use the session's one application-default-credentials client (no layer option picks
 * credentials); if one ever does, its identity joins the key.
 */
export function accessSecret(api: SecretManagerApi, secret: string, version = 'latest'): Promise<Accessed> {
  const key = readKey('gcp-secret-manager', api.root, api.project, api.location, secret, version);
  return readOnce(api.context, key, () => access(api, secret, version));
}

async function access(api: SecretManagerApi, secret: string, version: string): Promise<Accessed> {
  const url = `${api.root}/v1/${parent(api)}/secrets/${encodeURIComponent(secret)}/versions/${encodeURIComponent(version)}:access`;
  const response = await call(api, url);
  const what = `secret ${secret}${version === 'latest' ? '' : `@${version}`}`;
  if (response.status !== 200) {
    const status = googleStatus(response);
    if (response.status === 400 && status === 'FAILED_PRECONDITION') return { kind: 'unavailable', status };
    throw apiError(response, status, what);
  }
  const payload = (jsonAnswer(response, what) as { payload?: { data?: unknown; dataCrc32c?: unknown } }).payload;
  if (!payload || (payload.data !== undefined && typeof payload.data !== 'string')) throw new SourceError(`${what}: the answer holds no payload`);
  const bytes = Buffer.from((payload.data as string | undefined) ?? '', 'base64');
  const expected = payload.dataCrc32c;
  if (expected !== undefined && expected !== null && String(expected) !== String(crc32c(bytes))) {
    throw new SourceError(`${what}: the payload's CRC32C does not match the checksum sent with it (corrupted in transit); try again`);
  }
  return { kind: 'payload', bytes };
}

/** Every secret id of the project (or location) that `filter` selects, following every page. */
export function listSecretIds(api: SecretManagerApi, filter: string): Promise<string[]> {
  // List calls share the scarce project-wide quota (600 a minute): two layers with one filter list once per resolve.
  const key = readKey('gcp-secret-manager list', api.root, api.project, api.location, filter);
  return readOnce(api.context, key, () => listAllSecretIds(api, filter)).then((ids) => [...ids]);
}

async function listAllSecretIds(api: SecretManagerApi, filter: string): Promise<string[]> {
  type Page = { secrets?: { name?: unknown }[]; nextPageToken?: unknown };
  const pages = await everyPage(
    async (pageToken): Promise<Page> => {
      const query = new URLSearchParams({ pageSize: String(PAGE_SIZE) });
      if (filter) query.set('filter', filter);
      if (pageToken) query.set('pageToken', pageToken);
      const response = await call(api, `${api.root}/v1/${parent(api)}/secrets?${query}`);
      if (response.status !== 200) throw apiError(response, googleStatus(response), `the listing of ${parent(api)}`);
      return jsonAnswer(response, 'the listing') as Page;
    },
    (page) => (typeof page.nextPageToken === 'string' ? page.nextPageToken : undefined),
    () => 'the listing repeated a page token; stopping rather than looping',
  );
  return pages.flatMap((page) => (page.secrets ?? []).flatMap((s) => (typeof s?.name === 'string' ? [s.name.slice(s.name.lastIndexOf('/') + 1)] : [])));
}

async function call(api: SecretManagerApi, url: string): Promise<FetchResponse> {
  const headers = { ...(await googleAuthHeaders(api.project, `${api.root}/`, api.context)), accept: 'application/json' };
  return fetchText({ url, headers }, { ...api.fetch, answers: [400, 401, 403, 404] });
}

/** `status` of Google's error object (`NOT_FOUND`, `PERMISSION_DENIED`, ...), when the answer has one. */
export function googleStatus(response: Pick<FetchResponse, 'text'>): string | undefined {
  try {
    const status = (JSON.parse(response.text) as { error?: { status?: unknown } })?.error?.status;
    return typeof status === 'string' && /^[A-Z_]{1,40}$/.test(status) ? status : undefined;
  } catch {
    return undefined;
  }
}

export function apiError(response: FetchResponse, status: string | undefined, what: string): Error {
  const code = `HTTP ${response.status}${status ? ` ${status}` : ''}`;
  if (response.status === 404) return new NotFoundError(`${what} not found (${code})`);
  if (response.status === 401) return new SourceError(`${what}: the Google credentials were rejected (${code})`);
  if (response.status === 403) return new SourceError(`${what}: permission denied (${code}); the credentials need roles/secretmanager.secretAccessor (a listing also secretmanager.secrets.list)`);
  return new SourceError(`${what}: ${code}`);
}
