/**
 * B6F: each remote layer against the floor of its own client (issue #31). For one layer of each type, three
 * commands that make the same requests and then start the same child (`true`) with the values in its environment:
 *
 *   secretrun           `secretrun -c <layer>.yaml -- true` (the execve handover where Node has it)
 *   floor               ssm: Node's `http` alone, the SigV4-signed GetParametersByPath (and the page its NextToken
 *                       asks for) that the AWS SDK sends; doppler, http, vault: undici's request API, loaded as the
 *                       CLI loads it (`lib/dispatcher/agent.js` + `lib/api/api-request.js`, WebAssembly kept at
 *                       V8's baseline compiler), for the same URLs
 *   package as published  `@aws-sdk/client-ssm` or `undici` required whole, the same requests
 *
 * The floors spawn the child and forward its exit code, as the spawn-only launcher does; secretrun is measured on
 * both paths (the execve handover, and `--no-exec`, which spawns as the floors do). Before timing, every
 * command's child is checked to see the layer's 10 keys, and the requests to be the same for secretrun and both
 * scripts (the loopback layers' request lines, method, path and query; ssm's actions and their count, through
 * bench/lib.mjs's counting proxy), so the comparison is like for like.
 *
 * Ratios: secretrun / floor and package / floor, each the median over BENCH_RUNS runs (default 3) of the medians of
 * `rounds` alternating rounds (a run alternates every command of every Node), with the runs' spread in brackets.
 *
 *   npm run bench -- --only=B6F                              3 runs of BENCH_ROUNDS (31) rounds
 *   BENCH_FLOOR_ROUNDS=5 BENCH_RUNS=1 npm run bench -- --only=B6F   a quick check
 */
import { createRequire } from 'node:module';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { REPO, SECRETRUN_BIN, alternate, capture, fmtMs, fmtRatio, median, nodeOn, seedSsm, startCountingProxy, startMoto, table, tempProject } from './lib.mjs';

const resolveIn = (spec) => createRequire(join(REPO, 'package.json')).resolve(spec);
const KEYS = 10;

/** Doppler's download, a plain JSON secrets URL and a KV v2 read on one loopback port, noting each request line. */
async function startLayerFake() {
  const seen = [];
  const json = (res, body) => {
    const text = JSON.stringify(body);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  const keyed = (stem) => Object.fromEntries(Array.from({ length: KEYS }, (_, i) => [`${stem}_${i}`, `value-${stem}-${i}`]));
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push(`${req.method} ${req.url}`);
      const { pathname } = new URL(req.url, 'http://127.0.0.1');
      if (pathname === '/v3/configs/config/secrets/download') return json(res, keyed('DOPPLER'));
      if (pathname === '/http/secrets.json') return json(res, keyed('HTTPL'));
      if (pathname === '/v1/secret/data/app' && req.headers['x-vault-token'] === 'bench-vault-token') {
        return json(res, { request_id: 'bench', lease_id: '', renewable: false, lease_duration: 0, data: { data: keyed('KV'), metadata: { version: 1 } } });
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"errors":[]}');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, take: () => seen.splice(0), close: () => new Promise((r) => server.close(r)) };
}

/** The tail every script shares: spawn argv's command with `values` added to the environment, exit as it does. */
const SPAWN_TAIL = `
function run(values) {
  const child = require('node:child_process').spawn(process.argv[2], process.argv.slice(3), { stdio: 'inherit', env: { ...process.env, ...values } });
  child.on('exit', (code, signal) => process.exit(code ?? 128));
}
`;

/** ssm with Node's http alone: GetParametersByPath as the SDK sends it (AWS JSON 1.1, SigV4), every page. */
function ssmHttpFloor(path) {
  return `'use strict';
const http = require('node:http');
const { createHash, createHmac } = require('node:crypto');
const endpoint = new URL(process.env.BENCH_SSM_ENDPOINT);
const region = 'us-east-1';
const hash = (s) => createHash('sha256').update(s).digest('hex');
const hmac = (k, s) => createHmac('sha256', k).update(s).digest();
function send(body) {
  const amzDate = new Date().toISOString().replace(/[-:]|\\.\\d{3}/g, '');
  const day = amzDate.slice(0, 8);
  const headers = { 'content-type': 'application/x-amz-json-1.1', host: endpoint.host, 'x-amz-date': amzDate, 'x-amz-target': 'AmazonSSM.GetParametersByPath' };
  const names = Object.keys(headers).sort();
  const canonical = ['POST', '/', '', ...names.map((h) => h + ':' + headers[h]), '', names.join(';'), hash(body)].join('\\n');
  const scope = day + '/' + region + '/ssm/aws4_request';
  let key = hmac('AWS4' + process.env.AWS_SECRET_ACCESS_KEY, day);
  for (const part of [region, 'ssm', 'aws4_request']) key = hmac(key, part);
  const signature = createHmac('sha256', key).update(['AWS4-HMAC-SHA256', amzDate, scope, hash(canonical)].join('\\n')).digest('hex');
  headers.authorization = 'AWS4-HMAC-SHA256 Credential=' + process.env.AWS_ACCESS_KEY_ID + '/' + scope + ', SignedHeaders=' + names.join(';') + ', Signature=' + signature;
  headers['content-length'] = Buffer.byteLength(body);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: endpoint.hostname, port: endpoint.port, path: '/', method: 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d) => (text += d)).on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(text)) : reject(new Error('HTTP ' + res.statusCode))));
    });
    req.on('error', reject).end(body);
  });
}
(async () => {
  const values = {};
  let NextToken;
  do {
    const page = await send(JSON.stringify({ Path: ${JSON.stringify(path)}, Recursive: false, WithDecryption: true, MaxResults: 10, NextToken }));
    for (const p of page.Parameters ?? []) values[p.Name.slice(p.Name.lastIndexOf('/') + 1)] = p.Value;
    NextToken = page.NextToken;
  } while (NextToken);
  run(values);
})();
${SPAWN_TAIL}`;
}

/** ssm with the SDK as published. */
function ssmSdk(path) {
  return `'use strict';
const { SSMClient, GetParametersByPathCommand } = require(${JSON.stringify(resolveIn('@aws-sdk/client-ssm'))});
(async () => {
  const client = new SSMClient({ endpoint: process.env.BENCH_SSM_ENDPOINT, region: 'us-east-1' });
  const values = {};
  let NextToken;
  do {
    const page = await client.send(new GetParametersByPathCommand({ Path: ${JSON.stringify(path)}, Recursive: false, WithDecryption: true, MaxResults: 10, NextToken }));
    for (const p of page.Parameters ?? []) values[p.Name.slice(p.Name.lastIndexOf('/') + 1)] = p.Value;
    NextToken = page.NextToken;
  } while (NextToken);
  client.destroy();
  run(values);
})();
${SPAWN_TAIL}`;
}

/**
 * doppler, http, vault with undici's request API: `lean` loads it as the CLI does (the Agent and the request
 * module), otherwise the package as published (`require('undici').request`). `pick` takes the values out of the
 * parsed answer.
 */
function undiciScript(lean, url, headers, pick) {
  // The lean floor also keeps WebAssembly at its baseline compiler, as the CLI does (src/sources/net/undici.ts):
  // without it a process that loaded undici waits at exit for V8's optimising compile of llhttp.
  const load = lean
    ? `if (process.arch === 'x64' || process.arch === 'arm64') require('node:v8').setFlagsFromString('--liftoff-only');
const Agent = require(${JSON.stringify(resolveIn('undici/lib/dispatcher/agent.js'))});
const apiRequest = require(${JSON.stringify(resolveIn('undici/lib/api/api-request.js'))});
const agent = new Agent();
const request = (url, opts) => { const u = new URL(url); return apiRequest.call(agent, { ...opts, origin: u.origin, path: u.pathname + u.search, method: 'GET' }); };`
    : `const { request } = require(${JSON.stringify(resolveIn('undici'))});`;
  return `'use strict';
${load}
(async () => {
  const res = await request(${JSON.stringify(url)}, { headers: ${headers} });
  if (res.statusCode !== 200) throw new Error('HTTP ' + res.statusCode);
  const body = await res.body.json();
  run(${pick});
})();
${SPAWN_TAIL}`;
}

/**
 * Runs B6F: `nodes` are [{ major, version, bin }], `env` the runs' environment (AWS credentials are added here).
 * Returns nothing; prints the tables and records the ≤ 1.25× targets through `target`.
 */
export async function floorsBench({ nodes, baseEnv, rounds, runs, say, target }) {
  // (The targets name Node's major: the goals' Nodes are 24 and 26, and run.mjs passes those.)
  let moto;
  let fake;
  let proxy;
  const project = tempProject('b6f');
  try {
    say('B6F: starting moto_server and a loopback doppler/http/vault server (not timed)');
    moto = await startMoto();
    await seedSsm(
      moto.url,
      Array.from({ length: KEYS }, (_, i) => ({ name: `/bench/floor/SSM_${i}`, value: `value-SSM-${i}` })),
    );
    fake = await startLayerFake();
    const dopplerUrl = `${fake.url}/v3/configs/config/secrets/download?format=json`;
    const httpUrl = `${fake.url}/http/secrets.json`;
    const vaultUrl = `${fake.url}/v1/secret/data/app`;
    const layers = [
      {
        type: 'ssm',
        stem: 'SSM',
        yaml: 'sources:\n  - type: ssm\n    path: /bench/floor\n    endpoint: ${BENCH_SSM_ENDPOINT}\n    region: us-east-1\n',
        floor: ['Node `http` + SigV4', ssmHttpFloor('/bench/floor')],
        published: ['`@aws-sdk/client-ssm`', ssmSdk('/bench/floor')],
      },
      {
        type: 'doppler',
        stem: 'DOPPLER',
        yaml: `sources:\n  - type: doppler\n    api_host: ${fake.url}\n    token: \${BENCH_DOPPLER_TOKEN}\n`,
        headers: "{ authorization: 'Bearer ' + process.env.BENCH_DOPPLER_TOKEN, accept: 'application/json' }",
        url: dopplerUrl,
        pick: 'body',
      },
      {
        type: 'http',
        stem: 'HTTPL',
        yaml: `sources:\n  - type: http\n    url: ${httpUrl}\n`,
        headers: '{}',
        url: httpUrl,
        pick: 'body',
      },
      {
        type: 'vault',
        stem: 'KV',
        yaml: `sources:\n  - type: vault\n    address: ${fake.url}\n    path: secret/app\n    mount: secret\n    kv: 2\n`,
        headers: "{ 'x-vault-token': process.env.VAULT_TOKEN }",
        url: vaultUrl,
        pick: 'body.data.data',
      },
    ];
    for (const l of layers) {
      if (l.url) {
        l.floor = ['undici request API (as the CLI loads it)', undiciScript(true, l.url, l.headers, l.pick)];
        l.published = ['`undici` (`require(\'undici\').request`)', undiciScript(false, l.url, l.headers, l.pick)];
      }
      project.write(`${l.type}.yaml`, l.yaml);
      project.write(`${l.type}-floor.cjs`, l.floor[1]);
      project.write(`${l.type}-published.cjs`, l.published[1]);
    }
    const env = {
      ...Object.fromEntries(Object.entries(baseEnv).filter(([k]) => !k.startsWith('VAULT_'))),
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      BENCH_SSM_ENDPOINT: moto.url,
      BENCH_DOPPLER_TOKEN: 'dp.st.bench',
      VAULT_TOKEN: 'bench-vault-token',
    };

    // The commands: per Node, `node -e 0`, then per layer secretrun, its floor, the package as published.
    const cmds = [];
    const at = new Map();
    for (const n of nodes) {
      at.set(`${n.version}:floor0`, cmds.length);
      cmds.push(nodeOn(n.bin, `\`node -e 0\` on Node ${n.version}`, ['-e', '0']));
      for (const l of layers) {
        at.set(`${n.version}:${l.type}`, cmds.length);
        cmds.push(
          { ...nodeOn(n.bin, `secretrun, one ${l.type} layer`, [SECRETRUN_BIN, '-c', `${l.type}.yaml`, '--', 'true']), layer: l },
          { ...nodeOn(n.bin, `secretrun \`--no-exec\` (spawns, as the floor does)`, [SECRETRUN_BIN, '--no-exec', '-c', `${l.type}.yaml`, '--', 'true']), layer: l },
          { ...nodeOn(n.bin, `floor: ${l.floor[0]}`, [join(project.dir, `${l.type}-floor.cjs`), 'true']), layer: l },
          { ...nodeOn(n.bin, `package as published: ${l.published[0]}`, [join(project.dir, `${l.type}-published.cjs`), 'true']), layer: l },
        );
      }
    }

    // Like for like: each child sees the layer's keys, and the three commands of a layer ask the same (ssm through
    // a proxy that counts SSM actions, for this check only: the timed runs go to moto_server directly).
    const count = (stem) => `Object.keys(process.env).filter((k) => k.startsWith('${stem}_')).length`;
    proxy = await startCountingProxy(moto.url);
    for (const c of cmds.filter((c) => c.layer)) {
      const args = [...c.args.slice(0, -1), process.execPath, '-p', count(c.layer.stem)];
      fake.take();
      proxy.reset();
      const r = await capture({ ...c, args }, { cwd: project.dir, env: { ...env, BENCH_SSM_ENDPOINT: proxy.url } });
      if (r.code !== 0 || r.stdout.trim() !== String(KEYS)) throw new Error(`B6F: ${c.label} (${c.file}) did not give ${KEYS} keys: ${r.stderr.trim()}`);
      const asked = c.layer.url ? fake.take().join(', ') : Object.entries(proxy.stats.calls).map(([action, n]) => `${action} ×${n}`).join(', ');
      c.layer.asked ??= asked;
      if (c.args.includes('--no-exec')) {
        if (asked !== c.layer.asked) c.layer.relayAsked = asked;
      } else if (asked !== c.layer.asked) throw new Error(`B6F: ${c.label} asked ${asked}, secretrun asked ${c.layer.asked}`);
    }
    const extra = layers.filter((l) => l.relayAsked).map((l) => `${l.type}: \`--no-exec\` asks ${l.relayAsked}`);
    for (const l of layers) say(`B6F: ${l.type}: ${l.asked}${l.relayAsked ? ` (\`--no-exec\`: ${l.relayAsked})` : ''}`);

    const perRun = [];
    for (let run = 0; run < runs; run++) {
      say(`B6F: run ${run + 1} of ${runs}: ${cmds.length} commands × ${rounds} rounds`);
      perRun.push((await alternate(cmds, { rounds, warmup: 1, cwd: project.dir, env, async: true })).map(median));
    }
    const summary = (ratios) => {
      const sorted = [...ratios].sort((a, b) => a - b);
      return { mid: median(sorted), text: `${fmtRatio(median(sorted))}${sorted.length > 1 ? ` (${sorted[0].toFixed(2)}-${sorted.at(-1).toFixed(2)})` : ''}` };
    };
    const rows = [];
    for (const n of nodes) {
      const f0 = at.get(`${n.version}:floor0`);
      rows.push([n.version, cmds[f0].label.replace(/ on Node .*/, ''), fmtMs(median(perRun.map((m) => m[f0]))), '', '']);
      for (const l of layers) {
        const i = at.get(`${n.version}:${l.type}`);
        const FLOOR = 2;
        for (let k = 0; k < 4; k++) {
          const vsFloor = summary(perRun.map((m) => m[i + k] / m[i + FLOOR]));
          const vsNode = summary(perRun.map((m) => m[i + k] / m[f0]));
          rows.push([n.version, cmds[i + k].label, fmtMs(median(perRun.map((m) => m[i + k]))), k === FLOOR ? '1' : vsFloor.text, vsNode.text]);
          if (k < FLOOR) target(`B6F: Node ${n.major}, one ${l.type} layer${k ? ', `--no-exec`' : ''} ≤ 1.25× its client's floor`, vsFloor.text, vsFloor.mid <= 1.25);
        }
      }
    }
    console.log(`## B6F remote start-up against each client's floor (median of ${runs} run(s) of ${rounds} alternating rounds, spread in brackets)\n`);
    console.log(table(['node', 'command', 'median wall', 'vs its floor', 'vs `node -e 0`'], rows));
    console.log(
      `\nEach row makes the same requests (ssm: GetParametersByPath to moto_server, and the empty page its NextToken asks for; doppler, http, vault (kv: 2, mount set, token auth): one GET to a loopback server) and then starts \`true\` with the ${KEYS} values in its environment. The floors and packages spawn it and exit after it, as \`--no-exec\` does; secretrun's default hands over with execve (Node 24 and 26 have it), and so does not wait for its own exit (undici's WebAssembly, V8's background work).\n`,
    );
    if (extra.length) console.log(`A relaying parent may ask more than the handover does: ${extra.join('; ')}.\n`);
  } finally {
    await proxy?.close();
    moto?.stop();
    await fake?.close();
    project.remove();
  }
}
