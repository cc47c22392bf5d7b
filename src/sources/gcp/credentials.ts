/**
 * Google's application default credentials, through google-auth-library (loaded only when a Google layer runs):
 * a service-account key (a self-signed JWT: no token endpoint), workload identity federation, gcloud user
 * credentials, the metadata server (`GCE_METADATA_HOST` honoured). The library finds and refreshes them.
 *
 * The project is resolved here, never by the library: asked for a project it does not have, google-auth-library
 * runs `gcloud config config-helper` (0.9 s, and another tool's state). So it is always given one.
 *
 * Library errors (GaxiosError keeps the request, headers included) are reduced to a status and a code on the spot
 * and never kept, printed or chained, even with SECRETRUN_DEBUG=1.
 */
import { readFile } from 'node:fs/promises';
import { SourceError } from '../../core/errors.js';
import { loadPackage } from '../../core/import-external.js';
import { sessionValue } from '../session.js';
import type { SourceContext } from '../types.js';

const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';

type GoogleAuthLibrary = typeof import('google-auth-library');
type AuthClient = import('google-auth-library').AuthClient;

export function loadGoogleAuth(): Promise<GoogleAuthLibrary> {
  return loadPackage<GoogleAuthLibrary>('google-auth-library');
}

/** The credentials file ADC reads: GOOGLE_APPLICATION_CREDENTIALS, else gcloud's application-default file. */
export function credentialsFilePath(env: SourceContext['env']): string | undefined {
  if (env.GOOGLE_APPLICATION_CREDENTIALS) return env.GOOGLE_APPLICATION_CREDENTIALS;
  const configDir = env.CLOUDSDK_CONFIG || (env.HOME ? `${env.HOME}/.config/gcloud` : undefined);
  return configDir && `${configDir}/application_default_credentials.json`;
}

/** Fields of a credentials file that are credentials: marked secret the moment the file is read. */
const SECRET_FIELDS = ['private_key', 'client_secret', 'refresh_token', 'private_key_id'];

/**
 * The credentials file ADC reads, parsed, with its credential fields marked secret (the library reads the same file;
 * what it holds joins the redaction net before anything can quote it). Undefined when there is none, or not JSON.
 */
async function readCredentialsFile(context: SourceContext): Promise<Record<string, unknown> | undefined> {
  const path = credentialsFilePath(context.env);
  if (!path) return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    return undefined; // no file, or not JSON: the library reports it when it reads the credentials
  }
  if (doc === null || typeof doc !== 'object') return undefined;
  const fields = doc as Record<string, unknown>;
  for (const field of SECRET_FIELDS) if (typeof fields[field] === 'string' && fields[field] !== '') context.secret(fields[field] as string);
  return fields;
}

/** `project_id`, else `quota_project_id`, of the credentials file; undefined when there is none or no such field. */
async function projectFromCredentialsFile(context: SourceContext): Promise<string | undefined> {
  const doc = await readCredentialsFile(context);
  for (const field of ['project_id', 'quota_project_id']) if (typeof doc?.[field] === 'string' && doc[field] !== '') return doc[field] as string;
  return undefined;
}

/**
 * The project (contract): the layer's `project`, else GOOGLE_CLOUD_PROJECT / GCLOUD_PROJECT, else the credentials
 * file's project_id / quota_project_id, else the metadata server's project id; never gcloud.
 */
export async function resolveProject(option: string | undefined, context: SourceContext): Promise<string> {
  const found =
    option ||
    context.env.GOOGLE_CLOUD_PROJECT ||
    context.env.GCLOUD_PROJECT ||
    (await projectFromCredentialsFile(context)) ||
    (await projectFromMetadataServer(context));
  if (!found) {
    throw new SourceError('no Google Cloud project: set `project:` on the layer (or GOOGLE_CLOUD_PROJECT, or a credentials file with project_id)');
  }
  return found;
}

async function projectFromMetadataServer(context: SourceContext): Promise<string | undefined> {
  const shared = sessionValue(context, 'gcp:metadata-project', async () => {
    const { gcpMetadata } = await loadGoogleAuth();
    try {
      if (!(await gcpMetadata.isAvailable())) return undefined;
      const id: unknown = await gcpMetadata.project('project-id');
      return typeof id === 'string' && id !== '' ? id : undefined;
    } catch {
      return undefined;
    }
  });
  return shared;
}

/** The request headers that authorize a call to `audience` (the service root): `authorization`, and a quota project. */
export interface GoogleAuthHeaders {
  authorization: string;
  'x-goog-user-project'?: string;
}

/**
 * The headers for one request. The credentials client is made once per session (shared by every Google layer of
 * one run or watcher); it caches its token and refreshes it when it nears expiry. Every token joins the redaction net.
 */
export async function googleAuthHeaders(project: string, audience: string, context: SourceContext): Promise<GoogleAuthHeaders> {
  const client = await sessionValue(context, 'gcp:client', async () => {
    await readCredentialsFile(context);
    const { GoogleAuth, JWT } = await loadGoogleAuth();
    const auth = new GoogleAuth({ projectId: project, scopes: [CLOUD_PLATFORM] });
    try {
      const client = await auth.getClient();
      // A service-account key signs its own JWT for the scope: no token endpoint, no round trip.
      if (client instanceof JWT) client.useJWTAccessWithScope = true;
      return client;
    } catch (err) {
      throw credentialsError(err, 'no usable Google credentials');
    }
  });
  let headers: Headers;
  try {
    headers = (await (client as AuthClient).getRequestHeaders(audience)) as unknown as Headers;
  } catch (err) {
    throw credentialsError(err, 'could not get a Google access token');
  }
  const get = (name: string) => (typeof headers.get === 'function' ? headers.get(name) : (headers as unknown as Record<string, string>)[name]) ?? undefined;
  const authorization = get('authorization');
  if (!authorization) throw new SourceError('could not get a Google access token (the credentials gave none)');
  context.secret(authorization);
  const token = authorization.replace(/^Bearer\s+/i, '');
  if (token !== authorization) context.secret(token);
  const quota = get('x-goog-user-project');
  return quota ? { authorization, 'x-goog-user-project': quota } : { authorization };
}

const NO_ADC = /could not load the default credentials/i;

/**
 * A library failure as our own one line: an HTTP status and an error code at most. Never the library's message
 * (it may quote a response or a file), never the error object (it keeps the request, headers included).
 */
export function credentialsError(err: unknown, what: string): SourceError {
  const e = (err ?? {}) as { message?: unknown; code?: unknown; status?: unknown; response?: { status?: unknown } };
  if (typeof e.message === 'string' && NO_ADC.test(e.message)) {
    return new SourceError(
      'no Google credentials found: set GOOGLE_APPLICATION_CREDENTIALS to a key file, run `gcloud auth application-default login`, or run on Google Cloud (the metadata server)',
    );
  }
  const status = typeof e.response?.status === 'number' ? e.response.status : typeof e.status === 'number' ? e.status : undefined;
  const code = typeof e.code === 'string' && /^[A-Za-z0-9_.-]{1,40}$/.test(e.code) ? e.code : undefined;
  const detail = [status !== undefined ? `HTTP ${status}` : undefined, code].filter(Boolean).join(', ');
  return new SourceError(`${what}${detail ? ` (${detail})` : ''}`);
}
