/**
 * secretrun as PID 1, the way a container runs its ENTRYPOINT: in a new PID namespace (unshare, as root).
 * PID 1 gets no default signal actions, so forwarding and the exit code must not depend on them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, CLI_NODE, ROOT, baseEnv, tmpProject } from './helpers/cli.js';

const probe = spawnSync('unshare', ['--pid', '--fork', 'true']);
const canUnshare = probe.status === 0;
if (!canUnshare) console.warn('\n!!! pid1.test.ts skipped: "unshare --pid --fork" is not permitted here (needs root or user namespaces)\n');

let dir: string;
let cleanup: () => void;
beforeAll(() => {
  ({ dir, cleanup } = tmpProject({ 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n', '.env': 'A=1\n' }));
});
afterAll(() => cleanup?.());

const COUNTER = join(ROOT, 'fixtures/child/signal-counter.mjs');

/** Start `unshare --pid --fork secretrun -- <child>`; returns the host PID of secretrun (PID 1 inside). */
async function startAsPid1(child: string[]) {
  const proc = spawn('unshare', ['--pid', '--fork', CLI_NODE, BIN, '--', ...child], { cwd: dir, env: baseEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  const ended = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, ended, out: () => out };
}

async function waitFor(check: () => boolean, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}

function hostPidOfSecretrun(unsharePid: number): number {
  const r = spawnSync('pgrep', ['-P', String(unsharePid)], { encoding: 'utf8' });
  return Number(r.stdout.trim().split('\n')[0]);
}

describe.skipIf(!canUnshare)('as PID 1', () => {
  it.each(['SIGTERM', 'SIGINT', 'SIGHUP'] as const)('forwards %s once and exits with the child’s code', async (sig) => {
    const log = join(dir, `pid1-${sig}.log`);
    writeFileSync(log, '');
    const { proc, ended, out } = await startAsPid1([process.execPath, COUNTER, log]);
    await waitFor(() => out().includes('ready'));
    process.kill(hostPidOfSecretrun(proc.pid!), sig);
    expect(await ended).toBe(51);
    expect(JSON.parse(readFileSync(log, 'utf8')).counts).toEqual({ [sig]: 1 });
  });

  it('a child killed by a signal gives 128+n even though PID 1 cannot re-raise it', async () => {
    const { ended } = await startAsPid1(['sh', '-c', 'kill -TERM $$']);
    expect(await ended).toBe(143);
  });

  it('the child sees secretrun as its parent, PID 1', async () => {
    const { ended, out } = await startAsPid1([process.execPath, '-e', 'process.stdout.write(String(process.ppid))']);
    expect(await ended).toBe(0);
    expect(out()).toBe('1');
  });
});
