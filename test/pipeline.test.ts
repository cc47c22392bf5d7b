/**
 * The core pipeline, called directly on real files: one call returns the resolution with every finding, prints
 * nothing and decides nothing (a missing required key is a finding, not an error).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, LayerError } from '../src/core/errors.js';
import { findAndLoadSourcesFile, offlinePermissionFindings, resolveSecrets } from '../src/core/pipeline.js';
import { selectEnvironment } from '../src/core/config.js';
import { useTmpProjects } from './helpers/cli.js';

const project = useTmpProjects(afterEach);
afterEach(() => vi.restoreAllMocks());

/** A layer that warns: a user module calling context.warn. */
const WARNING_MODULE = "export default { async load(options, context) { context.warn('cache is cold'); return { FROM_MODULE: '1' }; } };\n";

describe('resolveSecrets: the resolution and its findings, in one call', () => {
  it('returns missing required keys, risky names, file permissions and layer warnings, and writes nothing', async () => {
    const p = project({
      'secretrun.yaml': [
        'require: [APP_KEY, DATABASE_URL, FROM_MODULE]',
        'sources:',
        '  - type: dotenv',
        '    path: .env',
        '  - type: json',
        '    path: private.json',
        '  - type: module',
        '    path: ./warns.mjs',
        '  - type: env',
        '',
      ].join('\n'),
      '.env': 'APP_KEY=k-1\nLD_PRELOAD=/tmp/x.so\n',
      'private.json': '{"PATH": "/opt/bin"}',
      'warns.mjs': WARNING_MODULE,
    });
    chmodSync(join(p.dir, '.env'), 0o644);
    const stderr = vi.spyOn(process.stderr, 'write');
    const stdout = vi.spyOn(process.stdout, 'write');
    const { plan, resolution, findings } = await resolveSecrets({ cwd: p.dir, processEnv: { PATH: '/usr/bin' } });
    expect(stderr).not.toHaveBeenCalled();
    expect(stdout).not.toHaveBeenCalled();
    expect(plan.require).toEqual(['APP_KEY', 'DATABASE_URL', 'FROM_MODULE']);
    expect(resolution.entries.get('APP_KEY')?.value).toBe('k-1');
    expect(findings).toEqual({
      missingRequired: ['DATABASE_URL'],
      // The env layer repeats the parent's PATH: not a finding. The json layer setting it is.
      riskyNames: [
        { key: 'LD_PRELOAD', layer: 'dotenv .env' },
        { key: 'PATH', layer: 'json private.json' },
      ],
      permissions: [{ layer: 'dotenv .env', shown: '.env', mode: 0o644, definedAt: { file: 'secretrun.yaml', line: 3, col: 5 } }],
      warnings: ['cache is cold'],
      failures: [],
    });
  });

  it('throws a failing layer as before; with keepGoing records every failure and goes on', async () => {
    const p = project({
      'secretrun.yaml': 'sources:\n  - type: json\n    path: broken.json\n  - type: dotenv\n    path: gone.env\n  - type: dotenv\n    path: ok.env\n',
      'broken.json': '{',
      'ok.env': 'A=1\n',
    });
    await expect(resolveSecrets({ cwd: p.dir, processEnv: {} })).rejects.toBeInstanceOf(LayerError);
    const { resolution, findings } = await resolveSecrets({ cwd: p.dir, processEnv: {}, keepGoing: true });
    expect(findings.failures.map((e) => e.message)).toEqual([expect.stringMatching(/^layer "json broken.json" \(secretrun.yaml:2:5\): /), expect.stringMatching(/^layer "dotenv gone.env" \(secretrun.yaml:4:5\): /)]);
    expect(resolution.entries.get('A')?.value).toBe('1');
  });

  it('a file problem is still thrown: there is nothing to resolve', async () => {
    const p = project({ 'secretrun.yaml': 'environments:\n  dev: {}\n' });
    await expect(resolveSecrets({ cwd: p.dir, processEnv: {}, env: 'prod' })).rejects.toBeInstanceOf(ConfigError);
  });
});

describe('offlinePermissionFindings', () => {
  it('looks at the files whose paths need no layer value, honouring allow_world_readable', async () => {
    const p = project({
      'secretrun.yaml': [
        'sources:',
        '  - type: dotenv',
        '    path: ${SECRETRUN_ENV}.env',
        '  - type: dotenv',
        '    path: ${FROM_A_LAYER}.env',
        '  - type: yaml',
        '    path: shared.yaml',
        '    allow_world_readable: true',
        '',
      ].join('\n'),
      'default.env': 'A=1\n',
      'shared.yaml': 'B: x\n',
    });
    chmodSync(join(p.dir, 'default.env'), 0o640);
    chmodSync(join(p.dir, 'shared.yaml'), 0o644);
    const file = await findAndLoadSourcesFile({ cwd: p.dir, processEnv: {} });
    const found = await offlinePermissionFindings(selectEnvironment(file, { processEnv: {} }), {});
    expect(found).toEqual([{ layer: 'dotenv default.env', shown: 'default.env', mode: 0o640, definedAt: { file: 'secretrun.yaml', line: 2, col: 5 } }]);
  });
});
