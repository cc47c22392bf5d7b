/**
 * The watch engine's coalescing, jitter and retry logic with a fake resolver and fake timers (deterministic:
 * no wall-clock assertions), and the webhook listener's pure parts (address parsing, signatures).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createHmac } from 'node:crypto';
import { SETTLE_MAX_MS, SETTLE_QUIET_MS, WatchEngine, type CheckResult, type EngineHooks, type TriggerReason } from '../src/process/watch-engine.js';
import { isLoopback, parseListen, verifySignature } from '../src/process/webhook.js';

type Values = Record<string, string>;

/** An engine over a resolver whose answers the test controls; records every call and callback. */
function harness(extra: Partial<EngineHooks<Values>> = {}) {
  let current: Values = { A: '1' };
  let failWith: Error | undefined;
  const calls: number[] = [];
  const checked: CheckResult<Values>[] = [];
  const failures: number[] = [];
  let recovered = 0;
  const engine = new WatchEngine<Values>(
    { ...current },
    {
      resolve: async () => {
        calls.push(Date.now());
        if (failWith) throw failWith;
        return { ...current };
      },
      values: (v) => v,
      onChecked: (r) => void checked.push(r),
      onFailure: (_err, _reasons, n) => void failures.push(n),
      onRecovered: () => void recovered++,
      ...extra,
    },
  );
  return {
    engine,
    calls,
    checked,
    failures,
    recovered: () => recovered,
    set: (v: Values) => (current = v),
    fail: (err: Error | undefined) => (failWith = err),
  };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('coalescing', () => {
  it('50 webhooks over a second: one re-resolve, and every request gets its answer', async () => {
    const h = harness();
    h.set({ A: '2' });
    const answers: Promise<string[]>[] = [];
    for (let i = 0; i < 50; i++) {
      answers.push(h.engine.requestCheck('webhook'));
      await vi.advanceTimersByTimeAsync(19);
    }
    await vi.advanceTimersByTimeAsync(SETTLE_MAX_MS + 100);
    expect(h.calls).toHaveLength(1);
    expect(await Promise.all(answers)).toEqual(Array.from({ length: 50 }, () => ['A']));
    expect(h.checked.map((c) => c.reasons)).toEqual([['webhook']]);
  });

  it('a steady stream is still checked once the window reaches its bound', async () => {
    const h = harness();
    const t0 = Date.now();
    void h.engine.requestCheck('webhook');
    // A trigger every 100 ms, forever quieter than nothing: the window closes at SETTLE_MAX_MS anyway.
    for (let i = 0; i < 15 && h.calls.length === 0; i++) {
      await vi.advanceTimersByTimeAsync(100);
      void h.engine.requestCheck('webhook');
    }
    expect(h.calls[0] - t0).toBe(SETTLE_MAX_MS);
  });

  it('a lone trigger waits only the quiet time', async () => {
    const h = harness();
    const t0 = Date.now();
    void h.engine.requestCheck('poll');
    await vi.advanceTimersByTimeAsync(SETTLE_MAX_MS);
    expect(h.calls.map((t) => t - t0)).toEqual([SETTLE_QUIET_MS]);
  });

  it('triggers during a running check queue exactly one more', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const calls: number[] = [];
    const engine = new WatchEngine<Values>({ A: '1' }, {
      resolve: async () => {
        calls.push(Date.now());
        if (calls.length === 1) await gate;
        return { A: '1' };
      },
      values: (v) => v,
      onChecked: () => {},
      onFailure: () => {},
    });
    void engine.requestCheck('webhook');
    await vi.advanceTimersByTimeAsync(SETTLE_QUIET_MS);
    expect(calls).toHaveLength(1);
    for (let i = 0; i < 10; i++) void engine.requestCheck(i % 2 ? 'poll' : 'webhook');
    await vi.advanceTimersByTimeAsync(SETTLE_MAX_MS * 2);
    expect(calls).toHaveLength(1); // still waiting for the first
    release();
    await vi.advanceTimersByTimeAsync(SETTLE_MAX_MS);
    expect(calls).toHaveLength(2);
  });

  it('file changes and reload() skip the settle wait', async () => {
    const h = harness();
    const t0 = Date.now();
    h.set({ A: '1', B: '2' });
    const answer = h.engine.requestCheck('reload');
    await vi.advanceTimersByTimeAsync(0);
    expect(await answer).toEqual(['B']);
    void h.engine.requestCheck('file');
    await vi.advanceTimersByTimeAsync(0);
    expect(h.calls.map((t) => t - t0)).toEqual([0, 0]);
  });
});

describe('jitter', () => {
  it('a webhook-triggered check waits the random share of the jitter; a poll during the wait joins it', async () => {
    const h = harness({ jitterMs: 3000, random: () => 0.5 });
    const t0 = Date.now();
    void h.engine.requestCheck('webhook');
    await vi.advanceTimersByTimeAsync(SETTLE_QUIET_MS + 1000);
    void h.engine.requestCheck('poll');
    await vi.advanceTimersByTimeAsync(5000);
    expect(h.calls.map((t) => t - t0)).toEqual([SETTLE_QUIET_MS + 1500]);
    expect(h.checked[0].reasons).toEqual(['webhook', 'poll']);
  });

  it('file changes are not jittered, and cut a pending jitter wait short', async () => {
    const h = harness({ jitterMs: 3000, random: () => 0.9 });
    const t0 = Date.now();
    void h.engine.requestCheck('file');
    await vi.advanceTimersByTimeAsync(0);
    void h.engine.requestCheck('webhook');
    await vi.advanceTimersByTimeAsync(SETTLE_QUIET_MS + 500);
    void h.engine.requestCheck('file');
    await vi.advanceTimersByTimeAsync(0);
    expect(h.calls.map((t) => t - t0)).toEqual([0, SETTLE_QUIET_MS + 500]);
  });
});

describe('failures', () => {
  it('a failed check rejects its requests, keeps the baseline, retries with backoff, and reports recovery', async () => {
    const h = harness({ retryCapMs: 4000 });
    const t0 = Date.now();
    h.fail(new Error('store down'));
    const answer = h.engine.requestCheck('webhook');
    answer.catch(() => {});
    await vi.advanceTimersByTimeAsync(SETTLE_QUIET_MS);
    await expect(answer).rejects.toThrow('store down');
    // Retries: 1 s, 2 s, 4 s, 4 s (capped), each after its settle wait.
    await vi.advanceTimersByTimeAsync(1000 + 2000 + 4000 + 4000 + 4 * SETTLE_QUIET_MS);
    expect(h.failures).toEqual([1, 2, 3, 4, 5]);
    expect(h.engine.lastCheck?.ok).toBe(false);
    h.fail(undefined);
    await vi.advanceTimersByTimeAsync(4000 + SETTLE_QUIET_MS);
    expect(h.recovered()).toBe(1);
    expect(h.checked.at(-1)?.changes).toBeUndefined(); // same set as before the outage
    expect(h.calls.length).toBe(6);
    expect(h.calls[1] - t0).toBe(SETTLE_QUIET_MS + 1000 + SETTLE_QUIET_MS);
  });

  it('close() rejects pending requests and refuses new ones; nothing runs after it', async () => {
    const h = harness();
    const pending = h.engine.requestCheck('webhook');
    pending.catch(() => {});
    await h.engine.close();
    await expect(pending).rejects.toThrow('the watcher is closed');
    await expect(h.engine.requestCheck('reload')).rejects.toThrow('the watcher is closed');
    await vi.advanceTimersByTimeAsync(5000);
    expect(h.calls).toHaveLength(0);
  });
});

describe('who triggered', () => {
  it('reasons are recorded in arrival order, once each', async () => {
    const h = harness();
    for (const r of ['poll', 'webhook', 'poll', 'retry'] as TriggerReason[]) void h.engine.requestCheck(r);
    await vi.advanceTimersByTimeAsync(SETTLE_MAX_MS);
    expect(h.checked[0].reasons).toEqual(['poll', 'webhook', 'retry']);
  });
});

describe('webhook pure parts', () => {
  it('parses [HOST:]PORT', () => {
    expect(parseListen('8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseListen('0.0.0.0:9000')).toEqual({ host: '0.0.0.0', port: 9000 });
    expect(parseListen('[::1]:9000')).toEqual({ host: '::1', port: 9000 });
    expect(parseListen('localhost:0')).toEqual({ host: 'localhost', port: 0 });
    for (const bad of ['', 'x', '80000', '1.2.3.4:', ':::80', '8080/path']) expect(() => parseListen(bad)).toThrow('--listen: expected [HOST:]PORT');
  });

  it('knows loopback addresses', () => {
    expect(['127.0.0.1', '127.1.2.3', '::1', 'localhost'].map(isLoopback)).toEqual([true, true, true, true]);
    expect(['0.0.0.0', '10.0.0.5', '::', '', 'example.test'].map(isLoopback)).toEqual([false, false, false, false, false]);
  });

  it('accepts a Doppler or GitHub signature of the exact body under the secret, nothing else', () => {
    const body = Buffer.from('{"a":1}');
    const good = `sha256=${createHmac('sha256', 'k3y').update(body).digest('hex')}`;
    expect(verifySignature('k3y', body, { 'x-doppler-signature': good })).toBe(true);
    expect(verifySignature('k3y', body, { 'x-hub-signature-256': good })).toBe(true);
    expect(verifySignature('k3y', body, { 'x-hub-signature-256': good.toUpperCase().replace('SHA256', 'sha256') })).toBe(true);
    expect(verifySignature('k3y', body, { 'x-doppler-signature': 'sha256=00', 'x-hub-signature-256': good })).toBe(true);
    expect(verifySignature('other', body, { 'x-doppler-signature': good })).toBe(false);
    expect(verifySignature('k3y', Buffer.from('{"a":2}'), { 'x-doppler-signature': good })).toBe(false);
    expect(verifySignature('k3y', body, { 'x-doppler-signature': good.replace('sha256=', 'sha1=') })).toBe(false);
    expect(verifySignature('k3y', body, { 'x-doppler-signature': good.slice(0, -2) })).toBe(false);
    expect(verifySignature('k3y', body, { 'x-signature': good })).toBe(false);
    expect(verifySignature('k3y', body, {})).toBe(false);
  });
});
