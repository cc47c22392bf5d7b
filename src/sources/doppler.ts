/**
 * `type: doppler`: Doppler's bulk download endpoint, or anything that speaks it.
 *
 *   GET {api_host}/v3/configs/config/secrets/download?project=..&config=..&format=json
 *   Authorization: Bearer <token>
 *
 * `token` and `api_host` default to `${DOPPLER_TOKEN}` / `${DOPPLER_API_HOST:-https://api.doppler.com}`: template
 * defaults, applied before interpolation, so they resolve like any `${...}` (vars, then the earlier layers' keys —
 * a `.env` layer may hold the token — then the process environment) and make the layer wait for the layer that
 * provides them.
 */
import { SourceError } from '../core/errors.js';
import { credentialOrigin } from './net/credential-origin.js';
import { parseJson } from '../formats/parse.js';
import { ALLOW_INSECURE_HTTP, REMOTE_OPTIONS, defineSource } from './descriptor.js';
import type { OptionSpecs } from '../core/validate.js';

export const DEFAULT_DOPPLER_API_HOST = 'https://api.doppler.com';
const DOWNLOAD_PATH = '/v3/configs/config/secrets/download';

const OPTIONS = {
  project: { type: 'string', description: 'Doppler project (a service token may omit it).' },
  config: { type: 'string', description: 'Doppler config (a service token may omit it).' },
  token: { type: 'string', default: '${DOPPLER_TOKEN}', credential: { when: 'always', is: 'the Doppler token' }, description: 'API token (default `${DOPPLER_TOKEN}`).' },
  api_host: {
    type: 'string',
    httpUrl: true,
    default: `\${DOPPLER_API_HOST:-${DEFAULT_DOPPLER_API_HOST}}`,
    description: `API base URL (default DOPPLER_API_HOST, else ${DEFAULT_DOPPLER_API_HOST}).`,
  },
  allow_insecure_http: ALLOW_INSECURE_HTTP,
  ...REMOTE_OPTIONS,
} as const satisfies OptionSpecs;

export default defineSource({
  type: 'doppler',
  description: 'Doppler (or a Doppler-compatible API).',
  options: OPTIONS,
  remote: true,
  /** `doppler openedx/prd` */
  label: (o, fill) => (o.project || o.config ? [o.project, o.config].filter(Boolean).map((s) => fill(String(s))).join('/') : undefined),
  async load(options, context) {
    const { token } = options;
    if (!token) throw new SourceError('no Doppler token: set DOPPLER_TOKEN or the layer\'s `token:`');
    const apiHost = options.api_host || DEFAULT_DOPPLER_API_HOST;
    if (!/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(apiHost)) {
      // `DOPPLER_API_HOST=api.example.com`: say which setting, not a URL parser's complaint. The text is not quoted.
      const from = credentialOrigin(context, ['api_host'], 'api_host') ?? 'api_host';
      throw new SourceError(`${from}: the API host needs a scheme: write https://HOST[:PORT]`);
    }
    const url = downloadUrl(apiHost, { project: options.project, config: options.config, only: options.only });
    const { fetchKeys, layerFetchOptions } = await import('./net/fetch.js');
    return fetchKeys(
      { url, headers: { authorization: `Bearer ${token}`, accept: 'application/json' } },
      {
        ...layerFetchOptions(OPTIONS, options, context),
        credentialsName: OPTIONS.token.credential.is,
        credentialOrigin: credentialOrigin(context, ['token'], 'token'),
      },
      (response) => flatStringObject(parseJson(response.text, 'Doppler response')),
    );
  },
});

/**
 * The download URL. Empty project/config are left out (a service token knows its own). `only` is also sent as
 * `secrets=A,B` so the server returns less, but only when every entry is a literal name: Doppler has no globs.
 */
export function downloadUrl(apiHost: string, sel: { project?: string; config?: string; only?: string[] }): string {
  const params = new URLSearchParams();
  if (sel.project) params.set('project', sel.project);
  if (sel.config) params.set('config', sel.config);
  params.set('format', 'json');
  if (sel.only && sel.only.length > 0 && !sel.only.some(isGlob)) params.set('secrets', sel.only.join(','));
  return `${apiHost.replace(/\/+$/, '')}${DOWNLOAD_PATH}?${params}`;
}

function isGlob(pattern: string): boolean {
  return /[*?[\]]/.test(pattern);
}

/** Doppler's `format=json` is one flat object of strings; anything else means we're not talking to Doppler. */
export function flatStringObject(doc: unknown): Record<string, string> {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new SourceError(`Doppler response: expected a flat JSON object of strings, got ${Array.isArray(doc) ? 'an array' : doc === null ? 'null' : `a ${typeof doc}`}`);
  }
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(doc)) {
    if (typeof value !== 'string') {
      const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : `a ${typeof value}`;
      throw new SourceError(`Doppler response: expected a flat JSON object of strings, but "${key}" is ${kind}`);
    }
    out[key] = value;
  }
  return out;
}
