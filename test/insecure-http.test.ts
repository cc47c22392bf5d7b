/**
 * Credentials never travel over plain http:// to a host that is not loopback (contract, remote layers), proven
 * against a REAL server on a non-loopback address. The only non-loopback address this suite may use is one it
 * creates: a network namespace joined to this one by a veth pair, addresses 10.2xx.y.1/.2 on that pair only.
 * The server runs inside the namespace (`ip netns exec`); everything is torn down in afterAll. Needs root and
 * `ip`; otherwise the suite is skipped, saying why.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, useTmpProjects } from './helpers/cli.js';

const isRoot = process.getuid?.() === 0;
const hasIp = spawnSync('ip', ['-V'], { stdio: 'ignore' }).status === 0;
const skipReason = !isRoot ? 'not running as root' : !hasIp ? 'the `ip` command is missing' : undefined;
if (skipReason) console.warn(`\n*** insecure-http: skipping the non-loopback HTTP tests: ${skipReason} (they create a network namespace) ***\n`);

const TOKEN = { doppler: 'dp.st.prd.NsDopplerToken8842', vault: 'hvs.NsVaultToken5521', query: 'NsQueryToken7730', literal: 'Bearer NsLiteralToken3391' };

/** The server inside the namespace: logs every request as one JSON line on stdout, answers a Doppler-shaped body. */
const SERVER = `
const http = require('node:http');
const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    process.stdout.write(JSON.stringify({ url: req.url, headers: req.headers, body }) + '\\n');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ FROM_SERVER: 'yes' }));
  });
});
server.listen(Number(process.argv[1]), process.argv[2], () => process.stdout.write('listening\\n'));
`;

interface Logged {
  url: string;
  headers: Record<string, string>;
  body: string;
}

const ns = `secretrun-t${process.pid}-${randomInt(1e6)}`;
const tag = randomInt(36 ** 4).toString(36).padStart(4, '0');
const hostIf = `srh${tag}`;
const nsIf = `srn${tag}`;
const subnet = `10.${200 + randomInt(56)}.${randomInt(256)}`;
const serverIp = `${subnet}.2`;
const port = 8000 + randomInt(1000);
const origin = `http://${serverIp}:${port}`;
let server: ChildProcess | undefined;
const received: Logged[] = [];

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
}

describe.skipIf(skipReason !== undefined)('credentials over plain http to a non-loopback host (a real server in a network namespace)', () => {
  beforeAll(async () => {
    ip('netns', 'add', ns);
    ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf);
    ip('link', 'set', nsIf, 'netns', ns);
    ip('addr', 'add', `${subnet}.1/24`, 'dev', hostIf);
    ip('link', 'set', hostIf, 'up');
    ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${serverIp}/24`, 'dev', nsIf);
    ip('netns', 'exec', ns, 'ip', 'link', 'set', nsIf, 'up');
    ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
    server = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', SERVER, String(port), serverIp], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = createInterface({ input: server.stdout! });
    await new Promise<void>((resolve, reject) => {
      server!.once('exit', (code) => reject(new Error(`the namespace server exited (${code})`)));
      lines.on('line', (line) => {
        if (line === 'listening') resolve();
        else received.push(JSON.parse(line) as Logged);
      });
    });
  }, 30_000);

  afterAll(() => {
    server?.kill('SIGKILL');
    // Deleting the namespace removes its end of the pair, and with it the host end.
    spawnSync('ip', ['netns', 'del', ns]);
    spawnSync('ip', ['link', 'del', hostIf], { stdio: 'ignore' });
  });

  const project = useTmpProjects((fn) => afterAll(fn));

  /** Run the CLI against the namespace server; returns the result and what the server received meanwhile. */
  async function run(files: Record<string, string>, env: Record<string, string> = {}) {
    const before = received.length;
    const { dir } = project(files);
    const r = await runCli(['export', '--format', 'json'], { cwd: dir, env: { ORIGIN: origin, ...env } });
    // Anything sent has been logged by the time the CLI answered (it waits for the response).
    return { ...r, got: received.slice(before) };
  }

  it('a layer without any credential reaches the server (so "received nothing" below means something)', async () => {
    const r = await run({ 'secretrun.yaml': `sources:\n  - type: http\n    url: "${origin}/plain"\n    retries: 0\n` });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ FROM_SERVER: 'yes' });
    expect(r.got.map((g) => g.url)).toEqual(['/plain']);
  });

  it('doppler: DOPPLER_API_HOST from a committed .env pointing at plain http: the token is never sent', async () => {
    const r = await run(
      { '.env': `DOPPLER_API_HOST=${origin}\nDOPPLER_TOKEN=${TOKEN.doppler}\n`, 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n  - type: doppler\n    project: p\n    config: c\n    retries: 0\n' },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^secretrun: layer "doppler p\/c" \(secretrun\.yaml:\d+:\d+\): refusing to send the Doppler token over plain http:\/\/ to .* \(not loopback\): use https:\/\/, or set allow_insecure_http: true on the layer/);
    expect(r.stderr).not.toContain(TOKEN.doppler);
    expect(r.got).toEqual([]);
  });

  it.each([
    ['a header filled in by ${...}', `    url: "\${ORIGIN}/v1/x"\n    headers: { X-Vault-Token: "\${VAULT_TOKEN}" }\n`, 'header X-Vault-Token'],
    ['a query parameter filled in by ${...}', `    url: "\${ORIGIN}/v1/x?token=\${QUERY_TOKEN}"\n`, 'the query of the URL'],
    ['URL userinfo filled in by ${...}', `    url: "http://admin:\${QUERY_TOKEN}@${serverIp}:${port}/v1/x"\n`, 'the user and password of the URL'],
    ['a literal Authorization header', `    url: "\${ORIGIN}/v1/x"\n    headers: { Authorization: "${TOKEN.literal}" }\n`, 'header Authorization'],
    ['a body filled in by ${...}', `    url: "\${ORIGIN}/v1/x"\n    method: POST\n    body: '{"token": "\${VAULT_TOKEN}"}'\n`, 'the request body'],
  ])('http: %s is never sent', async (_what, options, carried) => {
    const r = await run({ 'secretrun.yaml': `sources:\n  - type: http\n${options}    retries: 0\n` }, { VAULT_TOKEN: TOKEN.vault, QUERY_TOKEN: TOKEN.query });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`refusing to send ${carried} over plain http:// to `);
    for (const t of Object.values(TOKEN)) expect(r.stderr).not.toContain(t);
    expect(r.got).toEqual([]);
  });

  it('allow_insecure_http: true opts a layer in (a trusted internal network)', async () => {
    const r = await run(
      { 'secretrun.yaml': 'sources:\n  - type: http\n    url: "${ORIGIN}/v1/x"\n    headers: { X-Vault-Token: "${VAULT_TOKEN}" }\n    allow_insecure_http: true\n    retries: 0\n  - type: doppler\n    api_host: "${ORIGIN}"\n    token: "${DOPPLER_TOKEN}"\n    allow_insecure_http: true\n    retries: 0\n' },
      { VAULT_TOKEN: TOKEN.vault, DOPPLER_TOKEN: TOKEN.doppler },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.got.map((g) => g.headers['x-vault-token'] ?? g.headers.authorization).sort()).toEqual([`Bearer ${TOKEN.doppler}`, TOKEN.vault].sort());
  });

  it('check accepts allow_insecure_http on http and doppler layers', async () => {
    const { dir } = project({ 'secretrun.yaml': 'sources:\n  - type: http\n    url: "${ORIGIN}/v1/x"\n    allow_insecure_http: true\n  - type: doppler\n    allow_insecure_http: false\n' });
    const r = await runCli(['check'], { cwd: dir });
    expect(r.stderr).toMatch(/OK/);
    expect(r.code).toBe(0);
  });
});
