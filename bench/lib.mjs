/**
 * Shared pieces of the benchmarks: the commands under test, alternating timed runs, fixtures written to a temp
 * dir, a delaying HTTP server, and a counting proxy in front of moto_server.
 *
 * Every timing is the wall time of a whole process, measured from this process with `spawnSync`, because what a
 * user pays is the start-up of the wrapper plus its child. Commands are alternated (A B C A B C ...) so that
 * load from other work on the machine spreads evenly over them instead of biasing whichever ran during a spike.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installedNodes } from '../scripts/node-versions.mjs';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const requireFromRepo = createRequire(join(REPO, 'package.json'));

/** The secretrun entry under test: the shipped bin shim, or another build to compare (SECRETRUN_BENCH_BIN). */
export const SECRETRUN_BIN = process.env.SECRETRUN_BENCH_BIN
  ? resolve(process.env.SECRETRUN_BENCH_BIN)
  : join(REPO, 'bin', JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).bin.secretrun.replace(/^(\.\/)?bin\//, ''));

/**
 * The physical limit of any Node.js wrapper: start node, spawn `true` with inherited stdio, forward its exit code.
 * Written as a one-liner because that is exactly what a wrapper with zero features would be.
 */
export const SPAWN_ONLY = "require('child_process').spawn('true',{stdio:'inherit'}).on('exit',(c)=>process.exit(c))";

/** A peer's CLI script, found through its package.json `bin` (several peers all call their bin "dotenv"). */
export function peerBin(pkg, binName) {
  const manifestPath = requireFromRepo.resolve(`${pkg}/package.json`);
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  const bin = typeof manifest.bin === 'string' ? manifest.bin : manifest.bin[binName];
  return { path: join(dirname(manifestPath), bin), version: manifest.version };
}

/** `node <script> args` — every wrapper is started by the same node binary, without a shebang or npx in between. */
export const node = (label, args, extra = {}) => nodeOn(process.execPath, label, args, extra);

/** The same with another Node binary (the per-Node B1 rows). */
export const nodeOn = (bin, label, args, extra = {}) => ({ label, file: bin, args, ...extra });

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Run once, synchronously, and return the wall time in ms. A non-zero exit aborts the benchmark: a failing run would be a meaningless time. */
export function timeOnce(cmd, { cwd, env }) {
  const start = process.hrtime.bigint();
  const result = spawnSync(cmd.file, cmd.args, { cwd: cmd.cwd ?? cwd, env: { ...env, ...cmd.env }, stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 24 });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) throw new Error(`${cmd.label} exited with ${result.status ?? result.signal}: ${String(result.stderr).trim().split('\n').slice(-3).join(' | ')}`);
  return ms;
}

/** The same, but asynchronous: needed when this process also serves the requests the command makes. */
export function timeOnceAsync(cmd, { cwd, env }) {
  return timeSpanAsync(cmd, { cwd, env }).then(({ start, end }) => end - start);
}

/** Run asynchronously; resolves with its start and end on the `performance.now()` clock. */
export function timeSpanAsync(cmd, { cwd, env }) {
  return new Promise((resolvePromise, reject) => {
    const start = performance.now();
    const child = spawn(cmd.file, cmd.args, { cwd: cmd.cwd ?? cwd, env: { ...env, ...cmd.env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const end = performance.now();
      if (code !== 0) reject(new Error(`${cmd.label} exited with ${code ?? signal}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
      else resolvePromise({ start, end });
    });
  });
}

/** Run once asynchronously and return { code, stdout, stderr } (for checking what a command produced). */
export function capture(cmd, { cwd, env }) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd.file, cmd.args, { cwd: cmd.cwd ?? cwd, env: { ...env, ...cmd.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

/** Alternate the commands for `rounds` rounds after `warmup` untimed ones; returns the samples per command. */
export async function alternate(cmds, { rounds, warmup = 2, cwd, env, async = false }) {
  const samples = cmds.map(() => []);
  for (let r = 0; r < warmup + rounds; r++) {
    for (let i = 0; i < cmds.length; i++) {
      const ms = async ? await timeOnceAsync(cmds[i], { cwd, env }) : timeOnce(cmds[i], { cwd, env });
      if (r >= warmup) samples[i].push(ms);
    }
  }
  return samples;
}

/**
 * One figure GNU time reports for a run of `cmd` (`format`: `%M` peak RSS in KiB, `%R` minor page faults), or
 * undefined without /usr/bin/time. A non-zero exit aborts the benchmark.
 */
export function gnuTime(cmd, format, { cwd, env }) {
  if (!existsSync('/usr/bin/time')) return undefined;
  const out = join(mkdtempSync(join(tmpdir(), 'secretrun-time-')), 'time');
  const result = spawnSync('/usr/bin/time', ['-f', format, '-o', out, cmd.file, ...cmd.args], { cwd: cmd.cwd ?? cwd, env: { ...env, ...cmd.env }, stdio: 'ignore' });
  const figure = Number(readFileSync(out, 'utf8').trim().split('\n').pop());
  rmSync(dirname(out), { recursive: true, force: true });
  if (result.status !== 0) throw new Error(`${cmd.label} exited with ${result.status} under /usr/bin/time`);
  return figure;
}

/** This Node and the installed 22, 24 and 26 (scripts/node-versions.mjs), or only the majors BENCH_NODES lists (`24,26`). */
export function selectedNodes() {
  const majors = process.env.BENCH_NODES?.split(',').map(Number);
  const others = installedNodes().filter((n) => n.version !== process.versions.node);
  const nodes = [{ version: process.versions.node, bin: process.execPath }, ...others];
  return nodes.filter((n) => !majors || majors.includes(Number(n.version.split('.')[0])));
}

/** Peak RSS in KiB of a command and its descendants' largest process, from GNU time (wait4's ru_maxrss). */
export function peakRssKiB(cmd, { cwd, env }) {
  return gnuTime(cmd, '%M', { cwd, env });
}

/** A fresh temp dir; files are written 0600 so secretrun has no permission warning to print. */
export function tempProject(prefix) {
  const dir = mkdtempSync(join(tmpdir(), `secretrun-bench-${prefix}-`));
  const write = (name, text) => {
    const path = join(dir, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    chmodSync(path, 0o600);
  };
  return { dir, write, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** `count` dotenv lines with realistic-looking values (some quoted, some with spaces or #). */
export function dotenvText(prefix, count) {
  let text = '';
  for (let i = 0; i < count; i++) {
    const key = `${prefix}_${String(i).padStart(5, '0')}`;
    if (i % 10 === 3) text += `${key}="quoted value ${i} # not a comment"\n`;
    else if (i % 10 === 7) text += `# comment line ${i}\n${key}=postgres://user${i}:pw${i}@db.internal:5432/app\n`;
    else text += `${key}=value_${i}_${'x'.repeat(24)}\n`;
  }
  return text;
}

export function keyedObject(prefix, count) {
  const obj = {};
  for (let i = 0; i < count; i++) obj[`${prefix}_${String(i).padStart(5, '0')}`] = i % 5 === 0 ? i : `value_${i}_${'y'.repeat(24)}`;
  return obj;
}

/** A flat YAML mapping written by hand (no yaml dependency in the benchmark itself). */
export function yamlText(obj) {
  return Object.entries(obj)
    .map(([k, v]) => `${k}: ${typeof v === 'number' ? v : JSON.stringify(v)}\n`)
    .join('');
}

export function freePort() {
  return new Promise((resolvePromise, reject) => {
    const server = createTcpServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePromise(port));
    });
  });
}

/**
 * A loopback server whose `/delay/<ms>/<name>` answers after <ms> with `{"<NAME>_KEY": "...", "NEXT": "<name>-next"}`,
 * so a chained layer can put a key of the first one into its URL. It notes when each request arrives and each
 * answer is sent, on this process's clock (`performance.now()`), which also times the command.
 */
export async function startDelayServer() {
  const events = [];
  const server = createServer((req, res) => {
    events.push({ at: performance.now(), what: 'request' });
    const [, , ms, name] = (req.url ?? '').split('/');
    setTimeout(() => {
      const body = JSON.stringify({ [`${name.replace(/\W/g, '_').toUpperCase()}_KEY`]: `secret-of-${name}`, NEXT: `${name}-next` });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body, () => events.push({ at: performance.now(), what: 'answer' }));
    }, Number(ms));
  });
  server.keepAliveTimeout = 100;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    /** Take the events noted since the last call. */
    take: () => events.splice(0),
    close: () => new Promise((r) => server.close(r)),
  };
}

/** Start moto_server on a free loopback port in its own process group; resolves once it answers. */
export async function startMoto() {
  const port = await freePort();
  const child = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore', detached: true });
  const failed = new Promise((_, reject) => child.once('error', reject));
  const url = `http://127.0.0.1:${port}`;
  // SIGKILL: the bench exits right after stopping it, too soon to wait for a SIGTERM to be honoured, and moto
  // holds nothing worth flushing.
  const stop = () => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const res = await Promise.race([fetch(`${url}/moto-api/`, { signal: AbortSignal.timeout(1000) }), failed]);
      await res.arrayBuffer();
      if (res.ok) return { url, stop };
    } catch (err) {
      if (err?.code === 'ENOENT') throw new Error('moto_server is not installed (pip install "moto[server]>=5")');
    }
    if (Date.now() > deadline) {
      stop();
      throw new Error('moto_server did not answer within 30 s');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A transparent proxy in front of moto that counts SSM API calls by their X-Amz-Target and tracks how many
 * GetParametersByPath calls were in flight at once, per requested path.
 */
export async function startCountingProxy(target) {
  const stats = { calls: {}, inFlight: 0, maxInFlight: 0, paths: new Set(), overlappingPaths: false, emptyPages: 0, tokensReturned: 0 };
  const active = new Map(); // path -> in-flight count
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const action = String(req.headers['x-amz-target'] ?? '').replace(/^AmazonSSM\./, '') || 'other';
      stats.calls[action] = (stats.calls[action] ?? 0) + 1;
      let path;
      if (action === 'GetParametersByPath') {
        path = JSON.parse(body.toString('utf8')).Path;
        stats.paths.add(path);
        active.set(path, (active.get(path) ?? 0) + 1);
        stats.inFlight++;
        stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
        if ([...active.values()].filter((n) => n > 0).length > 1) stats.overlappingPaths = true;
      }
      const upstream = httpRequest(`${target}${req.url}`, { method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        const answer = [];
        up.on('data', (c) => {
          answer.push(c);
          res.write(c);
        });
        up.on('end', () => {
          res.end();
          if (path !== undefined) {
            const page = JSON.parse(Buffer.concat(answer).toString('utf8'));
            if ((page.Parameters ?? []).length === 0) stats.emptyPages++;
            if (page.NextToken) stats.tokensReturned++;
            active.set(path, active.get(path) - 1);
            stats.inFlight--;
          }
        });
      });
      upstream.on('error', () => res.destroy());
      upstream.end(body);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const reset = () => {
    stats.calls = {};
    stats.maxInFlight = 0;
    stats.paths = new Set();
    stats.overlappingPaths = false;
    stats.emptyPages = 0;
    stats.tokensReturned = 0;
  };
  return { url: `http://127.0.0.1:${server.address().port}`, stats, reset, close: () => new Promise((r) => server.close(r)) };
}

export const fmtMs = (ms) => `${ms.toFixed(0)} ms`;
export const fmtRatio = (r) => `${r.toFixed(2)}×`;

/** A markdown table (it reads fine in a terminal too, and pastes into the README unchanged). */
export function table(headers, rows) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  return [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

/** Seed moto with the real SDK, 16 PutParameter calls in flight (there is no batch put in the SSM API). */
export async function seedSsm(endpoint, params) {
  const { SSMClient, PutParameterCommand } = createRequire(join(REPO, 'package.json'))('@aws-sdk/client-ssm');
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'; // this process only; runs get baseEnv
  const client = new SSMClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  const queue = [...params];
  const worker = async () => {
    for (let p = queue.shift(); p; p = queue.shift()) await client.send(new PutParameterCommand({ Name: p.name, Value: p.value, Type: 'String', Overwrite: true }));
  };
  try {
    await Promise.all(Array.from({ length: 16 }, worker));
  } finally {
    client.destroy();
  }
}

/**
 * The package as a user installs it: a clean clone of this repository's HEAD (`git clone`, `npm ci`), `npm pack`
 * (its prepack makes the release's code caches: the newest release of each supported major), and the tarball
 * installed into an empty project. Uncommitted changes are not in it, on purpose. Made once per commit under the
 * temp dir and reused (BENCH_PACKAGE_DIR names another place); returns { bin, commit, caches }.
 */
export function installedPackage() {
  const commit = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).stdout.trim();
  const dir = process.env.BENCH_PACKAGE_DIR || join(tmpdir(), `secretrun-bench-package-${commit.slice(0, 12)}`);
  const consumer = join(dir, 'consumer');
  const pkgDir = join(consumer, 'node_modules', 'secretrun');
  const done = join(dir, 'installed');
  const caches = () => readdirSync(join(pkgDir, 'dist', 'code-cache')).filter((f) => f.endsWith('.bin')).map((f) => f.replace(/\.bin$/, ''));
  if (existsSync(done)) return { bin: join(pkgDir, 'bin', 'secretrun.cjs'), commit, caches: caches() };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(consumer, { recursive: true });
  const run = (file, args, cwd) => {
    const r = spawnSync(file, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_update_notifier: 'false' } });
    if (r.status !== 0) throw new Error(`bench: ${file} ${args.join(' ')} failed (${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    return r.stdout;
  };
  const clone = join(dir, 'clone');
  run('git', ['clone', '--quiet', '--no-hardlinks', REPO, clone], dir);
  run('git', ['checkout', '--quiet', commit], clone);
  run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], clone);
  const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', dir], clone).replace(/^[^[]*/s, ''));
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  run('npm', ['install', join(dir, packed[0].filename), '--prefer-offline', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error'], consumer);
  rmSync(clone, { recursive: true, force: true });
  writeFileSync(done, `${commit}\n`);
  return { bin: join(pkgDir, 'bin', 'secretrun.cjs'), commit, caches: caches() };
}

/**
 * A copy of the installed package (installedPackage) whose every code cache is another V8's under this V8's name,
 * so each Node finds a cache and V8 rejects it: what a user on another release of a major gets (there the file is
 * usually not found at all, which costs the same compile without the read). Returns { bin, remove }.
 */
export function rejectedCachePackage(pkg) {
  const from = join(dirname(pkg.bin), '..');
  const dir = mkdtempSync(join(tmpdir(), 'secretrun-bench-rejected-'));
  const to = join(dir, 'node_modules', 'secretrun');
  cpSync(from, to, { recursive: true });
  for (const sub of ['dist/code-cache', 'dist/code-cache/cold', 'dist/vendor/code-cache/aws']) {
    const names = readdirSync(join(to, sub)).filter((n) => n.endsWith('.bin')).sort();
    const bytes = names.map((n) => readFileSync(join(to, sub, n)));
    names.forEach((n, i) => writeFileSync(join(to, sub, n), bytes[(i + 1) % bytes.length]));
  }
  return { bin: join(to, 'bin', 'secretrun.cjs'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}
