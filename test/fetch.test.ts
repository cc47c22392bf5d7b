import { afterEach, describe, expect, it } from 'vitest';
import { NotFoundError, SourceError } from '../src/core/errors.js';
import {
  backoffMs,
  credentialsInUrl,
  displayUrl,
  fetchText,
  parseRetryAfter,
  retryDelayMs,
  RETRY_AFTER_CAP_MS,
} from '../src/sources/net/fetch.js';
import { Pacer } from '../src/sources/net/retry.js';
import { readOptions } from '../src/core/validate.js';
import { REMOTE_OPTIONS } from '../src/sources/descriptor.js';
import { rejection, sequence, useServers } from './helpers/http-server.js';
import { startBlackhole } from './helpers/blackhole.js';

const serve = useServers(afterEach);

describe('retry policy (pure)', () => {
  it('parses Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('2', now)).toBe(2000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:59:00 GMT', now)).toBe(0); // in the past: no wait
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-3', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it('caps Retry-After and falls back to backoff when it does not parse', () => {
    expect(retryDelayMs(1, '3600')).toBe(RETRY_AFTER_CAP_MS);
    expect(retryDelayMs(1, '1')).toBe(1000);
    expect(retryDelayMs(1, 'garbage', 100)).toBeLessThanOrEqual(100);
  });

  it('backs off exponentially with full jitter, capped at 5 s', () => {
    expect(backoffMs(1, 200, () => 1)).toBe(200);
    expect(backoffMs(3, 200, () => 1)).toBe(800);
    expect(backoffMs(3, 200, () => 0)).toBe(0);
    expect(backoffMs(20, 200, () => 1)).toBe(5000);
    expect(backoffMs(3, 200, () => 0.5)).toBe(400);
  });

  it('paces a backend after throttles: the spacing doubles up to 2 s and relaxes by a quarter per success, to nothing', () => {
    const pacer = new Pacer();
    expect(pacer.interval).toBe(0);
    pacer.throttled();
    expect(pacer.interval).toBe(100);
    for (let i = 0; i < 10; i++) pacer.throttled();
    expect(pacer.interval).toBe(2000);
    pacer.succeeded();
    expect(pacer.interval).toBe(1500);
    for (let i = 0; i < 30; i++) pacer.succeeded();
    expect(pacer.interval).toBe(0);
    // A slow answer is remembered as the wait later requests start with.
    pacer.slow(4000);
    pacer.slow(2000);
    expect(pacer.timeoutMs).toBe(4000);
  });

  it('checks timeout and retries (the remote options every remote descriptor shares)', () => {
    const remote = { options: REMOTE_OPTIONS };
    expect(readOptions(remote, {})).toEqual({ timeout: 10, retries: 3, deadline: 120 });
    expect(readOptions(remote, { timeout: 0.5, retries: 0, deadline: 3 })).toEqual({ timeout: 0.5, retries: 0, deadline: 3 });
    expect(() => readOptions(remote, { deadline: 0 })).toThrow('`deadline`: must be greater than 0');
    expect(() => readOptions(remote, { timeout: 0 })).toThrow('`timeout`: must be greater than 0');
    expect(() => readOptions(remote, { timeout: '5' })).toThrow('`timeout`: expected a number (seconds per attempt), got a string');
    expect(() => readOptions(remote, { retries: 1.5 })).toThrow('`retries`: expected an integer (a whole number of extra attempts), got a fraction');
    expect(() => readOptions(remote, { retries: -1 })).toThrow('`retries`: must be at least 0');
  });
});

describe('URLs in messages', () => {
  it('shows scheme, host and port only: userinfo, path and query may carry tokens', () => {
    expect(displayUrl('https://bob:hunter22@vault.example/v1/x?token=abcd1234&project=web&X-Amz-Signature=ffff')).toBe('https://vault.example');
    expect(displayUrl('http://127.0.0.1:8200/bot123456:ABCDEF/getMe')).toBe('http://127.0.0.1:8200');
    expect(displayUrl('not a url?token=abc')).toBe('(invalid URL)');
    // A password holding `/`, `#`, `?` or `@` (not percent-encoded) breaks URL parsing: stripping still holds.
    expect(displayUrl('https://bob:p/a#s?s@w@rd@vault.example/v1/x?token=t0ken')).toBe('https://vault.example');
    expect(displayUrl('https://bob:pa/ss@vault.example:8200')).toBe('https://vault.example:8200');
    expect(displayUrl('ftp://user:pw@host.example/secret/path')).toBe('ftp://host.example');
  });

  it('lists the credentials a URL carries', () => {
    expect(credentialsInUrl('https://bob:p%40ss@h.example/?api_key=k123&x=1')).toEqual(['k123', 'p@ss']);
    expect(credentialsInUrl('https://h.example/?x=1')).toEqual([]);
  });
});

describe('fetchText against a real local server', () => {
  it('returns status, headers and text, sending method, headers and body', async () => {
    const s = await serve(() => ({ status: 201, headers: { 'x-thing': 'yes' }, body: 'héllo' }));
    const res = await fetchText({ url: `${s.origin}/p?q=1`, method: 'post', headers: { 'x-a': 'b' }, body: '{"k":1}' });
    expect(res).toMatchObject({ status: 201, text: 'héllo' });
    expect(res.headers['x-thing']).toBe('yes');
    expect(s.requests).toHaveLength(1);
    expect(s.requests[0]).toMatchObject({ method: 'POST', url: '/p?q=1', body: '{"k":1}' });
    expect(s.requests[0].headers['x-a']).toBe('b');
  });

  it('retries two 503s and succeeds on the third request', async () => {
    const s = await serve(sequence({ status: 503 }, { status: 503 }, { json: { ok: 'yes' } }));
    const res = await fetchText({ url: s.origin }, { retries: 3 });
    expect(res.text).toBe('{"ok":"yes"}');
    expect(s.requests).toHaveLength(3);
  });

  it('gives up after 1 + retries attempts with a message naming the status', async () => {
    const s = await serve(() => ({ status: 502 }));
    const err = await rejection(fetchText({ url: `${s.origin}/x` }, { retries: 2, backoffBaseMs: 10 }));
    expect(err).toBeInstanceOf(SourceError);
    expect(err.message).toMatch(new RegExp(`^HTTP 502 from ${s.origin} \\(gave up after 3 attempts in [\\d.]+ s\\)$`));
    expect(s.requests).toHaveLength(3);
  });

  it('honours Retry-After in seconds on 429', async () => {
    const s = await serve(sequence({ status: 429, headers: { 'retry-after': '1' } }, { body: 'ok' }));
    const started = Date.now();
    const res = await fetchText({ url: s.origin }, { retries: 1 });
    expect(res.text).toBe('ok');
    expect(s.requests[1].at - s.requests[0].at).toBeGreaterThanOrEqual(950);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('throttling (429) is retried past `retries` while the deadline allows, even with retries: 0', async () => {
    const s = await serve(sequence({ status: 429 }, { status: 429 }, { status: 429 }, { body: 'ok' }));
    expect((await fetchText({ url: s.origin }, { retries: 0, backoffBaseMs: 10 })).text).toBe('ok');
    expect(s.requests).toHaveLength(4);
  });

  it('throttling that outlasts the deadline gives up naming the attempts and the seconds', async () => {
    const s = await serve(() => ({ status: 429 }));
    const started = Date.now();
    const err = await rejection(fetchText({ url: s.origin }, { deadline: 1.5, backoffBaseMs: 20 }));
    expect(err).toBeInstanceOf(SourceError);
    expect(err.message).toMatch(new RegExp(`^HTTP 429 from ${s.origin} \\(still throttled after (\\d+) attempts in [\\d.]+ s: \`deadline\` reached\\)$`));
    expect(Number(/after (\d+) attempts/.exec(err.message)![1])).toBe(s.requests.length);
    expect(s.requests.length).toBeGreaterThan(1 + 3); // more than `retries` would allow
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('503 with Retry-After is throttling; 503 without it is a transient error bounded by retries', async () => {
    const throttled = await serve(sequence({ status: 503, headers: { 'retry-after': '0' } }, { status: 503, headers: { 'retry-after': '0' } }, { body: 'ok' }));
    expect((await fetchText({ url: throttled.origin }, { retries: 0 })).text).toBe('ok');
    const down = await serve(() => ({ status: 503 }));
    await rejection(fetchText({ url: down.origin }, { retries: 0 }));
    expect(down.requests).toHaveLength(1);
  });

  it('a slow server is waited for (twice the time on the retry), not sent the request again', async () => {
    // The answer takes 1.5 s: after the first 1 s the same request gets 2 s more.
    const s = await serve(() => ({ delayMs: 1500, body: 'late but fine' }));
    expect((await fetchText({ url: s.origin }, { timeout: 1, retries: 1, backoffBaseMs: 10 })).text).toBe('late but fine');
    expect(s.requests).toHaveLength(1);
    // retries: 0 gives up after the first wait (another server: this process learned that the first one is slow).
    const other = await serve(() => ({ delayMs: 1500, body: 'late but fine' }));
    const err = await rejection(fetchText({ url: other.origin }, { timeout: 1, retries: 0 }));
    expect(err.message).toBe(`no complete response from ${other.origin} within 1 s`);
  });

  it('honours Retry-After as an HTTP date on 503', async () => {
    // The date is made when the 503 is answered (not when the test starts, which a loaded machine can delay by a
    // second): two seconds ahead, at whole-second precision, so the pause is somewhere in (1 s, 2 s].
    let first = true;
    const s = await serve(() => {
      if (!first) return { body: 'ok' };
      first = false;
      return { status: 503, headers: { 'retry-after': new Date(Date.now() + 2000).toUTCString() } };
    });
    await fetchText({ url: s.origin }, { retries: 1 });
    expect(s.requests[1].at - s.requests[0].at).toBeGreaterThanOrEqual(900);
  });

  it.each([400, 401, 403, 404, 405, 422])('never retries HTTP %i', async (status) => {
    const s = await serve(() => ({ status, body: 'secret-looking body' }));
    const err = await rejection(fetchText({ url: s.origin }, { retries: 3 }));
    expect(s.requests).toHaveLength(1);
    expect(err.message).not.toContain('secret-looking body');
    expect(err instanceof NotFoundError).toBe(status === 404);
  });

  it('says the credentials were rejected on 401/403, without the token, the body or the query credential', async () => {
    const s = await serve(() => ({ status: 401, body: 'token tok-SECRET-1 is invalid', headers: { 'www-authenticate': 'Bearer realm=tok-SECRET-1' } }));
    const err = await rejection(
      fetchText({ url: `${s.origin}/v1?token=tok-SECRET-1`, headers: { authorization: 'Bearer tok-SECRET-1' } }, { credentialsName: 'the Doppler token' }),
    );
    expect(err.message).toBe(`the Doppler token was rejected (HTTP 401 from http://127.0.0.1:${s.port})`);
    const err403 = await rejection(fetchText({ url: `${(await serve(() => ({ status: 403 }))).origin}` }));
    expect(err403.message).toMatch(/^the credentials were rejected \(HTTP 403 from http:\/\/127\.0\.0\.1:\d+\)$/);
  });

  it('404 is a NotFoundError naming the URL', async () => {
    const s = await serve(() => ({ status: 404 }));
    const err = await rejection(fetchText({ url: `${s.origin}/missing?api_key=zzzz9999` }));
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.message).toBe(`not found (HTTP 404 from ${s.origin})`);
  });

  it('retries a connection reset in the middle of the body, then succeeds', async () => {
    const s = await serve(sequence({ resetMidBody: { partial: '{"A":"1", "B"', length: 500 } }, { json: { A: '1' } }));
    const res = await fetchText({ url: s.origin }, { retries: 2, backoffBaseMs: 10 });
    expect(JSON.parse(res.text)).toEqual({ A: '1' });
    expect(s.requests).toHaveLength(2);
  });

  it('gives a clear error when every attempt is reset mid-body', async () => {
    const s = await serve(() => ({ resetMidBody: { partial: '{"A":"1", "B"', length: 500 } }));
    const err = await rejection(fetchText({ url: s.origin }, { retries: 1, backoffBaseMs: 10 }));
    expect(err).toBeInstanceOf(SourceError);
    expect(err.message).toMatch(new RegExp(`^connection lost while reading the body \\([A-Z_]+\\) talking to http://127\\.0\\.0\\.1:${s.port} \\(gave up after 2 attempts in [\\d.]+ s\\)$`));
    expect(s.requests).toHaveLength(2);
  });

  it('retries a connection dropped before any response', async () => {
    const s = await serve(sequence({ resetBeforeHeaders: true }, { body: 'ok' }));
    expect((await fetchText({ url: s.origin }, { backoffBaseMs: 10 })).text).toBe('ok');
    expect(s.requests).toHaveLength(2);
    const always = await serve(() => ({ resetBeforeHeaders: true }));
    const err = await rejection(fetchText({ url: always.origin }, { retries: 0 }));
    expect(err.message).toMatch(/^connection (closed by the server|reset) \([A-Z_]+\) talking to http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('times out a server that never answers (1 + 2 × 0.5 s with retries: 1), and says so cleanly', async () => {
    const s = await serve(() => ({ hang: true }));
    const started = Date.now();
    const err = await rejection(fetchText({ url: `${s.origin}/slow` }, { timeout: 0.5, retries: 1, backoffBaseMs: 10 }));
    const elapsed = Date.now() - started;
    expect(err.message).toBe(`no complete response from ${s.origin} within 1.5 s`);
    expect(s.requests).toHaveLength(1);
    expect(elapsed).toBeGreaterThanOrEqual(1450);
    expect(elapsed).toBeLessThan(3000);
  });

  it('a host that never accepts the connection is tried again at `timeout` each, without doubling (3 × 0.3 s with retries: 2)', async () => {
    const hole = await startBlackhole();
    try {
      const started = Date.now();
      const err = await rejection(fetchText({ url: `${hole.origin}/never?token=abc` }, { timeout: 0.3, retries: 2 }));
      const elapsed = Date.now() - started;
      // Doubling waits would have been 0.3 + 0.6 + 1.2 s for one request; these are three connections of 0.3 s.
      expect(err.message).toMatch(new RegExp(`^no connection to ${hole.origin} within 0\\.3 s \\(gave up after 3 attempts in [\\d.]+ s\\)$`));
      expect(elapsed).toBeGreaterThanOrEqual(850);
    } finally {
      await hole.close();
    }
  });

  it('a server that accepted the connection but never answers still gets the doubling waits (the connection is told apart)', async () => {
    const s = await serve(() => ({ hang: true }));
    const err = await rejection(fetchText({ url: `${s.origin}/slow` }, { timeout: 0.3, retries: 2 }));
    expect(err.message).toBe(`no complete response from ${s.origin} within 2.1 s`);
    expect(s.requests).toHaveLength(1);
  });

  it('the timeout covers the whole attempt, including a body that trickles in', async () => {
    // Headers arrive at once and a chunk every 100 ms: no gap is long, but the whole body takes 1 s.
    const s = await serve(() => ({ trickle: { chunks: ['{"A"', ':', '"1"', ',"B"', ':', '"2"', ',"C"', ':', '"3"', '}'], everyMs: 100 } }));
    const err = await rejection(fetchText({ url: s.origin }, { timeout: 0.4, retries: 0 }));
    expect(err.message).toBe(`no complete response from ${s.origin} within 0.4 s`);
    expect((await fetchText({ url: s.origin }, { timeout: 3, retries: 0 })).text).toBe('{"A":"1","B":"2","C":"3"}');
  });

  it('connection refused is retried and then reported with the host', async () => {
    const s = await serve(() => ({ body: '' }));
    const { origin, port } = s;
    await s.close();
    const err = await rejection(fetchText({ url: origin }, { retries: 1, backoffBaseMs: 10 }));
    expect(err.message).toMatch(new RegExp(`^connection refused \\(ECONNREFUSED\\) talking to http://127\\.0\\.0\\.1:${port} \\(gave up after 2 attempts in [\\d.]+ s\\)$`));
  });

  it('rejects a body over the cap while streaming, without buffering it all', async () => {
    const s = await serve(() => ({ huge: { bytes: 11 * 1024 * 1024 } }));
    const err = await rejection(fetchText({ url: s.origin }));
    expect(err.message).toBe(`response from ${s.origin} is larger than 10 MiB`);
    expect(s.requests).toHaveLength(1); // not retried
  });

  it('rejects an announced Content-Length over the cap before reading', async () => {
    const s = await serve(() => ({ huge: { bytes: 2048, declareLength: true } }));
    const err = await rejection(fetchText({ url: s.origin }, { maxBytes: 1024 }));
    expect(err.message).toBe(`response from ${s.origin} is larger than 1024 bytes`);
  });

  it('accepts a body exactly at the cap', async () => {
    const s = await serve(() => ({ huge: { bytes: 1024 } }));
    expect((await fetchText({ url: s.origin }, { maxBytes: 1024 })).text).toHaveLength(1024);
  });

  it('rejects a body that is not UTF-8', async () => {
    const s = await serve(() => ({ body: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) }));
    const err = await rejection(fetchText({ url: s.origin }));
    expect(err.message).toBe(`response from ${s.origin} is not valid UTF-8`);
  });

  it('only accepts http and https URLs', async () => {
    expect((await rejection(fetchText({ url: 'file:///etc/passwd' }))).message).toBe('unsupported URL scheme "file:" (only http: and https:)');
    expect((await rejection(fetchText({ url: 'ftp://h.example/x' }))).message).toMatch(/only http: and https:/);
    expect((await rejection(fetchText({ url: 'vault/secret?token=abc' }))).message).toBe('invalid URL: it has no scheme (write it as https://HOST[:PORT]/...)');
    expect((await rejection(fetchText({ url: 'https://a b@/secret?token=abc' }))).message).toMatch(/^invalid URL \(it does not parse/);
  });

  it('follows a same-origin redirect and refuses one to another origin', async () => {
    const other = await serve(() => ({ body: 'elsewhere' }));
    const s = await serve((req) =>
      req.path === '/old' ? { status: 307, headers: { location: '/new' } } : req.path === '/away' ? { status: 302, headers: { location: `${other.origin}/x` } } : { body: `at ${req.path}` },
    );
    expect((await fetchText({ url: `${s.origin}/old` })).text).toBe('at /new');
    const err = await rejection(fetchText({ url: `${s.origin}/away`, headers: { 'x-vault-token': 'tok' } }));
    expect(err.message).toBe(`${s.origin} redirected to another origin (${other.origin}); use that URL directly`);
    expect(other.requests).toHaveLength(0);
  });

  it('cancels an in-flight request when the signal aborts', async () => {
    const s = await serve(() => ({ hang: true }));
    const controller = new AbortController();
    const reason = new Error('another layer failed');
    setTimeout(() => controller.abort(reason), 100);
    const started = Date.now();
    const err = await rejection(fetchText({ url: s.origin }, { signal: controller.signal, timeout: 10 }));
    expect(err).toBe(reason);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('cancels the pause between attempts too', async () => {
    const s = await serve(() => ({ status: 503, headers: { 'retry-after': '20' } }));
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stop')), 200);
    const started = Date.now();
    const err = await rejection(fetchText({ url: s.origin }, { signal: controller.signal }));
    expect(err.message).toBe('stop');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(s.requests).toHaveLength(1);
  });
});
