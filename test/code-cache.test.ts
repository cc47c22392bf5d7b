/**
 * The build ships a V8 code cache per Node it found (scripts/code-cache.cjs), and the CLI's Node finds and accepts
 * its own: without it every start compiles the 130 KB bundle (about 7-10 ms).
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI_NODE, ROOT, runCli } from './helpers/cli.js';
// @ts-expect-error: a plain .mjs script without types
import { installedNodes } from '../scripts/node-versions.mjs';

const PROBE = `
const { cacheFile, file } = require(${JSON.stringify(join(ROOT, 'bin/secretrun.cjs'))});
const fs = require('node:fs'), vm = require('node:vm');
const s = new vm.Script(fs.readFileSync(file, 'utf8'), { filename: file, cachedData: fs.readFileSync(cacheFile) });
process.stdout.write(String(s.cachedDataRejected));`;

/** Where the build writes caches: the CLI's start-up file, its cold half, the vendored AWS clients. */
const CACHE_DIRS = ['dist/code-cache', 'dist/code-cache/cold', 'dist/vendor/code-cache/aws'];

describe('per-Node V8 code cache', () => {
  it.each([CLI_NODE, ...(installedNodes() as { bin: string }[]).map((n) => n.bin)])('%s finds a cache for its V8 and V8 accepts it', (node) => {
    const r = spawnSync(node, ['-e', PROBE], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('false');
  });

  it('one file per V8 version, nothing else (and the cold file\'s caches in cold/)', () => {
    for (const dir of CACHE_DIRS) for (const name of readdirSync(join(ROOT, dir))) expect(name).toMatch(dir === 'dist/code-cache' ? /^(\d+\.\d+\.\d+\.\d+(-node\.\d+)?\.bin|cold)$/ : /^\d+\.\d+\.\d+\.\d+(-node\.\d+)?\.bin$/);
    expect(readdirSync(join(ROOT, 'dist/code-cache/cold')).sort()).toEqual(readdirSync(join(ROOT, 'dist/code-cache')).filter((n) => n !== 'cold').sort());
  });
});

// dist/cold.cjs (the code a run of local layers never reaches: scripts/cli-bundles.mjs) is loaded with its own cache.
const COLD_PROBE = `
const shim = require(${JSON.stringify(join(ROOT, 'bin/secretrun.cjs'))});
let script;
const table = shim.coldTable((s) => (script = s));
process.stdout.write(JSON.stringify({ rejected: script.cachedDataRejected, ls: typeof table['src/cli/commands/ls.ts'] }));`;

describe('the cold half of the CLI', () => {
  it.each([CLI_NODE, ...(installedNodes() as { bin: string }[]).map((n) => n.bin)])('%s finds a cache for dist/cold.cjs and V8 accepts it', (node) => {
    const r = spawnSync(node, ['-e', COLD_PROBE], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ rejected: false, ls: 'function' });
  });
});

// The vendored AWS clients (dist/vendor/aws.cjs) are loaded by the shim with their own cache.
const VENDOR_PROBE = `
const shim = require(${JSON.stringify(join(ROOT, 'bin/secretrun.cjs'))});
let script;
const sdk = shim.requireVendored('aws', (s) => (script = s));
process.stdout.write(JSON.stringify({ rejected: script.cachedDataRejected, ssm: typeof sdk.SSMClient, sm: typeof sdk.BatchGetSecretValueCommand }));`;

describe('vendored AWS clients', () => {
  it.each([CLI_NODE, ...(installedNodes() as { bin: string }[]).map((n) => n.bin)])('%s finds a cache for the AWS bundle and V8 accepts it', (node) => {
    const r = spawnSync(node, ['-e', VENDOR_PROBE], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ rejected: false, ssm: 'function', sm: 'function' });
  });
});

// V8 keeps the name a script was compiled under in its code cache: compiled under an absolute path, the package
// would carry the build machine's directory (and stack traces from cached functions would point there).
describe('the caches do not depend on where the package was built', () => {
  it('no cache file holds the absolute path of the tree it was built in', () => {
    const files = CACHE_DIRS.flatMap((dir) => readdirSync(join(ROOT, dir)).filter((name) => name.endsWith('.bin')).map((name) => join(ROOT, dir, name)));
    expect(files.length).toBeGreaterThanOrEqual(2);
    // The build tree's own path, and its parent (a shorter prefix a name could be stored under).
    for (const file of files) for (const path of [ROOT, join(ROOT, '..')]) expect(readFileSync(file).includes(Buffer.from(path)), `${file} holds ${path}`).toBe(false);
  });

  it('scripts compile under secretrun/dist/..., so SECRETRUN_DEBUG traces name no build directory', async () => {
    const r = await runCli(['-c', 'no-such-sources-file.yaml', '--', 'true'], { env: { SECRETRUN_DEBUG: '1' } });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/\(secretrun\/dist\/cli\.cjs:\d+:\d+\)/);
    expect(r.stderr).not.toContain(join(ROOT, 'dist'));
  });
});

// prepack (scripts/build.mjs --release) picks the newest release of each major from the registry's list.
describe('the newest release of a major', () => {
  it('compares releases by number, not as text', async () => {
    // @ts-expect-error: a plain .mjs script without types
    const { compareVersions } = await import('../scripts/node-versions.mjs');
    expect(['24.9.0', '24.22.3', '24.10.0', '24.22.1', '24.0.0'].sort(compareVersions).at(-1)).toBe('24.22.3');
    expect(compareVersions('26.12.1', '26.12.1')).toBe(0);
    expect(compareVersions('20.9.0', '20.20.2')).toBeLessThan(0);
  });
});
