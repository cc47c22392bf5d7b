// Build step: run one plain `secretrun -- true` and save the V8 code cache of dist/cli.cjs, including every
// function that run compiled, as dist/code-cache/<V8 version>.bin. scripts/build.mjs runs it once with each Node
// it finds (a cache is valid for one V8 only); the CLI itself never writes it.
//
// On a Node with process.execve the run takes the execve path up to the call, which is replaced here by one that
// does not happen (as when Node refuses it): the run then spawns `true` and relays signals as the relaying parent
// does (`--no-exec`, PID 1, --mask, watch), so the cache holds both paths' functions, and the process lives on to
// write it. (With the execve path alone in the cache, the relaying parent compiled its spawn and relay code on
// every start.)
//
// The run uses a throwaway project with the common local layers (env, dotenv, json, yaml) and an environment
// with vars, require and public, so the functions a typical start needs are all in the cache. Every value is fake.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const { boot, cacheFile, coldCacheFile, coldTable, requireVendored, vendorCacheFile } = require('../bin/secretrun.cjs');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'secretrun-code-cache-'));
const write = (name, text) => fs.writeFileSync(path.join(dir, name), text, { mode: 0o600 });
write('.env', '# fake\nAPP_NAME=demo\nDATABASE_URL="postgres://user:pass@localhost:5432/app" # quoted\nexport PORT=8080\n');
write('config.json', JSON.stringify({ SERVICE: 'demo', LIMITS: { MAX: 3 }, FLAG: true }));
write('settings.yaml', 'dev:\n  LOG_LEVEL: debug\n  CACHE_TTL: 30\n  HOSTS: [a, b]\n');
write(
  'secretrun.yaml',
  `default_environment: dev
sources:
  - type: env
  - type: dotenv
    path: .env
  - type: json
    path: config.json
    flatten: __
environments:
  dev:
    vars: { STAGE: dev }
    sources:
      - type: yaml
        path: settings.yaml
        select: \${STAGE}
        public: [LOG_LEVEL]
    require: [DATABASE_URL]
`,
);

let script;
process.on('exit', () => {
  fs.rmSync(dir, { recursive: true, force: true });
  if (!script) return;
  fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
  fs.writeFileSync(cacheFile, script.createCachedData());
  // dist/cold.cjs, which this run does not reach: its top level, as every start that loads it compiles it.
  let cold;
  coldTable((s) => (cold = s));
  fs.mkdirSync(path.dirname(coldCacheFile), { recursive: true });
  fs.writeFileSync(coldCacheFile, cold.createCachedData());
});
/**
 * The vendored AWS clients (dist/vendor/aws.cjs): load them, and make one call of each command the sources use
 * against a loopback server answering like SSM and Secrets Manager, with credentials from the environment as a
 * typical run has them, so the functions of the whole request path are in the cache.
 */
async function vendorAwsCache() {
  const fake = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', AWS_ACCESS_KEY_ID: 'AKIDFAKE', AWS_SECRET_ACCESS_KEY: 'fake', AWS_EC2_METADATA_DISABLED: 'true', AWS_CONFIG_FILE: path.join(dir, 'none'), AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'none') };
  const saved = Object.fromEntries(Object.keys(fake).map((k) => [k, process.env[k]]));
  Object.assign(process.env, fake);
  const answers = {
    'AmazonSSM.GetParametersByPath': { Parameters: [{ Name: '/app/A', Type: 'String', Value: 'fake', Version: 1 }] },
    'AmazonSSM.GetParameters': { Parameters: [{ Name: '/app/A', Type: 'String', Value: 'fake', Version: 1 }], InvalidParameters: [] },
    'secretsmanager.GetSecretValue': { ARN: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:app', Name: 'app', SecretString: '{"A":"fake"}' },
    'secretsmanager.BatchGetSecretValue': { SecretValues: [{ Name: 'app', SecretString: '{"A":"fake"}' }], Errors: [] },
  };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(answers[req.headers['x-amz-target']] ?? {})));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  let vendored;
  try {
    const sdk = requireVendored('aws', (s) => (vendored = s));
    const config = { region: 'us-east-1', endpoint: `http://127.0.0.1:${server.address().port}`, maxAttempts: 1, retryMode: 'standard', requestHandler: { connectionTimeout: 5000 }, logger: { debug() {}, info() {}, warn() {}, error() {} } };
    const ssm = new sdk.SSMClient(config);
    await ssm.config.region();
    await ssm.send(new sdk.GetParametersByPathCommand({ Path: '/app', Recursive: true, WithDecryption: true }), { abortSignal: new AbortController().signal });
    await ssm.send(new sdk.GetParametersCommand({ Names: ['/app/A'], WithDecryption: true }));
    ssm.destroy();
    const sm = new sdk.SecretsManagerClient(config);
    await sm.send(new sdk.GetSecretValueCommand({ SecretId: 'app' }));
    await sm.send(new sdk.BatchGetSecretValueCommand({ SecretIdList: ['app'] }));
    sm.destroy();
  } finally {
    server.close();
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  const out = vendorCacheFile('aws');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, vendored.createCachedData());
}

(async () => {
  if (fs.existsSync(path.join(__dirname, '..', 'dist', 'vendor', 'aws.cjs'))) await vendorAwsCache();
  if (typeof process.execve === 'function') process.execve = () => {};
  process.argv.splice(2, process.argv.length, '-q', '-c', path.join(dir, 'secretrun.yaml'), '--', 'true');
  boot((s) => (script = s));
})();
