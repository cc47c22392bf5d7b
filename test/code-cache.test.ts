/**
 * The build ships a V8 code cache per Node it found (scripts/code-cache.cjs), and the CLI's Node finds and accepts
 * its own: without it every start compiles the 130 KB bundle (about 7-10 ms).
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CLI_NODE, ROOT } from './helpers/cli.js';
// @ts-expect-error: a plain .mjs script without types
import { installedNodes } from '../scripts/node-versions.mjs';

const PROBE = `
const { cacheFile, file } = require(${JSON.stringify(join(ROOT, 'bin/secretrun.cjs'))});
const fs = require('node:fs'), vm = require('node:vm');
const s = new vm.Script(fs.readFileSync(file, 'utf8'), { filename: file, cachedData: fs.readFileSync(cacheFile) });
process.stdout.write(String(s.cachedDataRejected));`;

describe('per-Node V8 code cache', () => {
  it.each([CLI_NODE, ...(installedNodes() as { bin: string }[]).map((n) => n.bin)])('%s finds a cache for its V8 and V8 accepts it', (node) => {
    const r = spawnSync(node, ['-e', PROBE], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('false');
  });

  it('one file per V8 version, nothing else', () => {
    for (const dir of ['dist/code-cache', 'dist/vendor/code-cache/aws']) for (const name of readdirSync(join(ROOT, dir))) expect(name).toMatch(/^\d+\.\d+\.\d+\.\d+(-node\.\d+)?\.bin$/);
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
