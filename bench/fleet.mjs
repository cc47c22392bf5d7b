/**
 * B7 fleet: N `secretrun export` runs started at once against SSM (moto_server) behind a token-bucket throttling
 * proxy, as a deploy or an autoscaling burst starts a fleet. Every start should succeed, and the backend should
 * serve no more requests than the data needs (35 parameters = 4 GetParametersByPath pages per start).
 *
 *   node bench/fleet.mjs                      N = 100 and 200, 40 requests per second, 35 parameters
 *   node bench/fleet.mjs --n=500,1000 --rate=100 --params=35
 *
 * `npm run bench` runs it last (B7) through `fleetBench`. The proxy answers a request beyond the bucket at once with
 * a ThrottlingException (HTTP 400), as SSM does; a request within it is forwarded to moto ("served"). A served
 * request whose client hung up before the answer came is counted as abandoned (work the backend did for nothing).
 */
import { createServer, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SECRETRUN_BIN, capture, node, seedSsm, startMoto, table, tempProject } from './lib.mjs';

const PAGE_SIZE = 10;

/** A token bucket of `rate` requests per second (burst: one second's worth) in front of `target`. */
export async function startThrottlingProxy(target, rate) {
  const stats = { sent: 0, throttled: 0, served: 0, abandoned: 0 };
  let tokens = rate;
  let last = performance.now();
  const upstream = new URL(target);
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      stats.sent++;
      const now = performance.now();
      tokens = Math.min(rate, tokens + ((now - last) / 1000) * rate);
      last = now;
      if (tokens < 1) {
        stats.throttled++;
        const body = JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' });
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1', 'content-length': Buffer.byteLength(body) });
        res.end(body);
        return;
      }
      tokens -= 1;
      stats.served++;
      let answered = false;
      res.on('close', () => {
        if (!answered) stats.abandoned++;
      });
      const body = Buffer.concat(chunks);
      const forward = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.on('end', () => (answered = true));
          up.pipe(res);
        },
      );
      forward.on('error', () => res.destroy());
      forward.end(body);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    stats,
    reset() {
      Object.assign(stats, { sent: 0, throttled: 0, served: 0, abandoned: 0 });
      tokens = rate;
      last = performance.now();
    },
    close: () =>
      new Promise((r) => {
        server.close(r);
        server.closeAllConnections();
      }),
  };
}


/** One start: resolves with whether it printed every key, and the first line of its error otherwise. */
async function start(cwd, env, expectedKeys) {
  const { code, stdout, stderr } = await capture(node('export', [SECRETRUN_BIN, 'export', '--format', 'json']), { cwd, env });
  let keys = 0;
  try {
    keys = Object.keys(JSON.parse(stdout)).length;
  } catch {
    /* no output */
  }
  return { ok: code === 0 && keys === expectedKeys, error: stderr.trim().split('\n')[0] ?? '' };
}

/**
 * Run the fleet for each N; returns one row per N. `log` gets progress lines (stderr in the bench).
 */
export async function runFleet({ counts = [100, 200], rate = 40, params = 35, log = () => {} } = {}) {
  const moto = await startMoto();
  const proxy = await startThrottlingProxy(moto.url, rate);
  const project = tempProject('b7');
  const pages = Math.ceil(params / PAGE_SIZE);
  try {
    log(`B7: seeding ${params} parameters (not timed)`);
    await seedSsm(moto.url, Array.from({ length: params }, (_, i) => ({ name: `/fleet/app/P${String(i).padStart(3, '0')}`, value: `value-${i}` })));
    project.write('secretrun.yaml', `sources:\n  - type: ssm\n    path: /fleet/app\n    endpoint: ${proxy.url}\n    region: us-east-1\n`);
    const nowhere = join(project.dir, 'no-aws-config');
    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NO_COLOR: '1',
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_CONFIG_FILE: join(nowhere, 'config'),
      AWS_SHARED_CREDENTIALS_FILE: join(nowhere, 'credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
    };
    const rows = [];
    for (const n of counts) {
      proxy.reset();
      log(`B7: ${n} concurrent starts at ${rate} requests/s`);
      const t0 = performance.now();
      const results = await Promise.all(Array.from({ length: n }, () => start(project.dir, env, params)));
      const wallS = (performance.now() - t0) / 1000;
      const succeeded = results.filter((r) => r.ok).length;
      const errors = [...new Set(results.filter((r) => !r.ok).map((r) => r.error))].slice(0, 3);
      const { sent, throttled, served, abandoned } = proxy.stats;
      rows.push({ n, succeeded, wallS, sent, throttled, served, abandoned, servedPerStart: served / n, pages, backendS: served / rate, errors });
    }
    return rows;
  } finally {
    await proxy.close();
    moto.stop();
    project.remove();
  }
}

/** The table, and the distinct errors of the starts that failed. */
export function printFleet(rows, rate) {
  console.log(fleetTable(rows, rate));
  for (const r of rows) if (r.errors.length > 0) console.log(`\nN=${r.n} failures: ${r.errors.join(' | ')}`);
}

export function fleetTable(rows, rate) {
  return table(
    ['starts', 'succeeded', 'wall time', 'requests sent', 'throttled', 'served', 'abandoned', 'served per start', 'ideal', `backend's own time (served / ${rate} per s)`],
    rows.map((r) => [
      r.n,
      `${r.succeeded}/${r.n}`,
      `${r.wallS.toFixed(1)} s`,
      r.sent,
      r.throttled,
      r.served,
      r.abandoned,
      r.servedPerStart.toFixed(3),
      r.pages,
      `${r.backendS.toFixed(1)} s`,
    ]),
  );
}

/** The `npm run bench` entry: prints the table and records the goals as targets. */
export async function fleetBench({ target, say, rate = 40, counts = [100, 200] }) {
  const rows = await runFleet({ counts, rate, log: say });
  console.log(`## B7 fleet: concurrent \`secretrun export\` starts, SSM (moto) behind a ${rate} requests/s token-bucket throttling proxy, 35 parameters (4 pages)\n`);
  printFleet(rows, rate);
  console.log('');
  for (const r of rows) {
    target(`B7: ${r.n} of ${r.n} concurrent starts succeed`, `${r.succeeded}/${r.n} in ${r.wallS.toFixed(1)} s (backend's own time ${r.backendS.toFixed(1)} s)`, r.succeeded === r.n);
    target(`B7: N=${r.n} served per start ≤ ${r.pages} pages + 2 %`, `${r.servedPerStart.toFixed(3)} (${r.abandoned} abandoned)`, r.servedPerStart <= r.pages * 1.02);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name, fallback) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
  const counts = arg('n', '100,200').split(',').map(Number);
  const rate = Number(arg('rate', '40'));
  const params = Number(arg('params', '35'));
  const rows = await runFleet({ counts, rate, params, log: (m) => process.stderr.write(`${m}\n`) });
  console.log(`node ${process.version}, ${(await import('node:os')).cpus().length} CPUs; ${params} parameters, ${rate} requests/s\n`);
  printFleet(rows, rate);
}
