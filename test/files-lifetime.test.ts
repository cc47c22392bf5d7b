/**
 * The lifetime of secret files (contract section 4, "Lifetime"): created before the child starts, removed when
 * secretrun exits whatever the cause it can handle (the child's end, a signal, a failed start), what a kill -9
 * leaves and how the next run cleans it, readers that never come (they must not stop watch re-resolves, signal
 * relay or exit), and watch mode: the next read gets the new value. The exit-code and signal contract is the
 * same with files in use.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { closeSync, constants, existsSync, lstatSync, mkdirSync, openSync, readFileSync, readSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, CLI_NODE, alive, baseEnv, runCli, useTmpProjects } from './helpers/cli.js';
import { leftovers, runtimeDir } from './helpers/files.js';
import { until, watchPlumbing } from './helpers/watch.js';

const project = useTmpProjects(afterEach);
const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));
const plumbing = watchPlumbing();
afterAll(() => plumbing.cleanup());

function xdg(ram = false): string {
  const r = runtimeDir(ram);
  cleanups.push(r.cleanup);
  return r.dir;
}

/**
 * A child that reads the files named by its arguments' variables on start and on every SIGUSR1, and appends
 * `{"pid":…,"values":{KEY:content}}` to the log; it exits 50 on SIGTERM.
 */
const READER = `
const fs = require('node:fs');
const [log, ...keys] = process.argv.slice(2);
const read = () => fs.appendFileSync(log, JSON.stringify({ pid: process.pid, values: Object.fromEntries(keys.map((k) => [k, fs.readFileSync(process.env[k], 'utf8')])) }) + '\\n');
process.on('SIGUSR1', read);
process.on('SIGTERM', () => process.exit(50));
read();
setInterval(() => {}, 1000);
`;
type Reading = { pid: number; values: Record<string, string> };
const readings = (log: string): Reading[] =>
  existsSync(log)
    ? readFileSync(log, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Reading)
    : [];

/** Start secretrun in the background; resolves once the child has written its first line to stdout. */
function startRun(dir: string, args: string[], env: Record<string, string>) {
  const proc = spawn(CLI_NODE, [BIN, ...args], { cwd: dir, env: baseEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout!.setEncoding('utf8').on('data', (d) => (stdout += d));
  proc.stderr!.setEncoding('utf8').on('data', (d) => (stderr += d));
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  cleanups.push(() => proc.kill('SIGKILL'));
  return { proc, ended, stdout: () => stdout, stderr: () => stderr };
}

const SECRET = 'the-secret-value-0123456789';

describe.each([
  { kind: 'pipe', ram: false },
  { kind: 'tmpfs', ram: true },
] as const)('lifetime, $kind kind', ({ kind, ram }) => {
  it("normal exit: the child's code is ours, and the files are gone", async () => {
    const base = xdg(ram);
    const r = await runCli(['--as-file', 'K', '--file-kind', kind, '--', 'sh', '-c', 'test "$(cat "$K")" = "$EXPECTED" && exit 7'], { env: { XDG_RUNTIME_DIR: base, K: SECRET, EXPECTED: SECRET } });
    expect([r.code, r.stderr]).toEqual([7, '']);
    expect(leftovers(base)).toEqual([]);
  });

  it.each(['SIGTERM', 'SIGINT', 'SIGHUP'] as const)('%s: relayed once, the child dies of it, secretrun re-raises it, and the files are gone', async (sig) => {
    const base = xdg(ram);
    const run = startRun(process.cwd(), ['--as-file', 'K', '--file-kind', kind, '--', 'sh', '-c', 'echo "$K $$"; exec sleep 30'], { XDG_RUNTIME_DIR: base, K: SECRET });
    const [path, pid] = (await until(() => run.stdout().includes('\n') && run.stdout(), 'the child to start')).trim().split(' ');
    expect(existsSync(path)).toBe(true);
    run.proc.kill(sig);
    const end = await run.ended;
    expect({ childAlive: alive(Number(pid)), path: existsSync(path) }).toEqual({ childAlive: false, path: false });
    expect(end).toEqual({ code: null, signal: sig });
    expect(run.stderr()).toBe('');
    expect(existsSync(path)).toBe(false);
    expect(leftovers(base)).toEqual([]);
  });

  it.each([
    { what: 'a command that does not exist', command: ['no-such-command-xyz'], code: 127 },
    { what: 'a command that is not executable', command: ['./not-executable'], code: 126 },
  ])('a failed start ($what: $code) removes the files', async ({ command, code }) => {
    const base = xdg(ram);
    const p = project({ 'not-executable': '#!/bin/sh\n' });
    const r = await runCli(['--as-file', 'K', '--file-kind', kind, '--', ...command], { cwd: p.dir, env: { XDG_RUNTIME_DIR: base, K: SECRET } });
    expect(r.code).toBe(code);
    expect(leftovers(base)).toEqual([]);
  });

  it('after kill -9: a pipe holds nothing, a tmpfs file stays until the next run removes it', async () => {
    const base = xdg(ram);
    const run = startRun(process.cwd(), ['--as-file', 'K', '--file-kind', kind, '--', 'sh', '-c', 'echo "$K $$"; exec sleep 30'], { XDG_RUNTIME_DIR: base, K: SECRET });
    const [path, pid] = (await until(() => run.stdout().includes('\n') && run.stdout(), 'the child to start')).trim().split(' ');
    run.proc.kill('SIGKILL');
    await run.ended;
    process.kill(Number(pid), 'SIGKILL');
    expect(existsSync(path)).toBe(true);
    if (kind === 'pipe') {
      expect(lstatSync(path).isFIFO()).toBe(true);
      // No writer is left: a non-blocking open succeeds and reads end of file at once.
      const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
      expect(readSync(fd, Buffer.alloc(64))).toBe(0);
      closeSync(fd);
    } else {
      expect(readFileSync(path, 'utf8')).toBe(SECRET);
    }
    const next = await runCli(['--as-file', 'K', '--file-kind', kind, '--', 'true'], { env: { XDG_RUNTIME_DIR: base, K: SECRET } });
    expect(next.code).toBe(0);
    expect(existsSync(path)).toBe(false);
    expect(leftovers(base)).toEqual([]);
  });
});

describe('stale-directory cleanup is limited to what is certainly ours', () => {
  it('leaves a directory of a live process, one with another mode, a symlink, and anything not named like ours', async () => {
    const base = xdg();
    const live = join(base, `secretrun-files-${process.pid}-0000aaaa`);
    const wideMode = join(base, 'secretrun-files-999999-0000bbbb');
    const outside = join(base, 'elsewhere');
    mkdirSync(live, { mode: 0o700 });
    mkdirSync(wideMode, { mode: 0o755 });
    mkdirSync(outside, { mode: 0o700 });
    writeFileSync(join(outside, 'keep'), 'x');
    writeFileSync(join(live, 'keep'), 'x');
    writeFileSync(join(wideMode, 'keep'), 'x');
    symlinkSync(outside, join(base, 'secretrun-files-999998-0000cccc'));
    const dead = join(base, 'secretrun-files-999997-0000dddd');
    mkdirSync(dead, { mode: 0o700 });
    writeFileSync(join(dead, 'K'), 'stale');
    mkdirSync(join(dead, 'sub'));
    writeFileSync(join(dead, 'sub', 'deeper'), 'x');
    const r = await runCli(['--as-file', 'K', '--', 'true'], { env: { XDG_RUNTIME_DIR: base, K: SECRET } });
    expect(r.code).toBe(0);
    expect(existsSync(join(live, 'keep')) && existsSync(join(wideMode, 'keep')) && existsSync(join(outside, 'keep'))).toBe(true);
    expect(lstatSync(join(base, 'secretrun-files-999998-0000cccc')).isSymbolicLink()).toBe(true);
    // The dead run's files go; its subdirectory is never recursed into, so the directory itself stays.
    expect(existsSync(join(dead, 'K'))).toBe(false);
    expect(existsSync(join(dead, 'sub', 'deeper'))).toBe(true);
  });
});

describe('readers that never come', () => {
  it('five pipes nobody opens: --watch=2 re-resolves an http layer on localhost (dns.lookup, fs) and restarts; exit is prompt', async () => {
    let token = 'http-token-aaaaaaaa';
    const s = await plumbing.server(() => ({ json: { TOKEN: token, A: 'a-1', B: 'b-1', C: 'c-1', D: 'd-1' } }));
    const p = project({
      'reader.cjs': READER,
      // localhost, not 127.0.0.1: each re-resolve needs a dns.lookup on libuv's threadpool.
      'secretrun.yaml': `sources:\n  - type: http\n    url: http://localhost:${s.port}/s\n    retries: 0\nas_file: [A, B, C, D, TOKEN]\n`,
    });
    const log = join(p.dir, 'reads.log');
    // The child reads only TOKEN, after the restart; A..D are never opened by anyone.
    const run = startRun(p.dir, ['--watch=2', '--', process.execPath, 'reader.cjs', log, 'TOKEN'], { XDG_RUNTIME_DIR: xdg() });
    await until(() => readings(log)[0], 'the first child', 10_000);
    expect(readings(log)[0].values.TOKEN).toBe('http-token-aaaaaaaa');
    const before = s.requests.length;
    token = 'http-token-bbbbbbbb';
    const second = await until(() => readings(log)[1], 'the restarted child', 12_000);
    expect(second.values.TOKEN).toBe('http-token-bbbbbbbb');
    expect(second.pid).not.toBe(readings(log)[0].pid);
    expect(s.requests.length).toBeGreaterThan(before);
    // Signal relay still works: SIGTERM reaches the child (exit 50), and secretrun ends with it.
    run.proc.kill('SIGTERM');
    expect(await run.ended).toEqual({ code: 50, signal: null });
    expect(run.stderr()).toContain('secretrun: poll: 1 key changed (TOKEN); restarting');
  });

  it('a child that exits at once with five unopened pipes: secretrun exits with it', async () => {
    const base = xdg();
    const env = { XDG_RUNTIME_DIR: base, A: '1', B: '2', C: '3', D: '4', E: '5' };
    const r = await runCli(['--as-file', 'A', '--as-file', 'B', '--as-file', 'C', '--as-file', 'D', '--as-file', 'E', '--', 'sh', '-c', 'exit 3'], { env, timeoutMs: 10_000 });
    expect(r.code).toBe(3);
    expect(leftovers(base)).toEqual([]);
  });
});

describe.each([
  { kind: 'pipe', ram: false },
  { kind: 'tmpfs', ram: true },
] as const)('watch mode, $kind kind: the next read gets the new value', ({ kind, ram }) => {
  it('with --on-change=signal:SIGUSR1 the same child reads the rotated value from the same path', async () => {
    const p = project({ 'reader.cjs': READER, 'v.json': JSON.stringify({ KEY: 'value-one-1111' }), 'secretrun.yaml': 'sources:\n  - type: json\n    path: v.json\nas_file: [KEY]\n' });
    const log = join(p.dir, 'reads.log');
    const run = startRun(p.dir, ['--watch=2', '--on-change', 'signal:SIGUSR1', '--file-kind', kind, '--', process.execPath, 'reader.cjs', log, 'KEY'], { XDG_RUNTIME_DIR: xdg(ram) });
    await until(() => readings(log)[0], 'the first read', 10_000);
    writeFileSync(join(p.dir, 'v.json'), JSON.stringify({ KEY: 'value-two-2222' }));
    const second = await until(() => readings(log)[1], 'the read after the change', 12_000);
    expect(second).toEqual({ pid: readings(log)[0].pid, values: { KEY: 'value-two-2222' } });
    run.proc.kill('SIGTERM');
    expect((await run.ended).code).toBe(50);
    expect(alive(second.pid)).toBe(false);
  });
});
