/**
 * `type: http`: any endpoint that returns JSON, dotenv or YAML — a HashiCorp Vault KV v2 secret
 * (`select: data.data`), a config service, a static file server.
 *
 * Header values and the body usually carry credentials (`X-Vault-Token: ${VAULT_TOKEN}`), so they are marked
 * secret. Credentials written into the URL (`https://user:pass@host`, `?token=`) are marked too, and userinfo
 * is sent as a Basic Authorization header because undici does not send it.
 */
import { SourceError } from '../core/errors.js';
import { credentialOrigin } from './net/credential-origin.js';
import { mediaType } from './net/media-type.js';
import { parseContent, type ContentFormat } from '../formats/parse.js';
import { ALLOW_INSECURE_HTTP, REMOTE_OPTIONS, STRUCTURED_OPTIONS, defineSource, labelByUrl } from './descriptor.js';
import type { OptionSpecs } from '../core/validate.js';

/** Headers that describe the exchange and never hold a credential; redacting them would only garble messages. */
const PLAIN_HEADERS = new Set(['accept', 'content-type', 'user-agent', 'accept-language', 'cache-control']);
const OPTIONS = {
  // A credential only in its userinfo or query, where `${...}` filled them; `load` marks those secret, and messages never show them.
  url: { type: 'string', required: true, nonEmpty: true, httpUrl: true, credential: { when: 'url', is: 'the URL' }, description: 'http:// or https:// URL.' },
  method: { type: 'enum', values: ['GET', 'POST', 'PUT', 'PATCH'], default: 'GET', description: 'HTTP method (default GET).' },
  headers: {
    type: 'map',
    values: { type: 'string', description: 'The header value, interpolated.' },
    // Headers that are credentials even when written literally; any other is one when `${...}` filled it.
    credential: { when: 'filled', is: 'header', literalKeys: ['Authorization', 'X-Vault-Token'] },
    description: 'Request headers; values are interpolated.',
  },
  body: { type: 'string', credential: { when: 'filled', is: 'the request body' }, description: 'Request body.' },
  allow_insecure_http: ALLOW_INSECURE_HTTP,
  format: { type: 'enum', values: ['json', 'dotenv', 'yaml'], description: 'Format of the content (default from Content-Type).' },
  ...STRUCTURED_OPTIONS,
  ...REMOTE_OPTIONS,
} as const satisfies OptionSpecs;

export default defineSource({
  type: 'http',
  description: 'A generic HTTP endpoint returning JSON, dotenv or YAML.',
  options: OPTIONS,
  remote: true,
  label: labelByUrl,
  async load(options, context) {
    // The HTTP client code loads with the first remote layer (./descriptor.ts: a descriptor module stays light).
    const { credentialsInUrl, displayUrl, fetchKeys, layerFetchOptions, statusText } = await import('./net/fetch.js');
    const { url, headers } = splitUserinfo(options.url, options.headers ?? {});
    for (const value of credentialsInUrl(options.url)) context.secret(value);
    for (const [name, value] of Object.entries(headers)) if (!PLAIN_HEADERS.has(name.toLowerCase())) context.secret(value);
    const { body, method } = options;
    if (body !== undefined) context.secret(body);
    const fetchOptions = { ...layerFetchOptions(OPTIONS, options, context), credentialOrigin: headerCredentialOrigin(options.headers ?? {}, context) };
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

/**
 * Where the credential headers came from, for a 401/403: `header X-Vault-Token VAULT_TOKEN from the environment`.
 * The headers that are credentials (a literal Authorization or X-Vault-Token, any header `${...}` filled).
 */
function headerCredentialOrigin(headers: Record<string, string>, context: Parameters<typeof credentialOrigin>[0] & { filled?: (path: (string | number)[]) => readonly unknown[] }): string | undefined {
  const literal = new Set(OPTIONS.headers.credential.literalKeys.map((k) => k.toLowerCase()));
  const described = Object.keys(headers)
    .filter((name) => literal.has(name.toLowerCase()) || (context.filled?.(['headers', name]).length ?? 0) > 0)
    .map((name) => credentialOrigin(context, ['headers', name], `header ${name}`))
    .filter((d): d is string => d !== undefined);
  return described.length > 0 ? described.slice(0, 3).join('; ') : undefined;
}

/** json for application/json and any `+json`; yaml for any yaml type; dotenv for text/plain and dotenv types; else json. */
export function formatFromContentType(contentType: string | undefined): ContentFormat {
  const mime = mediaType(contentType) ?? '';
  if (mime === 'application/json' || mime.endsWith('+json')) return 'json';
  if (mime.includes('yaml')) return 'yaml';
  if (mime === 'text/plain' || mime.includes('dotenv') || mime.endsWith('/x-env')) return 'dotenv';
  return 'json';
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
