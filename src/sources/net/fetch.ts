/**
 * One resilient HTTP fetch for every remote layer (doppler, http, and later others).
 *
 * - undici is loaded lazily: it is external to the bundle and costs ~140 ms, paid only when a remote layer runs.
 * - `timeout` covers a whole request (connect, headers and body); the retry policy is ./retry.ts: 429 and 503
 *   with `Retry-After` are throttling, retried until `deadline`; connection errors, 408 and other 5xx are retried
 *   at most `retries` times; a request without an answer in time on an accepted connection is waited for again
 *   (twice as long, one retry), a connection never established is tried again at `timeout`. `Retry-After` (seconds or an HTTP date)
 *   replaces the backoff, capped at RETRY_AFTER_CAP_MS. Requests to an origin that throttled are paced.
 * - 400, 401, 403, 404 and every other 4xx are final. 404 is a NotFoundError so `optional: true` can make it empty.
 * - Errors never quote a response body or a header value (either may hold a secret), and show a destination as
 *   `scheme://host:port` only (`displayUrl`, shown by construction).
 */
import { NotFoundError, SourceError, shown } from '../../core/errors.js';
import { loadUndiciRequest, type UndiciRequest } from './undici.js';
import { isLoopbackHost, urlForDisplay } from '../../core/urls.js';
import { credentialCarried, DEFAULT_DEADLINE_SECONDS, DEFAULT_RETRIES, DEFAULT_TIMEOUT_SECONDS } from '../descriptor.js';
import type { OptionSpecs } from '../../core/validate.js';
import type { SourceContext, SourceOptions } from '../types.js';
import { backoffMs, debugChannel, formatSeconds, GaveUp, pacerFor, parseRetryAfter, RETRY_AFTER_CAP_MS, throwIfCancelled, withRetries, type AttemptOutcome } from './retry.js';
import { mediaType } from './media-type.js';

export interface FetchRequest {
  url: string;
  /** Default GET. */
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface FetchOptions {
  /** Seconds per attempt (connect + headers + body). Default 10. */
  timeout?: number;
  /** Extra attempts after the first for timeouts and transient failures. Default 3. */
  retries?: number;
  /** Seconds within which throttled requests are retried. Default 120. */
  deadline?: number;
  /** Receives one line per retry (SECRETRUN_DEBUG=1). */
  debug?: (message: string) => void;
  /** Cancels the request in flight and any wait between attempts. */
  signal?: AbortSignal;
  /** Largest body accepted, in bytes. Default 10 MiB. */
  maxBytes?: number;
  /** What a 401/403 says was rejected, e.g. "the Doppler token". Default "the credentials". */
  credentialsName?: string;
  /**
   * Where that credential came from, for a 401/403 (./credential-origin.ts), e.g. `token DOPPLER_TOKEN from
   * layer "dotenv .env"`; never its value.
   */
  credentialOrigin?: string;
  /** Backoff base in ms (tests may lower it). Default 200. */
  backoffBaseMs?: number;
  /**
   * What credential the request carries, e.g. "the Doppler token" or "header Authorization"; undefined when it
   * carries none. A credential is never sent over plain http:// to a non-loopback host unless
   * `allowInsecureHttp` (the layer's `allow_insecure_http: true`).
   */
  carries?: string;
  allowInsecureHttp?: boolean;
  /** An undici dispatcher of the layer's own (an Agent with TLS options); default: the global one. */
  dispatcher?: unknown;
  /**
   * Final statuses (400, 401, 403, 404, ...) the caller reads itself: returned as a response, with at most 64 KiB of
   * body, instead of thrown. For APIs whose error answers carry a code the caller acts on (Google's
   * `FAILED_PRECONDITION`, Key Vault's challenge); the caller must build its messages from codes, never the text.
   */
  answers?: readonly number[];
}

export interface FetchResponse {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  text: string;
}

/**
 * The fetch options of a layer that talks HTTP (doppler, http): its `timeout`, `retries` and `deadline`, the run's
 * signal, debug channel and cache, and the transport rule (the credential its options make the request carry, as
 * `specs` declare them, and `allow_insecure_http`).
 */
export function layerFetchOptions(
  specs: OptionSpecs,
  options: SourceOptions & { timeout: number; retries: number; deadline: number; allow_insecure_http: boolean },
  context: SourceContext,
): FetchOptions & { cache?: Map<string, unknown> } {
  return { ...remoteLayerOptions(options, context), carries: credentialCarried(specs, options, context), cache: context.cache };
}

/** What every remote layer's requests take from it: its `timeout`/`retries`/`deadline`, signal, debug channel, escape. */
function remoteLayerOptions(
  options: { timeout: number; retries: number; deadline: number; allow_insecure_http: boolean },
  context: Pick<SourceContext, 'signal' | 'env' | 'layer'>,
): FetchOptions {
  return {
    timeout: options.timeout,
    retries: options.retries,
    deadline: options.deadline,
    signal: context.signal,
    debug: debugChannel(context.env, context.layer),
    allowInsecureHttp: options.allow_insecure_http,
  };
}

/**
 * The fetch options of a layer whose every request carries one credential it obtained itself (a Vault token, a
 * Google or Azure access token): the layer's `timeout`/`retries`/`deadline`, its debug channel and the transport rule.
 */
export function tokenFetchOptions(
  options: { timeout: number; retries: number; deadline: number; allow_insecure_http: boolean },
  context: Pick<SourceContext, 'signal' | 'env' | 'layer'>,
  credential: { carries: string; credentialsName?: string },
): FetchOptions {
  return { ...remoteLayerOptions(options, context), carries: credential.carries, credentialsName: credential.credentialsName ?? credential.carries };
}

export const MAX_BODY_BYTES = 10 * 1024 * 1024;
/** Of an error answer the caller reads (`answers`): enough for an API's error object, never more. */
const ERROR_BODY_BYTES = 64 * 1024;
const MAX_REDIRECTS = 5;

export async function fetchText(request: FetchRequest, opts: FetchOptions = {}): Promise<FetchResponse> {
  const url = checkUrl(request.url);
  checkTransport(url, opts);
  const undiciRequest = await loadUndiciRequest();

  let current: Required<FetchRequest> = { url: url.href, method: (request.method ?? 'GET').toUpperCase(), headers: request.headers ?? {}, body: request.body ?? '' };
  let redirects = 0;
  const attempt = async (signal: AbortSignal, connected: () => void): Promise<AttemptOutcome<FetchResponse>> => {
    for (;;) {
      const outcome = await attemptOnce(undiciRequest, current, signal, opts, connected);
      if (outcome.kind === 'failure') {
        const failure = new SourceError(outcome.message);
        return { ok: false, kind: outcome.unconnected ? 'unconnected' : outcome.retryable ? 'transient' : 'final', error: failure, describe: outcome.message };
      }
      const { status, headers } = outcome.response;
      if ((status >= 200 && status < 300) || opts.answers?.includes(status)) return { ok: true, value: outcome.response };
      // The answer to our If-None-Match (fetchKeys): unchanged since the ETag we sent.
      if (status === 304 && current.headers['if-none-match'] !== undefined) return { ok: true, value: outcome.response };
      const next = status >= 300 && status < 400 ? redirectTarget(current, outcome.response) : undefined;
      if (next) {
        // Following a redirect is not a failed attempt.
        if (++redirects > MAX_REDIRECTS) throw new SourceError(`too many redirects from ${displayUrl(request.url)}`);
        current = next;
        continue;
      }
      if (!isRetryableStatus(status)) return { ok: false, kind: 'final', error: finalStatusError(outcome.response, current.url, opts.credentialsName, opts.credentialOrigin), describe: statusText(outcome.response) };
      const retryAfterMs = parseRetryAfter(headers['retry-after']);
      const throttled = status === 429 || (status === 503 && retryAfterMs !== undefined);
      const describe = `${statusText(outcome.response)} from ${displayUrl(current.url)}`;
      return { ok: false, kind: throttled ? 'throttled' : 'transient', error: new SourceError(describe), describe, retryAfterMs };
    }
  };
  try {
    return await withRetries((a) => attempt(a.signal, a.connected), {
      timeoutMs: (opts.timeout ?? DEFAULT_TIMEOUT_SECONDS) * 1000,
      retries: opts.retries ?? DEFAULT_RETRIES,
      deadlineMs: (opts.deadline ?? DEFAULT_DEADLINE_SECONDS) * 1000,
      signal: opts.signal,
      pacer: pacerFor(url.origin),
      backoffBaseMs: opts.backoffBaseMs,
      debug: opts.debug,
      what: `${current.method} ${displayUrl(current.url)}`,
      onTimeout: (waitedMs) => {
        const describe = `no complete response from ${displayUrl(current.url)} within ${formatSeconds(waitedMs)}`;
        return { error: new SourceError(describe), describe };
      },
      onNoConnection: (waitedMs) => {
        const describe = `no connection to ${displayUrl(current.url)} within ${formatSeconds(waitedMs)}`;
        return { error: new SourceError(describe), describe };
      },
    });
  } catch (err) {
    if (err instanceof GaveUp) throw new SourceError(err.attempts > 1 || err.reason === 'deadline' ? `${err.last.describe} (${err.suffix})` : err.last.describe);
    throw err;
  }
}

/**
 * `fetchText`, then `parse`. Given a layer's cache (watch mode), the server's ETag is remembered with what its
 * answer parsed to; the next request carries `If-None-Match`, and a `304` returns that result without parsing.
 */
export async function fetchKeys(
  request: FetchRequest,
  opts: FetchOptions & { cache?: Map<string, unknown> },
  parse: (response: FetchResponse) => Record<string, string> | Promise<Record<string, string>>,
): Promise<Record<string, string>> {
  const { cache, ...fetchOptions } = opts;
  const id = cache && JSON.stringify([request.method ?? 'GET', request.url, request.headers ?? {}, request.body ?? '']);
  const known = id === undefined ? undefined : (cache!.get(id) as { etag: string; keys: Record<string, string> } | undefined);
  const headers = known ? { ...request.headers, 'if-none-match': known.etag } : request.headers;
  const response = await fetchText({ ...request, headers }, fetchOptions);
  if (response.status === 304 && known) return { ...known.keys };
  const keys = await parse(response);
  const etag = response.headers.etag;
  if (id !== undefined) {
    if (etag) cache!.set(id, { etag, keys: { ...keys } });
    else cache!.delete(id);
  }
  return keys;
}

/** The answer's JSON, or an error naming `what` and the status (never the text). */
export function jsonAnswer(response: FetchResponse, what: string): unknown {
  try {
    return JSON.parse(response.text);
  } catch {
    throw new SourceError(`${what}: the answer is not JSON (HTTP ${response.status})`);
  }
}

type Attempt =
  | { kind: 'response'; response: FetchResponse }
  | { kind: 'failure'; message: string; retryable: boolean; unconnected?: boolean };

/**
 * One request, abandoned when `signal` aborts (the retry policy gave up waiting, or the run was cancelled). Network
 * failures come back as values so the policy decides on retries.
 */
async function attemptOnce(undiciRequest: UndiciRequest, req: Required<FetchRequest>, signal: AbortSignal, opts: FetchOptions, onConnected: () => void): Promise<Attempt> {
  const where = displayUrl(req.url);
  let readingBody = false;
  try {
    const res = await undiciRequest(req.url, {
      method: req.method as 'GET',
      headers: req.headers,
      body: req.body === '' ? undefined : req.body,
      signal,
      ...(opts.dispatcher ? { dispatcher: opts.dispatcher as never } : {}),
      onConnected,
    });
    const headers = flattenHeaders(res.headers);
    if (opts.answers?.includes(res.statusCode)) {
      const bytes = await readCapped(res.body, undefined, ERROR_BODY_BYTES, where).catch(() => Buffer.alloc(0));
      return { kind: 'response', response: { status: res.statusCode, headers, text: bytes.toString('utf8') } };
    }
    if (res.statusCode < 200 || res.statusCode >= 300) {
      // Never read an error body into a message; drain a little so the connection can be reused.
      await res.body.dump({ limit: 64 * 1024 }).catch(() => {});
      return { kind: 'response', response: { status: res.statusCode, headers, text: '' } };
    }
    readingBody = true;
    const bytes = await readCapped(res.body, headers['content-length'], opts.maxBytes ?? MAX_BODY_BYTES, where);
    return { kind: 'response', response: { status: res.statusCode, headers, text: decodeUtf8(bytes, where) } };
  } catch (err) {
    throwIfCancelled(opts.signal);
    // Abandoned by the retry policy: nobody reads this outcome.
    if (signal.aborted) return { kind: 'failure', retryable: false, message: 'abandoned' };
    if (err instanceof SourceError) return { kind: 'failure', retryable: false, message: err.message };
    return describeNetworkError(err, req.url, readingBody);
  }
}

/** Read a body without ever holding more than `max` bytes: an oversized body stops the read, not the machine. */
type Body = AsyncIterable<Buffer> & { destroy(): void; on(event: 'error', listener: () => void): unknown };

async function readCapped(body: Body, declaredLength: string | undefined, max: number, where: string): Promise<Buffer> {
  const tooLarge = () => new SourceError(`response from ${where} is larger than ${formatBytes(max)}`);
  if (declaredLength !== undefined && Number(declaredLength) > max) {
    discard(body);
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (total > max) {
      discard(body);
      throw tooLarge();
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

/** Close the connection under a body we won't read; the abort error it emits is expected, so it is swallowed. */
function discard(body: Body): void {
  body.on('error', () => {});
  body.destroy();
}

function decodeUtf8(bytes: Buffer, where: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new SourceError(`response from ${where} is not valid UTF-8`);
  }
}

function formatBytes(n: number): string {
  return n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MiB` : `${n} bytes`;
}

function flattenHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value !== undefined) out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

// ---- URLs ---------------------------------------------------------------------------------------------------

function checkUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // Not even the host is shown: the text that failed to parse may be a password with a stray `/` or `@`.
    if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(raw)) throw new SourceError('invalid URL: it has no scheme (write it as https://HOST[:PORT]/...)');
    throw new SourceError('invalid URL (it does not parse after ${...} is filled in; a password in it must be percent-encoded)');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SourceError(`unsupported URL scheme "${url.protocol}" (only http: and https:)`);
  }
  return url;
}

/** A credential never travels over plain http:// beyond loopback, unless the layer allows it (contract, remote layers). */
export function checkTransport(url: URL, opts: Pick<FetchOptions, 'carries' | 'allowInsecureHttp'>): void {
  if (url.protocol !== 'http:' || !opts.carries || opts.allowInsecureHttp || isLoopbackHost(url.hostname)) return;
  throw new SourceError(
    `refusing to send ${opts.carries} over plain http:// to ${displayUrl(url.href)} (not loopback): use https://, or set allow_insecure_http: true on the layer for a trusted network`,
  );
}

/** Query parameter names whose values are credentials (`?token=`, `?api_key=`, `X-Amz-Signature`, ...). */
const CREDENTIAL_PARAM = /token|key|secret|pass|auth|sig|credential|session|jwt|bearer/i;

/**
 * The URL as shown in messages: scheme, host and port only. A path or query can carry a token interpolated from
 * anywhere (`/bot${TOKEN}/`), and the layer's label already shows the URL as written, with `${...}` unfilled.
 * The destination is shown by construction, wherever it came from (`DOPPLER_API_HOST`, `${VAULT_ADDR}`): the
 * redaction net never blanks it.
 */
export function displayUrl(raw: string): string {
  return shown(urlForDisplay(raw));
}

/** Values in a URL that must be treated as secrets: the userinfo password and credential-like query values. */
export function credentialsInUrl(raw: string): string[] {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return [];
  }
  const found = [...url.searchParams.entries()].filter(([name]) => CREDENTIAL_PARAM.test(name)).map(([, value]) => value);
  if (url.password) found.push(decodeURIComponent(url.password));
  return found.filter((v) => v !== '');
}

/**
 * Follow a redirect only within the same origin. A redirect to another host would carry the tokens in our headers
 * to a server the user never named, so it is refused rather than followed.
 */
function redirectTarget(current: Required<FetchRequest>, response: FetchResponse): Required<FetchRequest> | undefined {
  const location = response.headers.location;
  if (!location || ![301, 302, 303, 307, 308].includes(response.status)) return undefined;
  const target = new URL(location, current.url);
  if (target.origin !== new URL(current.url).origin) {
    throw new SourceError(`${displayUrl(current.url)} redirected to another origin (${target.origin}); use that URL directly`);
  }
  const keepMethod = response.status === 307 || response.status === 308 || current.method === 'GET';
  return keepMethod ? { ...current, url: target.href } : { ...current, url: target.href, method: 'GET', body: '' };
}

// ---- retry policy -----------------------------------------------------------------------------------------

export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

function finalStatusError(response: FetchResponse, url: string, credentialsName = 'the credentials', origin?: string): SourceError {
  const { status } = response;
  if (status === 401 || status === 403) {
    return new SourceError(`${credentialsName} ${credentialsName.endsWith('s') ? 'were' : 'was'} rejected (HTTP ${status} from ${displayUrl(url)}${origin ? `; ${origin}` : ''})`);
  }
  if (status === 404) return new NotFoundError(`not found (HTTP 404 from ${displayUrl(url)})`);
  if (status >= 300 && status < 400) return new SourceError(`unexpected redirect (HTTP ${status}) from ${displayUrl(url)}`);
  return new SourceError(`${statusText(response)} from ${displayUrl(url)}`);
}

/**
 * `HTTP 502, text/html`: the status and the media type, never the body. A proxy's HTML error page is told apart
 * from the API's own answer without quoting it. The type is shown only when it is a plain `type/subtype` token.
 */
export function statusText(response: Pick<FetchResponse, 'status' | 'headers'>): string {
  const mime = mediaType(response.headers['content-type']);
  return `HTTP ${response.status}${mime ? `, ${mime}` : ''}`;
}

export { mediaType };

/** `Retry-After` wins over the backoff when it parses; it is capped so a server cannot stall a run for long. */
export { backoffMs, parseRetryAfter, RETRY_AFTER_CAP_MS };

export function retryDelayMs(attempt: number, retryAfter: string | undefined, baseMs?: number, now = Date.now()): number {
  const asked = parseRetryAfter(retryAfter, now);
  return asked === undefined ? backoffMs(attempt, baseMs) : Math.min(asked, RETRY_AFTER_CAP_MS);
}

// ---- network errors ---------------------------------------------------------------------------------------

/** Codes that will not heal by trying again: a host that doesn't exist, a certificate that doesn't verify. */
const PERMANENT_CODES = /^(ENOTFOUND|ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|ERR_SSL_|HOSTNAME_MISMATCH|ERR_INVALID_)/;

const CODE_TEXT: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed while sending',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed',
  UND_ERR_SOCKET: 'connection closed by the server',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_HEADERS_TIMEOUT: 'timed out waiting for headers',
  UND_ERR_BODY_TIMEOUT: 'timed out reading the body',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'response body shorter than announced',
};

/** Our own wording from the error code: raw messages are not shown (they can quote what the peer sent). */
function describeNetworkError(err: unknown, url: string, readingBody: boolean): Attempt {
  const code = errorCode(err);
  const text = readingBody ? 'connection lost while reading the body' : CODE_TEXT[code] ?? 'network error';
  const retryable = !PERMANENT_CODES.test(code);
  // undici's own connect timeout: no connection was established, as when our clock runs out first.
  const unconnected = code === 'UND_ERR_CONNECT_TIMEOUT';
  return { kind: 'failure', retryable, unconnected, message: `${text} (${code || 'unknown'}) talking to ${displayUrl(url)}` };
}

function errorCode(err: unknown): string {
  // undici sometimes wraps the socket error; the useful code is on the innermost one.
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR' && !(code === 'UND_ERR_SOCKET' && (e as { cause?: unknown }).cause)) return code;
  }
  return '';
}
