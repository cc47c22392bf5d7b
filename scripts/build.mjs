// Bundle the CLI and the library into dist/ with esbuild, and emit type declarations with tsc.
// One minified file for the CLI keeps start-up cheap (module loading dominates for small packages);
// the heavy optional dependencies stay external and are imported lazily only when a layer needs them.
import { build } from 'esbuild';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { SUPPORTED_MAJORS, installNewest, installedNodes } from './node-versions.mjs';
import { generatedSchemaText } from './schema.mjs';
import { buildCliBundles } from './cli-bundles.mjs';

// schema.json (for editors) is generated from the source descriptors; the CLI never reads it.
const schemaText = await generatedSchemaText();
if (readFileSync('schema.json', 'utf8') !== schemaText) writeFileSync('schema.json', schemaText);

const external = ['@aws-sdk/*', '@smithy/*', 'undici', 'ora', 'google-auth-library', '@azure/*'];
// Build beside dist/ and swap it in, so a test run reading dist/ never sees it half-written.
const next = `dist.next-${process.pid}`;
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  minify: !process.env.SECRETRUN_NO_MINIFY,
  legalComments: 'none',
  external,
  logLevel: 'warning',
};
// The CLI: CommonJS files behind a CommonJS bin shim. On Node 20 the same code as split ESM chunks costs
// ~20 ms more per start (the ESM loader, a module job per chunk, a createRequire banner in each).
// Two files (scripts/cli-bundles.mjs): dist/cli.cjs, what a run of local layers needs, and dist/cold.cjs, the code
// only other commands and remote layers reach; the heavy dependencies stay external `import()`s.
// yaml and commander are self-contained and off the plain-run hot path, so they are bundled on their own
// (dist/vendor/*.cjs) and required only when needed: the start-up file stays small to compile. execa (used only by
// exec layers) ships as ESM only; its prebuilt CommonJS copy loads without starting Node's ESM loader, and
// `require` of ESM needs Node >= 20.19.
// eciesjs (dotenvx-encrypted values only) is CommonJS with its @noble dependencies: vendored the same way, so a run
// without an encrypted value never compiles it.
const VENDORED = ['yaml', 'commander', 'execa', 'eciesjs'];
const vendored = {
  name: 'vendored',
  setup(b) {
    // `import('yaml')` becomes a lazy require of dist/vendor/yaml.cjs: require, not import(), because the first
    // import() from CommonJS starts Node's ESM loader (~50 ms).
    b.onResolve({ filter: new RegExp(`^(${VENDORED.join('|')})$`) }, (args) => ({ path: args.path, namespace: 'vendored' }));
    b.onLoad({ filter: /.*/, namespace: 'vendored' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(`./vendor/${args.path}.cjs`)});`, loader: 'js' }));
    b.onResolve({ filter: /^\.\/vendor\//, namespace: 'vendored' }, (args) => ({ path: args.path, external: true }));
  },
};
// dotenv's package requires node:os when it loads, only for `os.homedir()` in its `config()` path expansion,
// which secretrun never calls (it uses `parse`). Loading node:os costs ~0.15 ms of every start that reads a
// .env file, so inside dotenv `os` is a proxy that requires the real module on first use.
const lazyOsForDotenv = {
  name: 'lazy-os-for-dotenv',
  setup(b) {
    b.onResolve({ filter: /^(node:)?os$/ }, (args) => (/[\\/]node_modules[\\/]dotenv[\\/]/.test(args.importer) ? { path: 'os', namespace: 'lazy-os' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'lazy-os' }, () => ({
      contents: "let os; module.exports = new Proxy({}, { get: (_, name) => (os ??= require('node:os'))[name] });",
      loader: 'js',
    }));
  },
};
const cliFiles = await buildCliBundles({ ...common, format: 'cjs', plugins: [vendored, lazyOsForDotenv] }, next);
// bin/secretrun.cjs compiles the bundles itself (with the V8 code cache): store them already wrapped in the CommonJS
// module function, so the shim hands the text to V8 as read instead of building a wrapped copy on every start.
for (const file of [cliFiles.hot, cliFiles.cold]) {
  writeFileSync(file, `// secretrun's CLI bundle as a CommonJS module function: bin/secretrun.cjs runs it.\n${createRequire(import.meta.url)('node:module').wrap(readFileSync(file, 'utf8'))}`);
}
/** A package's exports: `require` for CommonJS, `import()` for an ESM-only package (execa). */
async function exportsOf(name) {
  const pkg = JSON.parse(readFileSync(`node_modules/${name}/package.json`, 'utf8'));
  return pkg.type === 'module' ? import(name) : createRequire(import.meta.url)(name);
}
for (const name of VENDORED) {
  // `0&&(module.exports={...})` is how Node's CommonJS lexer learns the export names, so that `import()` of
  // the vendored file gets named exports (esbuild would strip it as dead code, hence a footer).
  const names = Object.keys(await exportsOf(name)).filter((n) => /^[A-Za-z_$][\w$]*$/.test(n) && n !== 'default');
  await build({
    ...common,
    stdin: { contents: `module.exports = require(${JSON.stringify(name)});`, resolveDir: '.', loader: 'js' },
    outfile: `${next}/vendor/${name}.cjs`,
    format: 'cjs',
    footer: { js: `0&&(module.exports={${names.join(',')}});` },
  });
}
// The AWS clients the CLI uses, as one tree-shaken file (dist/vendor/aws.cjs) that bin/secretrun.cjs loads with a
// V8 code cache instead of `require('@aws-sdk/client-ssm')`. Built from the SDK's ES module builds
// (`mainFields: module`), so esbuild keeps only what the imported clients and commands reach; the packages' CommonJS
// builds are one file per package and cannot be shaken. Measured on Node 20 (medians of 15 alternating runs): `require`
// of client-ssm 123 ms, its CommonJS build bundled 129 ms (90 ms with a code cache), the shaken ESM build 94 ms
// (76 ms with a code cache); `node -e 0` 60 ms. The ssm and secretsmanager clients share @aws-sdk/core and
// @smithy/core (most of the file), so one file serves both. The library (dist/index.js) imports the packages as usual.
const AWS_EXPORTS = {
  '@aws-sdk/client-ssm': ['SSMClient', 'GetParametersByPathCommand', 'GetParametersCommand'],
  '@aws-sdk/client-secrets-manager': ['SecretsManagerClient', 'GetSecretValueCommand', 'BatchGetSecretValueCommand'],
};
// Two load-time costs of the SDK that no SSM or Secrets Manager call needs, cut from the vendored copy (each is a
// few milliseconds on Node 26, where these builtins load outside the start-up snapshot; under 1 ms on Node 20):
// - @smithy/core's checksum module reads `zlib.crc32` when it loads, which loads node:zlib; CRC32 checksums are
//   for S3-style flexible checksums only. zlib there becomes an object whose crc32 loads zlib on first call
//   (every supported Node, >= 20.15, has zlib.crc32).
// - the SDK's UUID (each request's amz-sdk-invocation-id) calls the global `crypto.randomUUID()`, and touching
//   the global `crypto` loads Node's WebCrypto; node:crypto's randomUUID is the same function without it.
const leanAwsSdk = {
  name: 'lean-aws-sdk',
  setup(b) {
    b.onResolve({ filter: /^(node:)?zlib$/ }, (args) => (/[\\/]@smithy[\\/]core[\\/].*checksum/.test(args.importer) ? { path: 'zlib', namespace: 'lazy-zlib' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'lazy-zlib' }, () => ({
      contents: "let z; module.exports = { crc32: (data, value) => (z ??= require('node:zlib')).crc32(data, value) };",
      loader: 'js',
    }));
    b.onLoad({ filter: /[\\/]@smithy[\\/]core[\\/]dist-es[\\/]submodules[\\/]serde[\\/]uuid[\\/]v4\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      const test = 'typeof crypto !== "undefined" && typeof crypto.randomUUID === "function"';
      const call = '() => crypto.randomUUID()';
      if (!text.includes(test) || !text.includes(call)) return undefined; // the SDK changed: keep it as it is
      return { contents: `import { randomUUID as nodeRandomUUID } from "node:crypto";\n${text.replace(test, 'true').replace(call, '() => nodeRandomUUID()')}`, loader: 'js' };
    });
  },
};
await build({
  ...common,
  external: [],
  plugins: [leanAwsSdk],
  mainFields: ['module', 'main'],
  stdin: {
    contents: Object.entries(AWS_EXPORTS)
      .map(([pkg, names]) => `export { ${names.join(', ')} } from ${JSON.stringify(pkg)};`)
      .join('\n'),
    resolveDir: '.',
    loader: 'js',
  },
  outfile: `${next}/vendor/aws.cjs`,
  format: 'cjs',
  // The SDK's `import('node:http')` and the like become requires: an import() compiled by bin/secretrun.cjs's
  // vm.Script has no module loader to call on Node 20 (and require does not start the ESM loader).
  supported: { 'dynamic-import': false },
});
// The library: ESM, as `import { loadSecrets } from 'secretrun'` expects.
await build({
  ...common,
  entryPoints: { index: 'src/index.ts' },
  outdir: next,
  format: 'esm',
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  // yaml's "node" export is CommonJS, which esbuild cannot split into a lazily imported chunk with named
  // exports; its ESM build is the same code.
  alias: { yaml: './node_modules/yaml/browser/index.js' },
  // The library imports execa and eciesjs from the user's node_modules like any dependency.
  external: [...external, 'execa', 'eciesjs'],
  // Class and function names survive minification, so `LayerError.name` (and a stack's frames) read as written.
  // The error classes also name themselves on their prototypes (src/core/errors.ts), which serves the CLI bundle.
  keepNames: true,
  // CommonJS dependencies bundled into ESM call require() for node built-ins.
  banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
});
const old = `dist.old-${process.pid}`;
try {
  renameSync('dist', old);
} catch {
  /* no previous build */
}
renameSync(next, 'dist');
rmSync(old, { recursive: true, force: true });
// The V8 code caches for the CLI bundle and the vendored AWS clients (see bin/secretrun.cjs), one per Node.
// - A plain build (tests, bench): one made by this Node, and one by each Node that scripts/node-versions.mjs has
//   installed (skipped quietly when there are none). Best effort: the CLI works without them, it just compiles on
//   each start.
// - `--release` (prepack): the newest release of every supported major (20, 22, 24, 26), installed from the registry
//   when the cache holds an older one, each cache checked to be accepted by the Node that made it; the build stops,
//   naming the major, when one cannot be made. A release's users on that exact release then start from the cache
//   (users on another release of a major compile as without one). SECRETRUN_PACK_INSTALLED_NODES=1 (the test
//   switch of test/pack.test.ts) makes a partial release from this Node and the installed ones, with no download.
const release = process.argv.includes('--release');
const partial = release && process.env.SECRETRUN_PACK_INSTALLED_NODES === '1';
/** Whether `bin` accepts the caches it just made (the CLI's two files' and the AWS clients'). */
function cachesAccepted(bin) {
  const probe = `const shim = require('./bin/secretrun.cjs'), fs = require('node:fs'), vm = require('node:vm');
let aws; shim.requireVendored('aws', (s) => (aws = s));
let cold; shim.coldTable((s) => (cold = s));
const cli = new vm.Script(fs.readFileSync(shim.file, 'utf8'), { cachedData: fs.readFileSync(shim.cacheFile) });
process.stdout.write(String(!cli.cachedDataRejected && cold.cachedDataRejected === false && aws.cachedDataRejected === false));`;
  try {
    return execFileSync(bin, ['-e', probe], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }) === 'true';
  } catch {
    return false;
  }
}
/** The Nodes to make caches with, as { major, version, bin } (major and version only where known). */
function cacheNodes() {
  const own = { major: Number(process.versions.node.split('.')[0]), version: process.versions.node, bin: process.execPath };
  if (!release) return [own, ...installedNodes()];
  if (partial) return [own, ...installedNodes(SUPPORTED_MAJORS.filter((m) => m !== own.major))];
  const nodes = [];
  for (const major of SUPPORTED_MAJORS) {
    try {
      nodes.push(installNewest(major));
    } catch (e) {
      console.error(`build: no code cache for Node ${major}: could not install its newest release (${e.message.split('\n')[0]})`);
      process.exit(1);
    }
  }
  return nodes;
}
for (const { major, version, bin } of cacheNodes()) {
  let made = true;
  try {
    execFileSync(bin, ['scripts/code-cache.cjs'], { stdio: 'ignore' });
  } catch {
    made = false;
  }
  if (!release && !made) console.warn(`build: no V8 code cache from ${bin} (the CLI still works, it just compiles on each start)`);
  if (release && !(made && cachesAccepted(bin))) {
    console.error(`build: no code cache for Node ${major} (${version}, ${bin}): ${made ? 'V8 rejects the cache it made' : 'scripts/code-cache.cjs failed'}`);
    process.exit(1);
  }
  if (release) console.log(`build: code cache for Node ${version} (V8 ${execFileSync(bin, ['-p', 'process.versions.v8'], { encoding: 'utf8' }).trim()})`);
}

if (!process.argv.includes('--no-types')) {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json', '--emitDeclarationOnly'], { stdio: 'inherit' });
}
