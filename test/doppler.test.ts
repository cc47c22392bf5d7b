/**
 * `type: doppler` against a real Doppler-compatible server on 127.0.0.1, calling the source module directly.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { NotFoundError, SourceError } from '../src/core/errors.js';
import doppler, { downloadUrl, flatStringObject } from '../src/sources/doppler.js';
import { PRINT_ENV, runCli, useTmpProjects } from './helpers/cli.js';
import { dopplerHandler, rejection, sequence, useServers, type DopplerConfig, type Handler } from './helpers/http-server.js';
import { makeContext } from './helpers/source-context.js';

const PERSONAL = 'dp.pt.personal-token-0001';
const SERVICE = 'dp.st.prd.service-token-0002';
const CONFIGS: DopplerConfig[] = [
  { project: 'openedx', config: 'prd', secrets: { SECRET_KEY: 'prd-key', DATABASE_URL: 'postgres://prd', MULTI: 'a\nb "c"' } },
  { project: 'openedx', config: 'dev', secrets: { SECRET_KEY: 'dev-key', DATABASE_URL: 'postgres://dev' } },
];
const doppler_ = dopplerHandler({
  configs: CONFIGS,
  tokens: { [PERSONAL]: { kind: 'personal' }, [SERVICE]: { kind: 'service', project: 'openedx', config: 'prd' } },
});

const serveHandler = useServers(afterEach);
const serve = (handler: Handler = doppler_) => serveHandler(handler);

describe('doppler: request shape (pure)', () => {
  it('builds the download URL, leaving out empty project/config', () => {
    expect(downloadUrl('https://api.doppler.com/', { project: 'openedx', config: 'prd' })).toBe(
      'https://api.doppler.com/v3/configs/config/secrets/download?project=openedx&config=prd&format=json',
    );
    expect(downloadUrl('https://api.doppler.com', {})).toBe('https://api.doppler.com/v3/configs/config/secrets/download?format=json');
  });

  it('sends `only` as secrets=A,B unless an entry is a glob', () => {
    expect(downloadUrl('http://h', { only: ['A', 'B_2'] })).toBe('http://h/v3/configs/config/secrets/download?format=json&secrets=A%2CB_2');
    expect(downloadUrl('http://h', { only: ['A', 'DB_*'] })).toBe('http://h/v3/configs/config/secrets/download?format=json');
    expect(downloadUrl('http://h', { only: [] })).toBe('http://h/v3/configs/config/secrets/download?format=json');
  });

  it('accepts only a flat object of strings, naming the offending key but not its value', () => {
    expect(flatStringObject({ A: '1', B: '' })).toEqual({ A: '1', B: '' });
    expect(() => flatStringObject([])).toThrow('Doppler response: expected a flat JSON object of strings, got an array');
    expect(() => flatStringObject('x')).toThrow('got a string');
    expect(() => flatStringObject(null)).toThrow('got null');
    expect(() => flatStringObject({ A: 'ok', PORT: 8080 })).toThrow('but "PORT" is a number');
    expect(() => flatStringObject({ A: { computed: 'v' } })).toThrow('but "A" is an object');
  });
});

describe('doppler: against a Doppler-compatible server', () => {
  it('downloads a config with a bearer token, project and config', async () => {
    const s = await serve();
    const ctx = makeContext();
    const out = await doppler.load({ project: 'openedx', config: 'dev', token: PERSONAL, api_host: s.origin }, ctx);
    expect(out).toEqual({ SECRET_KEY: 'dev-key', DATABASE_URL: 'postgres://dev' });
    expect(s.requests[0].headers.authorization).toBe(`Bearer ${PERSONAL}`);
    expect(s.requests[0].path).toBe('/v3/configs/config/secrets/download');
    expect(Object.fromEntries(s.requests[0].query)).toEqual({ project: 'openedx', config: 'dev', format: 'json' });
    expect(ctx.secrets).toContain(PERSONAL);
  });

  it('a service token may omit project and config', async () => {
    const s = await serve();
    const out = await doppler.load({ token: SERVICE, api_host: s.origin }, makeContext());
    expect(out).toEqual(CONFIGS[0].secrets);
    expect([...s.requests[0].query.keys()]).toEqual(['format']);
  });

  it('sends literal `only` names as the secrets= filter', async () => {
    const s = await serve();
    const out = await doppler.load({ token: SERVICE, api_host: s.origin, only: ['SECRET_KEY', 'MULTI'] }, makeContext());
    expect(out).toEqual({ SECRET_KEY: 'prd-key', MULTI: 'a\nb "c"' });
    expect(s.requests[0].query.get('secrets')).toBe('SECRET_KEY,MULTI');
  });

  it('does not send secrets= when `only` holds a glob (the core filters instead)', async () => {
    const s = await serve();
    const out = await doppler.load({ token: SERVICE, api_host: s.origin, only: ['SECRET_*'] }, makeContext());
    expect(Object.keys(out).sort()).toEqual(['DATABASE_URL', 'MULTI', 'SECRET_KEY']);
    expect(s.requests[0].query.has('secrets')).toBe(false);
  });

  it('without any token it says how to provide one', async () => {
    for (const options of [{}, { token: '' }]) {
      const err = await rejection(doppler.load(options, makeContext()));
      expect(err).toBeInstanceOf(SourceError);
      expect(err.message).toBe("no Doppler token: set DOPPLER_TOKEN or the layer's `token:`");
    }
  });

  it('a wrong token gives 401: the message says the token was rejected and never contains it', async () => {
    const s = await serve();
    const wrong = 'dp.st.wrong-token-SECRET-9';
    const ctx = makeContext();
    const err = await rejection(doppler.load({ token: wrong, api_host: s.origin, retries: 3 }, ctx));
    expect(err.message).toBe(`the Doppler token was rejected (HTTP 401 from http://127.0.0.1:${s.port})`);
    expect(err.message).not.toContain(wrong);
    expect(s.requests).toHaveLength(1); // 401 is never retried
    expect(ctx.secrets).toContain(wrong);
  });

  it('a service token used for another config gives 403, not retried', async () => {
    const s = await serve();
    const err = await rejection(doppler.load({ token: SERVICE, project: 'openedx', config: 'dev', api_host: s.origin }, makeContext()));
    expect(err.message).toBe(`the Doppler token was rejected (HTTP 403 from http://127.0.0.1:${s.port})`);
    expect(s.requests).toHaveLength(1);
  });

  it('two 503s then success: it succeeds and the server saw 3 requests', async () => {
    const s = await serve(sequence({ status: 503 }, { status: 503 }, { json: { A: 'after-retries' } }));
    expect(await doppler.load({ token: SERVICE, api_host: s.origin }, makeContext())).toEqual({ A: 'after-retries' });
    expect(s.requests).toHaveLength(3);
  });

  it('429 with Retry-After: 1 waits at least about a second', async () => {
    const s = await serve(sequence({ status: 429, headers: { 'retry-after': '1' } }, { json: { A: '1' } }));
    const started = Date.now();
    expect(await doppler.load({ token: SERVICE, api_host: s.origin }, makeContext())).toEqual({ A: '1' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(s.requests).toHaveLength(2);
  });

  it('a connection reset mid-body is retried', async () => {
    const s = await serve(sequence({ resetMidBody: { partial: '{"A":"par', length: 100 } }, { json: { A: 'whole' } }));
    expect(await doppler.load({ token: SERVICE, api_host: s.origin }, makeContext())).toEqual({ A: 'whole' });
    expect(s.requests).toHaveLength(2);
  });

  it('a server that never answers: the timeout fires and the error is clean', async () => {
    const s = await serve(() => ({ hang: true }));
    const started = Date.now();
    const err = await rejection(doppler.load({ token: SERVICE, api_host: s.origin, timeout: 0.5, retries: 0 }, makeContext()));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(err.message).toBe(`no complete response from ${s.origin} within 0.5 s`);
    expect(err.message).not.toContain(SERVICE);
  });

  it('malformed JSON is a clear error without echoing the body', async () => {
    const s = await serve(() => ({ body: '{"A": "secret-value-x", oops}', headers: { 'content-type': 'application/json' } }));
    const err = await rejection(doppler.load({ token: SERVICE, api_host: s.origin }, makeContext()));
    expect(err).toBeInstanceOf(SourceError);
    expect(err.message).toMatch(/^Doppler response\b.*\binvalid JSON\b/);
    expect(err.message).not.toContain('secret-value-x');
  });

  it('non-flat JSON (computed/raw objects) is rejected', async () => {
    const s = await serve(() => ({ json: { A: { raw: 'x', computed: 'x' } } }));
    const err = await rejection(doppler.load({ token: SERVICE, api_host: s.origin }, makeContext()));
    expect(err.message).toBe('Doppler response: expected a flat JSON object of strings, but "A" is an object');
  });

  it('an oversized body is rejected', async () => {
    const s = await serve(() => ({ huge: { bytes: 10 * 1024 * 1024 + 1 } }));
    const err = await rejection(doppler.load({ token: SERVICE, api_host: s.origin }, makeContext()));
    expect(err.message).toMatch(/is larger than 10 MiB$/);
  });

  it('404 is a NotFoundError (the core makes it an empty layer with optional: true)', async () => {
    const s = await serve();
    const err = await rejection(doppler.load({ token: PERSONAL, project: 'openedx', config: 'nope', api_host: s.origin }, makeContext()));
    expect(err).toBeInstanceOf(NotFoundError);
    expect(s.requests).toHaveLength(1);
  });

  it('an aborted context cancels the download', async () => {
    const s = await serve(() => ({ hang: true }));
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('cancelled by test')), 100);
    const err = await rejection(doppler.load({ token: SERVICE, api_host: s.origin }, makeContext({ signal: controller.signal })));
    expect(err.message).toBe('cancelled by test');
  });

  it('is marked remote', () => {
    expect(doppler.remote).toBe(true);
  });
});

// ---- end to end: the built CLI -----------------------------------------------------------------------------

describe('doppler: end to end through the CLI', () => {
  const project = useTmpProjects(afterEach);

  it('gradual resolution: a dotenv layer provides DOPPLER_TOKEN and the doppler layer uses it', async () => {
    const s = await serve();
    const { dir } = project({
      '.env': `DOPPLER_TOKEN=${SERVICE}\nLOCAL_ONLY=from-dotenv\nSECRET_KEY=overridden-by-doppler\n`,
      'secretrun.yaml': `sources:\n  - type: dotenv\n    path: .env\n  - type: doppler\n    api_host: ${s.origin}\n`,
    });
    const r = await runCli(['--', process.execPath, '-e', PRINT_ENV, 'SECRET_KEY', 'DATABASE_URL', 'LOCAL_ONLY'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ SECRET_KEY: 'prd-key', DATABASE_URL: 'postgres://prd', LOCAL_ONLY: 'from-dotenv' });
    expect(s.requests).toHaveLength(1);
    expect(s.requests[0].headers.authorization).toBe(`Bearer ${SERVICE}`);
  });

  it('token and api_host default (in the doppler descriptor) to DOPPLER_TOKEN / DOPPLER_API_HOST: earlier layers first, then the process env', async () => {
    const s = await serve();
    const { dir } = project({
      '.env': `DOPPLER_TOKEN=${SERVICE}\nDOPPLER_API_HOST=${s.origin}\n`,
      'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n  - type: doppler\n    only: [SECRET_KEY]\n',
    });
    const wrongEnv = { DOPPLER_TOKEN: 'env-token-wrong', DOPPLER_API_HOST: 'http://127.0.0.1:9' };
    const fromKeys = await runCli(['export', '--format', 'json'], { cwd: dir, env: wrongEnv });
    expect(fromKeys.stderr).toBe('');
    expect(JSON.parse(fromKeys.stdout)).toMatchObject({ SECRET_KEY: 'prd-key', DOPPLER_API_HOST: s.origin });
    expect(s.requests[0].headers.authorization).toBe(`Bearer ${SERVICE}`);

    const { dir: envOnly } = project({ 'secretrun.yaml': 'sources:\n  - type: doppler\n    only: [SECRET_KEY]\n' });
    const fromEnv = await runCli(['export', '--format', 'json'], { cwd: envOnly, env: { DOPPLER_TOKEN: SERVICE, DOPPLER_API_HOST: s.origin } });
    expect(fromEnv.stderr).toBe('');
    expect(JSON.parse(fromEnv.stdout)).toEqual({ SECRET_KEY: 'prd-key' });
    expect(s.requests).toHaveLength(2);
  });

  it('an explicit token: ${VAR} from an earlier layer, with project/config and only', async () => {
    const s = await serve();
    const { dir } = project({
      'tokens.env': `MY_DOPPLER=${PERSONAL}\n`,
      'secretrun.yaml': [
        'sources:',
        '  - type: dotenv',
        '    path: tokens.env',
        '  - type: doppler',
        '    project: openedx',
        '    config: dev',
        '    token: ${MY_DOPPLER}',
        `    api_host: ${s.origin}`,
        '    only: [SECRET_KEY]',
        '',
      ].join('\n'),
    });
    const r = await runCli(['export', '--format', 'json'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toMatchObject({ SECRET_KEY: 'dev-key' });
    expect(JSON.parse(r.stdout).DATABASE_URL).toBeUndefined();
    expect(s.requests[0].query.get('secrets')).toBe('SECRET_KEY');
  });

  it('a rejected token fails the run with exit 125, naming the layer and never printing the token', async () => {
    const s = await serve();
    const wrong = 'dp.st.not-a-valid-token-42';
    const { dir } = project({ 'secretrun.yaml': `sources:\n  - type: doppler\n    name: doppler-prd\n    api_host: ${s.origin}\n` });
    const r = await runCli(['--', process.execPath, '-e', '0'], { cwd: dir, env: { DOPPLER_TOKEN: wrong } });
    expect(r.code).toBe(125);
    expect(r.stderr).toBe(`secretrun: layer "doppler-prd" (secretrun.yaml:2:5): the Doppler token was rejected (HTTP 401 from ${s.origin}; token DOPPLER_TOKEN from the environment)\n`);
    expect(r.stdout + r.stderr).not.toContain(wrong);
  });

  it('a server that never answers: the timeout fires and the error names the layer', async () => {
    const s = await serve(() => ({ hang: true }));
    const { dir } = project({ 'secretrun.yaml': `sources:\n  - type: doppler\n    project: openedx\n    config: prd\n    api_host: ${s.origin}\n    timeout: 0.5\n    retries: 1\n` });
    const r = await runCli(['export'], { cwd: dir, env: { DOPPLER_TOKEN: SERVICE } });
    expect(r.code).toBe(1);
    // The retry waits twice as long for the same request (0.5 s, then 1 s more).
    expect(r.stderr).toBe(`secretrun: layer "doppler openedx/prd" (secretrun.yaml:2:5): no complete response from ${s.origin} within 1.5 s\n`);
    expect(s.requests).toHaveLength(1);
  });

  it('optional: true turns a 404 into an empty layer', async () => {
    const s = await serve();
    const { dir } = project({
      'secretrun.yaml': `sources:\n  - type: doppler\n    project: openedx\n    config: missing\n    optional: true\n    api_host: ${s.origin}\n`,
    });
    const r = await runCli(['export', '--format', 'json'], { cwd: dir, env: { DOPPLER_TOKEN: PERSONAL } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({});
  });
});

describe('doppler: conditional requests across re-resolves', () => {
  it('sends If-None-Match with the ETag it was given; a 304 returns the remembered keys without a body', async () => {
    let version = 1;
    const etag = () => `W/"v${version}"`;
    const s = await serve((req) => {
      if (req.headers['if-none-match'] === etag()) return { status: 304, headers: { etag: etag() } };
      return { json: { SECRET_KEY: `key-${version}` }, headers: { etag: etag() } };
    });
    const cache = new Map<string, unknown>();
    const options = { project: 'openedx', config: 'prd', token: PERSONAL, api_host: s.origin };
    expect(await doppler.load(options, makeContext({ cache }))).toEqual({ SECRET_KEY: 'key-1' });
    expect(await doppler.load(options, makeContext({ cache }))).toEqual({ SECRET_KEY: 'key-1' });
    version = 2;
    expect(await doppler.load(options, makeContext({ cache }))).toEqual({ SECRET_KEY: 'key-2' });
    expect(s.requests.map((r) => r.headers['if-none-match'])).toEqual([undefined, 'W/"v1"', 'W/"v1"']);
    // Without a cache (a one-shot run), no conditional request is made.
    await doppler.load(options, makeContext());
    expect(s.requests[3].headers['if-none-match']).toBeUndefined();
    // A 304 that nobody asked for is still an error.
    const t = await serve(() => ({ status: 304 }));
    expect((await rejection(doppler.load({ ...options, api_host: t.origin, retries: 0 }, makeContext()))).message).toContain('HTTP 304');
  });
});
