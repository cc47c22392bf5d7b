/**
 * The registry: `type:` → lazy loader. A source module is imported only when a layer of that type exists,
 * so a run with only local files never loads the AWS SDK or undici. Adding a backend is one line here plus
 * one module and its entry in schema.json; no core code changes.
 */
import type { Source } from './types.js';

type Loader = () => Promise<{ default: Source }>;

export const SOURCE_TYPES: Record<string, Loader> = {
  env: () => import('./env.js'),
  dotenv: () => import('./dotenv.js'),
  json: () => import('./json.js'),
  yaml: () => import('./yaml.js'),
  ssm: () => import('./ssm.js'),
  secretsmanager: () => import('./secretsmanager.js'),
  doppler: () => import('./doppler.js'),
  http: () => import('./http.js'),
  exec: () => import('./exec.js'),
  module: () => import('./module.js'),
  'ansible-vault': () => import('./ansible-vault.js'),
};

/**
 * Option defaults that are themselves templates, applied before interpolation so the dependency graph sees
 * them: a Doppler token kept in `.env` makes the doppler layer wait for the dotenv layer.
 */
export const OPTION_DEFAULTS: Record<string, Record<string, string>> = {
  doppler: { token: '${DOPPLER_TOKEN}', api_host: '${DOPPLER_API_HOST:-https://api.doppler.com}' },
};

export async function loadSource(type: string): Promise<Source> {
  const loader = SOURCE_TYPES[type];
  if (!loader) throw new Error(`unknown source type "${type}"`);
  return (await loader()).default;
}
