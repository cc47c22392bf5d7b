/**
 * `type: http`: any endpoint that returns JSON, dotenv or YAML — a HashiCorp Vault KV v2 secret
 * (`select: data.data`), a config service, a static file server.
 *
 * Header values and the body usually carry credentials (`X-Vault-Token: ${VAULT_TOKEN}`), so they are marked
 * secret. Credentials written into the URL (`https://user:pass@host`, `?token=`) are marked too, and userinfo
 * is sent as a Basic Authorization header because undici does not send it.
 */
import { SourceError } from '../core/errors.js';
import { credentialsInUrl, displayUrl, fetchText, mediaType, statusText } from './net/fetch.js';
import { parseContent, type ContentFormat } from '../formats/parse.js';
import { optionalString, remoteOptions, requiredString, stringMap } from './options.js';
import type { Source } from './types.js';

const FORMATS: readonly ContentFormat[] = ['json', 'dotenv', 'yaml'];
const METHODS = ['GET', 'POST', 'PUT', 'PATCH'];
/** Headers that describe the exchange and never hold a credential; redacting them would only garble messages. */
const PLAIN_HEADERS = new Set(['accept', 'content-type', 'user-agent', 'accept-language', 'cache-control']);

const HttpSource: Source = {
  remote: true,
  async load(options, context) {
    const { url, headers } = splitUserinfo(requiredString(options, 'url'), stringMap(options, 'headers'));
    for (const value of credentialsInUrl(requiredString(options, 'url'))) context.secret(value);
    for (const [name, value] of Object.entries(headers)) if (!PLAIN_HEADERS.has(name.toLowerCase())) context.secret(value);
    const body = optionalString(options, 'body');
    if (body !== undefined) context.secret(body);
    const method = (optionalString(options, 'method') ?? 'GET').toUpperCase();
    if (!METHODS.includes(method)) throw new SourceError(`\`method\` must be one of ${METHODS.join(', ')}`);
    const format = optionalString(options, 'format');
    if (format !== undefined && !FORMATS.includes(format as ContentFormat)) throw new SourceError(`\`format\` must be one of ${FORMATS.join(', ')}`);

    const response = await fetchText({ url, method, headers, body }, { ...remoteOptions(options), signal: context.signal });
    // A login or error page served with 200 (a proxy, a captive portal) is not parsed as data: its text would
    // only produce a confusing parse error, or worse, keys.
    if (format === undefined && mediaType(response.headers['content-type']) === 'text/html') {
      throw new SourceError(`${statusText(response)} from ${displayUrl(url)}: an HTML page, not JSON, dotenv or YAML (set \`format\` to read it anyway)`);
    }
    return parseContent(response.text, (format as ContentFormat | undefined) ?? formatFromContentType(response.headers['content-type']), {
      select: optionalString(options, 'select'),
      flatten: optionalString(options, 'flatten'),
      origin: displayUrl(url),
    });
  },
};
export default HttpSource;

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
