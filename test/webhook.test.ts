/**
 * `run --listen`: the built CLI with a real HTTP layer (a test server whose value the test changes), a real child
 * that records its PID and environment at start (fixtures/child/recorder.mjs), and real signed webhooks sent
 * to 127.0.0.1. Also --jitter across 20 real watcher processes, and polls answered 304 to If-None-Match.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { BIN, alive, baseEnv, runCli } from './helpers/cli.js';
import { replaceFile, signals, sleep, starts, until, watchPlumbing, type Watched } from './helpers/watch.js';
import type { FakeServer } from './helpers/http-server.js';

const { cleanup, project, server, startWatched } = watchPlumbing();
afterAll(cleanup);

const SIGNING_SECRET = 'whsec-test-signing-key-0123456789';
const sign = (body: string | Buffer, secret = SIGNING_SECRET) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request to 127.0.0.1 (whatever address the listener bound). */
function send(port: number, method: string, path: string, body: string | Buffer = '', headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The port from `secretrun: listening for reload webhooks on http://HOST:PORT`. */
async function listeningPort(w: { stderr(): string }, timeoutMs?: number): Promise<number> {
  const m = await until(() => /listening for reload webhooks on http:\/\/[^\s]+:(\d+)\n/.exec(w.stderr()), 'the listening line', timeoutMs);
  return Number(m[1]);
}

/** An http layer serving TOKEN, whose value the test changes; counts the layer fetches. */
async function tokenLayer(initial: string): Promise<{ server: FakeServer; set(v: string): void; fetches(): number }> {
  let token = initial;
  const s = await server(() => ({ json: { TOKEN: token, REGION: 'eu-west-1' } }));
  return { server: s, set: (v) => (token = v), fetches: () => s.requests.length };
}

const httpYaml = (s: FakeServer, extra = '') => `sources:\n  - type: http\n    name: store\n    url: ${s.origin}/secrets\n    retries: 0\n${extra}`;

async function listening(layer: FakeServer, args: string[] = [], env: Record<string, string> = { SECRETRUN_WEBHOOK_SECRET: SIGNING_SECRET }): Promise<{ w: Watched; port: number }> {
  const { dir } = project({ 'secretrun.yaml': httpYaml(layer) });
  const w = await startWatched(dir, ['--listen', '127.0.0.1:0', ...args], ['TOKEN', 'SECRETRUN_WEBHOOK_SECRET'], env);
  return { w, port: await listeningPort(w) };
}

// Alone, not beside the concurrent tests below: it measures a restart's latency.
describe('run --listen: restart latency', () => {
  it('a Doppler-signed POST restarts the child with the new value within 2 s; a GitHub-style one too', async () => {
    const layer = await tokenLayer('webhook-value-one');
    const { w, port } = await listening(layer.server);
    expect(w.first.env).toEqual({ TOKEN: 'webhook-value-one', SECRETRUN_WEBHOOK_SECRET: null });

    layer.set('webhook-value-two');
    const body = JSON.stringify({ type: 'config.secrets.update', config: { name: 'prd' } });
    const t0 = Date.now();
    const answer = await send(port, 'POST', '/doppler', body, { 'x-doppler-signature': sign(body) });
    expect(answer.status).toBe(202);
    const second = await until(() => starts(w.log)[1], 'the restarted child', 4000);
    const dopplerMs = Date.now() - t0;
    expect(dopplerMs).toBeLessThan(2000);
    expect(second.env).toEqual({ TOKEN: 'webhook-value-two', SECRETRUN_WEBHOOK_SECRET: null });
    expect(alive(w.first.pid)).toBe(false);

    layer.set('webhook-value-three');
    const t1 = Date.now();
    expect((await send(port, 'POST', '/', 'ping', { 'x-hub-signature-256': sign('ping') })).status).toBe(202);
    const third = await until(() => starts(w.log)[2], 'the second restart', 4000);
    const githubMs = Date.now() - t1;
    expect(githubMs).toBeLessThan(2000);
    expect(third.env.TOKEN).toBe('webhook-value-three');

    // A webhook that finds nothing new: one line, no restart.
    expect((await send(port, 'POST', '/', '', { 'x-hub-signature-256': sign('') })).status).toBe(202);
    await until(() => w.stderr().includes('webhook: no change'), 'the no-change line');
    expect(starts(w.log)).toHaveLength(3);
    console.log(`signed webhook -> restarted child: ${dopplerMs} ms (Doppler header), ${githubMs} ms (GitHub header)`);

    w.proc.kill('SIGTERM');
    expect((await w.ended).code).toBe(0);
    expect(w.stderr().split('\n').slice(1)).toEqual([
      'secretrun: webhook: 1 key changed (TOKEN); restarting',
      'secretrun: webhook: 1 key changed (TOKEN); restarting',
      'secretrun: webhook: no change',
      '',
    ]);
    expect(w.stderr()).not.toMatch(/webhook-value|whsec/);
  });
});

describe.concurrent('run --listen: signed webhooks', () => {
  it('a wrong, missing or replayed signature gets 401 and nothing happens', async ({ expect }) => {
    const layer = await tokenLayer('unsigned-value-1');
    const { w, port } = await listening(layer.server);
    layer.set('unsigned-value-2');
    const fetches = layer.fetches();
    const body = '{"event":"update"}';
    const replayedBody = '{"event":"update","extra":1}';
    const attempts = [
      await send(port, 'POST', '/', body, { 'x-doppler-signature': sign(body, 'not-the-secret') }),
      await send(port, 'POST', '/', body),
      await send(port, 'POST', '/', body, { 'x-doppler-signature': 'sha256=zz' }),
      // A signature captured from one request, replayed over another body.
      await send(port, 'POST', '/', replayedBody, { 'x-hub-signature-256': sign(body) }),
    ];
    expect(attempts.map((a) => a.status)).toEqual([401, 401, 401, 401]);
    // Longer than the settle window: a re-resolve would have fetched by now.
    await sleep(1500);
    expect(layer.fetches()).toBe(fetches);
    expect(starts(w.log)).toHaveLength(1);
    expect(alive(w.first.pid)).toBe(true);
    w.proc.kill('SIGTERM');
    await w.ended;
    expect(w.stderr().split('\n').filter(Boolean)).toHaveLength(1); // only the listening line
  });

  it('50 concurrent valid POSTs: one restart, at most two layer fetches', async ({ expect }) => {
    const layer = await tokenLayer('burst-value-1');
    const { w, port } = await listening(layer.server);
    const before = layer.fetches();
    layer.set('burst-value-2');
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => {
        const body = JSON.stringify({ n: i });
        return send(port, 'POST', `/hook/${i}`, body, { 'x-doppler-signature': sign(body) });
      }),
    );
    expect(answers.every((a) => a.status === 202)).toBe(true);
    await until(() => starts(w.log)[1], 'the restart');
    await sleep(1500);
    expect(starts(w.log)).toHaveLength(2);
    const fetched = layer.fetches() - before;
    expect(fetched).toBeGreaterThanOrEqual(1);
    expect(fetched).toBeLessThanOrEqual(2);
    console.log(`50 concurrent webhooks -> ${fetched} layer fetch(es), 1 restart`);
    w.proc.kill('SIGTERM');
    await w.ended;
  });

  it('an oversized body gets 413 and the listener still works; other methods 405', async ({ expect }) => {
    const layer = await tokenLayer('size-value-1');
    const { w, port } = await listening(layer.server);
    const fetches = layer.fetches();
    const big = Buffer.alloc(65 * 1024, 'a');
    expect((await send(port, 'POST', '/', big, { 'x-doppler-signature': sign(big) })).status).toBe(413);
    expect((await send(port, 'PUT', '/', 'x')).status).toBe(405);
    expect((await send(port, 'DELETE', '/healthz')).status).toBe(405);
    expect((await send(port, 'GET', '/')).status).toBe(405);
    await sleep(800);
    expect(layer.fetches()).toBe(fetches);

    // Not JSON, but validly signed: the payload is advisory, the trigger counts.
    layer.set('size-value-2');
    const garbage = Buffer.from([0xff, 0x00, 0x7b, 0x7b]);
    expect((await send(port, 'POST', '/', garbage, { 'x-doppler-signature': sign(garbage) })).status).toBe(202);
    const second = await until(() => starts(w.log)[1], 'the restart after the 413');
    expect(second.env.TOKEN).toBe('size-value-2');
    w.proc.kill('SIGTERM');
    await w.ended;
  });

  it('a client that never finishes its request is cut off after the request timeout; others are served meanwhile', async ({ expect }) => {
    const layer = await tokenLayer('slow-value');
    const { w, port } = await listening(layer.server);
    const t0 = Date.now();
    const socket = connect(port, '127.0.0.1');
    socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"partial":');
    let answer = '';
    socket.setEncoding('utf8').on('data', (d) => (answer += d));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    expect((await send(port, 'GET', '/healthz')).status).toBe(200);
    await closed;
    const cutMs = Date.now() - t0;
    expect(cutMs).toBeGreaterThanOrEqual(9_000);
    expect(cutMs).toBeLessThan(15_000);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    console.log(`slow client cut off after ${cutMs} ms`);
    expect(starts(w.log)).toHaveLength(1);
    w.proc.kill('SIGTERM');
    await w.ended;
  }, 30_000);

  it('GET /healthz: 200 with the child PID, the last check and the key count, never a value', async ({ expect }) => {
    const layer = await tokenLayer('health-secret-value');
    const { w, port } = await listening(layer.server);
    const first = await send(port, 'GET', '/healthz');
    expect(first.status).toBe(200);
    const initial = JSON.parse(first.body);
    expect(initial).toMatchObject({ status: 'running', pid: w.first.pid, lastCheck: { ok: true }, keys: 2 });
    expect((await send(port, 'POST', '/', 'x', { 'x-doppler-signature': sign('x') })).status).toBe(202);
    await until(() => w.stderr().includes('webhook: no change'), 'the check');
    const after = await send(port, 'GET', '/healthz?verbose=1');
    const report = JSON.parse(after.body);
    expect(report).toMatchObject({ status: 'running', pid: w.first.pid, keys: 2, lastCheck: { ok: true } });
    expect(Date.parse(report.lastCheck.at)).toBeGreaterThan(Date.parse(initial.lastCheck.at));
    for (const text of [first.body, after.body]) {
      expect(text).not.toContain('health-secret-value');
      expect(text).not.toContain(SIGNING_SECRET);
    }
    w.proc.kill('SIGTERM');
    await w.ended;
  });

  it('GET /healthz: 503 while the child is being replaced, 200 with the new PID after', async ({ expect }) => {
    const layer = await tokenLayer('swap-value-1');
    const { dir } = project({ 'secretrun.yaml': httpYaml(layer.server) });
    const w = await startWatched(dir, ['--listen', '0', '--grace', '2'], ['--ignore-term', 'TOKEN']);
    const port = await listeningPort(w);
    layer.set('swap-value-2');
    expect((await send(port, 'POST', '/')).status).toBe(202);
    await until(() => signals(w.log, w.first.pid).includes('SIGTERM'), 'the restart signal');
    const during = await send(port, 'GET', '/healthz');
    expect(during.status).toBe(503);
    expect(JSON.parse(during.body)).toMatchObject({ status: 'stopped', pid: null });
    const second = await until(() => starts(w.log)[1], 'the new child');
    const after = await send(port, 'GET', '/healthz');
    expect(after.status).toBe(200);
    expect(JSON.parse(after.body)).toMatchObject({ status: 'running', pid: second.pid });
    process.kill(second.pid, 'SIGKILL');
    await w.ended;
  });

  it('--listen 0.0.0.0 without a signing secret: exit 125 before the child starts; with one from a layer it binds', async ({ expect }) => {
    const layer = await tokenLayer('open-value');
    const { dir } = project({ 'secretrun.yaml': httpYaml(layer.server) });
    const log = join(dir, 'never.log');
    const r = await runCli(['--listen', '0.0.0.0:0', '--', process.execPath, join(dir, 'nope.mjs'), log], { cwd: dir });
    expect(r.code).toBe(125);
    expect(r.stderr).toBe('secretrun: --listen 0.0.0.0: a non-loopback address needs a signing secret: set SECRETRUN_WEBHOOK_SECRET (in the environment or a layer), or listen on 127.0.0.1\n');
    expect(existsSync(log)).toBe(false);

    // The secret may come from a layer (e.g. SSM); the child never sees it. Requests go to 127.0.0.1 only.
    const { dir: dir2 } = project({
      'secretrun.yaml': httpYaml(layer.server, '  - type: dotenv\n    path: hook.env\n'),
      'hook.env': `SECRETRUN_WEBHOOK_SECRET=${SIGNING_SECRET}\n`,
    });
    const w = await startWatched(dir2, ['--listen', '0.0.0.0:0'], ['TOKEN', 'SECRETRUN_WEBHOOK_SECRET']);
    expect(w.first.env).toEqual({ TOKEN: 'open-value', SECRETRUN_WEBHOOK_SECRET: null });
    const port = await listeningPort(w);
    expect((await send(port, 'POST', '/', 'x')).status).toBe(401);
    expect((await send(port, 'POST', '/', 'x', { 'x-doppler-signature': sign('x') })).status).toBe(202);
    await until(() => w.stderr().includes('webhook: no change'), 'the signed check');
    w.proc.kill('SIGTERM');
    await w.ended;
  });

  it('a secret rotated in its layer takes effect at once; a secret removed from it stays in force', async ({ expect }) => {
    const layer = await tokenLayer('rotate-value');
    const { dir } = project({
      'secretrun.yaml': httpYaml(layer.server, '  - type: dotenv\n    path: hook.env\n'),
      'hook.env': 'SECRETRUN_WEBHOOK_SECRET=first-signing-secret\n',
    });
    const w = await startWatched(dir, ['--listen', '0.0.0.0:0'], ['TOKEN']);
    const port = await listeningPort(w);
    const lastCheck = async () => JSON.parse((await send(port, 'GET', '/healthz')).body).lastCheck.at as string;
    /** Edit the layer file and wait for the file-triggered check that reads it. */
    const edit = async (content: string) => {
      const before = await lastCheck();
      replaceFile(join(dir, 'hook.env'), content);
      for (let i = 0; i < 400 && (await lastCheck()) === before; i++) await sleep(20);
    };
    expect((await send(port, 'POST', '/', 'a', { 'x-doppler-signature': sign('a', 'first-signing-secret') })).status).toBe(202);
    await edit('SECRETRUN_WEBHOOK_SECRET=second-signing-secret\n');
    expect((await send(port, 'POST', '/', 'b', { 'x-doppler-signature': sign('b', 'first-signing-secret') })).status).toBe(401);
    expect((await send(port, 'POST', '/', 'b', { 'x-doppler-signature': sign('b', 'second-signing-secret') })).status).toBe(202);
    await edit('');
    expect((await send(port, 'POST', '/', 'c')).status).toBe(401);
    expect((await send(port, 'POST', '/', 'c', { 'x-doppler-signature': sign('c', 'second-signing-secret') })).status).toBe(202);
    // The signing secret is secretrun's own: rotating or removing it never restarted the child.
    await sleep(300);
    expect(starts(w.log)).toHaveLength(1);
    w.proc.kill('SIGTERM');
    await w.ended;
    expect(w.stderr()).not.toMatch(/signing-secret/);
  });

  it('a port already in use: exit 125, no child', async ({ expect }) => {
    const layer = await tokenLayer('busy-value');
    const { dir } = project({ 'secretrun.yaml': httpYaml(layer.server) });
    const r = await runCli(['--listen', String(layer.server.port), '--', 'sh', '-c', 'echo started'], { cwd: dir });
    expect(r.code).toBe(125);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`secretrun: --listen: cannot listen on http://127.0.0.1:${layer.server.port}: address in use (EADDRINUSE)\n`);
  });
});

describe('--jitter and conditional polls', () => {
  it('--jitter 3: 20 watchers triggered at once spread their fetches over more than a second', async () => {
    let requests: number[] = [];
    const s = await server(() => {
      requests.push(Date.now());
      return { json: { TOKEN: 'jitter-value' } };
    });
    const { dir } = project({ 'secretrun.yaml': httpYaml(s) });
    const procs = Array.from({ length: 20 }, () => {
      const proc = spawn(process.execPath, [BIN, '--listen', '0', '--jitter', '3', '--', 'sleep', '600'], { cwd: dir, env: baseEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      proc.stderr!.setEncoding('utf8').on('data', (d) => (stderr += d));
      const ended = new Promise((resolve) => proc.on('exit', resolve));
      return { proc, stderr: () => stderr, ended };
    });
    try {
      const ports = await Promise.all(procs.map((p) => listeningPort(p, 40_000)));
      await until(() => requests.length >= 20, 'every initial fetch', 20_000);
      requests = [];
      const t0 = Date.now();
      const answers = await Promise.all(ports.map((port) => send(port, 'POST', '/')));
      expect(answers.every((a) => a.status === 202)).toBe(true);
      await until(() => requests.length >= 20, 'a fetch from every watcher', 15_000);
      const spread = Math.max(...requests) - Math.min(...requests);
      console.log(`--jitter 3, 20 watchers: fetches spread over ${spread} ms (first ${Math.min(...requests) - t0} ms after the webhooks)`);
      expect(spread).toBeGreaterThan(1000);
      expect(Math.max(...requests) - t0).toBeLessThan(3000 + 1000 + 3000); // jitter + settle + a loaded machine
    } finally {
      for (const p of procs) p.proc.kill('SIGTERM');
      await Promise.all(procs.map((p) => p.ended));
    }
  }, 90_000);

  it('a poll answered 304 to If-None-Match restarts nothing; a new ETag does', async () => {
    let etag = '"v1"';
    let token = 'etag-value-1';
    const s = await server((req) => (req.headers['if-none-match'] === etag ? { status: 304, headers: { etag } } : { json: { TOKEN: token }, headers: { etag } }));
    const { dir } = project({ 'secretrun.yaml': httpYaml(s) });
    const w = await startWatched(dir, ['--watch', '2'], ['TOKEN']);
    // The store's content changes but it still says "not modified" for v1: trusting the 304 keeps the child.
    token = 'etag-value-2';
    await until(() => s.requests.length >= 3, 'two polls', 10_000);
    expect(s.requests[0].headers['if-none-match']).toBeUndefined();
    expect(s.requests.slice(1).map((r) => r.headers['if-none-match'])).toEqual(s.requests.slice(1).map(() => '"v1"'));
    expect(starts(w.log)).toHaveLength(1);
    // A new version: a full answer, and the restart.
    etag = '"v2"';
    const second = await until(() => starts(w.log)[1], 'the restart for v2', 10_000);
    expect(second.env.TOKEN).toBe('etag-value-2');
    w.proc.kill('SIGTERM');
    await w.ended;
    expect(w.stderr()).toBe('secretrun: poll: 1 key changed (TOKEN); restarting\n');
  }, 30_000);
});
