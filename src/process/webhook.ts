/**
 * `run --listen [HOST:]PORT`: an HTTP listener that is one more trigger of the watch engine.
 *
 * - `POST` on any path is a trigger, answered `202` before the re-resolve. With a signing secret, the request
 *   must carry `X-Doppler-Signature` or `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`
 *   (compared in constant time), else `401` and nothing happens. The body itself is advisory: it is never parsed.
 * - `GET /healthz` needs no signature and answers JSON without any value: `200` while a child runs, else `503`.
 * - Bodies over 64 KiB get `413`, other methods `405`; slow clients meet a request timeout.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SecretrunError, UsageError } from '../core/errors.js';
import { isLoopbackHost } from '../core/urls.js';
import type { Trigger, TriggerReason } from './watch-engine.js';

export const MAX_WEBHOOK_BODY_BYTES = 64 * 1024;
/** A client gets this long to send its whole request (headers and body). */
export const REQUEST_TIMEOUT_MS = 10_000;
export const HEADERS_TIMEOUT_MS = 5_000;
export const WEBHOOK_SECRET_VAR = 'SECRETRUN_WEBHOOK_SECRET';
const MAX_CONNECTIONS = 256;
/** The signature headers we accept, as Node spells them (lower case). */
const SIGNATURE_HEADERS = ['x-doppler-signature', 'x-hub-signature-256'];

export interface ListenAddress {
  host: string;
  port: number;
}

/** `8080`, `127.0.0.1:8080`, `0.0.0.0:8080`, `[::1]:8080`; the host defaults to 127.0.0.1. */
export function parseListen(text: string): ListenAddress {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[^:[\]]*):)?(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new UsageError(`--listen: expected [HOST:]PORT (e.g. 8080 or 0.0.0.0:8080), got "${text}"`);
  const host = m[1] ? m[1].replace(/^\[(.*)\]$/, '$1') : '127.0.0.1';
  return { host, port };
}

/** Loopback as the transport rule counts it (core/urls.ts), or 127.0.0.1 IPv4-mapped: reachable only from this machine. */
export function isLoopback(host: string): boolean {
  return isLoopbackHost(host) || host === '::ffff:127.0.0.1';
}

/** `http://127.0.0.1:8080`, `http://[::1]:8080`. */
export function listenUrl({ host, port }: ListenAddress): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Does any signature header carry the HMAC-SHA256 of `body` under `secret`? Constant time per comparison. */
export function verifySignature(secret: string, body: Buffer, headers: IncomingMessage['headers']): boolean {
  const expected = createHmac('sha256', secret).update(body).digest();
  let ok = false;
  for (const name of SIGNATURE_HEADERS) {
    const value = headers[name];
    const m = typeof value === 'string' ? /^sha256=([0-9a-fA-F]{64})$/.exec(value.trim()) : null;
    // Every present header is compared (no early exit), so timing says nothing about which one matched.
    if (m && timingSafeEqual(Buffer.from(m[1], 'hex'), expected)) ok = true;
  }
  return ok;
}

export interface Health {
  /** The running child's PID; undefined between a stop and the next start. */
  pid: number | undefined;
  lastCheck?: { at: Date; ok: boolean };
  keys: number;
}

export interface WebhookOptions {
  address: ListenAddress;
  /** The signing secret now (it may come from a layer and change on re-resolve); undefined: unsigned triggers. */
  secret(): string | undefined;
  health(): Health;
  /** Told the bound address once listening (port 0 picks one). */
  onListening?(url: string): void;
}

/** The listener as a trigger of the watch engine. `start` rejects if the address can't be bound. */
export function webhookTrigger<R>(opts: WebhookOptions): Trigger<R> {
  let request: (reason: TriggerReason) => void = () => {};
  const server = createServer(
    // Node checks the request deadlines every connectionsCheckingInterval (30 s by default): check each second.
    { requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: HEADERS_TIMEOUT_MS, keepAliveTimeout: 5_000, connectionsCheckingInterval: 1_000 },
    (req, res) => handle(req, res),
  );
  // Beyond this many open sockets, new connections are closed at once: a flood cannot exhaust file descriptors.
  server.maxConnections = MAX_CONNECTIONS;

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) return healthz(req, res);
    if (req.method !== 'POST') {
      req.resume();
      return reply(res, 405, { error: 'method not allowed' }, { allow: path === '/healthz' ? 'GET, HEAD, POST' : 'POST' });
    }
    const declared = Number(req.headers['content-length']);
    if (declared > MAX_WEBHOOK_BODY_BYTES) return tooLarge(req, res);
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > MAX_WEBHOOK_BODY_BYTES) {
        refused = true;
        return tooLarge(req, res);
      }
      chunks.push(chunk);
    });
    req.on('error', () => {});
    req.on('end', () => {
      if (refused) return;
      const secret = opts.secret();
      if (secret !== undefined && !verifySignature(secret, Buffer.concat(chunks, size), req.headers)) {
        return reply(res, 401, { error: 'missing or invalid signature (X-Doppler-Signature or X-Hub-Signature-256)' });
      }
      reply(res, 202, { accepted: true });
      request('webhook');
    });
  }

  function tooLarge(req: IncomingMessage, res: ServerResponse): void {
    reply(res, 413, { error: `body larger than ${MAX_WEBHOOK_BODY_BYTES / 1024} KiB` }, { connection: 'close' });
    // Read and drop the rest, so the client sees the answer rather than a reset; the request timeout bounds it.
    req.resume();
  }

  function healthz(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    const h = opts.health();
    const body = {
      status: h.pid === undefined ? 'stopped' : 'running',
      pid: h.pid ?? null,
      lastCheck: h.lastCheck ? { at: h.lastCheck.at.toISOString(), ok: h.lastCheck.ok } : null,
      keys: h.keys,
    };
    reply(res, h.pid === undefined ? 503 : 200, body);
  }

  return {
    start(r) {
      request = r;
      return new Promise<void>((resolve, reject) => {
        const onError = (err: NodeJS.ErrnoException) => {
          reject(new SecretrunError(`--listen: cannot listen on ${listenUrl(opts.address)}: ${err.code === 'EADDRINUSE' ? 'address in use' : err.code === 'EACCES' ? 'permission denied' : err.code === 'EADDRNOTAVAIL' ? 'no such local address' : 'error'} (${err.code ?? 'unknown'})`));
        };
        server.once('error', onError);
        server.listen(opts.address.port, opts.address.host, () => {
          server.removeListener('error', onError);
          // A listener error later (rare) must not crash the watcher: the poll and the child go on.
          server.on('error', () => {});
          server.unref();
          const { port } = server.address() as AddressInfo;
          opts.onListening?.(listenUrl({ host: opts.address.host, port }));
          resolve();
        });
      });
    },
    close() {
      request = () => {};
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), 'cache-control': 'no-store', ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}
