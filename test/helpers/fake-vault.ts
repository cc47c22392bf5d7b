/**
 * A fake HashiCorp Vault on 127.0.0.1, following the documented HTTP API v1 closely enough for secretrun's client
 * and an independent one (node-vault, test/vault-fake.test.ts) to agree on it:
 *
 * - KV v1 (`GET /v1/<mount>/<path>`, LIST) and KV v2 (`<mount>/data/<path>?version=N`, LIST on `<mount>/metadata/`),
 *   versions, soft-deleted versions answered 404 with the metadata in the body (as Vault does);
 * - `GET sys/internal/ui/mounts/<path>` (one mount's type and options; 404 everywhere in `oldServer` mode);
 * - logins: approle (plain and response-wrapped secret ids: `sys/wrapping/lookup`, `sys/wrapping/unwrap`),
 *   kubernetes, jwt, aws (IAM: the GetCallerIdentity request Vault would replay to STS, its SigV4 signature
 *   verified with @smithy/signature-v4 against the access key's secret, as STS would);
 * - tokens with TTL and max TTL (`auth/token/lookup-self`, `renew-self`, `revoke-self`); a token's expiry or
 *   revocation ends the leases read with it, as in Vault;
 * - dynamic (leased) secrets on other mounts, with TTL, max TTL and renewability; `sys/leases/renew`, `revoke`;
 *   `sys/capabilities-self`;
 * - namespaces (`X-Vault-Namespace`): each namespace has its own mounts and tokens;
 * - errors in Vault's shape `{"errors":[...]}`: 403 permission denied, 404, 503 sealed, 429 with Retry-After.
 *
 * Node's HTTP server refuses the `LIST` method (its parser knows a fixed set), so a thin socket layer in front
 * turns a `LIST <target>` request line into `GET <target>?list=true`, which Vault accepts too; the log records such
 * a request as `LIST`. The clock is the real one: TTLs are seconds.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { createHash, randomBytes } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256Js } from '@smithy/core/checksum';

export interface VaultRequest {
  /** `LIST` for a listing, whichever way it was sent. */
  method: string;
  /** The API path below `/v1/`, without the query. */
  path: string;
  query: URLSearchParams;
  namespace: string;
  token: string | undefined;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
  at: number;
}

export interface TokenRecord {
  token: string;
  namespace: string;
  /** Seconds; 0 = never expires (a root token). */
  ttl: number;
  maxTtl: number;
  renewable: boolean;
  createdAt: number;
  expiresAt: number;
  revoked: boolean;
  /** API paths (prefixes) this token may not use: answered 403. */
  deny: string[];
  /** Created by a login (as opposed to handed in by the test). */
  fromLogin?: string;
}

export interface LeaseRecord {
  id: string;
  path: string;
  token: string;
  namespace: string;
  ttl: number;
  issuedAt: number;
  expiresAt: number;
  maxExpiresAt: number;
  renewable: boolean;
  revoked: boolean;
  renewals: number;
}

interface Mount {
  type: 'kv' | 'database' | 'aws';
  kv?: 1 | 2;
  /** Path below the mount → versions (v1: one). A `null` data marks a soft-deleted version. */
  secrets: Map<string, { data: Record<string, unknown> | null; created: number }[]>;
  /** Dynamic paths below the mount → how to mint a credential. */
  dynamic: Map<string, DynamicSpec>;
}

export interface DynamicSpec {
  ttl: number;
  maxTtl: number;
  renewable?: boolean;
  /** Builds the credential; called once per read (so each read is a new "database user"). */
  make: (n: number) => Record<string, unknown>;
}

export interface LoginSpec {
  /** `approle`: role_id → secret_id. `kubernetes`/`jwt`: role → jwt. `aws`: role → allowed access key id. */
  roles: Record<string, string>;
  ttl?: number;
  maxTtl?: number;
  /** approle: the role's name, for the wrapped secret id's creation path. */
  roleName?: string;
  /** aws: the value `X-Vault-AWS-IAM-Server-ID` must carry, when set. */
  serverId?: string;
  /** aws: access key id → secret access key, to verify the signature with (a key not listed is refused). */
  secretKeys?: Record<string, string>;
  deny?: string[];
}

type Reply = { status: number; json?: unknown; headers?: Record<string, string> };

export interface FakeVault {
  origin: string;
  port: number;
  requests: VaultRequest[];
  tokens: Map<string, TokenRecord>;
  leases: Map<string, LeaseRecord>;
  /** Every TCP connection accepted (a trap server's assertion: zero). */
  connections: number;
  /** Answer 404 at `sys/internal/ui/mounts` (a Vault older than 0.10). */
  oldServer: boolean;
  sealed: boolean;
  /** `sys/leases/revoke` answers 403 (Vault's default policy lacks `update` on it). */
  denyLeaseRevoke: boolean;
  mountKv(mount: string, version: 1 | 2, namespace?: string): void;
  /** Write a KV secret (a new version on v2). */
  put(mount: string, path: string, data: Record<string, unknown>, namespace?: string): void;
  /** Soft-delete one version of a v2 secret. */
  deleteVersion(mount: string, path: string, version: number, namespace?: string): void;
  mountDynamic(mount: string, type: 'database' | 'aws', paths: Record<string, DynamicSpec>, namespace?: string): void;
  addToken(token: string, options?: { ttl?: number; maxTtl?: number; renewable?: boolean; deny?: string[]; namespace?: string }): TokenRecord;
  enableLogin(method: 'approle' | 'kubernetes' | 'jwt' | 'aws', spec: LoginSpec, options?: { mount?: string; namespace?: string }): void;
  /** A response-wrapping token holding `secret_id` for `creation_path`. */
  wrapSecretId(secretId: string, creationPath: string, ttl?: number): string;
  /** The next requests whose path starts with `prefix` get these answers first (one each). */
  script(prefix: string, ...replies: Reply[]): void;
  /** Live = not revoked, not expired, and the token that read it still lives. */
  leaseLive(id: string): boolean;
  tokenLive(token: string): boolean;
  close(): Promise<void>;
}

const errors = (status: number, ...messages: string[]): Reply => ({ status, json: { errors: messages } });
const DENIED = () => errors(403, 'permission denied');

type Hook = (fn: () => unknown) => void;

/**
 * A fresh fake Vault for every test of the calling file, closed after it; `ready` receives it first (keep it in the
 * file's own `let vault`, mount and seed it): `useFakeVault(beforeEach, afterEach, (v) => (vault = v))`.
 */
export function useFakeVault(beforeEachHook: Hook, afterEachHook: Hook, ready: (vault: FakeVault) => void): void {
  let current: FakeVault | undefined;
  beforeEachHook(async () => {
    current = await startFakeVault();
    ready(current);
  });
  afterEachHook(async () => {
    await current?.close();
    current = undefined;
  });
}

export async function startFakeVault(): Promise<FakeVault> {
  const mounts = new Map<string, Mount>(); // key: `${namespace}\0${mount}`
  const logins = new Map<string, { method: string; spec: LoginSpec }>(); // key: `${namespace}\0${mount}`
  const wrapped = new Map<string, { secretId: string; creationPath: string; expiresAt: number; used: boolean }>();
  const scripted: { prefix: string; reply: Reply }[] = [];
  const now = () => Date.now();
  let leaseCounter = 0;

  const fake: FakeVault = {
    origin: '',
    port: 0,
    requests: [],
    tokens: new Map(),
    leases: new Map(),
    connections: 0,
    oldServer: false,
    sealed: false,
    denyLeaseRevoke: false,
    mountKv(mount, version, namespace = '') {
      mounts.set(`${namespace}\0${mount}`, { type: 'kv', kv: version, secrets: new Map(), dynamic: new Map() });
    },
    put(mount, path, data, namespace = '') {
      const m = mounts.get(`${namespace}\0${mount}`);
      if (!m) throw new Error(`no mount ${mount}`);
      const versions = m.secrets.get(path) ?? [];
      const entry = { data, created: now() };
      if (m.kv === 1) versions.splice(0, versions.length, entry);
      else versions.push(entry);
      m.secrets.set(path, versions);
    },
    deleteVersion(mount, path, version, namespace = '') {
      const v = mounts.get(`${namespace}\0${mount}`)?.secrets.get(path)?.[version - 1];
      if (v) v.data = null;
    },
    mountDynamic(mount, type, paths, namespace = '') {
      mounts.set(`${namespace}\0${mount}`, { type, secrets: new Map(), dynamic: new Map(Object.entries(paths)) });
    },
    addToken(token, { ttl = 0, maxTtl = 0, renewable = ttl > 0, deny = [], namespace = '' } = {}) {
      const record: TokenRecord = { token, namespace, ttl, maxTtl, renewable, createdAt: now(), expiresAt: ttl > 0 ? now() + ttl * 1000 : Infinity, revoked: false, deny };
      fake.tokens.set(token, record);
      return record;
    },
    enableLogin(method, spec, { mount = method, namespace = '' } = {}) {
      logins.set(`${namespace}\0${mount}`, { method, spec });
    },
    wrapSecretId(secretId, creationPath, ttl = 300) {
      const token = `hvs.wrap${randomBytes(12).toString('hex')}`;
      wrapped.set(token, { secretId, creationPath, expiresAt: now() + ttl * 1000, used: false });
      return token;
    },
    script(prefix, ...replies) {
      for (const reply of replies) scripted.push({ prefix, reply });
    },
    leaseLive(id) {
      const l = fake.leases.get(id);
      return !!l && !l.revoked && now() < l.expiresAt && fake.tokenLive(l.token);
    },
    tokenLive(token) {
      const t = fake.tokens.get(token);
      return !!t && !t.revoked && now() < t.expiresAt;
    },
    close: async () => {},
  };

  function findMount(namespace: string, path: string): { name: string; mount: Mount; rest: string } | undefined {
    let best: { name: string; mount: Mount; rest: string } | undefined;
    for (const [key, mount] of mounts) {
      const [ns, name] = key.split('\0');
      if (ns !== namespace) continue;
      if ((path === name || path.startsWith(`${name}/`)) && (!best || name.length > best.name.length)) best = { name, mount, rest: path.slice(name.length + 1) };
    }
    return best;
  }

  function tokenFor(req: VaultRequest): TokenRecord | undefined {
    const t = req.token === undefined ? undefined : fake.tokens.get(req.token);
    if (!t || !fake.tokenLive(t.token) || t.namespace !== req.namespace) return undefined;
    return t;
  }

  function issueToken(namespace: string, spec: LoginSpec, method: string): Reply {
    const token = `hvs.${method}${randomBytes(12).toString('hex')}`;
    const ttl = spec.ttl ?? 3600;
    const record = fake.addToken(token, { ttl, maxTtl: spec.maxTtl ?? 0, deny: spec.deny, namespace });
    record.fromLogin = method;
    return { status: 200, json: { auth: { client_token: token, accessor: `acc.${token.slice(4, 12)}`, policies: ['default'], lease_duration: ttl, renewable: true, metadata: {} } } };
  }

  function login(req: VaultRequest, mountName: string): Reply | Promise<Reply> {
    const entry = logins.get(`${req.namespace}\0${mountName}`);
    if (!entry) return errors(400, `no handler for route "auth/${mountName}/login". route entry not found.`);
    const { method, spec } = entry;
    const b = req.body;
    if (method === 'approle') {
      const roleId = String(b.role_id ?? '');
      if (!(roleId in spec.roles) || spec.roles[roleId] !== b.secret_id) return errors(400, 'invalid role or secret ID');
    } else if (method === 'kubernetes' || method === 'jwt') {
      const role = String(b.role ?? '');
      if (!(role in spec.roles)) return errors(400, `role "${role}" could not be found`);
      if (spec.roles[role] !== b.jwt) return errors(403, 'permission denied');
    } else if (method === 'aws') {
      return awsLogin(b, spec).then((refused) => refused ?? issueToken(req.namespace, spec, method));
    }
    return issueToken(req.namespace, spec, method);
  }

  /** Vault's aws (IAM) login: the request it would replay to STS, checked as STS would; a refusal, or undefined. */
  async function awsLogin(b: Record<string, unknown>, spec: LoginSpec): Promise<Reply | undefined> {
    const role = String(b.role ?? '');
    if (!(role in spec.roles)) return errors(400, `entry for role ${role} not found`);
    const decode = (v: unknown) => Buffer.from(String(v ?? ''), 'base64').toString('utf8');
    let headers: Record<string, string | string[]>;
    try {
      headers = JSON.parse(decode(b.iam_request_headers));
    } catch {
      return errors(400, 'error parsing iam_request_headers');
    }
    const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
    const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), first(v)]));
    const auth = lower['authorization'] ?? '';
    const body = decode(b.iam_request_body);
    // STS's rule: the global endpoint takes us-east-1 signatures, a regional one its own region's.
    const host = lower['host'] ?? '';
    const hostRegion = host === 'sts.amazonaws.com' ? 'us-east-1' : /^sts\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(host)?.[1];
    const okShape =
      b.iam_http_request_method === 'POST' &&
      hostRegion !== undefined &&
      decode(b.iam_request_url) === `https://${host}/` &&
      auth.includes(`/${hostRegion}/sts/aws4_request,`) &&
      body === 'Action=GetCallerIdentity&Version=2011-06-15' &&
      auth.startsWith(`AWS4-HMAC-SHA256 Credential=${spec.roles[role]}/`) &&
      /SignedHeaders=[^,]*host/.test(auth) &&
      /Signature=[0-9a-f]{64}$/.test(auth);
    if (!okShape || !(await stsAccepts(lower, body, spec.secretKeys ?? {}))) return errors(400, 'error making upstream request');
    if (spec.serverId !== undefined && lower['x-vault-aws-iam-server-id'] !== spec.serverId || (spec.serverId !== undefined && !/SignedHeaders=[^,]*x-vault-aws-iam-server-id/.test(auth))) return errors(400, 'expected X-Vault-AWS-IAM-Server-ID header');
    return undefined;
  }

  function route(req: VaultRequest): Reply | Promise<Reply> {
    const path = req.path;
    if (fake.sealed) return errors(503, 'Vault is sealed');
    const scriptedAt = scripted.findIndex((s) => path.startsWith(s.prefix));
    if (scriptedAt >= 0) return scripted.splice(scriptedAt, 1)[0].reply;

    // Unauthenticated endpoints.
    const loginMatch = /^auth\/(.+)\/login$/.exec(path);
    if (loginMatch && loginMatch[1] !== 'token') return login(req, loginMatch[1]);
    if (path === 'sys/wrapping/lookup') {
      const w = wrapped.get(String(req.body.token ?? ''));
      if (!w || w.used || now() > w.expiresAt) return errors(400, 'wrapping token is not valid or does not exist');
      return { status: 200, json: { data: { creation_path: w.creationPath, creation_time: new Date().toISOString(), creation_ttl: 300 } } };
    }
    if (path === 'sys/wrapping/unwrap') {
      const id = typeof req.body.token === 'string' ? req.body.token : req.token ?? '';
      const w = wrapped.get(id);
      if (!w || w.used || now() > w.expiresAt) return errors(400, 'wrapping token is not valid or does not exist');
      w.used = true;
      return { status: 200, json: { data: { secret_id: w.secretId, secret_id_accessor: 'acc-wrapped', secret_id_ttl: 0 } } };
    }

    const token = tokenFor(req);
    if (!token) return DENIED();
    if (token.deny.some((p) => path.startsWith(p))) return DENIED();

    if (path.startsWith('sys/internal/ui/mounts/')) {
      if (fake.oldServer) return errors(404);
      const found = findMount(req.namespace, path.slice('sys/internal/ui/mounts/'.length));
      if (!found) return errors(403, `preflight capability check returned 403, please ensure client's policies grant access to path "${path.slice(23)}/"`);
      const { name, mount } = found;
      return { status: 200, json: { data: { path: `${name}/`, type: mount.type, options: mount.kv === 2 ? { version: '2' } : mount.kv === 1 ? { version: '1' } : null, description: '' } } };
    }
    if (path === 'auth/token/lookup-self') {
      const ttl = token.expiresAt === Infinity ? 0 : Math.max(0, Math.round((token.expiresAt - now()) / 1000));
      return { status: 200, json: { data: { ttl, renewable: token.renewable, creation_ttl: token.ttl, expire_time: token.expiresAt === Infinity ? null : new Date(token.expiresAt).toISOString() } } };
    }
    if (path === 'auth/token/renew-self') {
      if (!token.renewable) return errors(400, 'lease is not renewable');
      const increment = typeof req.body.increment === 'number' ? req.body.increment : token.ttl;
      let expires = now() + increment * 1000;
      if (token.maxTtl > 0) expires = Math.min(expires, token.createdAt + token.maxTtl * 1000);
      token.expiresAt = expires;
      return { status: 200, json: { auth: { client_token: token.token, lease_duration: Math.round((expires - now()) / 1000), renewable: true, policies: ['default'] } } };
    }
    if (path === 'auth/token/revoke-self') {
      token.revoked = true;
      return { status: 204 };
    }
    if (path === 'sys/leases/renew' || path === 'sys/renew') {
      const lease = fake.leases.get(String(req.body.lease_id ?? ''));
      if (!lease || !fake.leaseLive(lease.id)) return errors(400, 'lease not found');
      if (!lease.renewable) return errors(400, 'lease is not renewable');
      const increment = typeof req.body.increment === 'number' ? req.body.increment : lease.ttl;
      lease.expiresAt = Math.min(now() + increment * 1000, lease.maxExpiresAt);
      lease.renewals++;
      const left = Math.max(0, Math.round((lease.expiresAt - now()) / 1000));
      return { status: 200, json: { lease_id: lease.id, renewable: true, lease_duration: left, warnings: left < increment ? [`TTL of "${increment}s" exceeded the effective max_ttl`] : null } };
    }
    if (path === 'sys/leases/revoke' || path === 'sys/revoke') {
      if (fake.denyLeaseRevoke) return DENIED();
      const lease = fake.leases.get(String(req.body.lease_id ?? ''));
      if (lease) lease.revoked = true;
      return { status: 204 };
    }
    if (path === 'sys/capabilities-self') {
      const paths = Array.isArray(req.body.paths) ? (req.body.paths as string[]) : [];
      const out: Record<string, unknown> = {};
      for (const p of paths) out[p] = token.deny.some((d) => p.startsWith(d)) ? ['deny'] : ['read', 'list'];
      return { status: 200, json: { ...out, capabilities: paths.length === 1 ? out[paths[0]] : [], data: out } };
    }

    const found = findMount(req.namespace, path);
    if (!found) return errors(404, `no handler for route "${path}". route entry not found.`);
    const { mount, rest } = found;
    const listing = req.method === 'LIST';
    if (mount.type === 'kv' && mount.kv === 1) return listing ? list(mount, rest) : readV1(mount, rest);
    if (mount.type === 'kv') {
      if (listing && rest.startsWith('metadata/')) return list(mount, rest.slice('metadata/'.length));
      if (listing && rest === 'metadata') return list(mount, '');
      if (!listing && rest.startsWith('data/')) return readV2(mount, rest.slice(5), req.query.get('version'));
      return errors(404);
    }
    const spec = mount.dynamic.get(rest);
    if (!spec || listing) return errors(404);
    const id = `${path}/${(++leaseCounter).toString().padStart(4, '0')}${randomBytes(6).toString('hex')}`;
    const issuedAt = now();
    const lease: LeaseRecord = {
      id, path, token: token.token, namespace: req.namespace, ttl: spec.ttl, issuedAt, renewals: 0,
      expiresAt: issuedAt + Math.min(spec.ttl, spec.maxTtl) * 1000, maxExpiresAt: issuedAt + spec.maxTtl * 1000,
      renewable: spec.renewable ?? true, revoked: false,
    };
    fake.leases.set(id, lease);
    return { status: 200, json: { request_id: randomBytes(8).toString('hex'), lease_id: id, renewable: lease.renewable, lease_duration: Math.min(spec.ttl, spec.maxTtl), data: spec.make(leaseCounter), wrap_info: null, warnings: null, auth: null } };
  }

  function readV1(mount: Mount, rest: string): Reply {
    const v = mount.secrets.get(rest)?.[0];
    if (!v?.data) return errors(404);
    return { status: 200, json: { request_id: 'r', lease_id: '', renewable: false, lease_duration: 2764800, data: v.data, wrap_info: null, warnings: null, auth: null } };
  }

  function readV2(mount: Mount, rest: string, versionParam: string | null): Reply {
    const versions = mount.secrets.get(rest);
    if (!versions || versions.length === 0) return errors(404);
    const n = versionParam && versionParam !== '0' ? Number(versionParam) : versions.length;
    const v = versions[n - 1];
    if (!v) return errors(404);
    const metadata = { created_time: new Date(v.created).toISOString(), custom_metadata: null, deletion_time: v.data ? '' : new Date().toISOString(), destroyed: false, version: n };
    // Vault answers a soft-deleted version 404, with the metadata in the body and no `errors`.
    if (!v.data) return { status: 404, json: { request_id: 'r', lease_id: '', renewable: false, lease_duration: 0, data: { data: null, metadata }, wrap_info: null, warnings: null, auth: null } };
    return { status: 200, json: { request_id: 'r', lease_id: '', renewable: false, lease_duration: 0, data: { data: v.data, metadata }, wrap_info: null, warnings: null, auth: null } };
  }

  function list(mount: Mount, folder: string): Reply {
    const base = folder === '' || folder.endsWith('/') ? folder : `${folder}/`;
    const keys = new Set<string>();
    for (const [path, versions] of mount.secrets) {
      if (!path.startsWith(base) || !versions.some((v) => v.data)) continue;
      const rest = path.slice(base.length);
      const slash = rest.indexOf('/');
      keys.add(slash < 0 ? rest : rest.slice(0, slash + 1));
    }
    if (keys.size === 0) return errors(404);
    return { status: 200, json: { request_id: 'r', lease_id: '', renewable: false, lease_duration: 0, data: { keys: [...keys].sort() }, wrap_info: null, warnings: null, auth: null } };
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const text = Buffer.concat(chunks).toString('utf8');
      let body: Record<string, unknown> = {};
      try {
        body = text ? JSON.parse(text) : {};
      } catch {
        body = {};
      }
      const listing = req.method === 'LIST' || (req.method === 'GET' && url.searchParams.get('list') === 'true');
      const logged: VaultRequest = {
        method: listing ? 'LIST' : req.method ?? 'GET',
        path: url.pathname.replace(/^\/v1\//, '').replace(/\/+$/, ''),
        query: url.searchParams,
        namespace: String(req.headers['x-vault-namespace'] ?? '').replace(/^\/+|\/+$/g, ''),
        token: typeof req.headers['x-vault-token'] === 'string' ? req.headers['x-vault-token'] : undefined,
        headers: req.headers,
        body,
        at: now(),
      };
      fake.requests.push(logged);
      const send = (reply: Reply) => {
        const headers: Record<string, string> = { 'cache-control': 'no-store', ...reply.headers };
        if (reply.json !== undefined) headers['content-type'] = 'application/json';
        res.writeHead(reply.status, headers);
        res.end(reply.json === undefined ? undefined : JSON.stringify(reply.json));
      };
      const reply = url.pathname.startsWith('/v1/') ? route(logged) : errors(404);
      // Only a login that checks a signature answers later (the signer is async); the rest as before.
      if (reply instanceof Promise) void reply.then(send);
      else send(reply);
    });
  });

  const sockets = new Set<Socket>();
  const front = createNetServer((socket) => {
    fake.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    server.emit('connection', listRewriting(socket));
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  fake.port = (front.address() as AddressInfo).port;
  fake.origin = `http://127.0.0.1:${fake.port}`;
  fake.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close();
      front.close(() => resolve());
    });
  return fake;
}

/**
 * The socket as the HTTP server sees it, with a `LIST` request line rewritten to `GET ...?list=true` (at the start
 * of a chunk or after a blank line ending a body-less request, which is where a client's LIST request starts).
 */
function listRewriting(socket: Socket): Duplex {
  const duplex = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk, _encoding, callback) {
      socket.write(chunk, callback);
    },
    final(callback) {
      socket.end();
      callback();
    },
    destroy(err, callback) {
      socket.destroy();
      callback(err);
    },
  });
  socket.on('data', (chunk: Buffer) => {
    const text = chunk.toString('latin1').replace(/(^|\r\n\r\n)LIST ([^ \r\n]+) HTTP\//g, (_m, lead: string, target: string) => `${lead}GET ${target}${target.includes('?') ? '&' : '?'}list=true HTTP/`);
    if (!duplex.push(Buffer.from(text, 'latin1'))) socket.pause();
  });
  socket.on('end', () => duplex.push(null));
  socket.on('error', (err) => duplex.destroy(err));
  socket.on('close', () => duplex.destroy());
  return duplex;
}

/**
 * Whether STS would accept the signed request Vault replays: the `authorization` header is what
 * @smithy/signature-v4 (with its pure-JS SHA-256) computes for the headers it names, at its `x-amz-date`, with the
 * secret of its access key and the `x-amz-security-token` sent; a payload hash sent must be the body's.
 */
export async function stsAccepts(headers: Readonly<Record<string, string | undefined>>, body: string, secretKeys: Readonly<Record<string, string>>): Promise<boolean> {
  const auth = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=[0-9a-f]{64}$/.exec(headers.authorization ?? '');
  const date = /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/.exec(headers['x-amz-date'] ?? '');
  if (!auth || !date || !Object.hasOwn(secretKeys, auth[1])) return false;
  const [, accessKeyId, region, service, names] = auth;
  const hash = headers['x-amz-content-sha256'];
  if (hash !== undefined && hash !== createHash('sha256').update(body).digest('hex')) return false;
  const signedNames = names.split(';');
  if (signedNames.some((n) => headers[n] === undefined)) return false;
  const sessionToken = headers['x-amz-security-token'];
  const signer = new SignatureV4({ credentials: { accessKeyId, secretAccessKey: secretKeys[accessKeyId], ...(sessionToken !== undefined && { sessionToken }) }, region, service, sha256: Sha256Js });
  const signingDate = new Date(Date.UTC(+date[1], +date[2] - 1, +date[3], +date[4], +date[5], +date[6]));
  const request = { method: 'POST', protocol: 'https:', hostname: headers.host ?? '', path: '/', query: {}, headers: Object.fromEntries(signedNames.map((n) => [n, headers[n]!])), body };
  const signed = await signer.sign(request, { signingDate });
  return signed.headers.authorization === headers.authorization;
}
