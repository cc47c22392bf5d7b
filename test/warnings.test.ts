/**
 * Warnings that are never silent: risky variable names set by a layer.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PRINT_ENV, runCli, useTmpProjects } from './helpers/cli.js';

const project = useTmpProjects(afterEach);

describe('risky names', () => {
  const files = {
    'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n  - type: env\n',
    '.env': 'LD_PRELOAD=/tmp/evil.so\nNODE_OPTIONS=--require=/tmp/x.js\nSAFE=1\n',
  };

  it('warns, naming the layer and the variable, and still runs', async () => {
    const { dir } = project({ ...files, '.env': 'PYTHONPATH=/opt/lib\nSAFE=1\n' });
    const r = await runCli(['--', process.execPath, '-e', PRINT_ENV, 'PYTHONPATH', 'SAFE'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ PYTHONPATH: '/opt/lib', SAFE: '1' });
    expect(r.stderr).toBe('secretrun: warning: layer "dotenv .env" sets PYTHONPATH, which changes which programs or code the child runs; pass --strict to refuse this\n');
  });

  it('--strict refuses before the child starts (exit 125), and -q hides the warning', async () => {
    const { dir } = project(files);
    const strict = await runCli(['--strict', '--', 'true'], { cwd: dir });
    expect(strict.code).toBe(125);
    expect(strict.stderr).toBe('secretrun: layer "dotenv .env" sets LD_PRELOAD, which changes which programs or code the child runs (refused by --strict)\n');
    const quiet = await runCli(['-q', 'export', '--format', 'json'], { cwd: dir });
    expect(quiet.stderr).toBe('');
    expect(quiet.code).toBe(0);
  });

  it('an env layer repeating the parent PATH is not a warning', async () => {
    const { dir } = project({ 'secretrun.yaml': 'sources:\n  - type: env\n' });
    const r = await runCli(['--', 'true'], { cwd: dir });
    expect(r).toMatchObject({ code: 0, stderr: '' });
  });
});

// File permissions are `check`'s to report: test/findings.test.ts.
