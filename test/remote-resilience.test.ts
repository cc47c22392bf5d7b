/**
 * Fleet resilience, as a user sees it (built CLI, moto behind a throttling proxy): a throttled start succeeds
 * quietly (the attempts are visible only with SECRETRUN_DEBUG=1), and a deadline that expires is one line naming
 * the layer, the attempts and the seconds, exit 125. The retry policy itself is tested in ssm-throttle and fetch.
 */
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { PRINT_ENV } from './helpers/cli.js';
import { numberedParameters, runInProject, seedParameters, seedSecrets, startAwsProxy, type AwsProxy } from './helpers/moto.js';

const moto = inject('motoEndpoint');
const NS = `/SrResilience-${process.pid}-${Date.now().toString(36)}`;
const SECRET = `SrResilience-${process.pid}-${Date.now().toString(36)}/app`;

describe.skipIf(!moto)('remote layers under throttling (built CLI)', () => {
  let proxy: AwsProxy | undefined;
  beforeAll(async () => {
    await seedParameters(moto, numberedParameters(NS, 15));
    await seedSecrets(moto, [{ name: SECRET, value: JSON.stringify({ APP_TOKEN: 'tok' }) }]);
  });
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });

  const secretrun = runInProject;

  const layers = (endpoint: string, extra = '') =>
    `sources:\n  - type: ssm\n    path: ${NS}\n    endpoint: ${endpoint}\n    retries: 1\n${extra}  - type: secretsmanager\n    secret_id: ${SECRET}\n    endpoint: ${endpoint}\n    retries: 1\n${extra}`;

  it('a start throttled 6 times (more than `retries`) succeeds, silently; SECRETRUN_DEBUG=1 shows the attempts', async () => {
    proxy = await startAwsProxy(moto, { failFirst: 6 });
    const r = await secretrun(layers(proxy.url), ['--', process.execPath, '-e', PRINT_ENV, 'P14', 'APP_TOKEN']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ P14: 'value-14', APP_TOKEN: 'tok' });
    // 6 throttled, 2 pages and 1 secret.
    expect(proxy.targets).toHaveLength(9);

    await proxy.close();
    proxy = await startAwsProxy(moto, { failFirst: 6 });
    const debug = await secretrun(layers(proxy.url), ['export', '--format', 'json'], { SECRETRUN_DEBUG: '1' });
    expect(debug.code).toBe(0);
    expect(JSON.parse(debug.stdout)).toMatchObject({ P00: 'value-00', APP_TOKEN: 'tok' });
    // Each layer's first line says which AWS client it used (src/sources/aws/lean.ts), then the attempts.
    const [clients, lines] = [true, false].map((client) => debug.stderr.trim().split('\n').filter((l) => / client: /.test(l) === client));
    expect(clients).toHaveLength(2);
    expect(lines).toHaveLength(6);
    for (const line of lines) {
      expect(line).toMatch(/^secretrun: debug: layer "(ssm .*|secretsmanager .*)": (SSM GetParametersByPath|Secrets Manager GetSecretValue): attempt \d+ throttled \(ThrottlingException\); retrying in \d+ ms$/);
    }
    expect(debug.stderr).not.toContain('tok');
  });

  it('a deadline that expires: exit 125, one line naming the layer, the attempts and the seconds', async () => {
    proxy = await startAwsProxy(moto, { failFirst: 100_000 });
    const yaml = `sources:\n  - type: ssm\n    path: ${NS}\n    endpoint: ${proxy.url}\n    deadline: 1.5\n`;
    const r = await secretrun(yaml, ['--', process.execPath, '-e', 'process.stdout.write("child ran")']);
    expect(r.code).toBe(125);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    const match = new RegExp(
      `^secretrun: layer "ssm ${NS}" \\(secretrun\\.yaml:2:5\\): ThrottlingException: SSM throttled the requests \\(HTTP 400, region us-east-1; still throttled after (\\d+) attempts in (\\d+(?:\\.\\d)?) s: \`deadline\` reached\\)\\n$`,
    ).exec(r.stderr);
    expect(match, r.stderr).not.toBeNull();
    expect(Number(match![1])).toBe(proxy.targets.length);
    // Seconds as messages give them (`1 s`, `1.4 s`): it stops before 1.5 s when the next pause would pass the deadline, and never runs long past it.
    expect(Number(match![2])).toBeGreaterThan(0);
    expect(Number(match![2])).toBeLessThanOrEqual(2);
  });

  it('`deadline` is checked like the other options', async () => {
    const r = await secretrun(`sources:\n  - type: ssm\n    path: /x\n    deadline: -1\n`, ['check']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/secretrun\.yaml:4:15.*deadline/);
  });
});
