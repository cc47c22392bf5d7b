/**
 * Throttling: a loopback proxy in front of moto_server answers the first N requests with an AWS
 * ThrottlingException (HTTP 400, JSON body), as SSM does under load. The layer must back off and retry until its
 * `deadline`; other failures at most `retries` extra times; a slow backend gets a doubled time limit.
 */
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { SourceError } from '../src/core/errors.js';
import ssm from '../src/sources/ssm.js';
import { applyProcessEnv, dummyAwsEnv, makeContext, numberedParameters, seedParameters, startAwsProxy, type AwsProxy } from './helpers/moto.js';

const moto = inject('motoEndpoint');
const NS = `/SrThrottleTest-${process.pid}-${Date.now().toString(36)}`;

describe.skipIf(!moto)('ssm layer under throttling', () => {
  let restoreEnv: () => void;
  let proxy: AwsProxy | undefined;
  beforeAll(async () => {
    restoreEnv = applyProcessEnv(dummyAwsEnv());
    await seedParameters(moto, numberedParameters(NS, 15));
  });
  afterAll(() => restoreEnv?.());
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });

  it('succeeds after backoff when throttling stops within the retries', async () => {
    proxy = await startAwsProxy(moto, { failFirst: 2 });
    const started = Date.now();
    const out = await ssm.load({ type: 'ssm', path: NS, endpoint: proxy.url, retries: 3 }, makeContext());
    expect(Object.keys(out)).toHaveLength(15);
    expect(out.P14).toBe('value-14');
    // 2 throttled + first page + second page.
    expect(proxy.targets).toEqual(Array(4).fill('AmazonSSM.GetParametersByPath'));
    // The SDK really waited between attempts rather than hammering the service.
    expect(Date.now() - started).toBeGreaterThan(50);
  });

  it('throttling on a later page is retried too, and the listing continues from the same NextToken', async () => {
    // Request 1 (page one) goes through; requests 2 and 3 (page two, twice) are throttled; 4 is page two again.
    proxy = await startAwsProxy(moto, { failWhen: (n) => n === 2 || n === 3 });
    const out = await ssm.load({ type: 'ssm', path: NS, endpoint: proxy.url }, makeContext());
    expect(Object.keys(out).sort()).toEqual(numberedParameters('', 15).map((p) => p.name.slice(1)));
    expect(proxy.targets).toHaveLength(4);
  });

  it('throttling is retried past `retries` until the deadline, then gives up naming the attempts and the seconds', async () => {
    proxy = await startAwsProxy(moto, { failFirst: 1000 });
    const started = Date.now();
    const err = await ssm.load({ type: 'ssm', path: NS, endpoint: proxy.url, retries: 2, deadline: 2 }, makeContext()).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(SourceError);
    const match = /^ThrottlingException: SSM throttled the requests \(HTTP 400, region us-east-1; still throttled after (\d+) attempts in ([\d.]+) s: `deadline` reached\)$/.exec(err!.message);
    expect(match, err!.message).not.toBeNull();
    expect(Number(match![1])).toBe(proxy.targets.length);
    expect(proxy.targets.length).toBeGreaterThan(3); // more than 1 + retries
    // No attempt starts after the 2 s deadline; the reported time may run a few tenths over it when a loaded machine
    // delivers the last throttling answer late (seen at 2.2 s in a full-suite run), never by a whole attempt.
    expect(Number(match![2])).toBeLessThanOrEqual(2.5);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('retries: 0 still waits out throttling, but fails at once on other errors', async () => {
    proxy = await startAwsProxy(moto, { failFirst: 3 });
    const out = await ssm.load({ type: 'ssm', names: [`${NS}/P01`], endpoint: proxy.url, retries: 0 }, makeContext());
    expect(out).toEqual({ P01: 'value-01' });
    expect(proxy.targets).toEqual(Array(4).fill('AmazonSSM.GetParameters'));
    await proxy.close();
    proxy = await startAwsProxy(moto, { failFirst: 1000, failWith: { status: 500, type: 'InternalServerError', message: 'oops' } });
    const err = await ssm.load({ type: 'ssm', names: [`${NS}/P01`], endpoint: proxy.url, retries: 0 }, makeContext()).catch((e: Error) => e);
    expect((err as Error).message).toBe('InternalServerError from SSM (HTTP 500, region us-east-1)');
    expect(proxy.targets).toEqual(['AmazonSSM.GetParameters']);
  });

  it('a slow backend (3 s per answer, timeout 2 s) succeeds, and serves each page once: a request is waited for, not sent again', async () => {
    proxy = await startAwsProxy(moto, { delayMs: 3000 });
    const out = await ssm.load({ type: 'ssm', path: NS, endpoint: proxy.url, timeout: 2 }, makeContext());
    expect(Object.keys(out)).toHaveLength(15);
    const perPage = new Map<string, number>();
    for (const body of proxy.served) perPage.set(body, (perPage.get(body) ?? 0) + 1);
    expect(perPage.size).toBe(2); // 15 parameters: two pages
    expect(Math.max(...perPage.values())).toBe(1);
    expect(proxy.served).toHaveLength(2);
  });

  it('HTTP 503 is retried as well', async () => {
    proxy = await startAwsProxy(moto, { failFirst: 2, failWith: { status: 503, type: 'ServiceUnavailable', message: 'try later' } });
    const out = await ssm.load({ type: 'ssm', names: [`${NS}/P01`, `${NS}/P02`], endpoint: proxy.url }, makeContext());
    expect(out).toEqual({ P01: 'value-01', P02: 'value-02' });
    expect(proxy.targets).toHaveLength(3);
  });
});
