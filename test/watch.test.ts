/**
 * `run --watch` end to end: the built CLI around a real child that records its PID, its signals and its
 * environment (fixtures/child/recorder.mjs), real files edited on disk, real HTTP servers on 127.0.0.1.
 * The tests wait for events, never for fixed sleeps, except to show that something does NOT happen.
 */
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, alive } from './helpers/cli.js';
import { replaceFile, signals, sleep, starts, until, watchPlumbing } from './helpers/watch.js';
import { compareFingerprints, describeChanges, fingerprint, retryDelay, watchFiles } from '../src/process/watch-engine.js';
import { watchSettings } from '../src/cli/watch-flags.js';
import { UsageError } from '../src/core/errors.js';

const { cleanup, project, server, startWatched } = watchPlumbing();
afterAll(cleanup);
const DOTENV_YAML = 'sources:\n  - type: dotenv\n    path: .env\n    allow_world_readable: true\n';

// ---- pure parts ----------------------------------------------------------------------------------------------

describe('watch settings', () => {
  it('defaults: 30 s, restart with SIGTERM, 10 s grace', () => {
    expect(watchSettings({ watch: true })).toEqual({ intervalMs: 30_000, onChange: { action: 'restart', signal: 'SIGTERM', graceMs: 10_000 } });
  });

  it('accepts fractional seconds, signal names with or without SIG', () => {
    expect(watchSettings({ watch: '2.5', restartSignal: 'int', grace: '0.5' })).toEqual({ intervalMs: 2500, onChange: { action: 'restart', signal: 'SIGINT', graceMs: 500 } });
    expect(watchSettings({ watch: '5', onChange: 'signal:HUP' })).toEqual({ intervalMs: 5000, onChange: { action: 'signal', signal: 'SIGHUP' } });
  });

  it.each([
    [{ watch: '1.9' }, '--watch: 1.9 is below the minimum of 2 seconds'],
    [{ watch: 'node' }, '--watch: expected a number of seconds, got "node" (put the command after --)'],
    [{ watch: '-3' }, 'expected a number of seconds'],
    [{ watch: '100000' }, 'above the maximum'],
    [{ watch: '5', onChange: 'reload' }, '--on-change: expected "restart" or "signal:NAME"'],
    [{ watch: '5', onChange: 'signal:SIGNOPE' }, 'unknown signal "SIGNOPE"'],
    [{ watch: '5', onChange: 'signal:SIGHUP', grace: '3' }, '--restart-signal and --grace only apply with --on-change=restart'],
    [{ grace: '3' }, '--grace only applies with --watch or --listen'],
    [{ onChange: 'restart', restartSignal: 'SIGINT' }, '--on-change, --restart-signal only applies with --watch or --listen'],
    [{ jitter: '3' }, '--jitter only applies with --watch or --listen'],
    [{ listen: 'localhost' }, '--listen: expected [HOST:]PORT'],
    [{ listen: '70000' }, '--listen: expected [HOST:]PORT'],
    [{ watch: '5', jitter: 'soon' }, '--jitter: expected a number of seconds'],
  ])('rejects %j', (flags, message) => {
    let err: unknown;
    try {
      watchSettings(flags);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toContain(message);
  });
});

describe('comparing sets by keyed hash', () => {
  const key = randomBytes(32);

  it('names added, removed and changed keys; equal sets compare equal', () => {
    const a = fingerprint({ A: '1', B: '2', C: '3' }, key);
    expect(compareFingerprints(a, fingerprint({ C: '3', B: '2', A: '1' }, key))).toBeUndefined();
    const changes = compareFingerprints(a, fingerprint({ A: '1', B: 'two', D: '4' }, key));
    expect(changes).toEqual({ added: ['D'], removed: ['C'], changed: ['B'] });
    expect(describeChanges(changes!)).toBe('3 keys changed (B, C removed, D added)');
  });

  it('an encoding that no value can fool, and digests that hold no value', () => {
    // The same concatenation, split differently between key and value, must differ.
    expect(fingerprint({ A: 'B=C' }, key).digest).not.toBe(fingerprint({ A_B: 'C' }, key).digest);
    expect(fingerprint({ A: 'x', B: '' }, key).digest).not.toBe(fingerprint({ A: 'x\nB' }, key).digest);
    const fp = fingerprint({ TOKEN: 'hunter2-secret' }, key);
    expect(JSON.stringify([...fp.perKey])).not.toContain('hunter2');
    // Another process (another key) gets other digests for the same set.
    expect(fingerprint({ TOKEN: 'hunter2-secret' }, randomBytes(32)).digest).not.toBe(fp.digest);
  });

  it('one key in the singular; long lists are cut', () => {
    expect(describeChanges({ added: [], removed: [], changed: ['X'] })).toBe('1 key changed (X)');
    const many = Array.from({ length: 13 }, (_, i) => `K${String(i).padStart(2, '0')}`);
    expect(describeChanges({ added: [], removed: [], changed: many })).toBe(`13 keys changed (${many.slice(0, 10).join(', ')}, +3 more)`);
  });

  it('retry delays double from 1 s up to the interval', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 60].map((n) => retryDelay(n, 30_000))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    expect([1, 2, 3].map((n) => retryDelay(n, 2000))).toEqual([1000, 2000, 2000]);
  });
});

describe('watching files', () => {
  it('sees a file replaced by rename and edited in place, debounced, and ignores its neighbours', async () => {
    const { dir, write } = project({ 'a.env': 'A=1\n', 'other.txt': 'x' });
    let calls = 0;
    const w = watchFiles(() => calls++, 100);
    onTestFinished(() => w.close());
    w.set([join(dir, 'a.env')]);
    write('other.txt', 'y');
    await sleep(300);
    expect(calls).toBe(0);
    replaceFile(join(dir, 'a.env'), 'A=2\n');
    write('a.env', 'A=3\n'); // a burst: one call
    await until(() => calls === 1, 'one debounced call');
    await sleep(250);
    expect(calls).toBe(1);
    rmSync(join(dir, 'a.env'));
    await until(() => calls === 2, 'a call for the removal');
    w.close();
    write('a.env', 'A=4\n');
    await sleep(250);
    expect(calls).toBe(2);
  });
});

// ---- end to end ----------------------------------------------------------------------------------------------

describe.concurrent('run --watch', () => {
  it('a dotenv file edited during watch restarts the child with the new value, promptly', async ({ expect }) => {
    const { dir } = project({ 'secretrun.yaml': DOTENV_YAML, '.env': 'TOKEN=first-secret-111\nOTHER=unchanged-value\n' });
    // A 30 s interval: a restart within seconds can only come from the file watch.
    const w = await startWatched(dir, ['--watch', '30', '--grace', '2'], ['TOKEN', 'OTHER']);
    expect(w.first.env).toEqual({ TOKEN: 'first-secret-111', OTHER: 'unchanged-value' });

    const t0 = Date.now();
    replaceFile(join(dir, '.env'), 'TOKEN=second-secret-222\nOTHER=unchanged-value\n');
    const second = await until(() => starts(w.log)[1], 'the restarted child');
    const renameMs = Date.now() - t0;
    expect(second.pid).not.toBe(w.first.pid);
    expect(second.env).toEqual({ TOKEN: 'second-secret-222', OTHER: 'unchanged-value' });
    expect(signals(w.log, w.first.pid)).toEqual(['SIGTERM']);
    expect(alive(w.first.pid)).toBe(false);

    // SIGHUP (a service manager's reload) is forwarded, and watching goes on.
    w.proc.kill('SIGHUP');
    await until(() => signals(w.log, second.pid).length === 1, 'the forwarded SIGHUP');

    // Edited in place this time (echo >> style), not replaced.
    const t1 = Date.now();
    writeFileSync(join(dir, '.env'), 'TOKEN=third-secret-333\nOTHER=unchanged-value\n');
    const third = await until(() => starts(w.log)[2], 'the second restart');
    const inPlaceMs = Date.now() - t1;
    expect(third.env.TOKEN).toBe('third-secret-333');
    expect(signals(w.log, second.pid)).toEqual(['SIGHUP', 'SIGTERM']);
    expect(renameMs).toBeLessThan(5000);
    expect(inPlaceMs).toBeLessThan(5000);
    console.log(`file edit -> restarted child: ${renameMs} ms (rename), ${inPlaceMs} ms (in place)`);

    w.proc.kill('SIGTERM');
    expect(await w.ended).toEqual({ code: 0, signal: null });
    expect(w.stderr()).toBe('secretrun: file: 1 key changed (TOKEN); restarting\n'.repeat(2));
    for (const v of ['first-secret-111', 'second-secret-222', 'third-secret-333', 'unchanged-value']) expect(w.stderr()).not.toContain(v);
    expect(starts(w.log)).toHaveLength(3);
  });

  it('an HTTP layer whose value changes restarts the child within the interval', async ({ expect }) => {
    let token = 'http-secret-aaa';
    const s = await server(() => ({ json: { API_TOKEN: token, REGION: 'eu-west-1' } }));
    const { dir } = project({ 'secretrun.yaml': `sources:\n  - type: http\n    url: ${s.origin}/secrets\n    retries: 0\n` });
    const w = await startWatched(dir, ['--watch', '2'], ['API_TOKEN']);
    expect(w.first.env.API_TOKEN).toBe('http-secret-aaa');
    const polls = s.requests.length;
    token = 'http-secret-bbb';
    const t0 = Date.now();
    const second = await until(() => starts(w.log)[1], 'the restarted child', 8000);
    // The 2 s poll, plus room for a loaded machine to restart a node child.
    expect(Date.now() - t0).toBeLessThan(6000);
    expect(second.env.API_TOKEN).toBe('http-secret-bbb');
    expect(s.requests.length).toBeGreaterThan(polls);
    expect(alive(w.first.pid)).toBe(false);
    w.proc.kill('SIGTERM');
    expect((await w.ended).code).toBe(0);
    expect(w.stderr()).toBe('secretrun: poll: 1 key changed (API_TOKEN); restarting\n');
  });

  it('--on-change=signal:SIGHUP sends SIGHUP to the same process, which keeps its PID', async ({ expect }) => {
    const { dir } = project({ 'secretrun.yaml': DOTENV_YAML, '.env': 'TOKEN=hup-secret-1\n' });
    const w = await startWatched(dir, ['--watch=30', '--on-change=signal:SIGHUP'], ['TOKEN']);
    const pid = w.first.pid;
    replaceFile(join(dir, '.env'), 'TOKEN=hup-secret-2\nNEW_KEY=hup-secret-3\n');
    await until(() => signals(w.log, pid).length === 1, 'SIGHUP');
    expect(signals(w.log, pid)).toEqual(['SIGHUP']);
    await until(() => w.stderr().includes('\n'), 'the log line');
    expect(w.stderr()).toBe('secretrun: file: 2 keys changed (NEW_KEY added, TOKEN); sent SIGHUP (the running process keeps its old environment)\n');

    // A SIGHUP to secretrun is forwarded, and watching goes on.
    w.proc.kill('SIGHUP');
    await until(() => signals(w.log, pid).length === 2, 'the forwarded SIGHUP');
    replaceFile(join(dir, '.env'), 'TOKEN=hup-secret-4\n');
    await until(() => signals(w.log, pid).length === 3, 'a SIGHUP for the second change');
    expect(starts(w.log)).toHaveLength(1);
    expect(alive(pid)).toBe(true);

    w.proc.kill('SIGTERM');
    expect((await w.ended).code).toBe(0);
    for (const v of ['hup-secret-1', 'hup-secret-2', 'hup-secret-3', 'hup-secret-4']) expect(w.stderr()).not.toContain(v);
  });

  it('a child that ignores SIGTERM is SIGKILLed after the grace period, then started again', async ({ expect }) => {
    const { dir } = project({ 'secretrun.yaml': DOTENV_YAML, '.env': 'TOKEN=stubborn-1\n' });
    const w = await startWatched(dir, ['--watch', '30', '--grace', '1'], ['--ignore-term', 'TOKEN']);
    const t0 = Date.now();
    replaceFile(join(dir, '.env'), 'TOKEN=stubborn-2\n');
    await until(() => signals(w.log, w.first.pid).includes('SIGTERM'), 'the restart signal');
    const signalled = Date.now();
    const second = await until(() => starts(w.log)[1], 'the restarted child');
    const waited = Date.now() - signalled;
    expect(waited).toBeGreaterThanOrEqual(900);
    expect(waited).toBeLessThan(4000);
    expect(second.env.TOKEN).toBe('stubborn-2');
    expect(alive(w.first.pid)).toBe(false);
    await until(() => w.stderr().split('\n').length === 3, 'both log lines');
    expect(w.stderr()).toBe('secretrun: file: 1 key changed (TOKEN); restarting\nsecretrun: warning: the process did not exit within 1s of SIGTERM; sending SIGKILL\n');
    console.log(`ignored SIGTERM: killed and restarted ${Date.now() - t0} ms after the edit (grace 1 s)`);

    // The new child ignores SIGTERM too: secretrun forwards it and keeps waiting, as plain run does.
    w.proc.kill('SIGTERM');
    await until(() => signals(w.log, second.pid).includes('SIGTERM'), 'the forwarded SIGTERM');
    await sleep(300);
    expect(w.proc.exitCode).toBeNull();
    process.kill(second.pid, 'SIGKILL');
    expect((await w.ended).signal).toBe('SIGKILL');
    expect(starts(w.log)).toHaveLength(2);
  });

  it('an HTTP layer that starts failing (503, 403) keeps the child, warns once, then recovers', async ({ expect }) => {
    let mode: 'ok' | 'failing' = 'ok';
    let token = 'flaky-secret-1';
    let failures = 0;
    const s = await server(() => {
      if (mode === 'ok') return { json: { TOKEN: token } };
      failures++;
      return failures % 2 === 1 ? { status: 503, body: 'unavailable' } : { status: 403, json: { errors: ['permission denied'] } };
    });
    const { dir } = project({ 'secretrun.yaml': `sources:\n  - type: http\n    name: vault\n    url: ${s.origin}/kv\n    retries: 0\n` });
    const w = await startWatched(dir, ['--watch', '2'], ['TOKEN']);
    mode = 'failing';
    await until(() => failures >= 3, 'three failed polls', 10_000);
    expect(starts(w.log)).toHaveLength(1);
    expect(signals(w.log, w.first.pid)).toEqual([]);
    expect(alive(w.first.pid)).toBe(true);
    await until(() => w.stderr().includes('\n'), 'the warning');
    const warnings = w.stderr().split('\n').filter(Boolean);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^secretrun: warning: re-resolve failed, keeping the current process: layer "vault" \(secretrun\.yaml:\d+:\d+\): .*503.*; retrying$/);

    // Recovery with the same set: one line, no restart.
    mode = 'ok';
    await until(() => w.stderr().includes('sources readable again'), 'recovery', 5000);
    expect(starts(w.log)).toHaveLength(1);
    // A change after recovery restarts as usual.
    token = 'flaky-secret-2';
    const second = await until(() => starts(w.log)[1], 'the restart after recovery', 5000);
    expect(second.env.TOKEN).toBe('flaky-secret-2');
    w.proc.kill('SIGTERM');
    await w.ended;
    expect(w.stderr().split('\n').filter(Boolean)).toEqual([
      warnings[0],
      'secretrun: sources readable again',
      'secretrun: poll: 1 key changed (TOKEN); restarting',
    ]);
    expect(w.stderr()).not.toContain('flaky-secret');
  });

  it('a broken dotenv file or a missing required key keeps the child (one warning per streak); the fix restarts', async ({ expect }) => {
    const yaml = DOTENV_YAML + 'require: [TOKEN]\n';
    const { dir } = project({ 'secretrun.yaml': yaml, '.env': 'TOKEN=file-secret-1\n' });
    const w = await startWatched(dir, ['--watch', '2'], ['TOKEN']);
    replaceFile(join(dir, '.env'), 'OTHER=file-secret-x\n');
    await until(() => w.stderr().includes('warning'), 'the warning');
    expect(w.stderr()).toBe('secretrun: warning: re-resolve failed, keeping the current process: missing required key: TOKEN (listed under "require" in secretrun.yaml); retrying\n');
    replaceFile(join(dir, '.env'), 'TOKEN=file-secret-2\nBAD-NAME=file-secret-y\n');
    // Wait through a file-triggered attempt and at least one timed retry: still one warning.
    await sleep(1800);
    expect(w.stderr().split('\n').filter(Boolean)).toHaveLength(1);
    expect(starts(w.log)).toHaveLength(1);
    expect(signals(w.log, w.first.pid)).toEqual([]);

    replaceFile(join(dir, '.env'), 'TOKEN=file-secret-2\n');
    const second = await until(() => starts(w.log)[1], 'the restart after the fix');
    expect(second.env.TOKEN).toBe('file-secret-2');
    expect(w.stderr().split('\n').slice(1)).toEqual(['secretrun: sources readable again', 'secretrun: file: 1 key changed (TOKEN); restarting', '']);
    w.proc.kill('SIGTERM');
    await w.ended;
    expect(w.stderr()).not.toMatch(/file-secret/);
  });

  it('an edit to the sources file itself is picked up', async ({ expect }) => {
    const { dir } = project({ 'secretrun.yaml': DOTENV_YAML, '.env': 'TOKEN=base-secret\n', 'more.env': 'EXTRA=more-secret\n' });
    const w = await startWatched(dir, ['--watch', '30'], ['TOKEN', 'EXTRA']);
    expect(w.first.env).toEqual({ TOKEN: 'base-secret', EXTRA: null });
    replaceFile(join(dir, 'secretrun.yaml'), DOTENV_YAML + '  - type: dotenv\n    path: more.env\n    allow_world_readable: true\n');
    const second = await until(() => starts(w.log)[1], 'the restart');
    expect(second.env).toEqual({ TOKEN: 'base-secret', EXTRA: 'more-secret' });
    // The new layer's file is watched from now on.
    replaceFile(join(dir, 'more.env'), 'EXTRA=more-secret-2\n');
    const third = await until(() => starts(w.log)[2], 'the restart for the new layer');
    expect(third.env.EXTRA).toBe('more-secret-2');
    w.proc.kill('SIGTERM');
    await w.ended;
    expect(w.stderr()).toBe('secretrun: file: 1 key changed (EXTRA added); restarting\nsecretrun: file: 1 key changed (EXTRA); restarting\n');
  });

  it('SIGTERM to secretrun: the child exit code passes through, and no new child is started', async ({ expect }) => {
    const { dir } = project({ 'secretrun.yaml': DOTENV_YAML, '.env': 'TOKEN=term-secret-1\n' });
    const w = await startWatched(dir, ['--watch', '30'], ['--exit-code=7', 'TOKEN']);
    w.proc.kill('SIGTERM');
    expect(await w.ended).toEqual({ code: 7, signal: null });
    expect(signals(w.log, w.first.pid)).toEqual(['SIGTERM']);
    expect(alive(w.first.pid)).toBe(false);
    replaceFile(join(dir, '.env'), 'TOKEN=term-secret-2\n');
    await sleep(1000);
    expect(starts(w.log)).toHaveLength(1);
    expect(w.stderr()).toBe('');
  });

  it('SIGTERM during a restart cancels it: secretrun ends with the old child and never starts a new one', async ({ expect }) => {
    const { dir } = project({ 'secretrun.yaml': DOTENV_YAML, '.env': 'TOKEN=cancel-secret-1\n' });
    const w = await startWatched(dir, ['--watch', '2', '--grace', '1'], ['--ignore-term', 'TOKEN']);
    replaceFile(join(dir, '.env'), 'TOKEN=cancel-secret-2\n');
    await until(() => signals(w.log, w.first.pid).length === 1, 'the restart signal');
    w.proc.kill('SIGTERM'); // during the grace period
    await until(() => signals(w.log, w.first.pid).length === 2, 'the forwarded SIGTERM');
    // The grace period runs out: the old child is killed, and that is how secretrun ends.
    expect((await w.ended).signal).toBe('SIGKILL');
    expect(alive(w.first.pid)).toBe(false);
    replaceFile(join(dir, '.env'), 'TOKEN=cancel-secret-3\n');
    await sleep(600);
    expect(starts(w.log)).toHaveLength(1);
  });

  it('a child that exits on its own ends secretrun with its code, as plain run', async ({ expect }) => {
    const { dir } = project({ 'secretrun.yaml': DOTENV_YAML, '.env': 'TOKEN=own-exit\n' });
    const t0 = Date.now();
    const r = await runCli(['--watch', '2', '--', 'sh', '-c', 'sleep 0.3; exit 9'], { cwd: dir });
    expect(r.code).toBe(9);
    expect(r.stderr).toBe('');
    expect(Date.now() - t0).toBeLessThan(2000);
    const killed = await runCli(['--watch', '--', 'sh', '-c', 'kill -USR2 $$'], { cwd: dir });
    expect(killed.signal).toBe('SIGUSR2');
  });

  it('usage errors exit 2 before anything runs', async ({ expect }) => {
    const { dir } = project({ 'secretrun.yaml': DOTENV_YAML, '.env': 'TOKEN=x\n' });
    const r = await runCli(['--watch', '1', '--', 'true'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('secretrun: --watch: 1 is below the minimum of 2 seconds\n');
    const g = await runCli(['--grace', '3', '--', 'true'], { cwd: dir });
    expect(g.code).toBe(2);
    expect(g.stderr).toBe('secretrun: --grace only applies with --watch or --listen\n');
    const o = await runCli(['run', '--watch', 'node', 'x.js'], { cwd: dir });
    expect(o.code).toBe(2);
    expect(o.stderr).toContain('put the command after --');
  });
});
