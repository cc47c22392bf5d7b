/**
 * Reading a `vault` layer: the mount and its KV version (detected once per mount and session), the secrets under
 * `path`/`paths` (LIST at every level with `recursive`), their fields as keys, and the lease of a secret that is not
 * KV (a dynamic credential), reused while it holds.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { NotFoundError, SourceError } from '../../core/errors.js';
import { structuredToEnv } from '../../formats/parse.js';
import { readKey, readOnce } from '../session.js';
import type { SourceContext } from '../types.js';
import { apiPathForMessage, dataOf, vaultRequest, type VaultAnswer, type VaultEndpoint } from './client.js';
import { revokeToken, renewToken, type TokenState } from './auth.js';

export interface ReadSettings {
  paths: string[];
  recursive: boolean;
  keyPath: boolean;
  version?: number;
  mount?: string;
  kv?: 1 | 2 | 'none';
  flatten?: string;
}

export interface MountInfo {
  mount: string;
  kv: 1 | 2 | 'none';
}

/** A dynamic secret's lease, held by the layer (context.hold) and driven by the descriptor's lease hooks. */
export interface LeaseState {
  kind: 'lease';
  id: string;
  path: string;
  token: TokenState;
  endpoint: VaultEndpoint;
  renewable: boolean;
  /** The TTL first granted, and the end of the lease as last known (epoch ms). */
  ttlMs: number;
  renewedAt: number;
  endsAt: number;
  /** A renewal granted less than asked: the max TTL is near, and `endsAt` is final. */
  capped: boolean;
  data: Record<string, unknown>;
  revoked?: boolean;
}

export function trimPath(path: string): string {
  return path.replace(/^\/+|\/+$/g, '');
}

// ---- mounts ---------------------------------------------------------------------------------------------------

async function detectMount(endpoint: VaultEndpoint, token: TokenState, path: string, context: SourceContext): Promise<MountInfo> {
  const answer = await authed(endpoint, token, 'GET', `sys/internal/ui/mounts/${path}`, {}, path);
  // An old Vault (before 0.10, no KV v2) has no such endpoint: KV v1, mounted at the first segment.
  if (answer.status === 404) return { mount: path.split('/')[0], kv: 1 };
  if (answer.status === 403) throw new SourceError(`permission denied (HTTP 403) finding the mount of ${apiPathForMessage(path)}`);
  const data = dataOf(answer);
  if (answer.status !== 200 || !data || typeof data.path !== 'string') throw new SourceError(`HTTP ${answer.status} finding the mount of ${apiPathForMessage(path)}`);
  const mount = trimPath(data.path);
  const options = data.options as { version?: unknown } | null | undefined;
  const kv = data.type === 'kv' || data.type === 'generic' ? (String(options?.version ?? '1') === '2' ? 2 : 1) : 'none';
  void context;
  return { mount, kv };
}

/** The mount of `path`, asked once per mount and session; concurrent layers on one first segment share the question. */
export async function mountOf(endpoint: VaultEndpoint, token: TokenState, path: string, settings: Pick<ReadSettings, 'mount' | 'kv'>, context: SourceContext): Promise<MountInfo> {
  if (settings.mount !== undefined && settings.kv !== undefined) return { mount: trimPath(settings.mount), kv: settings.kv };
  const base = `vault-mounts\0${endpoint.address}\0${endpoint.namespace ?? ''}`;
  const known = (context.session?.get(base) as MountInfo[] | undefined) ?? [];
  if (!context.session?.has(base)) context.session?.set(base, known);
  const match = () => known.filter((m) => path === m.mount || path.startsWith(`${m.mount}/`)).sort((a, b) => b.mount.length - a.mount.length)[0];
  const inflightKey = `${base}\0${path.split('/')[0]}`;
  let found = match();
  if (!found) {
    const pending = context.session?.get(inflightKey) as Promise<MountInfo> | undefined;
    if (pending) {
      await pending.catch(() => undefined);
      found = match();
    }
  }
  if (!found) {
    const asking = detectMount(endpoint, token, path, context);
    context.session?.set(inflightKey, asking);
    try {
      found = await asking;
      known.push(found);
    } finally {
      context.session?.delete(inflightKey);
    }
  }
  return { mount: settings.mount !== undefined ? trimPath(settings.mount) : found.mount, kv: settings.kv ?? found.kv };
}

// ---- requests with the token ---------------------------------------------------------------------------------

/**
 * A request with the layer's token. A 403 on a login token that has expired logs in again once (not a retry).
 * Transport failures are reworded with the path they were for.
 */
async function authed(endpoint: VaultEndpoint, token: TokenState, method: 'GET' | 'LIST', apiPath: string, query: Record<string, string>, shownPath: string): Promise<VaultAnswer> {
  const send = async () => {
    try {
      return await vaultRequest(endpoint, method, apiPath, { token: token.token, query });
    } catch (err) {
      if (err instanceof SourceError && !(err instanceof NotFoundError)) throw new SourceError(`${method === 'LIST' ? 'listing' : 'reading'} ${apiPathForMessage(shownPath)}: ${err.message}`);
      throw err;
    }
  };
  let answer = await send();
  if (answer.status === 403 && token.fromLogin && token.relogin && token.ttlMs > 0 && Date.now() >= token.renewedAt + token.ttlMs - 1000) {
    await token.relogin();
    answer = await send();
  }
  return answer;
}

function failure(answer: VaultAnswer, path: string, verb: string): Error {
  if (answer.status === 403) return new SourceError(`permission denied (HTTP 403) ${verb} ${apiPathForMessage(path)}`);
  if (answer.status === 404) {
    const metadata = (dataOf(answer)?.metadata ?? undefined) as { deletion_time?: unknown; destroyed?: unknown; version?: unknown } | undefined;
    if (metadata && (metadata.destroyed === true || (typeof metadata.deletion_time === 'string' && metadata.deletion_time !== ''))) {
      return new NotFoundError(`version ${typeof metadata.version === 'number' ? metadata.version : '?'} of ${apiPathForMessage(path)} is ${metadata.destroyed === true ? 'destroyed' : 'deleted'} (HTTP 404)`);
    }
    const hint = /(^|\/)data\//.test(path) ? ' (without data/? give the path as `vault kv get` takes it)' : '';
    return new NotFoundError(`no secret at ${apiPathForMessage(path)} (HTTP 404)${hint}`);
  }
  return new SourceError(`HTTP ${answer.status} ${verb} ${apiPathForMessage(path)}`);
}

// ---- reading -----------------------------------------------------------------------------------------------------

interface Secret {
  /** As the user names it: `secret/app/db`. */
  path: string;
  /** Below the layer's `path`, for `key_path`: `db`. */
  relative: string;
  data: Record<string, unknown>;
}

/** Every secret path under `folder` (relative to the mount), LIST at every level. */
async function listAll(endpoint: VaultEndpoint, token: TokenState, info: MountInfo, folder: string, context: SourceContext): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    context.signal.throwIfAborted();
    const apiPath = info.kv === 2 ? join2(info.mount, 'metadata', rel) : join2(info.mount, rel);
    const answer = await authed(endpoint, token, 'LIST', apiPath, {}, join2(info.mount, rel));
    if (answer.status === 404) return; // an empty folder
    if (answer.status !== 200) throw failure(answer, join2(info.mount, rel), 'listing');
    const keys = (dataOf(answer)?.keys ?? []) as unknown[];
    const folders: string[] = [];
    for (const key of keys) {
      if (typeof key !== 'string' || key === '') continue;
      const child = rel === '' ? key : `${rel.replace(/\/+$/, '')}/${key}`;
      if (key.endsWith('/')) folders.push(child);
      else out.push(child);
    }
    for (const f of folders) await walk(f);
  };
  await walk(folder);
  return out;
}

function join2(...parts: string[]): string {
  return parts.map(trimPath).filter((p) => p !== '').join('/');
}

/**
 * One KV secret's data (v1, or v2 latest or `version`). Once per resolution (`context.reads`), whichever layer
 * (`path`, `paths`, a `recursive` walk) or `ref+vault` asks, a 404 or a refusal included; each caller gets its own
 * copy of the data (turning fields into keys converts them in place). The key: address, namespace, TLS settings,
 * the token's identity (its login, or the given token), the mount, its KV version, the path and the version. A
 * leased (dynamic) secret never comes here: each read of one mints a credential and a lease (`readLeased`), and
 * `check --resolve` asks `sys/capabilities-self` about it instead of reading, so no "verified, unread" answer
 * can meet a real read in the memo. A KV read is the same read in `check --resolve` as in a run.
 */
export async function readKv(endpoint: VaultEndpoint, token: TokenState, info: MountInfo, rel: string, version: number | undefined, context: Pick<SourceContext, 'reads'>): Promise<Record<string, unknown>> {
  const key = readKey('vault-kv', endpoint.address, endpoint.namespace, endpoint.transport, token.identity, info.mount, info.kv, rel, version);
  return structuredClone(await readOnce(context, key, () => readKvOnce(endpoint, token, info, rel, version)));
}

async function readKvOnce(endpoint: VaultEndpoint, token: TokenState, info: MountInfo, rel: string, version: number | undefined): Promise<Record<string, unknown>> {
  const shown = join2(info.mount, rel);
  if (info.kv === 2) {
    const answer = await authed(endpoint, token, 'GET', join2(info.mount, 'data', rel), version !== undefined ? { version: String(version) } : {}, shown);
    if (answer.status !== 200) throw failure(answer, shown, 'reading');
    const inner = dataOf(answer)?.data;
    if (inner === null || typeof inner !== 'object' || Array.isArray(inner)) throw new SourceError(`${apiPathForMessage(shown)}: the answer holds no KV v2 data (is the mount KV v1? set \`kv: 1\`)`);
    return inner as Record<string, unknown>;
  }
  const answer = await authed(endpoint, token, 'GET', shown, {}, shown);
  if (answer.status !== 200) throw failure(answer, shown, 'reading');
  return dataOf(answer) ?? {};
}

export interface ReadOutcome {
  keys: Record<string, string>;
  leases: LeaseState[];
}

/** Read the layer's secrets and turn them into keys. `reuse`: a lease still good from an earlier resolution. */
export async function readLayer(endpoint: VaultEndpoint, token: TokenState, settings: ReadSettings, context: SourceContext, reuse: (path: string) => LeaseState | undefined): Promise<ReadOutcome & { reused: LeaseState[]; leasedKeys: string[] }> {
  const secrets: Secret[] = [];
  const leased = new Set<Secret>();
  const leases: LeaseState[] = [];
  const reused: LeaseState[] = [];
  for (const rawPath of settings.paths) {
    const path = trimPath(rawPath);
    const info = await mountOf(endpoint, token, path, settings, context);
    const rel = path === info.mount ? '' : path.slice(info.mount.length + 1);
    if (info.kv === 'none') {
      if (settings.recursive) throw new SourceError(`${apiPathForMessage(path)}: \`recursive\` needs a KV mount (${info.mount} is not one)`);
      // `check --resolve`: reading would mint a credential and a lease; ask what the token may do instead.
      if (context.checking) {
        await checkCapabilities(endpoint, token, path);
        continue;
      }
      const kept = reuse(path);
      if (kept) {
        reused.push(kept);
        secrets.push({ path, relative: lastSegment(path), data: kept.data });
        leased.add(secrets[secrets.length - 1]);
        continue;
      }
      // Never through the read memo (`readKv`): each read mints a credential and a lease, so a reference or
      // another layer naming this path reads its own; only a lease kept from an earlier resolution is reused.
      const lease = await readLeased(endpoint, token, path);
      if (lease.id !== '') leases.push(lease);
      secrets.push({ path, relative: lastSegment(path), data: lease.data });
      leased.add(secrets[secrets.length - 1]);
      continue;
    }
    if (settings.recursive) {
      for (const child of await listAll(endpoint, token, info, rel, context)) {
        const relative = rel === '' ? child : child.slice(rel.replace(/\/+$/, '').length + 1);
        secrets.push({ path: join2(info.mount, child), relative, data: await readKv(endpoint, token, info, child, undefined, context) });
      }
      continue;
    }
    secrets.push({ path, relative: settings.paths.length > 1 ? lastSegment(path) : '', data: await readKv(endpoint, token, info, rel, settings.version, context) });
  }
  // The keys of dynamic secrets are new on every read (`diff` compares them by presence).
  const dynamic = secrets.filter((x) => leased.has(x));
  return { keys: secretsToKeys(secrets, settings), leases, reused, leasedKeys: dynamic.length > 0 ? Object.keys(secretsToKeys(dynamic, settings)) : [] };
}

/** `sys/capabilities-self`: may the token read `path`? (No lease, no credential.) A problem throws, naming the path. */
export async function checkCapabilities(endpoint: VaultEndpoint, token: TokenState, path: string): Promise<void> {
  let answer: VaultAnswer;
  try {
    answer = await vaultRequest(endpoint, 'POST', 'sys/capabilities-self', { token: token.token, body: { paths: [path] } });
  } catch (err) {
    if (err instanceof SourceError && !(err instanceof NotFoundError)) throw new SourceError(`checking access to ${apiPathForMessage(path)}: ${err.message}`);
    throw err;
  }
  if (answer.status !== 200) throw new SourceError(`HTTP ${answer.status} asking sys/capabilities-self about ${apiPathForMessage(path)}`);
  const json = answer.json ?? {};
  const data = dataOf(answer) ?? {};
  const found = [data[path], json[path], json.capabilities].find(Array.isArray) as unknown[] | undefined;
  if (!found || !found.some((c) => c === 'read' || c === 'root')) {
    throw new SourceError(`permission denied: the token may not read ${apiPathForMessage(path)} (sys/capabilities-self${found ? `: ${found.filter((c) => typeof c === 'string' && /^[a-z-]{1,20}$/.test(c)).join(', ') || 'none'}` : ''})`);
  }
}

function lastSegment(path: string): string {
  const parts = path.split('/');
  return parts[parts.length - 1];
}

export async function readLeased(endpoint: VaultEndpoint, token: TokenState, path: string): Promise<LeaseState> {
  const answer = await authed(endpoint, token, 'GET', path, {}, path);
  if (answer.status !== 200) throw failure(answer, path, 'reading');
  const json = answer.json ?? {};
  const data = dataOf(answer) ?? {};
  const ttlMs = typeof json.lease_duration === 'number' ? json.lease_duration * 1000 : 0;
  const now = Date.now();
  return {
    kind: 'lease',
    id: typeof json.lease_id === 'string' ? json.lease_id : '',
    path,
    token,
    endpoint,
    renewable: json.renewable === true,
    ttlMs,
    renewedAt: now,
    endsAt: now + ttlMs,
    capped: false,
    data,
  };
}

/** Fields → keys; a key in two secrets is an error naming both paths, unless `key_path` prefixes each. */
export function secretsToKeys(secrets: readonly Secret[], settings: Pick<ReadSettings, 'keyPath' | 'flatten'>): Record<string, string> {
  const out: Record<string, string> = {};
  const from = new Map<string, string>();
  for (const secret of secrets) {
    const fields = structuredToEnv(secret.data, { flatten: settings.flatten, origin: secret.path });
    const prefix = settings.keyPath && secret.relative !== '' ? `${secret.relative.replace(/[^A-Za-z0-9_]/g, '_')}_` : '';
    for (const [field, value] of Object.entries(fields)) {
      let key = prefix + field;
      if (/^[0-9]/.test(key)) key = `_${key}`;
      const earlier = from.get(key);
      if (earlier !== undefined) throw new SourceError(`${apiPathForMessage(earlier)} and ${apiPathForMessage(secret.path)} both have the key ${JSON.stringify(key)}; set \`key_path: true\` to prefix each key with its secret's path`);
      from.set(key, secret.path);
      out[key] = value;
    }
  }
  return out;
}

// ---- leases ------------------------------------------------------------------------------------------------------

/** Renew at about two thirds of the TTL (contract, Leases). */
export function renewInstant(lastMs: number, ttlMs: number): number {
  return lastMs + Math.round((ttlMs * 2) / 3);
}

export async function renewLease(lease: LeaseState, signal: AbortSignal): Promise<void> {
  const increment = Math.max(1, Math.round(lease.ttlMs / 1000));
  const answer = await vaultRequest({ ...lease.endpoint, fetch: { ...lease.endpoint.fetch, signal } }, 'PUT', 'sys/leases/renew', { token: lease.token.token, body: { lease_id: lease.id, increment } });
  if (answer.status !== 200) throw new SourceError(`lease renewal of ${apiPathForMessage(lease.path)}: HTTP ${answer.status}`);
  const granted = typeof answer.json?.lease_duration === 'number' ? answer.json.lease_duration : 0;
  lease.renewedAt = Date.now();
  lease.endsAt = lease.renewedAt + granted * 1000;
  if (granted < increment) lease.capped = true;
}

export async function revokeLease(lease: LeaseState, signal: AbortSignal): Promise<void> {
  if (lease.revoked) return;
  const answer = await vaultRequest({ ...lease.endpoint, fetch: { ...lease.endpoint.fetch, signal, retries: 0 } }, 'PUT', 'sys/leases/revoke', { token: lease.token.token, body: { lease_id: lease.id } });
  if (answer.status === 403) throw new SourceError(`revoking the lease of ${apiPathForMessage(lease.path)}: permission denied (HTTP 403; sys/leases/revoke needs "update", which Vault's default policy lacks)`);
  if (answer.status >= 300) throw new SourceError(`revoking the lease of ${apiPathForMessage(lease.path)}: HTTP ${answer.status}`);
  lease.revoked = true;
}

/** When a lease must be replaced by a fresh read: before its final end, with a third of its TTL to spare. */
export function leaseRefreshAt(lease: LeaseState): number | undefined {
  if (lease.revoked) return undefined;
  if (lease.renewable && !lease.capped) return undefined;
  return lease.endsAt - Math.max(1000, Math.round(lease.ttlMs / 3));
}

export { renewToken, revokeToken };

// ---- TLS ---------------------------------------------------------------------------------------------------------

export interface TlsSettings {
  ca_cert?: string;
  ca_path?: string;
  client_cert?: string;
  client_key?: string;
  tls_server_name?: string;
  skip_verify: boolean;
}

/**
 * The TLS settings' undici Agent (one per settings and session) and their fingerprint for the read memo's key
 * (`readKv`: reads over different TLS settings are never shared); both undefined when there are none.
 */
export async function tlsTransport(tls: TlsSettings, configDir: string, context: SourceContext): Promise<{ dispatcher?: unknown; transport?: string }> {
  const dispatcher = await tlsDispatcher(tls, configDir, context);
  return dispatcher ? { dispatcher, transport: JSON.stringify(tls) } : {};
}

/** An undici Agent with the layer's TLS settings, one per settings and session; undefined when there are none. */
async function tlsDispatcher(tls: TlsSettings, configDir: string, context: SourceContext): Promise<unknown> {
  if (!tls.ca_cert && !tls.ca_path && !tls.client_cert && !tls.client_key && !tls.tls_server_name && !tls.skip_verify) return undefined;
  const key = `vault-tls\0${configDir}\0${JSON.stringify(tls)}`;
  const known = context.session?.get(key);
  if (known) return known;
  const file = (p: string, role: string) => {
    try {
      return readFileSync(isAbsolute(p) ? p : resolve(configDir, p));
    } catch (err) {
      throw new SourceError(`${role} ${p}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : 'cannot read it'}`);
    }
  };
  const ca: Buffer[] = [];
  if (tls.ca_cert) ca.push(file(tls.ca_cert, 'ca_cert'));
  if (tls.ca_path) {
    const dir = isAbsolute(tls.ca_path) ? tls.ca_path : resolve(configDir, tls.ca_path);
    let names: string[];
    try {
      names = readdirSync(dir).filter((n) => /\.(pem|crt)$/i.test(n));
    } catch {
      throw new SourceError(`ca_path ${tls.ca_path}: cannot list the directory`);
    }
    for (const n of names) ca.push(file(join(dir, n), 'ca_path'));
  }
  if (!!tls.client_cert !== !!tls.client_key) throw new SourceError('`client_cert` and `client_key` go together: give both or neither');
  const connect: Record<string, unknown> = {};
  if (ca.length > 0) connect.ca = ca;
  if (tls.client_cert) connect.cert = file(tls.client_cert, 'client_cert');
  if (tls.client_key) connect.key = file(tls.client_key, 'client_key');
  if (tls.tls_server_name) connect.servername = tls.tls_server_name;
  if (tls.skip_verify) connect.rejectUnauthorized = false;
  const { undiciAgent } = await import('../net/undici.js');
  const agent = await undiciAgent({ connect });
  context.session?.set(key, agent);
  return agent;
}
