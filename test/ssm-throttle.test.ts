/**
 * Throttling: a loopback proxy in front of moto_server answers the first N requests with an AWS
 * ThrottlingException (HTTP 400, JSON body), as SSM does under load. The real SDK must back off and retry,
 * at most `retries` extra times.
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

  it('gives a clean error when throttling outlasts the retries, after exactly retries + 1 requests', async () => {
    proxy = await startAwsProxy(moto, { failFirst: 1000 });
    const err = await ssm.load({ type: 'ssm', path: NS, endpoint: proxy.url, retries: 2 }, makeContext()).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(SourceError);
    expect(err!.message).toBe('ThrottlingException: Rate exceeded (region us-east-1, 3 attempts)');
    expect(proxy.targets).toHaveLength(3);
  });

  it('retries: 0 makes a single attempt', async () => {
    proxy = await startAwsProxy(moto, { failFirst: 1000 });
    const err = await ssm.load({ type: 'ssm', names: [`${NS}/P01`], endpoint: proxy.url, retries: 0 }, makeContext()).catch((e: Error) => e);
    expect((err as Error).message).toBe('ThrottlingException: Rate exceeded (region us-east-1)');
    expect(proxy.targets).toEqual(['AmazonSSM.GetParameters']);
  });

  it('HTTP 503 is retried as well', async () => {
    proxy = await startAwsProxy(moto, { failFirst: 2, failWith: { status: 503, type: 'ServiceUnavailable', message: 'try later' } });
    const out = await ssm.load({ type: 'ssm', names: [`${NS}/P01`, `${NS}/P02`], endpoint: proxy.url }, makeContext());
    expect(out).toEqual({ P01: 'value-01', P02: 'value-02' });
    expect(proxy.targets).toHaveLength(3);
  });
});
