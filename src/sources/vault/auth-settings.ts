/**
 * The `auth:` mapping of a vault layer, read and checked without any I/O: the descriptor's offline check
 * (`secretrun check`) and the login code both use it.
 */
import { SourceError } from '../../core/errors.js';

/** Vault's spelling of true (Go's strconv.ParseBool), for `skip_verify` and VAULT_SKIP_VERIFY. */
export function vaultTrue(value: string | boolean | undefined): boolean {
  return value === true || (typeof value === 'string' && ['1', 't', 'T', 'true', 'TRUE', 'True'].includes(value.trim()));
}

export type AuthSettings =
  | { method: 'token'; token?: string }
  | { method: 'approle'; mount: string; role_id: string; secret_id?: string; secret_id_file?: string; role_name?: string; wrapped: boolean }
  | { method: 'kubernetes'; mount: string; role: string; jwt_file: string }
  | { method: 'jwt'; mount: string; role: string; jwt?: string; jwt_file?: string }
  | { method: 'aws'; mount: string; role: string; header_value?: string; region?: string };

export const KUBERNETES_JWT_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/token';

const KEYS: Record<AuthSettings['method'], { required: string[]; optional: string[] }> = {
  token: { required: [], optional: ['token'] },
  approle: { required: ['role_id'], optional: ['secret_id', 'secret_id_file', 'role_name', 'wrapped', 'mount'] },
  kubernetes: { required: ['role'], optional: ['jwt_file', 'mount'] },
  jwt: { required: ['role'], optional: ['jwt', 'jwt_file', 'mount'] },
  aws: { required: ['role'], optional: ['header_value', 'region', 'mount'] },
};
export const AUTH_METHODS = Object.keys(KEYS) as AuthSettings['method'][];

/** An AWS region's name: `eu-west-1`, `us-gov-west-1`, `cn-north-1`. */
const AWS_REGION_NAME = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

/** Every problem of an `auth:` mapping, as `[key, message]` pairs (`check` reports them all; `load` throws the first). */
export function authIssues(raw: Readonly<Record<string, unknown>> | undefined): [string, string][] {
  const method = (raw?.method ?? 'token') as string;
  const spec = KEYS[method as AuthSettings['method']];
  if (!spec) return [['method', `unknown auth method ${JSON.stringify(String(method).slice(0, 40))} (expected one of ${AUTH_METHODS.join(', ')})`]];
  const out: [string, string][] = [];
  for (const key of Object.keys(raw ?? {})) {
    if (key !== 'method' && !spec.required.includes(key) && !spec.optional.includes(key)) out.push([key, `unknown key for auth method ${method} (allowed: ${[...spec.required, ...spec.optional].join(', ')})`]);
  }
  for (const key of spec.required) if (raw?.[key] === undefined || raw[key] === '') out.push([key, `required by auth method ${method}`]);
  const given = (k: string) => raw?.[k] !== undefined && raw[k] !== '';
  if (method === 'approle' && given('secret_id') === given('secret_id_file')) out.push(['secret_id', 'give exactly one of "secret_id" or "secret_id_file"']);
  if (method === 'jwt' && given('jwt') === given('jwt_file')) out.push(['jwt', 'give exactly one of "jwt" or "jwt_file"']);
  if (raw?.wrapped !== undefined && typeof raw.wrapped !== 'boolean' && raw.wrapped !== 'true' && raw.wrapped !== 'false') out.push(['wrapped', 'expected true or false']);
  // It names the STS host the login is signed for (aws-login.ts), so only a region's name will do.
  if (method === 'aws' && given('region') && !AWS_REGION_NAME.test(String(raw!.region))) out.push(['region', 'not an AWS region name (such as eu-west-1)']);
  return out;
}

export function authSettings(raw: Readonly<Record<string, unknown>> | undefined): AuthSettings {
  const issues = authIssues(raw);
  if (issues.length > 0) throw new SourceError(`\`auth.${issues[0][0]}\`: ${issues[0][1]}`);
  const r = (raw ?? {}) as Record<string, unknown>;
  const str = (k: string) => (r[k] === undefined || r[k] === '' ? undefined : String(r[k]));
  const method = (str('method') ?? 'token') as AuthSettings['method'];
  const mount = (str('mount') ?? method).replace(/^\/+|\/+$/g, '');
  switch (method) {
    case 'token':
      return { method, token: str('token') };
    case 'approle':
      return { method, mount, role_id: str('role_id')!, secret_id: str('secret_id'), secret_id_file: str('secret_id_file'), role_name: str('role_name'), wrapped: r.wrapped === true || r.wrapped === 'true' };
    case 'kubernetes':
      return { method, mount, role: str('role')!, jwt_file: str('jwt_file') ?? KUBERNETES_JWT_FILE };
    case 'jwt':
      return { method, mount, role: str('role')!, jwt: str('jwt'), jwt_file: str('jwt_file') };
    case 'aws':
      return { method, mount, role: str('role')!, header_value: str('header_value'), region: str('region') };
  }
}

