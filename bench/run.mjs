/**
 * `npm run bench`: start-up, scale, remote concurrency, SSM paging and memory, against the `node -e 0` floor,
 * a spawn-only launcher and the peers, all measured in this one run. Prints markdown tables and the strict
 * targets with PASS/FAIL. Exit status is 0 unless a benchmark could not run (or `--strict` and a target failed):
 * the cheap CI regression check is bench/guard.mjs.
 *
 *   BENCH_ROUNDS=31        timed rounds for B1/B2 (B3 uses 2/3 of it; at least 15): B1 is a few ms over a
 *                          ~70 ms floor, so fewer rounds let machine noise decide the ratio
 *   SECRETRUN_BENCH_BIN=…  benchmark another build of the CLI (e.g. a layout experiment)
 *   --only=B1,B3           run some benchmarks only (B6C: B6's Google and Azure rows alone; B6F: each remote
 *                          layer against its client's floor, on Node 24 and 26, BENCH_RUNS (3) runs of
 *                          BENCH_FLOOR_ROUNDS (BENCH_ROUNDS) rounds: bench/floors.mjs) (B7, the fleet, takes a few minutes: `--only=B7`, or bench/fleet.mjs)
 *
 * B1N repeats B1 on every Node that scripts/node-versions.mjs has installed (22, 24, 26) besides this one, with
 * both of `run`'s paths where Node has process.execve (the handover, and the spawning parent of `--no-exec`).
 * B6 is the start-up of a run with one remote layer (ssm against moto_server, doppler against a loopback
 * server) next to `node -e 0`, the bare load of the layer's library, the load of what the CLI uses instead (the
 * vendored AWS clients with their code cache, undici's request API alone), and one round trip of a warm client.
 * B7 is the fleet: N concurrent starts against moto behind a throttling proxy (bench/fleet.mjs).
 * B1N and B6 also measure the package as a user installs it, beside the working tree's build: HEAD packed from a
 * clean clone (`npm ci`, `npm pack`, whose prepack makes the release's code caches) and installed into an empty
 * project, about a minute and a half once per commit (bench/lib.mjs installedPackage; BENCH_PACKAGE=0 skips it).
 * Their Node 24 and 26 rows are the issue #31 goals; bench/relay-cpu.mjs measures the relaying parent's own CPU,
 * and bench/snapshot.mjs the floor of a start from a V8 start-up snapshot (a design that was measured, not built).
 */
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  REPO,
  SECRETRUN_BIN,
  SPAWN_ONLY,
  alternate,
  capture,
  fmtMs,
  fmtRatio,
  installedPackage,
  rejectedCachePackage,
  median,
  node,
  nodeOn,
  peakRssKiB,
  peerBin,
  startCountingProxy,
  startDelayServer,
  seedSsm,
  startMoto,
  table,
  tempProject,
  timeSpanAsync,
} from './lib.mjs';
import { remoteProject, scaleProject, ssmProject, startupProject } from './fixtures.mjs';
import { installedNodes } from '../scripts/node-versions.mjs';

const ROUNDS = Math.max(15, Number(process.env.BENCH_ROUNDS ?? 31));
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7).split(',');
const wanted = (b) => !only || only.includes(b);
const strict = process.argv.includes('--strict');

if (!existsSync(SECRETRUN_BIN) || (!process.env.SECRETRUN_BENCH_BIN && !['cli.js', 'cli.cjs'].some((f) => existsSync(join(REPO, 'dist', f))))) {
  console.error('bench: no built CLI; run `npm run bench` (it builds first) or `node scripts/build.mjs`');
  process.exit(1);
}

/** The environment of every run: ours, minus anything that would change what secretrun or a peer does. */
const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(SECRETRUN_|DOTENV_|NODE_OPTIONS$|AWS_|NEXT$)/.test(k)));
baseEnv.NO_COLOR = '1';

const targets = [];
const target = (name, measured, pass) => targets.push([name, measured, pass ? 'PASS' : 'FAIL']);
const started = Date.now();
const say = (m) => process.stderr.write(`bench: ${m}\n`);

const secretrun = (label, args, extra) => node(label, [SECRETRUN_BIN, ...args], extra);
const floor = node('`node -e 0`', ['-e', '0']);
const spawnOnly = node('spawn-only launcher (`node -e` spawning `true`)', ['-e', SPAWN_ONLY]);

console.log(`# secretrun benchmarks\n`);
console.log(`node ${process.version}, ${process.platform}/${process.arch}, ${(await import('node:os')).cpus().length} CPUs; medians of ${ROUNDS} alternating runs unless noted; CLI: ${SECRETRUN_BIN.replace(REPO + '/', '')}\n`);

// ---- B1 start-up and B2 scale, alternated together so every ratio shares the same conditions ----------------
let b1Median;
let b1Project;
let b2Project;
if (wanted('B1') || wanted('B2') || wanted('B5') || wanted('B1N')) {
  b1Project = startupProject();
  b2Project = scaleProject();
}
if (wanted('B1') || wanted('B2')) {
  const dotenv = peerBin('dotenv', 'dotenv');
  const dotenvCli = peerBin('dotenv-cli', 'dotenv');
  const envCmd = peerBin('env-cmd', 'env-cmd');
  const dotenvx = peerBin('@dotenvx/dotenvx', 'dotenvx');
  const b1 = secretrun('**secretrun** `-- true` (env + dotenv + json)', ['--', 'true']);
  const b2 = secretrun('**secretrun** `export --format dotenv`, 10,000 keys (B2)', ['export', '--format', 'dotenv'], { cwd: b2Project.dir });
  const cmds = [
    floor,
    spawnOnly,
    b1,
    node(`\`dotenv run\` (dotenv ${dotenv.version})`, [dotenv.path, 'run', '-q', '--', 'true']),
    node(`dotenv-cli ${dotenvCli.version}`, [dotenvCli.path, '--', 'true']),
    node(`env-cmd ${envCmd.version}`, [envCmd.path, '-f', './.env', '--', 'true']),
    node(`\`dotenvx run\` ${dotenvx.version}`, [dotenvx.path, 'run', '-q', '--', 'true']),
    ...(wanted('B2') ? [b2] : []),
  ];
  say(`B1/B2: ${cmds.length} commands × ${ROUNDS} rounds`);
  const samples = await alternate(cmds, { rounds: ROUNDS, cwd: b1Project.dir, env: baseEnv });
  const med = samples.map(median);
  const [floorMs, spawnMs, b1Ms, dotenvRunMs] = med;
  b1Median = b1Ms;
  const b1Rows = cmds.slice(0, 7).map((c, i) => [c.label, fmtMs(med[i]), fmtRatio(med[i] / floorMs), fmtRatio(med[i] / spawnMs)]);
  console.log(`## B1 start-up: wrap \`true\` with a 50-key .env\n`);
  console.log(table(['command', 'median wall', 'vs `node -e 0`', 'vs spawn-only'], b1Rows));
  console.log(`\nsecretrun's own overhead over the spawn-only launcher: ${fmtMs(b1Ms - spawnMs)}\n`);
  target('B1: secretrun faster than `dotenv run`', `${fmtMs(b1Ms)} vs ${fmtMs(dotenvRunMs)}`, b1Ms < dotenvRunMs);
  if (wanted('B2')) {
    const b2Ms = med[cmds.length - 1];
    console.log(`## B2 scale: 10,000 keys over dotenv + json + yaml layers, \`export --format dotenv\` to /dev/null\n`);
    console.log(table(['command', 'median wall', 'vs `node -e 0`', 'vs B1'], [[b2.label, fmtMs(b2Ms), fmtRatio(b2Ms / floorMs), fmtRatio(b2Ms / b1Ms)]]));
    console.log('');
    target('B2: 10,000 keys ≤ 1.5× B1', fmtRatio(b2Ms / b1Ms), b2Ms <= 1.5 * b1Ms);
  }
}

// ---- B1N start-up on each Node, each path -------------------------------------------------------------------
/**
 * The package as a user installs it (bench/lib.mjs installedPackage: packed from a clean clone of HEAD, installed
 * into an empty project), made once per commit, for B1N and B6; BENCH_PACKAGE=0 leaves it out.
 */
let installed;
function userPackage() {
  if (installed === undefined && process.env.BENCH_PACKAGE !== '0') {
    say('packing HEAD from a clean clone and installing it into an empty project (once per commit, not timed)');
    installed = installedPackage();
    console.log(`Installed package: HEAD ${installed.commit.slice(0, 12)} packed from a clean clone, code caches for V8 ${installed.caches.join(', ')}\n`);
  }
  return installed ?? undefined;
}
/** The Nodes B1N and B6 name: this one, and the installed 22, 24 and 26 (24 and 26 are the goals' Nodes: said when missing). */
function benchNodes() {
  const extra = installedNodes().filter((n) => n.version !== process.versions.node);
  for (const major of [24, 26]) if (!extra.some((n) => n.major === major)) say(`Node ${major} is not installed (node scripts/node-versions.mjs install ${major}): its rows are missing`);
  return [{ major: Number(process.versions.node.split('.')[0]), version: process.versions.node, bin: process.execPath }, ...extra];
}

if (wanted('B1N') || wanted('B1')) {
  const dotenv = peerBin('dotenv', 'dotenv');
  const pkg = userPackage();
  // Users on another release of a major than the package was packed with: no cache V8 takes, so they compile.
  const rejected = pkg && pkg.caches.length > 1 ? rejectedCachePackage(pkg) : undefined;
  const rows = [];
  for (const { major, version, bin } of benchNodes()) {
    const execs = capture0(bin, ['-p', 'typeof process.execve']) === 'function';
    const run = (label, flags, entry = SECRETRUN_BIN) => nodeOn(bin, label, [entry, ...flags, '--', 'true']);
    const path = execs ? 'execve path' : 'spawn path';
    const cmds = [
      nodeOn(bin, '`node -e 0`', ['-e', '0']),
      nodeOn(bin, 'spawn-only', ['-e', SPAWN_ONLY]),
      nodeOn(bin, '`dotenv run`', [dotenv.path, 'run', '-q', '--', 'true']),
      run(`secretrun (working tree), ${path}`, []),
      ...(execs ? [run('secretrun (working tree) `--no-exec`', ['--no-exec'])] : []),
      ...(pkg ? [run(`secretrun (installed package), ${path}`, [], pkg.bin), ...(execs ? [run('secretrun (installed package) `--no-exec`', ['--no-exec'], pkg.bin)] : [])] : []),
      ...(rejected && major >= 24 ? [run(`secretrun (installed package, its cache rejected: another release), ${path}`, [], rejected.bin)] : []),
    ];
    say(`B1N: node ${version}: ${cmds.length} commands × ${ROUNDS} rounds`);
    const med = (await alternate(cmds, { rounds: ROUNDS, cwd: b1Project.dir, env: baseEnv })).map(median);
    const [floorMs, spawnMs, dotenvMs] = med;
    const at = (label) => med[cmds.findIndex((c) => c.label === label)];
    for (let i = 0; i < cmds.length; i++) rows.push([`${version}`, cmds[i].label, fmtMs(med[i]), fmtRatio(med[i] / floorMs), fmtRatio(med[i] / spawnMs), fmtRatio(med[i] / dotenvMs)]);
    const ours = med[3];
    if (!execs) target(`B1N: Node ${major}, spawn path ≤ 1.05× the spawn-only limit`, fmtRatio(ours / spawnMs), ours <= 1.05 * spawnMs);
    else if (major >= 24) {
      target(`B1N: Node ${major}, execve path (working tree) ≤ 0.95× \`dotenv run\``, `${fmtRatio(ours / dotenvMs)} (${fmtMs(ours)} vs ${fmtMs(dotenvMs)})`, ours <= 0.95 * dotenvMs);
      if (pkg) {
        const userExecve = at(`secretrun (installed package), ${path}`);
        const relay = at('secretrun (installed package) `--no-exec`');
        target(`B1N: Node ${major}, execve path (installed package) ≤ 0.95× \`dotenv run\``, `${fmtRatio(userExecve / dotenvMs)} (${fmtMs(userExecve)} vs ${fmtMs(dotenvMs)})`, userExecve <= 0.95 * dotenvMs);
        target(`B1N: Node ${major}, \`--no-exec\` (installed package) ≤ 1.05× spawn-only`, `${fmtRatio(relay / spawnMs)} (${fmtMs(relay)} vs ${fmtMs(spawnMs)})`, relay <= 1.05 * spawnMs);
        target(`B1N: Node ${major}, \`--no-exec\` (installed package) ≤ 1.00× \`dotenv run\``, `${fmtRatio(relay / dotenvMs)} (${fmtMs(relay)} vs ${fmtMs(dotenvMs)})`, relay <= dotenvMs);
      }
    }
  }
  rejected?.remove();
  console.log(`## B1N start-up on each Node: \`-- true\` with the B1 project (env + dotenv + json)\n`);
  console.log(table(['node', 'command', 'median wall', 'vs `node -e 0`', 'vs spawn-only', 'vs `dotenv run`'], rows));
  console.log(`\nThe goals: the spawn path within 1.05× the spawn-only limit (Node 20); on Node 24 and 26, the execve path at most 0.95× \`dotenv run\` (working tree and installed package), and the installed package's \`--no-exec\` within 1.05× spawn-only and 1.00× \`dotenv run\`. Node 22's rows and the working tree's \`--no-exec\` are shown, not judged.\n`);
}

// ---- B6 remote start-up: one ssm layer, one doppler layer ---------------------------------------------------
if (wanted('B6')) {
  let moto;
  let doppler;
  const project = tempProject('b6');
  try {
    say('B6: starting moto_server and a loopback Doppler server (not timed)');
    moto = await startMoto();
    await seedSsm(moto.url, numbered('/bench/r1', 'R1', 10));
    doppler = await startDopplerServer(Object.fromEntries(numbered('', 'DOPPLER', 10).map((p) => [p.name.slice(1), p.value])));
    project.write('ssm.yaml', `sources:\n  - type: ssm\n    path: /bench/r1\n    endpoint: ${moto.url}\n    region: us-east-1\n`);
    project.write('doppler.yaml', `sources:\n  - type: doppler\n    api_host: ${doppler.url}\n    token: dp.st.bench\n`);
    const env = { ...baseEnv, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_EC2_METADATA_DISABLED: 'true', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' };
    const requireIn = (pkg) => `require(${JSON.stringify(createRequire(join(REPO, 'package.json')).resolve(pkg))})`;
    const cmds = [
      floor,
      node('`node -e "require(\'@aws-sdk/client-ssm\')"`', ['-e', requireIn('@aws-sdk/client-ssm')]),
      secretrun('**secretrun** `-- true`, one ssm layer (10 parameters)', ['-c', 'ssm.yaml', '--', 'true']),
      node('`node -e "require(\'undici\')"`', ['-e', requireIn('undici')]),
      secretrun('**secretrun** `-- true`, one doppler layer (10 keys)', ['-c', 'doppler.yaml', '--', 'true']),
    ];
    // The same runs on Node 24 and 26 (the execve handover: no exit of a process that loaded the SDK or undici, where
    // the spawn path's exit waits for V8's background work), from the working tree and from the installed package.
    const pkg = userPackage();
    const onNodes = benchNodes().filter((n) => n.major === 24 || n.major === 26);
    const perNode = [];
    for (const n of onNodes) {
      const on = (c, label, entry) => nodeOn(n.bin, `${label} on Node ${n.version}`, entry ? [entry, ...c.args.slice(1)] : c.args);
      const rows = [on(floor, '`node -e 0`')];
      for (const [c, layer] of [[cmds[2], 'ssm'], [cmds[4], 'doppler']]) {
        rows.push(on(c, `**secretrun** (working tree), one ${layer} layer`));
        if (pkg) rows.push(on(c, `**secretrun** (installed package), one ${layer} layer`, pkg.bin));
      }
      perNode.push({ at: cmds.length, rows });
      cmds.push(...rows);
    }
    // What a remote layer loads instead of the packages (rows after the table's first five): the vendored AWS
    // clients with their code cache, and undici's request API alone, each as bin/secretrun.cjs loads it.
    const shim = JSON.stringify(join(REPO, 'bin/secretrun.cjs'));
    const loadOnly = [
      node('AWS clients as the CLI loads them: `dist/vendor/aws.cjs` + code cache', ['-e', `require(${shim}).requireVendored('aws')`]),
      node("undici as the CLI loads it: `lib/global.js` + `lib/api/api-request.js`", ['-e', `${requireIn('undici/lib/global.js')};${requireIn('undici/lib/api/api-request.js')}`]),
    ];
    const loadOnlyAt = cmds.length;
    cmds.push(...loadOnly);
    for (const c of [cmds[2], cmds[4], ...perNode.flatMap((p) => p.rows.slice(1))]) {
      const r = await capture({ ...c, args: [...c.args.slice(0, -2), '--', process.execPath, '-p', 'Object.keys(process.env).filter(k=>/^(R1|DOPPLER)_/.test(k)).length'] }, { cwd: project.dir, env });
      if (r.code !== 0 || r.stdout.trim() !== '10') throw new Error(`B6: ${c.label} did not resolve 10 keys: ${r.stderr.trim()}`);
    }
    const rounds = Math.max(15, Math.round(ROUNDS / 2));
    say(`B6: ${cmds.length} commands × ${rounds} rounds`);
    const med = (await alternate(cmds, { rounds, cwd: project.dir, env, async: true })).map(median);
    const [floorMs, ssmLibMs, ssmMs, undiciLibMs, dopplerMs] = med;
    // One round trip as a warm client sees it, measured in this process: what no start-up work can remove.
    const ssmTrip = await warmSsmTrip(moto.url, rounds);
    const dopplerTrip = await warmFetchTrip(`${doppler.url}/v3/configs/config/secrets/download?format=json`, rounds);
    console.log(`## B6 remote start-up: one remote layer (${rounds} alternating runs)\n`);
    const row = (c, ms, trip) => [c.label, fmtMs(ms), fmtRatio(ms / floorMs), trip === undefined ? '' : `${fmtMs(ms - trip)} → ${fmtRatio((ms - trip) / floorMs)}`];
    console.log(
      table(
        ['command', 'median wall', 'vs `node -e 0`', 'minus one round trip, vs `node -e 0`'],
        [row(floor, floorMs), row(cmds[1], ssmLibMs), row(loadOnly[0], med[loadOnlyAt]), row(cmds[2], ssmMs, ssmTrip), row(cmds[3], undiciLibMs), row(loadOnly[1], med[loadOnlyAt + 1]), row(cmds[4], dopplerMs, dopplerTrip)],
      ),
    );
    for (const { at, rows } of perNode) {
      const nFloor = med[at];
      const nRow = (c, ms, trip) => [c.label, fmtMs(ms), fmtRatio(ms / nFloor), trip === undefined ? '' : `${fmtMs(ms - trip)} → ${fmtRatio((ms - trip) / nFloor)}`];
      console.log('');
      console.log(table(['command', 'median wall', 'vs its `node -e 0`', 'minus one round trip'], rows.map((c, i) => nRow(c, med[at + i], i === 0 ? undefined : /ssm/.test(c.label) ? ssmTrip : dopplerTrip))));
      for (let i = 1; i < rows.length; i++) {
        const ms = med[at + i];
        const trip = /ssm/.test(rows[i].label) ? ssmTrip : dopplerTrip;
        target(`B6: ${rows[i].label} ≤ 1.6× \`node -e 0\` + one round trip`, `${fmtMs(ms)} vs ${fmtMs(1.6 * nFloor + trip)}`, ms <= 1.6 * nFloor + trip);
      }
    }
    console.log(`\nOne round trip of a warm client: ssm GetParametersByPath to moto_server ${ssmTrip.toFixed(1)} ms, doppler download from the loopback server ${dopplerTrip.toFixed(1)} ms (medians of ${rounds}).\n`);
    target('B6: one ssm layer ≤ 1.6× `node -e 0` + one round trip', `${fmtMs(ssmMs)} vs ${fmtMs(1.6 * floorMs + ssmTrip)}`, ssmMs <= 1.6 * floorMs + ssmTrip);
    target('B6: one doppler layer ≤ 1.6× `node -e 0` + one round trip', `${fmtMs(dopplerMs)} vs ${fmtMs(1.6 * floorMs + dopplerTrip)}`, dopplerMs <= 1.6 * floorMs + dopplerTrip);
  } finally {
    moto?.stop();
    await doppler?.close();
    project.remove();
  }
}

// ---- B6F remote start-up against each client's floor (bench/floors.mjs) ------------------------------------------
if (wanted('B6F')) {
  const { floorsBench } = await import('./floors.mjs');
  const rounds = Math.max(1, Number(process.env.BENCH_FLOOR_ROUNDS ?? ROUNDS));
  const runs = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));
  await floorsBench({ nodes: benchNodes().filter((n) => n.major >= 24), baseEnv, rounds, runs, say, target });
}

// ---- B6 (Google and Azure): one gcp-secret-manager layer, one azure-key-vault layer ------------------------------
if (wanted('B6') || wanted('B6C')) {
  const { startGoogleFake, startAzureFake } = await import('./cloud-fakes.mjs');
  const google = await startGoogleFake();
  const azure = await startAzureFake();
  const project = tempProject('b6-cloud');
  try {
    const names = Array.from({ length: 10 }, (_, i) => `s${i}`).join(', ');
    project.write('gcp.yaml', `sources:\n  - type: gcp-secret-manager\n    project: bench\n    endpoint: ${google.url}\n    secrets: [${names}]\n`);
    project.write('azure.yaml', `sources:\n  - type: azure-key-vault\n    vault: ${azure.url}\n    secrets: [${names}]\n`);
    const env = {
      ...baseEnv,
      GCE_METADATA_HOST: `127.0.0.1:${google.port}`,
      METADATA_SERVER_DETECTION: 'ping-only',
      AZURE_TOKEN_CREDENTIALS: 'ManagedIdentityCredential',
      IDENTITY_ENDPOINT: `${azure.url}/msi/token`,
      IDENTITY_HEADER: 'bench',
    };
    const requireIn = (pkg) => `require(${JSON.stringify(createRequire(join(REPO, 'package.json')).resolve(pkg))})`;
    const cmds = [
      floor,
      node('`node -e "require(\'google-auth-library\')"`', ['-e', requireIn('google-auth-library')]),
      secretrun('**secretrun** `-- true`, one gcp-secret-manager layer (10 secrets, metadata server)', ['-c', 'gcp.yaml', '--', 'true']),
      node('`node -e "require(\'@azure/identity\')"`', ['-e', requireIn('@azure/identity')]),
      secretrun('**secretrun** `-- true`, one azure-key-vault layer (10 secrets, managed identity)', ['-c', 'azure.yaml', '--', 'true']),
    ];
    for (const c of [cmds[2], cmds[4]]) {
      const r = await capture({ ...c, args: [...c.args.slice(0, -2), '--', process.execPath, '-p', 'Object.keys(process.env).filter(k=>/^s\\d$/.test(k)).length'] }, { cwd: project.dir, env });
      if (r.code !== 0 || r.stdout.trim() !== '10') throw new Error(`B6: ${c.label} did not resolve 10 keys: ${r.stderr.trim()}`);
    }
    const rounds = Math.max(15, Math.round(ROUNDS / 2));
    say(`B6 (Google and Azure): ${cmds.length} commands × ${rounds} rounds`);
    const med = (await alternate(cmds, { rounds, cwd: project.dir, env, async: true })).map(median);
    console.log(`## B6 remote start-up: one Google or Azure layer (${rounds} alternating runs)\n`);
    console.log(table(['command', 'median wall', 'vs `node -e 0`'], cmds.map((c, i) => [c.label, fmtMs(med[i]), fmtRatio(med[i] / med[0])])));
    console.log('\nEach layer: one token (metadata server or managed-identity endpoint), then 10 reads from a loopback fake (bench/cloud-fakes.mjs).\n');
  } finally {
    await google.close();
    await azure.close();
    project.remove();
  }
}

// ---- B3 remote concurrency -----------------------------------------------------------------------------------
if (wanted('B3')) {
  const server = await startDelayServer();
  const ROUND_TRIP = 200;
  const project = remoteProject(server.url, [ROUND_TRIP, 0]);
  const rounds = Math.max(15, Math.round((ROUNDS * 2) / 3));
  const env = baseEnv;
  const run = (label, file, delay) => secretrun(label, ['export', '-c', `${file}-${delay}.yaml`, '--format', 'json']);
  try {
    // Check what the layers return once, so a broken chain can't pass as fast.
    // (Asynchronously: this process is the server.)
    const check = await capture(run('check', 'chain', 0), { cwd: project.dir, env });
    if (check.code !== 0 || JSON.parse(check.stdout).FIRST_NEXT_KEY !== 'secret-of-first-next') throw new Error(`B3 chain did not resolve: ${check.stderr.trim()}`);
    const cmds = [run('4 independent http layers', 'parallel', ROUND_TRIP), run('chain of 2 dependent http layers', 'chain', ROUND_TRIP)];
    say(`B3: ${cmds.length} commands × ${rounds} rounds`);
    // The waiting is measured on this process's clock, from the first request reaching the server to the last
    // answer leaving it: what the layers' concurrency decides. Start-up before the first request and the work
    // after the last answer are reported beside it (start-up is B1's subject).
    const spans = cmds.map(() => ({ wall: [], before: [], waiting: [], after: [] }));
    server.take();
    for (let r = 0; r < rounds + 1; r++) {
      for (let i = 0; i < cmds.length; i++) {
        const { start, end } = await timeSpanAsync(cmds[i], { cwd: project.dir, env });
        const events = server.take();
        const first = Math.min(...events.filter((e) => e.what === 'request').map((e) => e.at));
        const last = Math.max(...events.filter((e) => e.what === 'answer').map((e) => e.at));
        if (r === 0) continue; // warm-up
        spans[i].wall.push(end - start);
        spans[i].before.push(first - start);
        spans[i].waiting.push(last - first);
        spans[i].after.push(end - last);
      }
    }
    const [par, chain] = spans.map((s) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, median(v)])));
    console.log(`## B3 remote concurrency (loopback server answering after ${ROUND_TRIP} ms; ${rounds} alternating runs)\n`);
    console.log(
      table(
        ['layers', 'median wall', 'start → 1st request', 'waiting: 1st request → last answer', 'waiting / one round trip', 'if sequential', 'last answer → exit'],
        [
          ['4 independent', fmtMs(par.wall), fmtMs(par.before), fmtMs(par.waiting), fmtRatio(par.waiting / ROUND_TRIP), '4.00×', fmtMs(par.after)],
          ['chain of 2', fmtMs(chain.wall), fmtMs(chain.before), fmtMs(chain.waiting), fmtRatio(chain.waiting / ROUND_TRIP), '2.00×', fmtMs(chain.after)],
        ],
      ),
    );
    console.log('');
    target('B3: 4 independent layers ≤ 1.3× one round trip', fmtRatio(par.waiting / ROUND_TRIP), par.waiting <= 1.3 * ROUND_TRIP);
    target('B3: chain of 2 ≤ 2.3× one round trip', fmtRatio(chain.waiting / ROUND_TRIP), chain.waiting <= 2.3 * ROUND_TRIP);
  } finally {
    await server.close();
    project.remove();
  }
}

// ---- B4 SSM paging against moto ------------------------------------------------------------------------------
if (wanted('B4')) {
  let moto;
  let proxy;
  let project;
  try {
    say('B4: starting moto_server and seeding 1,400 parameters (not timed)');
    moto = await startMoto();
    await seedSsm(moto.url, [
      ...numbered('/bench/big', 'BIG', 1000),
      ...numbered('/bench/left', 'LEFT', 200),
      ...numbered('/bench/right', 'RIGHT', 200),
    ]);
    proxy = await startCountingProxy(moto.url);
    project = ssmProject(proxy.url);
    const env = { ...baseEnv, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_EC2_METADATA_DISABLED: 'true', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' };
    const one = secretrun('1 ssm layer, 1,000 parameters', ['export', '-c', 'one.yaml', '--format', 'json']);
    const two = secretrun('2 ssm layers, 200 parameters each', ['export', '-c', 'two.yaml', '--format', 'json']);

    // (Asynchronously: this process is the proxy.)
    const keys = await capture(one, { cwd: project.dir, env });
    if (keys.code !== 0) throw new Error(`B4 export failed: ${keys.stderr.trim()}`);
    const keyCount = Object.keys(JSON.parse(keys.stdout)).length;
    const oneCalls = { ...proxy.stats.calls };
    const { emptyPages, tokensReturned } = proxy.stats;

    proxy.reset();
    const keys2 = await capture(two, { cwd: project.dir, env });
    if (keys2.code !== 0) throw new Error(`B4 two-layer export failed: ${keys2.stderr.trim()}`);
    const twoCalls = { ...proxy.stats.calls };
    const overlapped = proxy.stats.overlappingPaths;
    const maxInFlight = proxy.stats.maxInFlight;

    const rounds = 5;
    const [oneMs, twoMs] = (await alternate([one, two], { rounds, warmup: 1, cwd: project.dir, env, async: true })).map(median);
    console.log(`## B4 SSM: GetParametersByPath through a counting proxy in front of moto_server (${rounds} alternating runs)\n`);
    const describe = (calls) => Object.entries(calls).map(([k, v]) => `${k} ${v}`).join(', ');
    console.log(
      table(
        ['layers', 'keys', 'SSM requests', 'median wall'],
        [
          ['1 layer, `/bench/big` (1,000 parameters)', keyCount, describe(oneCalls), fmtMs(oneMs)],
          ['2 layers, `/bench/left` + `/bench/right` (200 each)', Object.keys(JSON.parse(keys2.stdout)).length, describe(twoCalls), fmtMs(twoMs)],
        ],
      ),
    );
    console.log(`\nThe two layers' GetParametersByPath calls were in flight at the same time: ${overlapped ? 'yes' : 'no'} (at most ${maxInFlight} at once).\n`);
    const pages = oneCalls.GetParametersByPath ?? 0;
    const other = Object.entries(oneCalls).filter(([k]) => k !== 'GetParametersByPath').reduce((n, [, v]) => n + v, 0);
    if (emptyPages > 0) {
      console.log(
        `Of the ${pages} GetParametersByPath calls for \`/bench/big\`, ${emptyPages} returned no parameter: moto hands out a NextToken after every full page, so after the 100th page of 10 a client that follows every NextToken (as it must: SSM may return a short or empty page with a token) asks once more.\n`,
      );
    }
    target('B4: exactly 100 GetParametersByPath requests for 1,000 parameters', `${pages} (${emptyPages} empty), ${other} other calls, ${keyCount} keys, ${fmtMs(oneMs)}`, pages === 100 && other === 0 && keyCount === 1000);
    target('B4: no request beyond the first and one per NextToken returned', `${pages} = 1 + ${tokensReturned} tokens`, pages === 1 + tokensReturned && other === 0);
    target('B4: layers on different paths fetched in parallel', overlapped ? `yes (${maxInFlight} in flight)` : 'no', overlapped);
  } finally {
    await proxy?.close();
    moto?.stop();
    project?.remove();
  }
}

// ---- B5 memory -------------------------------------------------------------------------------------------------
if (wanted('B5')) {
  const runs = 5;
  const measure = (cmd, cwd) => median(Array.from({ length: runs }, () => peakRssKiB(cmd, { cwd, env: baseEnv }))) / 1024;
  const rows = [
    [floor.label, measure(floor, b1Project.dir)],
    [spawnOnly.label, measure(spawnOnly, b1Project.dir)],
    ['B1: secretrun `-- true`', measure(secretrun('b1', ['--', 'true']), b1Project.dir)],
    ['B2: secretrun `export`, 10,000 keys', measure(secretrun('b2', ['export', '--format', 'dotenv']), b2Project.dir)],
  ];
  if (rows.some(([, v]) => Number.isNaN(v))) {
    console.log('## B5 memory: skipped, /usr/bin/time (GNU time) is not installed\n');
    target('B5: B1 peak RSS ≤ 60 MiB', 'not measured', false);
  } else {
    console.log(`## B5 memory: peak RSS of the secretrun node process (GNU time %M, median of ${runs})\n`);
    console.log(table(['command', 'peak RSS'], rows.map(([l, v]) => [l, `${v.toFixed(1)} MiB`])));
    console.log('');
    target('B5: B1 peak RSS ≤ 60 MiB', `${rows[2][1].toFixed(1)} MiB`, rows[2][1] <= 60);
  }
}
b1Project?.remove();
b2Project?.remove();

// ---- B7 fleet: N concurrent starts behind a throttling proxy (bench/fleet.mjs; alone: node bench/fleet.mjs --n=…) ----
if (wanted('B7')) {
  const { fleetBench } = await import('./fleet.mjs');
  await fleetBench({ target, say });
}

console.log(`## Targets\n`);
console.log(table(['target', 'measured', 'result'], targets));
console.log(`\n(${((Date.now() - started) / 1000).toFixed(0)} s)`);
if (strict && targets.some((t) => t[2] === 'FAIL')) process.exitCode = 1;

// ---- helpers -------------------------------------------------------------------------------------------------

function numbered(prefix, stem, count) {
  return Array.from({ length: count }, (_, i) => ({ name: `${prefix}/${stem}_${String(i).padStart(4, '0')}`, value: `value-${stem}-${i}` }));
}


/** One synchronous run's trimmed stdout (a probe like `typeof process.execve`). */
function capture0(bin, args) {
  return spawnSync(bin, args, { encoding: 'utf8' }).stdout.trim();
}

/** A Doppler-compatible download endpoint on 127.0.0.1 answering with `secrets` as JSON. */
async function startDopplerServer(secrets) {
  const body = JSON.stringify(secrets);
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

async function medianTrip(rounds, once) {
  await once();
  const times = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    await once();
    times.push(performance.now() - t0);
  }
  return median(times);
}

async function warmSsmTrip(endpoint, rounds) {
  const { SSMClient, GetParametersByPathCommand } = createRequire(join(REPO, 'package.json'))('@aws-sdk/client-ssm');
  const client = new SSMClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  try {
    return await medianTrip(rounds, () => client.send(new GetParametersByPathCommand({ Path: '/bench/r1', Recursive: true, WithDecryption: true })));
  } finally {
    client.destroy();
  }
}

async function warmFetchTrip(url, rounds) {
  const { request } = createRequire(join(REPO, 'package.json'))('undici');
  return medianTrip(rounds, async () => {
    const res = await request(url, { headers: { authorization: 'Bearer dp.st.bench' } });
    await res.body.text();
  });
}
