/**
 * Concurrent resolution end to end (contract section 3): independent layers in parallel, a dependent layer waits
 * only for the layer it needs, and the first failure cancels the layers still in flight.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PRINT_ENV, runCli, useTmpProjects } from './helpers/cli.js';
import { useServers } from './helpers/http-server.js';

const project = useTmpProjects(afterEach);
const serve = useServers(afterEach);

describe('concurrent resolution', () => {
  it('a dependent layer waits only for the layer it references, not for a slow unrelated one', async () => {
    const slow = await serve(() => ({ json: { SLOW: 'done' }, delayMs: 1500 }));
    const fast = await serve((req) => ({ json: req.path === '/token' ? { TOKEN_PATH: 'abc' } : { DEPENDENT: req.path } }));
    const { dir } = project({
      'secretrun.yaml': [
        'sources:',
        `  - type: http\n    url: ${fast.origin}/token\n    only: [TOKEN_PATH]`,
        `  - type: http\n    url: ${slow.origin}/slow\n    only: [SLOW]`,
        `  - type: http\n    url: ${fast.origin}/\${TOKEN_PATH}`,
        '',
      ].join('\n'),
    });
    const r = await runCli(['--', process.execPath, '-e', PRINT_ENV, 'TOKEN_PATH', 'SLOW', 'DEPENDENT'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ TOKEN_PATH: 'abc', SLOW: 'done', DEPENDENT: '/abc' });
    // The dependent request went out long before the slow layer answered.
    const dependent = fast.requests.find((q) => q.path === '/abc')!;
    const slowStarted = slow.requests[0].at;
    expect(dependent.at - slowStarted).toBeLessThan(1500); // the slow layer answers 1,500 ms after its request
  });

  it('the first failure cancels the layers still in flight and names the failing layer', async () => {
    const hang = await serve(() => ({ hang: true }));
    const denied = await serve(() => ({ status: 403, body: 'nope', delayMs: 200 }));
    const { dir } = project({
      'secretrun.yaml': [
        'sources:',
        `  - type: http\n    name: hanging\n    url: ${hang.origin}/forever\n    timeout: 60\n    retries: 0`,
        `  - type: http\n    name: denied\n    url: ${denied.origin}/x\n    headers: { Authorization: "Bearer sk_live_0123456789abcdef" }`,
        '',
      ].join('\n'),
    });
    const started = Date.now();
    const r = await runCli(['--', 'true'], { cwd: dir });
    const took = Date.now() - started;
    expect(r.code).toBe(125);
    expect(r.stderr).toBe(`secretrun: layer "denied" (secretrun.yaml:7:5): the credentials were rejected (HTTP 403 from ${denied.origin}; header Authorization from the sources file)\n`);
    // The hanging layer was in flight (its request arrived) and was cancelled: its 60 s timeout never ran out.
    expect(hang.requests.length).toBe(1);
    expect(took).toBeLessThan(5000);
  });
});
