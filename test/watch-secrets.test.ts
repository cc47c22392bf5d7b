/**
 * The library's `watchSecrets`: real files edited on disk, a real HTTP layer whose value the test changes, and a
 * spawned Node process that uses the built library and must exit by itself (no handle left open).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LayerError, Secrets, UsageError, watchSecrets, type SecretsChange, type SecretsWatcher } from '../src/index.js';
import { ROOT, runCommand, useTmpProjects } from './helpers/cli.js';
import { useServers } from './helpers/http-server.js';
import { replaceFile, until } from './helpers/watch.js';

const project = useTmpProjects(afterEach);
const serve = useServers(afterEach);
const watchers: SecretsWatcher[] = [];
afterEach(async () => {
  await Promise.all(watchers.splice(0).map((w) => w.close()));
});

async function watch(options: Parameters<typeof watchSecrets>[0]): Promise<SecretsWatcher> {
  const w = await watchSecrets({ processEnv: {}, onWarning: () => {}, ...options });
  watchers.push(w);
  return w;
}

const DOTENV_YAML = 'sources:\n  - type: dotenv\n    path: .env\n';

describe('watchSecrets', () => {
  it('a file edit emits change with the key names only, and current follows', async () => {
    const { dir } = project({ 'secretrun.yaml': DOTENV_YAML, '.env': 'TOKEN=lib-secret-1\nKEEP=same-value\n' });
    const w = await watch({ cwd: dir, interval: 0 });
    expect(w.current).toBeInstanceOf(Secrets);
    expect(w.current.get('TOKEN')).toBe('lib-secret-1');
    const seen: SecretsChange[] = [];
    w.on('change', (c) => seen.push(c));
    replaceFile(join(dir, '.env'), 'TOKEN=lib-secret-2\nKEEP=same-value\nADDED=new-value\n');
    await until(() => seen.length > 0, 'the change event');
    expect(seen[0].changed).toEqual(['ADDED', 'TOKEN']);
    expect(seen[0].current).toBe(w.current);
    expect(w.current.get('TOKEN')).toBe('lib-secret-2');
    expect(JSON.stringify(seen[0].changed)).not.toContain('lib-secret');
  });

  it('reload() resolves to the changed key names; a poll finds changes by itself', async () => {
    let token = 'reload-value-1';
    const s = await serve(() => ({ json: { TOKEN: token, REGION: 'eu' } }));
    const { dir } = project({ 'secretrun.yaml': `sources:\n  - type: http\n    url: ${s.origin}/kv\n    retries: 0\n` });
    const w = await watch({ cwd: dir, interval: 0.5 });
    token = 'reload-value-2';
    expect(await w.reload()).toEqual(['TOKEN']);
    expect(w.current.get('TOKEN')).toBe('reload-value-2');
    expect(await w.reload()).toEqual([]);
    const changes: string[][] = [];
    w.on('change', ({ changed }) => changes.push(changed));
    token = 'reload-value-3';
    await until(() => changes.length > 0, 'a poll-detected change');
    expect(changes[0]).toEqual(['TOKEN']);
    expect(w.current.get('TOKEN')).toBe('reload-value-3');
  });

  it('a failing layer emits error, reload() rejects, current is kept; without a listener nothing throws', async () => {
    let failing = false;
    const s = await serve(() => (failing ? { status: 500, body: 'down' } : { json: { TOKEN: 'kept-value' } }));
    const { dir } = project({ 'secretrun.yaml': `sources:\n  - type: http\n    name: store\n    url: ${s.origin}/kv\n    retries: 0\n` });
    const w = await watch({ cwd: dir, interval: 0 });
    failing = true;
    // No 'error' listener: reload() rejects, and the emitter does not throw.
    await expect(w.reload()).rejects.toBeInstanceOf(LayerError);
    const errors: Error[] = [];
    w.on('error', (e) => errors.push(e));
    const err = await w.reload().catch((e: Error) => e);
    expect(err).toBeInstanceOf(LayerError);
    expect(errors).toEqual([err]);
    expect((err as Error).message).toContain('layer "store"');
    expect(w.current.get('TOKEN')).toBe('kept-value');
    failing = false;
    expect(await w.reload()).toEqual([]);
  });

  it('rejects a bad interval, throws like loadSecrets, and refuses reload() after close()', async () => {
    const { dir } = project({ 'secretrun.yaml': DOTENV_YAML, '.env': 'A=1\n' });
    await expect(watchSecrets({ cwd: dir, interval: -1 })).rejects.toBeInstanceOf(UsageError);
    await expect(watchSecrets({ cwd: dir, processEnv: {}, config: 'missing.yaml' })).rejects.toThrow('missing.yaml');
    const w = await watch({ cwd: dir });
    await w.close();
    await expect(w.reload()).rejects.toThrow('the watcher is closed');
    // The caller's signal closes the watcher when it aborts.
    const controller = new AbortController();
    const v = await watch({ cwd: dir, signal: controller.signal });
    expect(await v.reload()).toEqual([]);
    controller.abort();
    await expect(v.reload()).rejects.toThrow('the watcher is closed');
  });

  it('a process using the built library exits by itself, with or without close()', async () => {
    const { dir } = project({ 'secretrun.yaml': DOTENV_YAML, '.env': 'TOKEN=exit-value-1\n' });
    const lib = pathToFileURL(join(ROOT, 'dist/index.js')).href;
    for (const closeIt of [true, false]) {
      const script = join(dir, `uses-lib-${closeIt}.mjs`);
      writeFileSync(
        script,
        `import { watchSecrets } from ${JSON.stringify(lib)};
import { writeFileSync } from 'node:fs';
// The application's own work (a server, say) keeps it alive while it waits; the watcher never does.
const work = setInterval(() => {}, 1000);
const w = await watchSecrets({ interval: 1, onWarning: () => {} });
const changed = new Promise((resolve) => w.on('change', resolve));
writeFileSync('.env', 'TOKEN=exit-value-2\\n');
const { changed: names } = await changed;
console.log(JSON.stringify({ names, token: w.current.get('TOKEN'), reload: await w.reload() }));
clearInterval(work);
${closeIt ? 'await w.close();' : ''}
`,
      );
      const t0 = Date.now();
      const r = await runCommand(process.execPath, [script], { cwd: dir, timeoutMs: 15_000 });
      expect(r.signal).toBeNull(); // not killed by the timeout
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ names: ['TOKEN'], token: 'exit-value-2', reload: [] });
      console.log(`library process exited by itself ${closeIt ? 'after close()' : 'without close()'} in ${Date.now() - t0} ms`);
      writeFileSync(join(dir, '.env'), 'TOKEN=exit-value-1\n');
    }
  });
});
