/**
 * The child process contract (sections 5 and 6): exit codes, signal forwarding, no orphans.
 * Real processes, real signals; results compared with what bash does for the same child.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, ROOT, baseEnv, runCli, tmpProject, alive } from './helpers/cli.js';

let dir: string;
let cleanup: () => void;
beforeAll(() => {
  ({ dir, cleanup } = tmpProject({ 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n', '.env': 'A=1\n', 'not-exec.sh': '#!/bin/sh\necho hi\n' }));
});
afterAll(() => cleanup());

const COUNTER = join(ROOT, 'fixtures/child/signal-counter.mjs');

function bashStatus(command: string): number {
  const r = spawnSync('bash', ['-c', `${command}; echo $?`], { cwd: dir, env: baseEnv(), encoding: 'utf8' });
  return Number(r.stdout.trim().split('\n').pop());
}

describe('exit codes', () => {
  it.each([0, 1, 42, 255])('passes the child exit code %i through', async (code) => {
    const r = await runCli(['--', 'sh', '-c', `exit ${code}`], { cwd: dir });
    expect(r.code).toBe(code);
    expect(r.stderr).toBe('');
  });

  it('127 for a command that does not exist', async () => {
    const r = await runCli(['--', 'no-such-program-xyz'], { cwd: dir });
    expect(r.code).toBe(127);
    expect(r.stderr).toBe('secretrun: command not found: no-such-program-xyz\n');
  });

  it('126 for a file that is not executable', async () => {
    const r = await runCli(['--', './not-exec.sh'], { cwd: dir });
    expect(r.code).toBe(126);
    expect(r.stderr).toContain('permission denied: ./not-exec.sh');
  });

  it('125 when secretrun fails before starting the child', async () => {
    const r = await runCli(['-c', 'missing.yaml', '--', 'true'], { cwd: dir });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^secretrun: sources file missing\.yaml \(from -c\) not found\n$/);
  });

  it.each(['TERM', 'KILL', 'INT'])('a child killed by SIG%s gives the same status as bash reports', async (sig) => {
    const child = `sh -c 'kill -${sig} $$'`;
    const direct = bashStatus(child);
    const wrapped = bashStatus(`node ${BIN} -- ${child}`);
    expect(direct).toBeGreaterThan(128);
    expect(wrapped).toBe(direct);
  });

  it('dies of the same signal as the child, so its parent sees the signal', async () => {
    const r = await runCli(['--', 'sh', '-c', 'kill -TERM $$'], { cwd: dir });
    expect(r.signal).toBe('SIGTERM');
  });

  it('passes arguments through untouched, with no shell', async () => {
    const args = ['$HOME', '*', '"quoted"', "it's", 'a b', '', '--', '-e', '$(whoami)'];
    const r = await runCli(['--', process.execPath, '-e', 'process.stdout.write(JSON.stringify(process.argv.slice(1)))', ...args], { cwd: dir });
    expect(JSON.parse(r.stdout)).toEqual(args);
  });

  it('stdin is the child’s own', async () => {
    const r = await runCli(['--', 'cat'], { cwd: dir, input: 'piped input\n' });
    expect(r.stdout).toBe('piped input\n');
  });
});

/** Start secretrun around the signal counter, wait until the child is ready, and return handles. */
async function startCounter(extraEnv: Record<string, string> = {}) {
  const log = join(dir, `signals-${Math.random().toString(36).slice(2)}.log`);
  writeFileSync(log, '');
  const proc = spawn(process.execPath, [BIN, '--', process.execPath, COUNTER, log], { cwd: dir, env: baseEnv(extraEnv), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  await new Promise<void>((resolve, reject) => {
    proc.stdout.on('data', (d) => String(d).includes('ready') && resolve());
    proc.on('exit', () => reject(new Error(`exited early: ${stderr}`)));
  });
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return { proc, log, ended, stderr: () => stderr };
}

function readLog(log: string): { pid: number; counts: Record<string, number> } {
  return JSON.parse(readFileSync(log, 'utf8').trim());
}

describe('signals', () => {
  it.each(['SIGTERM', 'SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGQUIT', 'SIGINT'] as const)('%s sent to secretrun reaches the child exactly once', async (sig) => {
    const { proc, log, ended, stderr } = await startCounter();
    proc.kill(sig);
    const end = await ended;
    const { pid, counts } = readLog(log);
    expect(counts).toEqual({ [sig]: 1 });
    // The child exited with 50 + count, and secretrun exits as the child did.
    expect(end).toEqual({ code: 51, signal: null });
    expect(alive(pid)).toBe(false);
    expect(stderr()).toBe('');
  });

  it('on a terminal, Ctrl-C reaches the child once (from the terminal), not twice', async () => {
    const log = join(dir, 'tty.log');
    writeFileSync(log, '');
    // script(1) gives secretrun a real pseudo-terminal; \x03 typed into it is the terminal's Ctrl-C,
    // which the kernel sends to the whole foreground process group.
    // `exec`, so no shell sits between script(1) and secretrun (a waiting sh would report the Ctrl-C itself).
    const cmd = `exec ${process.execPath} ${BIN} -- ${process.execPath} ${COUNTER} ${log}`;
    const proc = spawn('script', ['-qfec', cmd, '/dev/null'], { cwd: dir, env: baseEnv({ TERM: 'dumb' }), stdio: ['pipe', 'pipe', 'pipe'] });
    await new Promise<void>((resolve) => proc.stdout.on('data', (d) => String(d).includes('ready') && resolve()));
    proc.stdin.write('\x03');
    const code = await new Promise<number | null>((resolve) => proc.on('exit', (c) => resolve(c)));
    expect(readLog(log).counts).toEqual({ SIGINT: 1 });
    expect(code).toBe(51);
  });

  it('leaves no orphan when secretrun is terminated', async () => {
    const { proc, log, ended } = await startCounter();
    proc.kill('SIGTERM');
    await ended;
    const { pid } = readLog(log);
    expect(alive(pid)).toBe(false);
  });
});

describe('PID 1 style entrypoint', () => {
  it('forwards SIGINT when not on a terminal (kill -INT, or a container runtime)', async () => {
    const { proc, log, ended } = await startCounter();
    proc.kill('SIGINT');
    expect((await ended).code).toBe(51);
    expect(readLog(log).counts).toEqual({ SIGINT: 1 });
  });
});
