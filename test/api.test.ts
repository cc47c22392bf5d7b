/**
 * The programmatic API, `loadSecrets()`: real sources files in temp dirs and the inspect fixture. One test
 * compares it with the built CLI's `export --format json` on the same file, since both must use one resolver.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chmodSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { format, inspect } from 'node:util';
import { ConfigError, ConfigErrors, LayerError, SecretrunError, Secrets, loadSecrets, type LoadSecretsOptions } from '../src/index.js';
import { ROOT, runCli, useTmpProjects } from './helpers/cli.js';

const project = useTmpProjects(afterEach);
const INSPECT = join(ROOT, 'fixtures/inspect');

/** Every value of the inspect fixture's dev environment. */
const DEV_VALUES = ['tok-shared-5f3a9c1e', 'inspect-fixture-app', 'dev-db-pw-41c7e2', 'dev-flag-value-x9', 'https://dev.api.example.test/v1', 'lvl-verbose-debugging', 'first line of it'];

/** Temp files are created 0644; make them private so the "readable by others" warning stays out of the way. */
function privateProject(files: Record<string, string>) {
  const p = project(files);
  for (const name of readdirSync(p.dir, { recursive: true }) as string[]) if (name.includes('.')) chmodSync(join(p.dir, name), 0o600);
  return p;
}

/** The inspect fixture is committed 0644: collect its warnings instead of emitting process warnings. */
function fixtureOptions(extra: LoadSecretsOptions = {}): LoadSecretsOptions {
  return { cwd: INSPECT, processEnv: {}, onWarning: () => {}, ...extra };
}

describe('loadSecrets: reading', () => {
  it('returns a read-only map of the merged layers of the selected environment', async () => {
    const s = await loadSecrets(fixtureOptions());
    expect(s).toBeInstanceOf(Secrets);
    expect(s.environment).toBe('dev');
    expect(s.file).toBe(join(INSPECT, 'secretrun.yaml'));
    expect(s.get('DB_PASSWORD')).toBe('dev-db-pw-41c7e2');
    expect(s.get('LOG_LEVEL')).toBe('lvl-verbose-debugging');
    expect(s.get('MULTILINE')).toBe('first line of it\nsecond line of it');
    expect(s.get('NOPE')).toBeUndefined();
    expect(s.has('API_URL')).toBe(true);
    expect(s.has('SENTRY_DSN')).toBe(false);
    // SECRETRUN_ENV is visible to ${...} and the child, but not part of the merged set.
    expect(s.has('SECRETRUN_ENV')).toBe(false);
    expect([...s.keys()]).toEqual(['API_URL', 'APP_NAME', 'DB_PASSWORD', 'DEV_ONLY_FLAG', 'LOG_LEVEL', 'MULTILINE', 'SHARED_TOKEN']);
    expect(s.size).toBe(7);
  });

  it('iterates like a Map: for..of, entries, values, forEach, new Map(s)', async () => {
    const s = await loadSecrets(fixtureOptions({ env: 'prod' }));
    const seen: Record<string, string> = {};
    for (const [k, v] of s) seen[k] = v;
    expect(seen.SENTRY_DSN).toBe('https://sentrykey777@sentry.example.test/42');
    expect(Object.keys(seen)).toEqual([...s.keys()]);
    expect([...s.entries()]).toEqual(Object.entries(seen));
    expect([...s.values()]).toEqual(Object.values(seen));
    const viaForEach: [string, string][] = [];
    s.forEach((v, k, map) => {
      expect(map).toBe(s);
      viaForEach.push([k, v]);
    });
    expect(viaForEach).toEqual(Object.entries(seen));
    expect(new Map(s).get('LOG_LEVEL')).toBe('lvl-warnings-only');
  });

  it('gives the provenance of each key: the winning layer and the layers it shadowed', async () => {
    const s = await loadSecrets(fixtureOptions());
    expect(s.source('DB_PASSWORD')).toEqual({ layer: 'json dev.json', shadowed: ['dotenv base.env'] });
    expect(s.source('LOG_LEVEL')).toEqual({ layer: 'yaml overrides.yaml', shadowed: ['dotenv base.env'] });
    expect(s.source('APP_NAME')).toEqual({ layer: 'dotenv base.env', shadowed: [] });
    expect(s.source('NOPE')).toBeUndefined();
    // The provenance handed out cannot be used to alter the map's own record.
    const src = s.source('DB_PASSWORD')!;
    expect(() => (src.shadowed as string[]).push('x')).toThrow(TypeError);
    expect(s.source('DB_PASSWORD')!.shadowed).toEqual(['dotenv base.env']);
  });

  it('is read-only: no mutators, frozen properties', async () => {
    const s = await loadSecrets(fixtureOptions());
    expect((s as unknown as Record<string, unknown>).set).toBeUndefined();
    expect((s as unknown as Record<string, unknown>).delete).toBeUndefined();
    expect((s as unknown as Record<string, unknown>).clear).toBeUndefined();
    expect(() => {
      (s as unknown as { environment: string }).environment = 'prod';
    }).toThrow(TypeError);
    expect(() => {
      (s as unknown as Record<string, string>).EXTRA = 'x';
    }).toThrow(TypeError);
    expect(s.environment).toBe('dev');
  });

  it('resolves exactly what the CLI resolves (one resolver): same keys and values as `export --format json`', async () => {
    for (const env of ['dev', 'prod']) {
      const cli = await runCli(['export', '--format', 'json', '-e', env], { cwd: INSPECT });
      expect(cli.code).toBe(0);
      const s = await loadSecrets(fixtureOptions({ env }));
      expect(s.toJSON({ reveal: true })).toEqual(JSON.parse(cli.stdout));
    }
  });
});

describe('loadSecrets: masked unless revealed', () => {
  it('util.inspect / console.log formatting shows masked values and never a plain one', async () => {
    const s = await loadSecrets(fixtureOptions());
    const shown = [inspect(s), format('%o', s), format('%O', s), format(s), format('%s', s), inspect({ nested: { deeper: s } }, { depth: 10 }), inspect([s], { colors: true })];
    for (const text of shown) {
      for (const value of DEV_VALUES) expect(text).not.toContain(value);
    }
    expect(inspect(s)).toContain('Secrets [dev]');
    expect(inspect(s)).toContain("DB_PASSWORD: '****** (16 chars)'");
    expect(inspect(s)).toContain("MULTILINE: '****** (34 chars)'");
    // At the depth limit it collapses to a label, like any nested object.
    expect(inspect({ a: { b: s } }, { depth: 1 })).toContain('[Secrets [dev]]');
    expect(String(s)).toBe('[object Secrets]');
  });

  it('JSON.stringify gives masked values (it passes a string key to toJSON)', async () => {
    const s = await loadSecrets(fixtureOptions());
    const text = JSON.stringify(s);
    for (const value of DEV_VALUES) expect(text).not.toContain(value);
    const parsed = JSON.parse(text);
    expect(Object.keys(parsed)).toEqual([...s.keys()]);
    expect(parsed.DB_PASSWORD).toBe('****** (16 chars)');
    expect(JSON.parse(JSON.stringify({ settings: s })).settings.APP_NAME).toBe('****** (19 chars)');
  });

  it('toJSON({ reveal: true }) gives plain values; toJSON() without a choice throws; reveal: false masks', async () => {
    const s = await loadSecrets(fixtureOptions());
    const plain = s.toJSON({ reveal: true });
    expect(plain.DB_PASSWORD).toBe('dev-db-pw-41c7e2');
    expect(Object.keys(plain)).toEqual([...s.keys()]);
    expect(s.toJSON({ reveal: false }).DB_PASSWORD).toBe('****** (16 chars)');
    const call = (arg: unknown) => () => (s.toJSON as (a: unknown) => unknown)(arg);
    for (const arg of [undefined, null, {}, { reveal: 'yes' }, 1]) {
      expect(call(arg)).toThrow(SecretrunError);
      expect(call(arg)).toThrow('Secrets.toJSON() needs an explicit choice: call toJSON({ reveal: true }) to get the plain values, or JSON.stringify(secrets) for masked ones');
    }
  });

  it('copying the object (spread, Object.entries, structuredClone) carries no value', async () => {
    const s = await loadSecrets(fixtureOptions());
    const copies = [JSON.stringify({ ...s }), JSON.stringify(Object.entries(s)), inspect(structuredClone(s), { depth: 5 })];
    for (const text of copies) for (const value of DEV_VALUES) expect(text).not.toContain(value);
  });
});

describe('loadSecrets: options', () => {
  const FILE = `
environments:
  dev: { vars: { STAGE: dev } }
  prod: { vars: { STAGE: prod } }
sources:
  - type: dotenv
    path: \${STAGE}.env
  - type: env
    only: [FROM_PROCESS, OVERRIDE]
`;

  it('takes the parent environment from processEnv, not process.env: env layers, SECRETRUN_ENV, ${...}', async () => {
    const p = privateProject({ 'secretrun.yaml': FILE, 'dev.env': 'OVERRIDE=from-dev-file\nA=dev-a\n', 'prod.env': 'OVERRIDE=from-prod-file\nA=prod-a\n' });
    const s = await loadSecrets({ cwd: p.dir, processEnv: { SECRETRUN_ENV: 'prod', FROM_PROCESS: 'proc-1', OVERRIDE: 'proc-wins' } });
    expect(s.environment).toBe('prod');
    expect(s.toJSON({ reveal: true })).toEqual({ A: 'prod-a', FROM_PROCESS: 'proc-1', OVERRIDE: 'proc-wins' });
    expect(s.source('OVERRIDE')).toEqual({ layer: 'env', shadowed: ['dotenv prod.env'] });
    // `env` option beats SECRETRUN_ENV, as -e does on the command line.
    const dev = await loadSecrets({ cwd: p.dir, env: 'dev', processEnv: { SECRETRUN_ENV: 'prod' } });
    expect(dev.toJSON({ reveal: true })).toEqual({ A: 'dev-a', OVERRIDE: 'from-dev-file' });
    expect(process.env.FROM_PROCESS).toBeUndefined();
  });

  it('finds the nearest secretrun.yaml from cwd, and resolves config relative to cwd', async () => {
    const p = privateProject({ 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: a.env\n', 'a.env': 'WHERE=root\n', 'deep/er/.keep': '', 'other/alt.yaml': 'sources:\n  - type: dotenv\n    path: b.env\n', 'other/b.env': 'WHERE=alt\n' });
    const nested = await loadSecrets({ cwd: join(p.dir, 'deep/er'), processEnv: {} });
    expect(nested.get('WHERE')).toBe('root');
    expect(nested.environment).toBe('default');
    const alt = await loadSecrets({ cwd: p.dir, config: 'other/alt.yaml', processEnv: {} });
    expect(alt.get('WHERE')).toBe('alt');
    expect(alt.file).toBe(join(p.dir, 'other/alt.yaml'));
    const viaEnv = await loadSecrets({ cwd: p.dir, processEnv: { SECRETRUN_CONFIG: 'other/alt.yaml' } });
    expect(viaEnv.get('WHERE')).toBe('alt');
  });

  it('sends warnings to onWarning (or process warnings by default), never to stderr directly', async () => {
    const p = project({ 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: shared.env\n', 'shared.env': 'K=v\n' });
    chmodSync(join(p.dir, 'shared.env'), 0o644);
    const warnings: string[] = [];
    await loadSecrets({ cwd: p.dir, processEnv: {}, onWarning: (m) => warnings.push(m) });
    expect(warnings).toEqual([expect.stringContaining('shared.env is readable by other users (mode 0644); run "chmod 600 shared.env"')]);

    // The default is process.emitWarning; intercepted here, so Node does not print it into the test log as well.
    const emitted: unknown[][] = [];
    const spy = vi.spyOn(process, 'emitWarning').mockImplementation((...args: unknown[]) => void emitted.push(args));
    try {
      await loadSecrets({ cwd: p.dir, processEnv: {} });
    } finally {
      spy.mockRestore();
    }
    expect(emitted).toEqual([[warnings[0], 'SecretrunWarning']]);
  });
});

describe('loadSecrets: errors are the CLI typed errors', () => {
  it('unknown environment: ConfigError naming the option and listing the defined ones', async () => {
    const err = await loadSecrets(fixtureOptions({ env: 'qa' })).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe('unknown environment "qa" given by the "env" option (defined: dev, prod, staging)');
  });

  it('no sources file: ConfigError', async () => {
    const p = project({});
    const err = await loadSecrets({ cwd: p.dir, processEnv: {} }).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/^no secretrun\.yaml in .* or any parent directory/);
  });

  it('an invalid file: ConfigErrors with every problem and its location', async () => {
    const p = project({ 'secretrun.yaml': 'sources:\n  - type: dotenv\n  - type: nope\n' });
    const err = await loadSecrets({ cwd: p.dir, processEnv: {} }).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigErrors);
    expect(err.errors.length).toBeGreaterThanOrEqual(2);
    expect(err.errors.every((e: ConfigError) => e.location?.file === 'secretrun.yaml')).toBe(true);
  });

  it('require: missing keys throw, unless checkRequire is false', async () => {
    const p = privateProject({ 'secretrun.yaml': 'require: [SECRET_KEY, DATABASE_URL]\nsources:\n  - type: dotenv\n    path: .env\n', '.env': 'SECRET_KEY=abc\n' });
    const err = await loadSecrets({ cwd: p.dir, processEnv: {} }).catch((e) => e);
    expect(err).toBeInstanceOf(SecretrunError);
    expect(err.message).toBe('missing required key: DATABASE_URL (listed under "require" in secretrun.yaml)');
    const s = await loadSecrets({ cwd: p.dir, processEnv: {}, checkRequire: false });
    expect([...s.keys()]).toEqual(['SECRET_KEY']);
  });

  it('a failing layer: LayerError naming the layer, with loaded values scrubbed from the message and stack', async () => {
    // The second layer's path is built from a value the first layer loaded; the "not found" message would
    // otherwise quote it.
    const p = privateProject({ 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n  - type: json\n    name: by-token\n    path: data/${TOKEN}.json\n', '.env': 'TOKEN=tok-9d8c7b6a5f\n' });
    const err = await loadSecrets({ cwd: p.dir, processEnv: {} }).catch((e) => e);
    expect(err).toBeInstanceOf(LayerError);
    expect(err.message).toMatch(/^layer "by-token" \(secretrun\.yaml:4:5\): /);
    expect(err.message).not.toContain('tok-9d8c7b6a5f');
    expect(err.stack).not.toContain('tok-9d8c7b6a5f');
  });

  it('an AbortSignal cancels a pending remote layer; an already-aborted one stops before any work', async () => {
    const controller = new AbortController();
    let requests = 0;
    // Accepts the request and never answers; the caller gives up as soon as the request has arrived.
    const server = createServer(() => {
      requests++;
      controller.abort();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/secrets`;
    const p = privateProject({ 'secretrun.yaml': `sources:\n  - type: http\n    url: ${url}\n    timeout: 60\n    retries: 0\n` });
    try {
      const started = Date.now();
      const err = await loadSecrets({ cwd: p.dir, processEnv: {}, signal: controller.signal }).catch((e) => e);
      expect(err).toBeInstanceOf(Error);
      expect(Date.now() - started).toBeLessThan(20_000); // far below the 60 s layer timeout
      expect(requests).toBe(1);
      const already = await loadSecrets({ cwd: p.dir, processEnv: {}, signal: AbortSignal.abort() }).catch((e) => e);
      expect(already.name).toBe('AbortError');
      expect(requests).toBe(1);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
