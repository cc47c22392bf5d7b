/**
 * The published shape: `npm pack` the repository, check what the tarball holds, install it into an empty
 * project the way a user does, and use it from there (the bin via npx, the library, the schema, the types).
 * This catches missing files and wrong paths that running inside the repository hides.
 *
 * Slow by nature (npm pack runs the full build, npm install resolves the dependencies, from the npm cache when
 * it can), so everything shares one pack and one install.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { PRINT_ENV, ROOT, baseEnv } from './helpers/cli.js';
// @ts-expect-error: a plain .mjs script without types
import { CACHE_DIR, installedNodes } from '../scripts/node-versions.mjs';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const NPX = process.platform === 'win32' ? 'npx.cmd' : 'npx';
/**
 * `npx secretrun ...` exactly as a user types it: npx passes everything after the package name through untouched,
 * but only when no npx option comes first (`npx --no secretrun -- cmd` eats the `--`, and `--version` goes to
 * npx). `npm_config_yes=false` makes npx fail rather than download if the local bin were missing.
 */
const npx = (args: string[]) => exec(NPX, ['secretrun', ...args], consumer, { npm_config_yes: 'false' });

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Run a program with a clean environment: npm settings leaking from the npm that started vitest (npm_config_*,
 * npm_package_*) must not steer the install. npm itself gets the real HOME (its cache, the user's registry config);
 * the packed CLI runs with the tests' empty HOME.
 */
function exec(cmd: string, args: string[], cwd: string, extraEnv: Record<string, string> = {}, timeoutMs = 240_000): Promise<Run> {
  const child = spawn(cmd, args, { cwd, env: baseEnv(extraEnv), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function ok(r: Run, what: string): Run {
  if (r.code !== 0) throw new Error(`${what} failed with exit ${r.code}:\n${r.stderr}\n${r.stdout}`);
  return r;
}

let work: string;
let consumer: string;
let tarball: string;
let packedFiles: string[];
let install: Run;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'secretrun-pack-'));
  consumer = join(work, 'consumer');
  // `npm pack` runs `prepack`, the full build with type declarations (a fresh clone's `npm install` builds nothing).
  // prepack makes a release's code caches (scripts/build.mjs --release): the newest release of each supported major,
  // downloaded when missing. The test switch makes them from this Node and the installed ones only, no download.
  // npm (and the build its prepack runs) get the real HOME: npm's cache, and the Node binaries under
  // ~/.cache/secretrun-node (named too, should SECRETRUN_NODE_CACHE point elsewhere).
  // And what reaches the registry: the machine's CA bundle and proxy. The consumer's install resolves the
  // dependencies afresh (no lockfile), so it may fetch; the official Node binaries trust only their bundled CAs.
  const registryEnv = Object.fromEntries(
    Object.entries(process.env).filter(([k, v]) => v !== undefined && /^(NODE_EXTRA_CA_CERTS|SSL_CERT_FILE|SSL_CERT_DIR|https?_proxy|HTTPS?_PROXY|no_proxy|NO_PROXY)$/.test(k)),
  ) as Record<string, string>;
  const realHome = { HOME: process.env.HOME ?? '', ...registryEnv };
  const packEnv = { ...realHome, SECRETRUN_PACK_INSTALLED_NODES: '1', SECRETRUN_NODE_CACHE: CACHE_DIR };
  const packed = ok(await exec(NPM, ['pack', '--json', '--pack-destination', work], ROOT, packEnv), 'npm pack');
  const info = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  tarball = join(work, info[0].filename);
  packedFiles = info[0].files.map((f) => f.path).sort();

  // An empty project that depends on nothing but the tarball.
  ok(await exec('mkdir', ['-p', consumer], work), 'mkdir');
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }, null, 2));
  // No update notice from npm itself: what stderr holds then is about the package.
  install = ok(await exec(NPM, ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund', '--no-package-lock'], consumer, { ...realHome, npm_config_update_notifier: 'false' }), 'npm install <tarball>');

  writeFileSync(join(consumer, 'secretrun.yaml'), '# yaml-language-server: $schema=./node_modules/secretrun/schema.json\ndefault_environment: dev\nenvironments:\n  dev:\n    sources:\n      - type: dotenv\n        path: .env\nrequire: [PACKED_SECRET]\n');
  writeFileSync(join(consumer, '.env'), 'PACKED_SECRET=from-the-tarball-7e1f\nGREETING="hello world"\n', { mode: 0o600 });
}, 600_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('ships only the bin, the built code with its type declarations, the schema, the documentation, LICENSE and package.json', () => {
    const docs = ['README.md', 'CHANGELOG.md', 'ARCHITECTURE.md', 'CONTRIBUTING.md'];
    const allowed = (p: string) => p.startsWith('bin/') || p.startsWith('dist/') || /^docs\/[\w.-]+\.md$/.test(p) || ['schema.json', 'LICENSE', 'package.json', ...docs].includes(p);
    expect(packedFiles.filter((p) => !allowed(p))).toEqual([]);
    expect(packedFiles.filter((p) => p.endsWith('.map'))).toEqual([]);
    expect(packedFiles.filter((p) => /^(src|test|fixtures|bench|scripts|node_modules)\//.test(p) || p.endsWith('.test.ts') || p.endsWith('.tgz'))).toEqual([]);
    for (const required of ['bin/secretrun.cjs', 'dist/cli.cjs', 'dist/index.js', 'dist/types/src/index.d.ts', 'dist/types/src/core/secrets.d.ts', 'schema.json', 'README.md', 'LICENSE', 'package.json']) {
      expect(packedFiles).toContain(required);
    }
    // Only declarations under dist/types: the code itself is the esbuild bundle.
    expect(packedFiles.filter((p) => p.startsWith('dist/types/') && !p.endsWith('.d.ts'))).toEqual([]);
  });

  it('every relative link in the packed README, and in every page it links, resolves inside the tarball', () => {
    const installed = join(consumer, 'node_modules/secretrun');
    const seen = new Set<string>();
    const broken: string[] = [];
    const visit = (page: string) => {
      if (seen.has(page)) return;
      seen.add(page);
      const text = readFileSync(join(installed, page), 'utf8');
      // Markdown links and images, [text](target); fenced code is left out (a link there is an example).
      for (const [, target] of text.replace(/```[\s\S]*?```/g, '').matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) continue;
        const file = posix.normalize(posix.join(posix.dirname(page), target.split('#')[0]));
        if (!packedFiles.includes(file)) broken.push(`${page} -> ${target}`);
        else if (file.endsWith('.md')) visit(file);
      }
    };
    visit('README.md');
    expect(broken).toEqual([]);
    // The README's own documentation list really reached the pages (so an empty walk cannot pass).
    for (const page of ['docs/commands.md', 'docs/sources.md', 'docs/security.md', 'CHANGELOG.md', 'ARCHITECTURE.md']) expect(seen).toContain(page);
  });

  it('the LICENSE is the one package.json names', () => {
    const manifest = JSON.parse(readFileSync(join(consumer, 'node_modules/secretrun/package.json'), 'utf8'));
    expect(manifest.license).toBe('MIT');
    expect(readFileSync(join(consumer, 'node_modules/secretrun/LICENSE'), 'utf8')).toMatch(/^MIT License\n\nCopyright \(c\) 2026 secretrun contributors\n/);
    expect(manifest.engines.node).toBe('>=20');
  });
});

/**
 * The Nodes the partial release was made with (this one and the installed ones of the other majors), one per major,
 * as prepack picks them under the test switch.
 */
function packingNodes(): { major: number; bin: string }[] {
  const own = { major: Number(process.versions.node.split('.')[0]), bin: process.execPath };
  return [own, ...(installedNodes() as { major: number; bin: string }[]).filter((n) => n.major !== own.major)];
}

// What a user's Node does with the installed package's caches: the file it looks for, and whether V8 takes it.
const CACHE_PROBE = `
const shim = require(process.argv[1]), fs = require('node:fs'), vm = require('node:vm');
let aws; shim.requireVendored('aws', (s) => (aws = s));
let cold; shim.coldTable((s) => (cold = s));
const cli = new vm.Script(fs.readFileSync(shim.file, 'utf8'), { cachedData: fs.readFileSync(shim.cacheFile) });
process.stdout.write(JSON.stringify({ v8: process.versions.v8, cli: cli.cachedDataRejected, cold: cold.cachedDataRejected, aws: aws.cachedDataRejected }));`;

describe('the code caches in the tarball', () => {
  it('one cache per major it was packed with, for the CLI (both halves) and for the AWS clients, and nothing else', () => {
    const caches = (dir: string) => packedFiles.filter((p) => p.startsWith(dir) && p.endsWith('.bin') && !p.slice(dir.length).includes('/')).map((p) => p.slice(dir.length));
    const nodes = packingNodes();
    expect(caches('dist/code-cache/')).toHaveLength(nodes.length);
    expect(caches('dist/code-cache/cold/')).toEqual(caches('dist/code-cache/'));
    expect(caches('dist/vendor/code-cache/aws/')).toEqual(caches('dist/code-cache/'));
  });

  it('each is accepted by the Node that made it, as installed in a project', async () => {
    const installedBin = join(consumer, 'node_modules/secretrun/bin/secretrun.cjs');
    for (const { bin } of packingNodes()) {
      const r = ok(await exec(bin, ['-e', CACHE_PROBE, installedBin], consumer), `${bin} cache probe`);
      const out = JSON.parse(r.stdout) as { v8: string; cli: boolean; cold: boolean; aws: boolean };
      expect(packedFiles).toContain(`dist/code-cache/${out.v8}.bin`);
      expect(out, bin).toMatchObject({ cli: false, cold: false, aws: false });
    }
  });
});

describe('installed from the tarball into an empty project', () => {
  it('installs without a warning on stderr (no lifecycle script refers to files that are not shipped)', () => {
    expect(install.stderr).toBe('');
    const manifest = JSON.parse(readFileSync(join(consumer, 'node_modules/secretrun/package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(Object.keys(manifest.scripts).filter((s) => ['preinstall', 'install', 'postinstall', 'prepare'].includes(s))).toEqual([]);
  });

  it('the error classes keep their names in the bundle, work with instanceof, and name no CLI flag', async () => {
    const script = `
      const { loadSecrets, LayerError, ConfigError, ConfigErrors, NotFoundError, SecretrunError, SourceError, UsageError } = await import('secretrun');
      const caught = async (options) => { try { await loadSecrets(options); return undefined; } catch (e) { return e; } };
      const layer = await caught({ dotenv: ['missing.env'] });
      const config = await caught({ config: 'nope.yaml' });
      const noFile = await caught({ cwd: '/' });
      console.log(JSON.stringify({
        classes: [LayerError, ConfigError, ConfigErrors, NotFoundError, SecretrunError, SourceError, UsageError].map((c) => c.name),
        layer: { name: layer.name, isLayerError: layer instanceof LayerError, isBase: layer instanceof SecretrunError, message: layer.message, stackHead: layer.stack.split('\\n')[0] },
        config: { name: config.name, isConfigError: config instanceof ConfigError, message: config.message },
        noFile: { name: noFile.name, message: noFile.message },
      }));
    `;
    const r = ok(await exec(process.execPath, ['--input-type=module', '-e', script], consumer), 'node import');
    const out = JSON.parse(r.stdout);
    expect(out.classes).toEqual(['LayerError', 'ConfigError', 'ConfigErrors', 'NotFoundError', 'SecretrunError', 'SourceError', 'UsageError']);
    expect(out.layer).toEqual({
      name: 'LayerError',
      isLayerError: true,
      isBase: true,
      message: `layer "dotenv missing.env": missing.env: file not found (looked for ${join(realpathSync(consumer), 'missing.env')})`,
      stackHead: `LayerError: layer "dotenv missing.env": missing.env: file not found (looked for ${join(realpathSync(consumer), 'missing.env')})`,
    });
    expect(out.config).toEqual({ name: 'ConfigError', isConfigError: true, message: 'sources file nope.yaml (from the "config" option) not found' });
    expect(out.noFile.name).toBe('ConfigError');
    for (const message of [out.layer.message, out.config.message, out.noFile.message]) expect(message).not.toMatch(/(^|[\s(])--?[a-z]/);
  });

  it('npx secretrun --version prints the version', async () => {
    const r = ok(await npx(['--version']), 'npx secretrun --version');
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('npx secretrun -- node -e ... runs the command with the layered secrets', async () => {
    const r = ok(await npx(['--', 'node', '-e', PRINT_ENV, 'PACKED_SECRET', 'GREETING', 'SECRETRUN_ENV']), 'npx secretrun -- node');
    expect(JSON.parse(r.stdout)).toEqual({ PACKED_SECRET: 'from-the-tarball-7e1f', GREETING: 'hello world', SECRETRUN_ENV: 'dev' });
  });

  it('a failure before the child starts exits 125 with one line on stderr', async () => {
    const r = await npx(['-c', 'nope.yaml', '--', 'node', '-e', '']);
    expect(r.code).toBe(125);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('secretrun:'))).toEqual(['secretrun: sources file nope.yaml (from -c) not found']);
  });

  it("import('secretrun') gives loadSecrets, and secretrun/schema.json resolves", async () => {
    const script = `
      import { inspect } from 'node:util';
      const { loadSecrets, SecretrunError } = await import('secretrun');
      const s = await loadSecrets();
      const schema = (await import('secretrun/schema.json', { with: { type: 'json' } })).default;
      let threw = '';
      try { s.toJSON(); } catch (e) { threw = e instanceof SecretrunError ? 'SecretrunError' : String(e); }
      console.log(JSON.stringify({
        value: s.get('PACKED_SECRET'),
        keys: [...s.keys()],
        source: s.source('GREETING'),
        environment: s.environment,
        inspected: inspect(s),
        threw,
        schemaHasSources: typeof schema === 'object' && schema !== null && 'properties' in schema && 'sources' in schema.properties,
      }));
    `;
    const r = ok(await exec(process.execPath, ['--input-type=module', '-e', script], consumer), 'node import');
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ value: 'from-the-tarball-7e1f', keys: ['GREETING', 'PACKED_SECRET'], source: { layer: 'dotenv .env', shadowed: [] }, environment: 'dev', threw: 'SecretrunError', schemaHasSources: true });
    expect(out.inspected).toContain("PACKED_SECRET: '****** (21 chars)'");
    expect(out.inspected).not.toContain('from-the-tarball-7e1f');
  });

  it('the shipped type declarations type-check a consumer (and reject toJSON() without a choice)', async () => {
    writeFileSync(
      join(consumer, 'settings.ts'),
      [
        "import { loadSecrets, SecretrunError, type Secrets, type SecretSource, type LoadSecretsOptions } from 'secretrun';",
        "const options: LoadSecretsOptions = { env: 'dev', cwd: '.' };",
        'const secrets: Secrets = await loadSecrets(options);',
        "const url: string | undefined = secrets.get('DATABASE_URL');",
        "const where: SecretSource | undefined = secrets.source('DATABASE_URL');",
        'const all: Record<string, string> = secrets.toJSON({ reveal: true });',
        'for (const [key, value] of secrets) console.log(key.length + value.length);',
        'const asMap: ReadonlyMap<string, string> = secrets;',
        '// @ts-expect-error: toJSON needs an explicit { reveal } choice',
        'secrets.toJSON();',
        '// @ts-expect-error: the map is read-only',
        "secrets.set('K', 'v');",
        'console.log(url, where, all, asMap, SecretrunError);',
        '',
      ].join('\n'),
    );
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    const r = await exec(
      process.execPath,
      [tsc, '--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--typeRoots', join(ROOT, 'node_modules/@types'), '--types', 'node', 'settings.ts'],
      consumer,
    );
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  }, 60_000);
});

/**
 * The README's user commands, as written there, against the installed tarball: the three-step start, export, and
 * --dotenv without a sources file. `secretrun` is on PATH as after a global install (`npx secretrun` resolves to
 * the same bin).
 */
describe("the README's first steps", () => {
  const inDir = (dir: string, args: string[]) => exec('secretrun', args, dir, { PATH: `${join(consumer, 'node_modules/.bin')}:${process.env.PATH}` });
  const SERVER = "console.log(`db=${process.env.DATABASE_URL} env=${process.env.SECRETRUN_ENV}`)\n";

  it('secretrun init -> put values in .env -> secretrun -- node server.js; then export and ls', async () => {
    const app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'server.js'), SERVER);
    ok(await inDir(app, ['init']), 'secretrun init');
    expect(readFileSync(join(app, 'secretrun.yaml'), 'utf8')).toContain('type: dotenv');
    // echo 'DATABASE_URL=postgres://localhost/app' >> .env, with the usual umask: a 0644 file, and still a quiet run
    appendFileSync(join(app, '.env'), 'DATABASE_URL=postgres://localhost/app\n', { mode: 0o644 });
    const run = ok(await inDir(app, ['--', 'node', 'server.js']), 'secretrun -- node server.js');
    expect(run.stdout).toBe('db=postgres://localhost/app env=dev\n');
    expect(run.stderr).toBe('');
    const exported = ok(await inDir(app, ['export', '--format', 'json']), 'secretrun export');
    expect(JSON.parse(exported.stdout)).toEqual({ DATABASE_URL: 'postgres://localhost/app' });
    const ls = ok(await inDir(app, ['ls']), 'secretrun ls');
    expect(ls.stdout).toMatch(/DATABASE_URL\s+dotenv \.env/);
    expect(ls.stdout).not.toContain('postgres://localhost/app');
    ok(await inDir(app, ['check']), 'secretrun check');
  });

  it('secretrun --dotenv .env --dotenv-optional .env.local -- node server.js needs no sources file', async () => {
    const quick = join(work, 'quick');
    mkdirSync(quick);
    writeFileSync(join(quick, 'server.js'), SERVER);
    writeFileSync(join(quick, '.env'), 'DATABASE_URL=postgres://localhost/quick\n', { mode: 0o600 });
    const run = ok(await inDir(quick, ['--dotenv', '.env', '--dotenv-optional', '.env.local', '--', 'node', 'server.js']), 'secretrun --dotenv');
    expect(run.stdout).toBe('db=postgres://localhost/quick env=default\n');
    expect(run.stderr).toBe('');
    const exported = ok(await inDir(quick, ['export', '--dotenv', '.env', '--format', 'json']), 'secretrun export --dotenv');
    expect(JSON.parse(exported.stdout)).toEqual({ DATABASE_URL: 'postgres://localhost/quick' });
  });
});
