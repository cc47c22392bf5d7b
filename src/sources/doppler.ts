/**
 * `type: doppler`: Doppler's bulk download endpoint, or anything that speaks it.
 *
 *   GET {api_host}/v3/configs/config/secrets/download?project=..&config=..&format=json
 *   Authorization: Bearer <token>
 *
 * `token` and `api_host` default to DOPPLER_TOKEN / DOPPLER_API_HOST. Options arrive already interpolated, so
 * those defaults are applied here, looking in the earlier layers' keys first (a `.env` layer may hold the token)
 * and then in the process environment — the same order `${...}` uses.
 */
import { SourceError } from '../core/errors.js';
import { fetchText } from './net/fetch.js';
import { parseJson } from '../formats/parse.js';
import { allowInsecureHttp, optionalString, remoteOptions } from './options.js';
import type { Source, SourceContext, SourceOptions } from './types.js';

export const DEFAULT_DOPPLER_API_HOST = 'https://api.doppler.com';
const DOWNLOAD_PATH = '/v3/configs/config/secrets/download';

const DopplerSource: Source = {
  remote: true,
  async load(options, context) {
    const token = optionOrDefault(options, 'token', 'DOPPLER_TOKEN', context);
    if (!token) throw new SourceError('no Doppler token: set DOPPLER_TOKEN or the layer\'s `token:`');
    context.secret(token);
    const apiHost = optionOrDefault(options, 'api_host', 'DOPPLER_API_HOST', context) || DEFAULT_DOPPLER_API_HOST;
    const url = downloadUrl(apiHost, {
      project: optionalString(options, 'project'),
      config: optionalString(options, 'config'),
      only: Array.isArray(options.only) ? options.only.map(String) : undefined,
    });
    const response = await fetchText(
      { url, headers: { authorization: `Bearer ${token}`, accept: 'application/json' } },
      { ...remoteOptions(options), signal: context.signal, credentialsName: 'the Doppler token', carries: 'the Doppler token', allowInsecureHttp: allowInsecureHttp(options) },
    );
    return flatStringObject(parseJson(response.text, 'Doppler response'));
  },
};
export default DopplerSource;

function optionOrDefault(options: SourceOptions, option: string, variable: string, context: SourceContext): string | undefined {
  if (options[option] !== undefined) return optionalString(options, option);
  return context.keys[variable] ?? context.env[variable];
}

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
