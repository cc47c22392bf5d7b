/**
 * Getting a Vault token: the `token` method (auth.token, VAULT_TOKEN, ~/.vault-token) or a login (approle,
 * kubernetes, jwt, aws). One login per address, namespace and auth settings per session (`context.session`):
 * concurrent layers await the same promise. Token, secret-id and JWT files are read at every login, trimmed as the
 * Vault CLI does; every token, secret id and JWT joins the redaction net the moment it is read or obtained.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { SourceError } from '../../core/errors.js';
import type { SourceContext } from '../types.js';
import { dataOf, vaultRequest, type VaultEndpoint } from './client.js';

export { AUTH_METHODS, authIssues, authSettings, KUBERNETES_JWT_FILE, type AuthSettings } from './auth-settings.js';
import { KUBERNETES_JWT_FILE, type AuthSettings } from './auth-settings.js';

/** The local files an auth method reads (for `check`'s permission report), absolute, with their role. */
export function authFiles(settings: AuthSettings, configDir: string): { path: string; shown: string; role: string }[] {
  const file = (shown: string | undefined, role: string) => (shown === undefined ? [] : [{ path: absolute(shown, configDir), shown, role }]);
  if (settings.method === 'approle') return file(settings.secret_id_file, 'auth.secret_id_file');
  if (settings.method === 'jwt') return file(settings.jwt_file, 'auth.jwt_file');
  if (settings.method === 'kubernetes' && settings.jwt_file !== KUBERNETES_JWT_FILE) return file(settings.jwt_file, 'auth.jwt_file');
  return [];
}

function absolute(path: string, dir: string): string {
  return isAbsolute(path) ? path : resolve(dir, path);
}

/** A token and what secretrun knows of its life. Held (context.hold) when it came from a login. */
export interface TokenState {
  kind: 'token';
  token: string;
  endpoint: VaultEndpoint;
  /** Obtained by a login (secretrun may renew and revoke it), as opposed to given. */
  fromLogin: boolean;
  /** Found by secretrun itself (parent environment, ~/.vault-token, a login), not taken from a layer's keys. */
  found: boolean;
  renewable: boolean;
  /** Epoch ms of the last login or renewal, and the TTL it granted (0: none, e.g. a root token). */
  renewedAt: number;
  ttlMs: number;
  /** The layers' label, for warnings. */
  layer: string;
  /**
   * Who reads with this token, for the per-resolution read memo (read.ts `readKv`): a digest of the login's session
   * key (address, namespace, auth settings), or of the given token. Two layers, or a layer and `ref+vault`, with one
   * identity share a read; never a credential in clear.
   */
  identity: string;
  revoked?: boolean;
  /** Log in again (after a 403 on an expired login token). */
  relogin?: () => Promise<void>;
}

interface SessionLogin {
  promise: Promise<TokenState>;
}

/**
 * The token for these settings, logging in once per session. `tokenFromLayer`: the `auth.token` text came from an
 * earlier layer's keys (then the token is not one secretrun found, and may go where that layer says).
 */
export async function obtainToken(endpoint: VaultEndpoint, settings: AuthSettings, context: SourceContext, tokenFromLayer: boolean): Promise<{ state: TokenState; fresh: boolean }> {
  if (settings.method === 'token') return { state: givenToken(endpoint, settings, context, tokenFromLayer), fresh: false };
  const key = `vault-login\0${endpoint.address}\0${endpoint.namespace ?? ''}\0${JSON.stringify(settings)}`;
  const session = context.session;
  const known = session?.get(key) as SessionLogin | undefined;
  if (known) return { state: await known.promise, fresh: false };
  const state: TokenState = { kind: 'token', token: '', endpoint, fromLogin: true, found: true, renewable: false, renewedAt: 0, ttlMs: 0, layer: context.layer, identity: digest(key) };
  const loginOnce = async () => {
    const auth = await login(endpoint, settings, context);
    state.token = auth.token;
    state.renewable = auth.renewable;
    state.ttlMs = auth.ttlMs;
    state.renewedAt = Date.now();
  };
  state.relogin = loginOnce;
  const promise = loginOnce().then(() => state);
  session?.set(key, { promise } satisfies SessionLogin);
  try {
    return { state: await promise, fresh: true };
  } catch (err) {
    session?.delete(key);
    throw err;
  }
}

function givenToken(endpoint: VaultEndpoint, settings: Extract<AuthSettings, { method: 'token' }>, context: SourceContext, fromLayer: boolean): TokenState {
  let token = settings.token;
  let found = !fromLayer;
  if (token === undefined) {
    token = context.env.VAULT_TOKEN || undefined;
    found = true;
  }
  if (token === undefined) {
    const home = context.env.HOME;
    if (home) {
      try {
        token = readFileSync(join(home, '.vault-token'), 'utf8').trim() || undefined;
      } catch {
        token = undefined;
      }
    }
  }
  if (token === undefined) throw new SourceError('no Vault token: set VAULT_TOKEN, log in with `vault login` (~/.vault-token), or give the layer an `auth:` method');
  token = token.trim();
  context.secret(token);
  return { kind: 'token', token, endpoint, fromLogin: false, found, renewable: false, renewedAt: Date.now(), ttlMs: 0, layer: context.layer, identity: digest(`vault-given\0${token}`) };
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}

interface LoginResult {
  token: string;
  renewable: boolean;
  ttlMs: number;
}

/** Read a token, secret-id or JWT file, trimmed as the Vault CLI does; its text joins the redaction net. */
function readCredentialFile(path: string, configDir: string, role: string, context: SourceContext): string {
  let text: string;
  try {
    text = readFileSync(absolute(path, configDir), 'utf8').trim();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SourceError(`${role} ${path}: ${code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : `cannot read it (${code ?? 'error'})`}`);
  }
  if (text === '') throw new SourceError(`${role} ${path}: the file is empty`);
  context.secret(text);
  return text;
}

/** Secret ids unwrapped from a wrapping token, kept in memory for later logins (a wrapping token works once). */
const UNWRAPPED = 'vault-unwrapped\0';

async function approleSecretId(endpoint: VaultEndpoint, settings: Extract<AuthSettings, { method: 'approle' }>, context: SourceContext): Promise<string> {
  const given = settings.secret_id ?? readCredentialFile(settings.secret_id_file!, context.configDir, 'auth.secret_id_file', context);
  context.secret(given);
  if (!settings.wrapped) return given;
  const memoKey = `${UNWRAPPED}${endpoint.address}\0${endpoint.namespace ?? ''}\0${given}`;
  const memo = context.session?.get(memoKey) as Promise<string> | undefined;
  if (memo) return memo;
  const unwrap = (async () => {
    const lookup = await vaultRequest(endpoint, 'POST', 'sys/wrapping/lookup', { body: { token: given } });
    if (lookup.status !== 200) throw new SourceError(`auth approle: the wrapped secret id is not a valid wrapping token (it was used, expired, or never existed: HTTP ${lookup.status} from sys/wrapping/lookup)`);
    const creationPath = String(dataOf(lookup)?.creation_path ?? '');
    const role = settings.role_name ? escapeRegExp(settings.role_name) : '[^/]+';
    if (!new RegExp(`^auth/${escapeRegExp(settings.mount)}/role/${role}/secret-id$`).test(creationPath)) {
      throw new SourceError(`auth approle: the wrapping token was not created by auth/${settings.mount}/role/${settings.role_name ?? '<role>'}/secret-id; refusing to unwrap it (it may have been tampered with)`);
    }
    const unwrapped = await vaultRequest(endpoint, 'POST', 'sys/wrapping/unwrap', { token: given });
    const secretId = dataOf(unwrapped)?.secret_id;
    if (unwrapped.status !== 200 || typeof secretId !== 'string' || secretId === '') throw new SourceError(`auth approle: unwrapping the secret id failed (HTTP ${unwrapped.status} from sys/wrapping/unwrap)`);
    context.secret(secretId);
    return secretId;
  })();
  context.session?.set(memoKey, unwrap);
  unwrap.catch(() => context.session?.delete(memoKey));
  return unwrap;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function login(endpoint: VaultEndpoint, settings: Exclude<AuthSettings, { method: 'token' }>, context: SourceContext): Promise<LoginResult> {
  let body: Record<string, unknown>;
  switch (settings.method) {
    case 'approle':
      body = { role_id: settings.role_id, secret_id: await approleSecretId(endpoint, settings, context) };
      break;
    case 'kubernetes':
      body = { role: settings.role, jwt: readCredentialFile(settings.jwt_file, context.configDir, 'auth.jwt_file', context) };
      break;
    case 'jwt': {
      const jwt = settings.jwt ?? readCredentialFile(settings.jwt_file!, context.configDir, 'auth.jwt_file', context);
      context.secret(jwt);
      body = { role: settings.role, jwt };
      break;
    }
    case 'aws': {
      const { awsLoginBody } = await import('./aws-login.js');
      body = { role: settings.role, ...(await awsLoginBody(settings, context)) };
      break;
    }
  }
  const answer = await vaultRequest(endpoint, 'POST', `auth/${settings.mount}/login`, { body });
  const auth = answer.json?.auth as { client_token?: unknown; lease_duration?: unknown; renewable?: unknown } | undefined;
  if (answer.status !== 200 || typeof auth?.client_token !== 'string') {
    const why = answer.status === 400 ? 'the login was refused (HTTP 400: wrong role or credentials)' : answer.status === 403 ? 'permission denied (HTTP 403)' : answer.status === 404 || answer.status === 405 ? `no auth method at auth/${settings.mount} (HTTP ${answer.status})` : `HTTP ${answer.status}`;
    throw new SourceError(`auth ${settings.method} at auth/${settings.mount}/login: ${why}`);
  }
  context.secret(auth.client_token);
  return { token: auth.client_token, renewable: auth.renewable === true, ttlMs: typeof auth.lease_duration === 'number' ? auth.lease_duration * 1000 : 0 };
}

/** Renew a login token (`auth/token/renew-self`); the TTL it grants is the next base. */
export async function renewToken(state: TokenState, signal: AbortSignal): Promise<void> {
  const answer = await vaultRequest({ ...state.endpoint, fetch: { ...state.endpoint.fetch, signal } }, 'POST', 'auth/token/renew-self', { token: state.token, body: {} });
  const auth = answer.json?.auth as { lease_duration?: unknown } | undefined;
  if (answer.status !== 200) throw new SourceError(`token renewal: HTTP ${answer.status} from auth/token/renew-self`);
  state.renewedAt = Date.now();
  state.ttlMs = typeof auth?.lease_duration === 'number' ? auth.lease_duration * 1000 : 0;
}

/** A given token's end (epoch ms) from `auth/token/lookup-self`, when it has a TTL and is not renewable; else undefined. */
export async function tokenEnd(state: TokenState, signal: AbortSignal): Promise<number | undefined> {
  const answer = await vaultRequest({ ...state.endpoint, fetch: { ...state.endpoint.fetch, signal, retries: 0 } }, 'GET', 'auth/token/lookup-self', { token: state.token });
  const data = answer.json?.data as { ttl?: unknown; renewable?: unknown } | undefined;
  if (answer.status !== 200 || typeof data?.ttl !== 'number' || data.ttl <= 0 || data.renewable === true) return undefined;
  return Date.now() + data.ttl * 1000;
}

export async function revokeToken(state: TokenState, signal: AbortSignal): Promise<void> {
  if (state.revoked || !state.fromLogin) return;
  const answer = await vaultRequest({ ...state.endpoint, fetch: { ...state.endpoint.fetch, signal, retries: 0 } }, 'POST', 'auth/token/revoke-self', { token: state.token });
  if (answer.status >= 300) throw new SourceError(`HTTP ${answer.status} from auth/token/revoke-self`);
  state.revoked = true;
}
