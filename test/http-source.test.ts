/**
 * `type: http` against real servers on 127.0.0.1: a Vault-shaped KV v2 API and plain config endpoints.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { NotFoundError, SourceError } from '../src/core/errors.js';
import http, { formatFromContentType } from '../src/sources/http.js';
import { BIN, PRINT_ENV, runCli, runCommand, useTmpProjects } from './helpers/cli.js';
import { rejection, sequence, useServers, vaultHandler } from './helpers/http-server.js';
import { makeContext } from './helpers/source-context.js';

const VAULT_TOKEN = 'hvs.CAESIVaultTokenForTests01';

const serve = useServers(afterEach);

describe('http: format from Content-Type (pure)', () => {
  it.each([
    ['application/json', 'json'],
    ['application/json; charset=utf-8', 'json'],
    ['application/vnd.api+json', 'json'],
    ['application/yaml', 'yaml'],
    ['application/x-yaml', 'yaml'],
    ['text/yaml; charset=utf-8', 'yaml'],
    ['text/plain', 'dotenv'],
    ['text/x-dotenv', 'dotenv'],
    ['application/octet-stream', 'json'],
    [undefined, 'json'],
  ])('%s -> %s', (contentType, format) => {
    expect(formatFromContentType(contentType)).toBe(format);
  });
});

describe('http: Vault KV v2', () => {
  const vault = () =>
    vaultHandler({ token: VAULT_TOKEN, secrets: { 'openedx/prd': { SECRET_KEY: 'from-vault', PORT: 5432, DEBUG: false, NESTED: { a: 1 } } } });

  it('reads a secret with X-Vault-Token and select: data.data', async () => {
    const s = await serve(vault());
    const ctx = makeContext();
    const out = await http.load({ url: `${s.origin}/v1/secret/data/openedx/prd`, headers: { 'X-Vault-Token': VAULT_TOKEN }, select: 'data.data' }, ctx);
    expect(out).toEqual({ SECRET_KEY: 'from-vault', PORT: '5432', DEBUG: 'false', NESTED: '{"a":1}' });
    expect(s.requests[0].headers['x-vault-token']).toBe(VAULT_TOKEN);
    expect(s.requests[0].method).toBe('GET');
    expect(ctx.secrets).toContain(VAULT_TOKEN);
  });

  it('flatten turns nested objects into separate keys', async () => {
    const s = await serve(vault());
    const out = await http.load({ url: `${s.origin}/v1/secret/data/openedx/prd`, headers: { 'X-Vault-Token': VAULT_TOKEN }, select: 'data.data', flatten: '__' }, makeContext());
    expect(out.NESTED__a).toBe('1');
  });

  it('a wrong token is reported as rejected credentials, without the token', async () => {
    const s = await serve(vault());
    const err = await rejection(http.load({ url: `${s.origin}/v1/secret/data/openedx/prd`, headers: { 'X-Vault-Token': 'hvs.wrong-SECRET' } }, makeContext()));
    expect(err.message).toBe(`the credentials were rejected (HTTP 403 from http://127.0.0.1:${s.port})`);
    expect(s.requests).toHaveLength(1);
  });

  it('a missing path is a NotFoundError', async () => {
    const s = await serve(vault());
    const err = await rejection(http.load({ url: `${s.origin}/v1/secret/data/nope`, headers: { 'X-Vault-Token': VAULT_TOKEN }, select: 'data.data' }, makeContext()));
    expect(err).toBeInstanceOf(NotFoundError);
  });

  it('a select that does not match names the path', async () => {
    const s = await serve(vault());
    const err = await rejection(http.load({ url: `${s.origin}/v1/secret/data/openedx/prd`, headers: { 'X-Vault-Token': VAULT_TOKEN }, select: 'data.secrets' }, makeContext()));
    expect(err.message).toBe(`${s.origin}: select "data.secrets": no key "secrets"`);
  });
});

describe('http: formats and requests', () => {
  it('parses dotenv when the server says text/plain', async () => {
    const s = await serve(() => ({ body: 'A=1\n# comment\nB="two words"\nexport C=3\n', headers: { 'content-type': 'text/plain; charset=utf-8' } }));
    expect(await http.load({ url: s.origin }, makeContext())).toEqual({ A: '1', B: 'two words', C: '3' });
  });

  it('parses YAML when the server says application/yaml', async () => {
    const s = await serve(() => ({ body: 'app:\n  HOST: db.internal\n  PORT: 5432\n', headers: { 'content-type': 'application/yaml' } }));
    expect(await http.load({ url: s.origin, select: 'app' }, makeContext())).toEqual({ HOST: 'db.internal', PORT: '5432' });
  });

  it('an explicit format beats the Content-Type', async () => {
    const s = await serve(() => ({ body: 'A=1\n', headers: { 'content-type': 'application/json' } }));
    expect(await http.load({ url: s.origin, format: 'dotenv' }, makeContext())).toEqual({ A: '1' });
  });

  it('a plain JSON config service (no Content-Type) is read as JSON', async () => {
    const s = await serve(() => ({ body: '{"FEATURE_X":true,"API_URL":"https://api.internal","EMPTY":null}' }));
    expect(await http.load({ url: `${s.origin}/config/web` }, makeContext())).toEqual({ FEATURE_X: 'true', API_URL: 'https://api.internal' });
  });

  it('sends method, headers and body; the body and credential headers are marked secret', async () => {
    const s = await serve(() => ({ json: { TOKEN: 'issued' } }));
    const ctx = makeContext();
    const body = '{"role_id":"r-1","secret_id":"s-SECRET"}';
    const out = await http.load(
      { url: `${s.origin}/v1/auth/approle/login`, method: 'POST', headers: { Authorization: 'Bearer abc-123', 'Content-Type': 'application/json' }, body },
      ctx,
    );
    expect(out).toEqual({ TOKEN: 'issued' });
    expect(s.requests[0]).toMatchObject({ method: 'POST', body });
    expect(s.requests[0].headers['content-type']).toBe('application/json');
    expect(ctx.secrets).toEqual(expect.arrayContaining(['Bearer abc-123', body]));
    expect(ctx.secrets).not.toContain('application/json');
  });

  it('moves user:pass from the URL to a Basic Authorization header, and never shows it', async () => {
    const s = await serve(() => ({ status: 500 }));
    const ctx = makeContext();
    const err = await rejection(http.load({ url: `http://bob:pa%24%24word@127.0.0.1:${s.port}/cfg?token=qs-SECRET`, retries: 0 }, ctx));
    expect(s.requests[0].headers.authorization).toBe(`Basic ${Buffer.from('bob:pa$$word').toString('base64')}`);
    expect(err.message).toBe(`HTTP 500 from ${s.origin}`);
    expect(ctx.secrets).toEqual(expect.arrayContaining(['pa$$word', 'qs-SECRET']));
  });

  it('retries 5xx with the layer timeout/retries options', async () => {
    const s = await serve(sequence({ status: 500 }, { status: 503 }, { json: { A: '1' } }));
    expect(await http.load({ url: s.origin, retries: 2 }, makeContext())).toEqual({ A: '1' });
    expect(s.requests).toHaveLength(3);
    const t = await serve(sequence({ status: 500 }, { json: { A: '1' } }));
    expect((await rejection(http.load({ url: t.origin, retries: 0 }, makeContext()))).message).toBe(`HTTP 500 from ${t.origin}`);
  });

  it('malformed JSON names the URL and the position', async () => {
    const s = await serve(() => ({ body: '{"A": 1,}', headers: { 'content-type': 'application/json' } }));
    const err = await rejection(http.load({ url: `${s.origin}/c` }, makeContext()));
    expect(err).toBeInstanceOf(SourceError);
    // The position format belongs to parse.ts; here it matters that the URL comes first and the cause is named.
    expect(err.message).toMatch(new RegExp(`^${s.origin}:\\d+:\\d+: invalid JSON\\b`));
  });

  it('rejects bad options clearly', async () => {
    expect((await rejection(http.load({}, makeContext()))).message).toBe('missing required key "url"');
    expect((await rejection(http.load({ url: 'ftp://x/y' }, makeContext()))).message).toMatch(/only http: and https:/);
    expect((await rejection(http.load({ url: 'http://127.0.0.1:9/', method: 'DELETE' }, makeContext()))).message).toBe('`method`: unknown value "DELETE" (expected one of GET, POST, PUT, PATCH)');
    expect((await rejection(http.load({ url: 'http://127.0.0.1:9/', format: 'toml' }, makeContext()))).message).toBe('`format`: unknown value "toml" (expected one of json, dotenv, yaml)');
    expect((await rejection(http.load({ url: 'http://127.0.0.1:9/', headers: { A: 1 } }, makeContext()))).message).toBe('`headers.A`: expected a string, got an integer');
  });

  it('is marked remote', () => {
    expect(http.remote).toBe(true);
  });
});

// ---- end to end: the built CLI -----------------------------------------------------------------------------

describe('http: end to end through the CLI', () => {
  const project = useTmpProjects(afterEach);

  it('the Vault recipe: VAULT_TOKEN from the environment, X-Vault-Token header, select: data.data', async () => {
    const s = await serve(vaultHandler({ token: VAULT_TOKEN, secrets: { 'web/prd': { SECRET_KEY: 'vault-key', DB_PORT: 5432 } } }));
    const { dir } = project({
      'secretrun.yaml': [
        'sources:',
        '  - type: http',
        '    name: vault',
        `    url: ${s.origin}/v1/secret/data/web/prd`,
        '    headers:',
        '      X-Vault-Token: ${VAULT_TOKEN}',
        '    select: data.data',
        '',
      ].join('\n'),
    });
    const r = await runCli(['--', process.execPath, '-e', PRINT_ENV, 'SECRET_KEY', 'DB_PORT', 'VAULT_TOKEN'], { cwd: dir, env: { VAULT_TOKEN } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ SECRET_KEY: 'vault-key', DB_PORT: '5432', VAULT_TOKEN });
  });

  it('a rejected Vault token names the layer and never prints the token', async () => {
    const s = await serve(vaultHandler({ token: VAULT_TOKEN, secrets: {} }));
    const wrong = 'hvs.wrong-token-from-env-77';
    const { dir } = project({ 'secretrun.yaml': `sources:\n  - type: http\n    url: ${s.origin}/v1/secret/data/web\n    headers: { X-Vault-Token: "\${VAULT_TOKEN}" }\n` });
    const r = await runCli(['export'], { cwd: dir, env: { VAULT_TOKEN: wrong } });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`secretrun: layer "http ${s.origin}/v1/secret/data/web" (secretrun.yaml:2:5): the credentials were rejected (HTTP 403 from ${s.origin}; header X-Vault-Token VAULT_TOKEN from the environment)\n`);
    expect(r.stderr).not.toContain(wrong);
  });

  it('no spinner output on stderr when stderr is not a TTY, even while a layer takes a while', async () => {
    const s = await serve(() => ({ json: { SLOW: 'yes' }, delayMs: 600 }));
    const { dir } = project({ 'secretrun.yaml': `sources:\n  - type: http\n    url: ${s.origin}/slow\n` });
    const r = await runCli(['export', '--format', 'json'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ SLOW: 'yes' });
  });

  it('independent http layers are fetched concurrently and merged in file order', async () => {
    const s = await serve((req) => ({ json: { WHO: req.path.slice(1), [`K_${req.path.slice(1)}`]: '1' }, delayMs: 300 }));
    const layers = ['a', 'b', 'c', 'd'].map((n) => `  - type: http\n    url: ${s.origin}/${n}\n`).join('');
    const { dir } = project({ 'secretrun.yaml': `sources:\n${layers}` });
    const r = await runCli(['export', '--format', 'json'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ WHO: 'd', K_a: '1', K_b: '1', K_c: '1', K_d: '1' });
    const times = s.requests.map((q) => q.at);
    // Sequential fetching would space the requests 300 ms apart (900 ms from first to last).
    expect(Math.max(...times) - Math.min(...times)).toBeLessThan(600);
  });

  it('a dotenv endpoint and a YAML endpoint, formats taken from Content-Type', async () => {
    const s = await serve((req) =>
      req.path === '/env' ? { body: 'FROM_ENV=1\nSHARED=env\n', headers: { 'content-type': 'text/plain' } } : { body: 'FROM_YAML: 2\nSHARED: yaml\n', headers: { 'content-type': 'application/yaml' } },
    );
    const { dir } = project({ 'secretrun.yaml': `sources:\n  - type: http\n    url: ${s.origin}/env\n  - type: http\n    url: ${s.origin}/yaml\n` });
    const r = await runCli(['export', '--format', 'json'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ FROM_ENV: '1', FROM_YAML: '2', SHARED: 'yaml' });
  });
});

// ---- the spinner on a real pseudo-terminal (util-linux `script`) -------------------------------------------

const hasScript = (() => {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!hasScript)('http: progress spinner on a terminal', () => {
  const project = useTmpProjects(afterEach);

  /** Run `secretrun <args>` with stdout and stderr on a pty of `cols` columns (0: a pty without a size). */
  async function onTerminal(cols: number, args: string[]) {
    const s = await serve(() => ({ json: { SLOW: 'yes' }, delayMs: 700 }));
    const p = project({ 'secretrun.yaml': `sources:\n  - type: http\n    name: slow-one\n    url: ${s.origin}/x\n` });
    const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
    const size = cols > 0 ? `stty cols ${cols} rows 24; ` : '';
    const command = `${size}exec ${[process.execPath, BIN, ...args].map(quote).join(' ')}`;
    return runCommand('script', ['-qec', command, '/dev/null'], { cwd: p.dir, env: { TERM: 'xterm' }, timeoutMs: 15_000 });
  }

  it('shows the pending layer while it is fetched, then clears the line and restores the cursor', async () => {
    const r = await onTerminal(80, ['export']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('fetching slow-one');
    const lastFrame = r.stdout.lastIndexOf('fetching slow-one');
    expect(r.stdout.indexOf('\x1b[?25h', lastFrame)).toBeGreaterThan(lastFrame); // cursor shown again
    expect(r.stdout.slice(lastFrame)).toContain('SLOW=yes');
  });

  it('shows nothing with -q', async () => {
    const r = await onTerminal(80, ['export', '-q']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('fetching');
    expect(r.stdout).toContain('SLOW=yes');
  });

  it('shows nothing (and does not hang) on a pty that reports 0 columns', async () => {
    const r = await onTerminal(0, ['export']);
    expect(r.signal).toBeNull();
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('fetching');
    expect(r.stdout).toContain('SLOW=yes');
  });
});
