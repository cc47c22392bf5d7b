// Build step: run one plain `secretrun -- true` and save the V8 code cache of dist/cli.cjs, including every
// function that run compiled, as dist/code-cache/<V8 version>.bin. scripts/build.mjs runs it once with each Node
// it finds (a cache is valid for one V8 only); the CLI itself never writes it.
//
// On a Node with process.execve the run takes the execve path, so that path's functions are what gets cached;
// but the call itself is replaced by an exit here: the process must live on to write the cache.
//
// The run uses a throwaway project with the common local layers (env, dotenv, json, yaml) and an environment
// with vars, require and public, so the functions a typical start needs are all in the cache. Every value is fake.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { boot, cacheFile } = require('../bin/secretrun.cjs');

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
});
if (typeof process.execve === 'function') process.execve = () => process.exit(0);
process.argv.splice(2, process.argv.length, '-q', '-c', path.join(dir, 'secretrun.yaml'), '--', 'true');
boot((s) => (script = s));
