/**
 * `type: http`: any endpoint that returns JSON, dotenv or YAML — a HashiCorp Vault KV v2 secret
 * (`select: data.data`), a config service, a static file server.
 *
 * Header values and the body usually carry credentials (`X-Vault-Token: ${VAULT_TOKEN}`), so they are marked
 * secret. Credentials written into the URL (`https://user:pass@host`, `?token=`) are marked too, and userinfo
 * is sent as a Basic Authorization header because undici does not send it.
 */
import { SourceError } from '../core/errors.js';
import { credentialsInUrl, displayUrl, fetchKeys, mediaType, statusText } from './net/fetch.js';
import { parseContent, type ContentFormat } from '../formats/parse.js';
import { debugChannel } from './net/retry.js';
import { ALLOW_INSECURE_HTTP, REMOTE_OPTIONS, STRUCTURED_OPTIONS, defineSource, labelByUrl } from './descriptor.js';
import type { SourceContext } from './types.js';

/** Headers that describe the exchange and never hold a credential; redacting them would only garble messages. */
const PLAIN_HEADERS = new Set(['accept', 'content-type', 'user-agent', 'accept-language', 'cache-control']);
/** Headers that are credentials even when written literally. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'x-vault-token']);

export default defineSource({
  type: 'http',
  description: 'A generic HTTP endpoint returning JSON, dotenv or YAML.',
  options: {
    // Not a credential as a whole: its userinfo and query are marked secret by `load`, and messages never show them.
    url: { type: 'string', required: true, nonEmpty: true, description: 'http:// or https:// URL.' },
    method: { type: 'enum', values: ['GET', 'POST', 'PUT', 'PATCH'], default: 'GET', description: 'HTTP method (default GET).' },
    headers: { type: 'map', values: { type: 'string', description: 'The header value, interpolated.' }, credential: true, description: 'Request headers; values are interpolated.' },
    body: { type: 'string', credential: true, description: 'Request body.' },
    allow_insecure_http: ALLOW_INSECURE_HTTP,
    format: { type: 'enum', values: ['json', 'dotenv', 'yaml'], description: 'Format of the content (default from Content-Type).' },
    ...STRUCTURED_OPTIONS,
    ...REMOTE_OPTIONS,
  },
  remote: true,
  label: labelByUrl,
  async load(options, context) {
    const { url, headers } = splitUserinfo(options.url, options.headers ?? {});
    for (const value of credentialsInUrl(options.url)) context.secret(value);
    for (const [name, value] of Object.entries(headers)) if (!PLAIN_HEADERS.has(name.toLowerCase())) context.secret(value);
    const { body, method } = options;
    if (body !== undefined) context.secret(body);
    const carries = credentialCarried(options, context);
    const fetchOptions = {
      timeout: options.timeout,
      retries: options.retries,
      deadline: options.deadline,
      signal: context.signal,
      debug: debugChannel(context.env, context.layer),
      carries,
      allowInsecureHttp: options.allow_insecure_http,
      cache: context.cache,
    };
    return fetchKeys({ url, method, headers, body }, fetchOptions, (response) => {
      // A login or error page served with 200 (a proxy, a captive portal) is not parsed as data: its text would
      // only produce a confusing parse error, or worse, keys.
      if (options.format === undefined && mediaType(response.headers['content-type']) === 'text/html') {
        throw new SourceError(`${statusText(response)} from ${displayUrl(url)}: an HTML page, not JSON, dotenv or YAML (set \`format\` to read it anyway)`);
      }
      return parseContent(response.text, options.format ?? formatFromContentType(response.headers['content-type']), {
        select: options.select,
        flatten: options.flatten,
        origin: displayUrl(url),
      });
    });
  },
});

/** json for application/json and any `+json`; yaml for any yaml type; dotenv for text/plain and dotenv types; else json. */
export function formatFromContentType(contentType: string | undefined): ContentFormat {
  const mime = mediaType(contentType) ?? '';
  if (mime === 'application/json' || mime.endsWith('+json')) return 'json';
  if (mime.includes('yaml')) return 'yaml';
  if (mime === 'text/plain' || mime.includes('dotenv') || mime.endsWith('/x-env')) return 'dotenv';
  return 'json';
}

type Ranges = readonly (readonly [number, number])[];

/**
 * The first credential this request would carry, in words for the refusal message (never its value): a literal
 * Authorization or X-Vault-Token header, or any header, URL userinfo, query parameter or body that `${...}`
 * filled in (contract, remote layers). Undefined when it carries none.
 */
export function credentialCarried(options: { url: string; headers?: Record<string, string>; body?: string }, context: Pick<SourceContext, 'filled'>): string | undefined {
  const filled = (path: string[]): Ranges => context.filled?.(path) ?? [];
  for (const name of Object.keys(options.headers ?? {})) {
    if (CREDENTIAL_HEADERS.has(name.toLowerCase()) || filled(['headers', name]).length > 0) return `header ${name}`;
  }
  const url = options.url;
  const parts = urlCredentialParts(url);
  const inUrl = filled(['url']);
  if (parts.userinfo && overlaps(inUrl, parts.userinfo)) return 'the user and password of the URL';
  if (parts.query && overlaps(inUrl, parts.query)) return 'the query of the URL';
  if (options.body !== undefined && filled(['body']).length > 0) return 'the request body';
  return undefined;
}

/** Where the userinfo and the query sit in `url` (as the WHATWG parser splits it), as `[start, end)` ranges. */
function urlCredentialParts(url: string): { userinfo?: [number, number]; query?: [number, number] } {
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(url);
  if (!scheme) return {};
  const authStart = scheme[0].length;
  const authEnd = url.slice(authStart).search(/[/?#\\]/);
  const end = authEnd < 0 ? url.length : authStart + authEnd;
  const at = url.lastIndexOf('@', end - 1);
  const out: { userinfo?: [number, number]; query?: [number, number] } = {};
  if (at >= authStart) out.userinfo = [authStart, at];
  const q = url.indexOf('?', end);
  if (q >= 0) {
    const hash = url.indexOf('#', q);
    out.query = [q + 1, hash < 0 ? url.length : hash];
  }
  return out;
}

function overlaps(ranges: Ranges, [start, end]: [number, number]): boolean {
  return ranges.some(([a, b]) => a < end && b > start);
}

/** Move `user:pass@` out of the URL into an Authorization header (unless the layer sets one itself). */
function splitUserinfo(raw: string, headers: Record<string, string>): { url: string; headers: Record<string, string> } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { url: raw, headers }; // fetchText reports the invalid URL
  }
  if (!url.username && !url.password) return { url: raw, headers };
  const basic = Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64');
  url.username = '';
  url.password = '';
  const hasAuth = Object.keys(headers).some((h) => h.toLowerCase() === 'authorization');
  return { url: url.href, headers: hasAuth ? headers : { ...headers, authorization: `Basic ${basic}` } };
}
