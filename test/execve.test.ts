/**
 * The execve handover (`run` on Node ≥ 22.15): when it happens, when it must not, and that the child cannot tell
 * it from the spawn path. Runs with the CLI's Node (SECRETRUN_TEST_NODE) when that has process.execve, else with
 * one installed by scripts/node-versions.mjs; skipped (loudly) when there is none.
 * The pure part, "will execve(2) of this file start a program?", is tested directly on real files.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, CLI_NODE, baseEnv, hasExecve, runCommand, tmpProject } from './helpers/cli.js';
import { startServer } from './helpers/http-server.js';
import { execWillStart } from '../src/process/child.js';
// @ts-expect-error: a plain .mjs script without types
import { installedNodes } from '../scripts/node-versions.mjs';

const EXEC_NODE: string | undefined = hasExecve() ? CLI_NODE : (installedNodes() as { bin: string }[]).map((n) => n.bin).find((bin) => hasExecve(bin));
if (!EXEC_NODE) console.warn('\n!!! execve.test.ts: no Node with process.execve (run `node scripts/node-versions.mjs install`); handover tests skipped\n');

let dir: string;
let cleanup: () => void;
beforeAll(() => {
  ({ dir, cleanup } = tmpProject({ 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n', '.env': 'A=1\nB="two words"\n' }));
});
afterAll(() => cleanup());

/** A project whose layer sets a risky name, so that secretrun writes a warning on stderr before the handover. */
const RISKY = { 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n', '.env': 'A=1\nRUBYOPT=-W0\n' };

const PIDS = 'process.stdout.write(JSON.stringify([process.pid, process.ppid]))';

/** Run secretrun with `flags` around a node child printing its PID and parent PID; returns them and secretrun's PID. */
async function pids(flags: string[]): Promise<{ secretrun: number; pid: number; ppid: number; stderr: string }> {
  const proc = spawn(EXEC_NODE!, [BIN, ...flags, '--', process.execPath, '-e', PIDS], { cwd: dir, env: baseEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let stderr = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise((r) => proc.on('close', r));
  expect(code, stderr).toBe(0);
  const [pid, ppid] = JSON.parse(out);
  return { secretrun: proc.pid!, pid, ppid, stderr };
}

describe.skipIf(!EXEC_NODE)('the handover, where Node has process.execve', () => {
  it('a plain run replaces secretrun: the child has its PID and its parent, and nothing is printed', async () => {
    const r = await pids([]);
    expect(r.pid).toBe(r.secretrun);
    expect(r.ppid).toBe(process.pid);
    expect(r.stderr).toBe('');
  });

  it.each([[['--no-exec']], [['--mask']], [['--watch']], [['run', '--no-exec', '-q']]])('%j keeps secretrun as the parent', async (flags) => {
    const r = await pids(flags);
    expect(r.pid).not.toBe(r.secretrun);
    expect(r.ppid).toBe(r.secretrun);
  });

  it('the child gets exactly the environment the spawn path gives it', async () => {
    const parent = { PARENT: 'p', EMPTY: '', 'WITH=': 'x', SECRETRUN_WEBHOOK_SECRET: 'webhook-signing-secret' };
    const env = (flags: string[]) => runCommand(EXEC_NODE!, [BIN, ...flags, '--', 'env', '-0'], { cwd: dir, env: parent });
    const [execd, spawned] = await Promise.all([env([]), env(['--no-exec'])]);
    expect(execd.code).toBe(0);
    expect(execd.stdout).toContain('A=1\0B=two words\0');
    expect(execd.stdout).toContain('PARENT=p\0');
    // secretrun's own webhook secret never reaches the child, on either path.
    expect(execd.stdout).not.toContain('webhook-signing-secret');
    expect(execd.stdout.split('\0').sort()).toEqual(spawned.stdout.split('\0').sort());
  });

  it('what secretrun wrote before the handover comes out whole, before the child’s output', async () => {
    // A layer that sets a risky name (RUBYOPT) draws a warning on stderr; the child then writes on the same pipe.
    const { dir: loose, cleanup: done } = tmpProject(RISKY);
    try {
      const r = await runCommand(EXEC_NODE!, [BIN, '--', 'sh', '-c', 'echo child >&2; echo $$'], { cwd: loose });
      expect(r.code).toBe(0);
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines.length).toBeGreaterThan(1);
      expect(lines.slice(0, -1).every((l) => l.startsWith('secretrun: '))).toBe(true);
      expect(lines.at(-1)).toBe('child');
    } finally {
      done();
    }
  });

  it('leaves stderr blocking for the child after writing a warning to it', async () => {
    // Node made the stderr pipe non-blocking when secretrun wrote its warning, and the flag belongs to the pipe,
    // shared with the child: writing 4 MiB into a 64 KiB pipe would then end early (EAGAIN) instead of waiting.
    const { dir: loose, cleanup: done } = tmpProject(RISKY);
    try {
      const writer = `const b=Buffer.alloc(1<<20,120);let n=0;try{for(let i=0;i<4;i++)n+=require('fs').writeSync(2,b)}catch(e){n=e.code}process.stdout.write(String(n))`;
      const r = await runCommand(EXEC_NODE!, [BIN, '--', process.execPath, '-e', writer], { cwd: loose });
      expect(r.stdout).toBe(String(4 << 20));
      expect(r.stderr).toMatch(/^secretrun: /);
    } finally {
      done();
    }
  });

  it.each([
    ['an executable script without #! (sh runs it on the spawn path)', '#plain\nexit 7\n', 7],
    ['a #! script whose interpreter is missing', '#!/no/such/interpreter\nexit 0\n', 127],
  ])('%s: no abort, the spawn path answers', async (_, text, code) => {
    const file = join(dir, `script-${code}`);
    writeFileSync(file, text, { mode: 0o755 });
    const r = await runCommand(EXEC_NODE!, [BIN, '--', file], { cwd: dir });
    expect(r.code).toBe(code);
    expect(r.stderr).not.toContain('execve');
  });

  it('loads none of the modules only the spawn path needs (child_process, net, stream, tty), nor node:os, nor an AbortController (local layers cancel nothing), before the handover', async () => {
    const list = join(dir, 'modules.txt');
    const preload = join(dir, 'modules.cjs');
    writeFileSync(preload, `const real = process.execve; process.execve = function (...a) { require('fs').writeFileSync(${JSON.stringify(list)}, process.moduleLoadList.join('\\n')); return real.apply(this, a); };`);
    const r = await runCommand(EXEC_NODE!, ['-r', preload, BIN, '--', 'true'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const loaded = readFileSync(list, 'utf8').split('\n');
    expect(loaded).toContain('NativeModule vm');
    expect(loaded.filter((m) => /^NativeModule (child_process|net|stream|tty|dgram|os|internal\/abort_controller)$/.test(m))).toEqual([]);
  });

  it('builds no view of the modules the cold half shares before the handover: the hot table holds a function per module (scripts/cli-bundles.mjs)', async () => {
    const out = join(dir, 'hot.json');
    const preload = join(dir, 'hot.cjs');
    // esbuild's namespace objects define a getter per export through Object.defineProperty, taken when cli.cjs loads.
    writeFileSync(
      preload,
      `const define = Object.defineProperty; const getters = new Set();
Object.defineProperty = function (o, k, d) { if (typeof d?.get === 'function') getters.add(String(k)); return define.call(this, o, k, d); };
const real = process.execve;
process.execve = function (...a) {
  const table = globalThis[Symbol.for('secretrun.hot')];
  const covered = Object.entries(table).filter(([, view]) => typeof view !== 'function' || Object.keys(view()).filter((k) => k !== '__esModule').every((k) => getters.has(k))).map(([id]) => id);
  require('fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify({ modules: Object.keys(table).length, covered }));
  return real.apply(this, a);
};`,
    );
    const r = await runCommand(EXEC_NODE!, ['-r', preload, BIN, '--', 'true'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const { modules, covered } = JSON.parse(readFileSync(out, 'utf8'));
    expect(modules).toBeGreaterThan(0);
    expect(covered).toEqual([]);
  });

  it('a run of local layers never reads the cold half of the CLI (dist/cold.cjs, scripts/cli-bundles.mjs); ls does', async () => {
    const reads = join(dir, 'reads.txt');
    const preload = join(dir, 'reads.cjs');
    writeFileSync(
      preload,
      `const fs = require('fs'); const read = fs.readFileSync; const seen = []; fs.readFileSync = function (p, ...a) { seen.push(String(p)); return read.call(this, p, ...a); }; process.on('exit', () => fs.writeFileSync(${JSON.stringify(reads)}, seen.join('\\n')));`,
    );
    const readsOf = async (args: string[]) => {
      const r = await runCommand(EXEC_NODE!, ['-r', preload, BIN, ...args], { cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      return readFileSync(reads, 'utf8').split('\n');
    };
    const run = await readsOf(['--no-exec', '--', 'true']);
    expect(run.some((p) => p.endsWith(join('dist', 'cli.cjs')))).toBe(true);
    expect(run.filter((p) => p.endsWith(join('dist', 'cold.cjs')))).toEqual([]);
    expect((await readsOf(['ls'])).filter((p) => p.endsWith(join('dist', 'cold.cjs')))).toHaveLength(1);
  });

  it('an ssm layer with environment credentials loads no AWS SDK (dist/vendor/aws.cjs) before the handover; with a profile it does', async () => {
    const server = await startServer(() => ({ status: 200, json: { Parameters: [{ Name: '/lean/A', Value: 'a', Type: 'String', Version: 1 }] } }));
    const { dir: ssmDir, cleanup: done } = tmpProject({
      'secretrun.yaml': 'sources:\n  - type: ssm\n    path: /lean\n    region: eu-west-1\n',
      credentials: '[p]\naws_access_key_id = AKIDLEAN\naws_secret_access_key = not-a-real-key\n',
    });
    try {
      const reads = (name: string) => join(ssmDir, `${name}.txt`);
      const preload = join(ssmDir, 'reads.cjs');
      // Each read of a vendored bundle is noted at once (the handover replaces the process: no exit hook runs).
      writeFileSync(preload, `const fs = require('fs'); const real = fs.readFileSync; fs.readFileSync = function (p, ...a) { if (/vendor[\\/][^\\/]+\\.cjs$/.test(String(p))) fs.appendFileSync(process.env.SR_READS, String(p) + '\\n'); return real.call(this, p, ...a); };`);
      const common = { AWS_ENDPOINT_URL_SSM: server.origin, AWS_CONFIG_FILE: join(ssmDir, 'none'), AWS_SHARED_CREDENTIALS_FILE: join(ssmDir, 'credentials') };
      const run = (name: string, env: Record<string, string>) =>
        runCommand(EXEC_NODE!, ['-r', preload, BIN, '--', process.execPath, '-e', 'process.stdout.write(process.env.A)'], { cwd: ssmDir, env: { ...common, ...env, SR_READS: reads(name) } });
      const lean = await run('lean', { AWS_ACCESS_KEY_ID: 'AKIDLEAN', AWS_SECRET_ACCESS_KEY: 'not-a-real-key' });
      expect(lean.code, lean.stderr).toBe(0);
      expect(lean.stdout).toBe('a');
      expect(existsSync(reads('lean')) ? readFileSync(reads('lean'), 'utf8') : '').not.toMatch(/aws\.cjs/);
      const sdk = await run('sdk', { AWS_PROFILE: 'p' });
      expect(sdk.code, sdk.stderr).toBe(0);
      expect(sdk.stdout).toBe('a');
      expect(readFileSync(reads('sdk'), 'utf8')).toMatch(/vendor[\\/]aws\.cjs/);
    } finally {
      done();
      await server.close();
    }
  });

  it('a relaying parent (--no-exec) with nothing to renew or cancel builds no AbortController either', async () => {
    // child_process loads Node's abort_controller module itself, so count what secretrun constructs instead.
    const count = join(dir, 'controllers.txt');
    const preload = join(dir, 'controllers.cjs');
    writeFileSync(
      preload,
      `let n = 0; const Real = globalThis.AbortController; globalThis.AbortController = class extends Real { constructor() { super(); n++; } }; process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(count)}, String(n)));`,
    );
    const r = await runCommand(EXEC_NODE!, ['-r', preload, BIN, '--no-exec', '--', 'true'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(count, 'utf8')).toBe('0');
  });

  const canUnshare = spawnSync('unshare', ['--pid', '--fork', 'true']).status === 0;
  it.skipIf(!canUnshare)('as PID 1 the relaying parent stays: the child is PID 2, secretrun its parent', async () => {
    const r = spawnSync('unshare', ['--pid', '--fork', EXEC_NODE!, BIN, '--', process.execPath, '-e', PIDS], { cwd: dir, env: baseEnv(), encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const [pid, ppid] = JSON.parse(r.stdout);
    expect(ppid).toBe(1);
    expect(pid).not.toBe(1);
  });
});

describe('execWillStart: only definite yeses', () => {
  let files: ReturnType<typeof tmpProject>;
  beforeAll(() => {
    files = tmpProject();
  });
  afterAll(() => files.cleanup());
  const exe = (name: string, content: string | Buffer, mode = 0o755) => {
    const path = files.write(name, content);
    chmodSync(path, mode);
    return path;
  };

  it('a native ELF binary and a #! script with a native interpreter', () => {
    expect(execWillStart('/bin/sh')).toBe(true);
    expect(execWillStart(process.execPath)).toBe(true);
    expect(execWillStart(exe('ok.sh', '#!/bin/sh -e\necho hi\n'))).toBe(true);
    expect(execWillStart(exe('ok-space.sh', '#! /bin/sh\necho hi\n'))).toBe(true);
  });

  it('not: a relative path, a directory, a missing or non-executable file', () => {
    expect(execWillStart('bin/sh')).toBe(false);
    expect(execWillStart(files.dir)).toBe(false);
    expect(execWillStart(join(files.dir, 'missing'))).toBe(false);
    expect(execWillStart(exe('noexec.sh', '#!/bin/sh\n', 0o644))).toBe(false);
  });

  it('not: no #!, a missing or non-native interpreter, a #! line longer than the kernel reads', () => {
    expect(execWillStart(exe('plain', 'echo hi\n'))).toBe(false);
    expect(execWillStart(exe('missing-interp', '#!/no/such/sh\n'))).toBe(false);
    expect(execWillStart(exe('nested', `#!${exe('inner.sh', '#!/bin/sh\n')}\n`))).toBe(false);
    expect(execWillStart(exe('long', `#!/bin/sh ${'x'.repeat(300)}\n`))).toBe(false);
  });

  it('not: an ELF for another machine, or whose loader is missing', () => {
    const native = readFileSync(process.execPath).subarray(0, 1 << 16);
    const other = Buffer.from(native);
    other.writeUInt16LE(other.readUInt16LE(18) === 62 ? 183 : 62, 18);
    expect(execWillStart(exe('other-arch', other))).toBe(false);
    // The loader's path lives in the PT_INTERP segment; point it somewhere that does not exist.
    const copy = join(files.dir, 'sh-copy');
    copyFileSync('/bin/sh', copy);
    const bytes = readFileSync(copy);
    const at = bytes.indexOf('/lib');
    expect(at).toBeGreaterThan(0);
    bytes.write('/nox', at, 'latin1');
    writeFileSync(copy, bytes, { mode: 0o755 });
    expect(execWillStart(copy)).toBe(false);
  });
});
