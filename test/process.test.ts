/**
 * The child process contract (sections 5 and 6): exit codes, signal forwarding, no orphans.
 * Real processes, real signals; results compared with what bash does for the same child.
 *
 * Every test runs on each path the CLI's Node has: the spawning parent (`--no-exec`, and the only path before
 * Node 22.15) and, where Node has process.execve, the handover (the plain run). .ci/run runs this file on Node 20
 * and 26 (SECRETRUN_TEST_NODE picks the Node that runs the CLI).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, CLI_NODE, ROOT, baseEnv, hasExecve, runCli, tmpProject, alive } from './helpers/cli.js';

let dir: string;
let cleanup: () => void;
beforeAll(() => {
  ({ dir, cleanup } = tmpProject({ 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n', '.env': 'A=1\n', 'not-exec.sh': '#!/bin/sh\necho hi\n' }));
});
afterAll(() => cleanup());

const COUNTER = join(ROOT, 'fixtures/child/signal-counter.mjs');

/** The paths to test: `flags` go before `--`; `execs` says whether the child should take over secretrun's PID. */
const PATHS = hasExecve() ? [{ path: 'execve', flags: [] as string[], execs: true }, { path: 'spawn (--no-exec)', flags: ['--no-exec'], execs: false }] : [{ path: 'spawn', flags: [] as string[], execs: false }];

function bashStatus(command: string): number {
  const r = spawnSync('bash', ['-c', `${command}; echo $?`], { cwd: dir, env: baseEnv(), encoding: 'utf8' });
  return Number(r.stdout.trim().split('\n').pop());
}

/** Start secretrun around the signal counter, wait until the child is ready, and return handles. */
async function startCounter(flags: string[], extraEnv: Record<string, string> = {}) {
  const log = join(dir, `signals-${Math.random().toString(36).slice(2)}.log`);
  writeFileSync(log, '');
  const proc = spawn(CLI_NODE, [BIN, ...flags, '--', process.execPath, COUNTER, log], { cwd: dir, env: baseEnv(extraEnv), stdio: ['ignore', 'pipe', 'pipe'] });
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

describe.each(PATHS)('exit codes: $path', ({ flags, execs }) => {
  it.each([0, 1, 42, 255])('passes the child exit code %i through', async (code) => {
    const r = await runCli([...flags, '--', 'sh', '-c', `exit ${code}`], { cwd: dir });
    expect(r.code).toBe(code);
    expect(r.stderr).toBe('');
  });

  it('127 for a command that does not exist', async () => {
    const r = await runCli([...flags, '--', 'no-such-program-xyz'], { cwd: dir });
    expect(r.code).toBe(127);
    expect(r.stderr).toBe('secretrun: command not found: no-such-program-xyz\n');
  });

  it('126 for a file that is not executable', async () => {
    const r = await runCli([...flags, '--', './not-exec.sh'], { cwd: dir });
    expect(r.code).toBe(126);
    expect(r.stderr).toContain('permission denied: ./not-exec.sh');
  });

  it('125 when secretrun fails before starting the child', async () => {
    const r = await runCli([...flags, '-c', 'missing.yaml', '--', 'true'], { cwd: dir });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^secretrun: sources file missing\.yaml \(from -c\) not found\n$/);
  });

  it.each(['TERM', 'KILL', 'INT'])('a child killed by SIG%s gives the same status as bash reports', async (sig) => {
    const child = `sh -c 'kill -${sig} $$'`;
    const direct = bashStatus(child);
    const wrapped = bashStatus(`${CLI_NODE} ${BIN} ${flags.join(' ')} -- ${child}`);
    expect(direct).toBeGreaterThan(128);
    expect(wrapped).toBe(direct);
  });

  it('dies of the same signal as the child, so its parent sees the signal', async () => {
    const r = await runCli([...flags, '--', 'sh', '-c', 'kill -TERM $$'], { cwd: dir });
    expect(r.signal).toBe('SIGTERM');
  });

  it('passes arguments through untouched, with no shell', async () => {
    const args = ['$HOME', '*', '"quoted"', "it's", 'a b', '', '--', '-e', '$(whoami)'];
    const r = await runCli([...flags, '--', process.execPath, '-e', 'process.stdout.write(JSON.stringify(process.argv.slice(1)))', ...args], { cwd: dir });
    expect(JSON.parse(r.stdout)).toEqual(args);
  });

  it('stdin is the child’s own', async () => {
    const r = await runCli([...flags, '--', 'cat'], { cwd: dir, input: 'piped input\n' });
    expect(r.stdout).toBe('piped input\n');
  });

  it('--pristine gives the child only the merged layers, still finding the program on the parent PATH', async () => {
    const r = await runCli([...flags, '--pristine', '--', 'env'], { cwd: dir, env: { PARENT_ONLY: 'p' } });
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n').sort()).toEqual(['A=1', 'SECRETRUN_ENV=default']);
  });

  it('a child that dies of SIGPIPE gives 141, as without secretrun (`yes | head -1`)', () => {
    const pipeline = (command: string) => spawnSync('bash', ['-c', `${command} | head -1; exit \${PIPESTATUS[0]}`], { cwd: dir, env: baseEnv(), encoding: 'utf8' });
    expect(pipeline('yes').status).toBe(141);
    const r = pipeline(`${CLI_NODE} ${BIN} ${flags.join(' ')} -- yes`);
    expect(r.stdout).toBe('y\n');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(141);
  });

  it(execs ? 'the child takes over secretrun’s PID (execve)' : 'the child is a process of its own, secretrun its parent', async () => {
    const proc = spawn(CLI_NODE, [BIN, ...flags, '--', process.execPath, '-e', 'process.stdout.write(JSON.stringify([process.pid, process.ppid]))'], { cwd: dir, env: baseEnv(), stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.on('data', (d) => (out += d));
    await new Promise((r) => proc.on('close', r));
    const [pid, ppid] = JSON.parse(out);
    if (execs) expect([pid, ppid]).toEqual([proc.pid, process.pid]);
    else expect(ppid).toBe(proc.pid);
  });
});

describe.each(PATHS)('signals: $path', ({ flags }) => {
  it.each(['SIGTERM', 'SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGQUIT', 'SIGINT'] as const)('%s sent to secretrun reaches the child exactly once', async (sig) => {
    const { proc, log, ended, stderr } = await startCounter(flags);
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
    const log = join(dir, `tty-${flags.length}.log`);
    writeFileSync(log, '');
    // script(1) gives secretrun a real pseudo-terminal; \x03 typed into it is the terminal's Ctrl-C,
    // which the kernel sends to the whole foreground process group.
    // `exec`, so no shell sits between script(1) and secretrun (a waiting sh would report the Ctrl-C itself).
    const cmd = `exec ${CLI_NODE} ${BIN} ${flags.join(' ')} -- ${process.execPath} ${COUNTER} ${log}`;
    const proc = spawn('script', ['-qfec', cmd, '/dev/null'], { cwd: dir, env: baseEnv({ TERM: 'dumb' }), stdio: ['pipe', 'pipe', 'pipe'] });
    await new Promise<void>((resolve) => proc.stdout.on('data', (d) => String(d).includes('ready') && resolve()));
    proc.stdin.write('\x03');
    const code = await new Promise<number | null>((resolve) => proc.on('exit', (c) => resolve(c)));
    expect(readLog(log).counts).toEqual({ SIGINT: 1 });
    expect(code).toBe(51);
  });

  it('leaves no orphan when secretrun is terminated', async () => {
    const { proc, log, ended } = await startCounter(flags);
    proc.kill('SIGTERM');
    await ended;
    const { pid } = readLog(log);
    expect(alive(pid)).toBe(false);
  });
});

describe.each(PATHS)('PID 1 style entrypoint: $path', ({ flags }) => {
  it('forwards SIGINT when not on a terminal (kill -INT, or a container runtime)', async () => {
    const { proc, log, ended } = await startCounter(flags);
    proc.kill('SIGINT');
    expect((await ended).code).toBe(51);
    expect(readLog(log).counts).toEqual({ SIGINT: 1 });
  });
});
