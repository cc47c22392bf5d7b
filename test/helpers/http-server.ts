/**
 * Real HTTP servers on 127.0.0.1 (port 0) for tests of remote layers, with faults injected on purpose:
 * status sequences, delays, Retry-After, a connection reset before or in the middle of the body, a server that
 * never answers, malformed JSON, huge bodies. Every request is logged with its method, path, query, headers and body.
 */
import { createServer, type IncomingHttpHeaders, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

export interface LoggedRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

/** What the server does with one request. */
export type Reply =
  | { status?: number; headers?: Record<string, string>; body?: string | Buffer; json?: unknown; delayMs?: number }
  /** Send headers announcing `length` bytes, write `partial`, then destroy the socket. */
  | { resetMidBody: { partial: string; length: number; headers?: Record<string, string> } }
  /** Destroy the socket without any response. */
  | { resetBeforeHeaders: true }
  /** Accept the request and never answer. */
  | { hang: true }
  /** Send headers at once, then one chunk every `everyMs` (a body that trickles in). */
  | { trickle: { chunks: string[]; everyMs: number } }
  /** Stream `bytes` bytes of `fill` with chunked encoding (no Content-Length), or with it when `declareLength`. */
  | { huge: { bytes: number; declareLength?: boolean; contentType?: string } };

export type Handler = (req: LoggedRequest) => Reply | Promise<Reply>;

export interface FakeServer {
  /** `http://127.0.0.1:<port>` (`https://` with `tls`) */
  origin: string;
  port: number;
  requests: LoggedRequest[];
  close(): Promise<void>;
}

/** `tls`: serve HTTPS with this PEM key and certificate chain (see test/helpers/test-ca.ts). */
export async function startServer(handler: Handler, opts: { tls?: { key: string; cert: string } } = {}): Promise<FakeServer> {
  const requests: LoggedRequest[] = [];
  const sockets = new Set<Socket>();
  const listener: RequestListener = (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const logged: LoggedRequest = {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      };
      requests.push(logged);
      Promise.resolve()
        .then(() => handler(logged))
        .then((reply) => send(res, reply))
        .catch((err) => {
          res.statusCode = 500;
          res.end(`test handler failed: ${String(err)}`);
        });
    });
  };
  const server: Server = opts.tls ? createHttpsServer(opts.tls, listener) : createServer(listener);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

async function send(res: ServerResponse, reply: Reply): Promise<void> {
  if ('hang' in reply) return;
  if ('resetBeforeHeaders' in reply) {
    res.socket?.destroy();
    return;
  }
  if ('resetMidBody' in reply) {
    const { partial, length, headers = {} } = reply.resetMidBody;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(length), ...headers });
    res.write(partial, () => setTimeout(() => res.socket?.destroy(), 20));
    return;
  }
  if ('trickle' in reply) {
    const { chunks, everyMs } = reply.trickle;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.flushHeaders();
    let i = 0;
    const timer = setInterval(() => {
      if (res.destroyed) return void clearInterval(timer);
      if (i < chunks.length) res.write(chunks[i++]);
      else {
        clearInterval(timer);
        res.end();
      }
    }, everyMs);
    return;
  }
  if ('huge' in reply) {
    const { bytes, declareLength, contentType = 'application/json' } = reply.huge;
    res.writeHead(200, { 'content-type': contentType, ...(declareLength ? { 'content-length': String(bytes) } : {}) });
    const chunk = Buffer.alloc(64 * 1024, 'a');
    let sent = 0;
    const pump = () => {
      while (sent < bytes && !res.destroyed) {
        const n = Math.min(chunk.length, bytes - sent);
        sent += n;
        if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void res.once('drain', pump);
      }
      if (!res.destroyed) res.end();
    };
    pump();
    return;
  }
  if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
  const headers: Record<string, string> = { ...reply.headers };
  let body: string | Buffer = reply.body ?? '';
  if (reply.json !== undefined) {
    body = JSON.stringify(reply.json);
    headers['content-type'] ??= 'application/json';
  }
  res.writeHead(reply.status ?? 200, headers);
  res.end(body);
}

/** Reply i to request i; the last reply repeats. */
export function sequence(...replies: Reply[]): Handler {
  let i = 0;
  return () => replies[Math.min(i++, replies.length - 1)];
}

// ---- a Doppler-compatible API ------------------------------------------------------------------------------

export interface DopplerConfig {
  project: string;
  config: string;
  secrets: Record<string, string>;
}

/**
 * `GET /v3/configs/config/secrets/download` as Doppler serves it: bearer auth, `project`/`config` selection
 * (a service token is bound to one config, so both may be omitted), the `secrets=A,B` filter, `format=json`.
 * `tokens` maps a token to what it may read: `service` tokens one config, `personal` tokens every config.
 */
export function dopplerHandler(opts: { configs: DopplerConfig[]; tokens: Record<string, { kind: 'service'; project: string; config: string } | { kind: 'personal' }> }): Handler {
  return (req) => {
    if (req.method !== 'GET' || req.path !== '/v3/configs/config/secrets/download') return { status: 404, json: { messages: ['Not found'], success: false } };
    const auth = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''));
    const grant = auth ? opts.tokens[auth[1]] : undefined;
    if (!grant) return { status: 401, json: { messages: ['Invalid Auth token'], success: false } };
    if (req.query.get('format') !== 'json') return { status: 400, json: { messages: ['format must be json in this fake'], success: false } };
    const project = req.query.get('project') ?? (grant.kind === 'service' ? grant.project : null);
    const config = req.query.get('config') ?? (grant.kind === 'service' ? grant.config : null);
    if (!project || !config) return { status: 400, json: { messages: ['project and config are required'], success: false } };
    if (grant.kind === 'service' && (grant.project !== project || grant.config !== config)) return { status: 403, json: { messages: ['token cannot read this config'], success: false } };
    const found = opts.configs.find((c) => c.project === project && c.config === config);
    if (!found) return { status: 404, json: { messages: ['Could not find requested config'], success: false } };
    const wanted = req.query.get('secrets');
    const names = wanted ? wanted.split(',') : Object.keys(found.secrets);
    return { json: Object.fromEntries(names.filter((n) => n in found.secrets).map((n) => [n, found.secrets[n]])) };
  };
}

// ---- a Vault-shaped KV v2 API ------------------------------------------------------------------------------

/** `GET /v1/<mount>/data/<path>` with `X-Vault-Token`, answering `{ data: { data: {...}, metadata: {...} } }`. */
export function vaultHandler(opts: { token: string; mount?: string; secrets: Record<string, Record<string, unknown>> }): Handler {
  const mount = opts.mount ?? 'secret';
  return (req) => {
    if (req.headers['x-vault-token'] !== opts.token) return { status: 403, json: { errors: ['permission denied'] } };
    const prefix = `/v1/${mount}/data/`;
    const data = req.path.startsWith(prefix) ? opts.secrets[req.path.slice(prefix.length)] : undefined;
    if (!data) return { status: 404, json: { errors: [] } };
    return {
      json: {
        request_id: '5e2e3e5d-0000-4000-8000-000000000000',
        lease_duration: 0,
        renewable: false,
        data: { data, metadata: { created_time: '2024-01-01T00:00:00Z', version: 3, destroyed: false } },
      },
    };
  };
}

// ---- test-file plumbing ------------------------------------------------------------------------------------

/** `serve(handler)` starts a server that is closed after the current test. Call at the top of a test file. */
export function useServers(afterEach: (fn: () => Promise<void>) => void): (handler: Handler) => Promise<FakeServer> {
  const servers = closeAfterEach(afterEach);
  return (handler) => servers.serve(startServer(handler));
}

type Closable = { close(): Promise<void> };

/** What a test file's tests start (fakes, servers: anything with `close()`), closed after each test. */
export interface Closing {
  push(...started: Closable[]): void;
  /** `started` once it has started, kept for closing: `const fake = await servers.serve(startFakeX())`. */
  serve<T extends Closable>(started: Promise<T>): Promise<T>;
}

export function closeAfterEach(afterEach: (fn: () => Promise<void>) => void): Closing {
  const open: Closable[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });
  return {
    push: (...started) => void open.push(...started),
    serve: async (started) => {
      const s = await started;
      open.push(s);
      return s;
    },
  };
}

/** The error a promise rejects with; fails the test if it resolves. */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}
