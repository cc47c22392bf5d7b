/**
 * A small Vault HTTP API v1 client on undici and the shared retry policy (../net/fetch.ts): every request sends
 * `X-Vault-Request: true`, an authenticated one `X-Vault-Token`, and `X-Vault-Namespace` when the layer has one.
 * Listing uses `GET ...?list=true`, which Vault documents as equal to `LIST`. Vault's own error answers (400, 403,
 * 404) come back as statuses for the caller to word; their bodies are read only for their structure, never shown.
 */
import { SourceError } from '../../core/errors.js';
import { fetchText, type FetchOptions } from '../net/fetch.js';

export interface VaultEndpoint {
  /** `https://vault.example.com:8200`, without a trailing slash. */
  address: string;
  namespace?: string;
  fetch: FetchOptions;
  /** The TLS settings the dispatcher was made from (JSON), when there are any: part of the read memo's key. */
  transport?: string;
}

export interface VaultAnswer {
  status: number;
  /** The parsed JSON body, or undefined when there is none. */
  json: Record<string, unknown> | undefined;
}

const ANSWERED = [400, 403, 404, 405] as const;

export async function vaultRequest(
  endpoint: VaultEndpoint,
  method: 'GET' | 'POST' | 'PUT' | 'LIST',
  apiPath: string,
  { token, body, query }: { token?: string; body?: Record<string, unknown>; query?: Record<string, string> } = {},
): Promise<VaultAnswer> {
  const params = new URLSearchParams(query);
  if (method === 'LIST') params.set('list', 'true');
  const search = params.size > 0 ? `?${params}` : '';
  const headers: Record<string, string> = { 'x-vault-request': 'true', accept: 'application/json' };
  if (token !== undefined) headers['x-vault-token'] = token;
  if (endpoint.namespace) headers['x-vault-namespace'] = endpoint.namespace;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetchText(
    { url: `${endpoint.address}/v1/${encodePath(apiPath)}${search}`, method: method === 'LIST' ? 'GET' : method, headers, body: body === undefined ? undefined : JSON.stringify(body) },
    { ...endpoint.fetch, answers: ANSWERED },
  );
  let json: Record<string, unknown> | undefined;
  if (response.text.trim() !== '') {
    try {
      const parsed = JSON.parse(response.text);
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) json = parsed as Record<string, unknown>;
    } catch {
      if (response.status >= 200 && response.status < 300) throw new SourceError(`Vault answered ${apiPathForMessage(apiPath)} with a body that is not JSON`);
    }
  }
  return { status: response.status, json };
}

/** Each segment percent-encoded, the slashes kept. */
function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/** A path in a message: it is the layer's own text (never a value), capped. */
export function apiPathForMessage(path: string): string {
  return path.length > 120 ? `${path.slice(0, 120)}…` : path;
}

/** `data` of an answer, when it is an object. */
export function dataOf(answer: VaultAnswer): Record<string, unknown> | undefined {
  const data = answer.json?.data;
  return data !== null && typeof data === 'object' && !Array.isArray(data) ? (data as Record<string, unknown>) : undefined;
}
