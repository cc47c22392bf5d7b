/**
 * One pipeline, each command's own answer to its findings (docs/commands.md): `run`, `export` and `get` are quiet
 * about file permissions, which `check` reports (`check --strict` fails on them); `require` holds for `run` and
 * `export`, not for `get`; risky names concern the commands that hand the set on.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { PRINT_ENV, runCli, useTmpProjects } from './helpers/cli.js';

const project = useTmpProjects(afterEach);

/** A project whose .env has the mode `touch` and most editors give it: readable by everyone. */
function sharedDotenv(yaml = 'sources:\n  - type: dotenv\n    path: .env\n', env = 'APP_TOKEN=tok-4f9a2c\nPORT=8080\n') {
  const p = project({ 'secretrun.yaml': yaml, '.env': env });
  chmodSync(join(p.dir, '.env'), 0o644);
  return p;
}

const SHARED = 'secretrun.yaml:2:5: .env is readable by other users (mode 0644); run "chmod 600 .env", or set allow_world_readable: true on the layer';

describe('quiet by default', () => {
  it('run, export and get print nothing on stderr for an ordinary run with a 0644 .env', async () => {
    const { dir } = sharedDotenv();
    const run = await runCli(['--', process.execPath, '-e', PRINT_ENV, 'APP_TOKEN'], { cwd: dir });
    expect(run).toMatchObject({ code: 0, stderr: '', stdout: '{"APP_TOKEN":"tok-4f9a2c"}' });
    const exported = await runCli(['export', '--format', 'json'], { cwd: dir });
    expect(exported).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(exported.stdout)).toEqual({ APP_TOKEN: 'tok-4f9a2c', PORT: '8080' });
    expect(await runCli(['get', 'PORT'], { cwd: dir })).toMatchObject({ code: 0, stderr: '', stdout: '8080' });
    // The commander path (an option the fast path leaves to commander) is just as quiet.
    expect(await runCli(['ls', '--json'], { cwd: dir })).toMatchObject({ code: 0, stderr: '' });
  });
});

describe('check reports file permissions', () => {
  it('as a warning at the layer, exit 0; with --strict as an error, exit 1', async () => {
    const { dir } = sharedDotenv();
    const r = await runCli(['check'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`secretrun: warning: ${SHARED}\nsecretrun: secretrun.yaml: OK (1 layer, 1 environment: default)\n`);
    const strict = await runCli(['check', '--strict'], { cwd: dir });
    expect(strict.code).toBe(1);
    expect(strict.stderr).toBe(`secretrun: ${SHARED}\nsecretrun: secretrun.yaml: 1 problem\n`);
    // -q hides the warning but not the error.
    expect(await runCli(['check', '-q'], { cwd: dir })).toMatchObject({ code: 0, stderr: '' });
    expect((await runCli(['check', '--strict', '-q'], { cwd: dir })).code).toBe(1);
  });

  it('names group-readable files too, once per layer across environments; allow_world_readable and chmod 600 silence it', async () => {
    const p = project({
      'secretrun.yaml': [
        'sources:',
        '  - type: json',
        '    path: group.json',
        '  - type: yaml',
        '    path: ok.yaml',
        '    allow_world_readable: true',
        'environments:',
        '  dev:',
        '    sources:',
        '      - type: dotenv',
        '        path: ${SECRETRUN_ENV}.env',
        '  prod: {}',
        '',
      ].join('\n'),
      'group.json': '{"B": "2"}',
      'ok.yaml': 'C: "3"\n',
      'dev.env': 'A=1\n',
    });
    chmodSync(join(p.dir, 'group.json'), 0o640);
    chmodSync(join(p.dir, 'ok.yaml'), 0o644);
    chmodSync(join(p.dir, 'dev.env'), 0o604);
    const r = await runCli(['check'], { cwd: p.dir });
    expect(r.code).toBe(0);
    expect(r.stderr.split('\n').filter((l) => l.includes('readable'))).toEqual([
      'secretrun: warning: secretrun.yaml:2:5: group.json is readable by its group (mode 0640); run "chmod 600 group.json", or set allow_world_readable: true on the layer',
      'secretrun: warning: secretrun.yaml:10:9: dev.env is readable by other users (mode 0604); run "chmod 600 dev.env", or set allow_world_readable: true on the layer',
    ]);
    // -e narrows to one environment.
    expect((await runCli(['check', '-e', 'prod'], { cwd: p.dir })).stderr).not.toContain('dev.env');
    chmodSync(join(p.dir, 'group.json'), 0o600);
    chmodSync(join(p.dir, 'dev.env'), 0o600);
    expect(await runCli(['check', '--strict'], { cwd: p.dir })).toMatchObject({ code: 0, stderr: 'secretrun: secretrun.yaml: OK (3 layers, 2 environments: dev, prod)\n' });
  });

  it('check --resolve reports them from the resolution (paths filled in from earlier layers)', async () => {
    const p = project({
      'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n  - type: json\n    path: ${EXTRA_FILE}\n',
      // 8+ characters: the one redaction rule blanks it (a shorter name would be shown).
      '.env': 'EXTRA_FILE=extra-config.json\n',
      'extra-config.json': '{"X": "1"}',
    });
    chmodSync(join(p.dir, 'extra-config.json'), 0o644);
    // Offline, the path needs a layer's value: not looked at.
    expect((await runCli(['check', '--strict'], { cwd: p.dir })).code).toBe(0);
    const r = await runCli(['check', '--resolve', '--strict'], { cwd: p.dir });
    expect(r.code).toBe(1);
    // The path is a layer's value, so the message blanks it like any value; the location names the layer.
    expect(r.stderr).toContain('secretrun: secretrun.yaml:4:5: [redacted] is readable by other users (mode 0644)');
    chmodSync(join(p.dir, 'extra-config.json'), 0o600);
    expect((await runCli(['check', '--resolve', '--strict'], { cwd: p.dir })).code).toBe(0);
  });
});

describe('require: run and export enforce it, get does not', () => {
  const files = {
    'secretrun.yaml': 'require: [DATABASE_URL]\nsources:\n  - type: dotenv\n    path: .env\n',
    '.env': 'PORT=8080\n',
  };
  const MISSING = 'secretrun: missing required key: DATABASE_URL (listed under "require" in secretrun.yaml)\n';

  it('get prints a key of an environment that lacks a required one, and says nothing of it', async () => {
    const { dir } = project(files);
    expect(await runCli(['get', 'PORT'], { cwd: dir })).toMatchObject({ code: 0, stdout: '8080', stderr: '' });
    // The required key itself is simply not defined.
    expect(await runCli(['get', 'DATABASE_URL'], { cwd: dir })).toMatchObject({ code: 1, stdout: '' });
  });

  it('run fails with 125 before starting the child, export with 1, both naming the key', async () => {
    const { dir } = project(files);
    const run = await runCli(['--', process.execPath, '-e', 'process.stdout.write("child ran")'], { cwd: dir });
    expect(run).toMatchObject({ code: 125, stdout: '', stderr: MISSING });
    expect(await runCli(['export'], { cwd: dir })).toMatchObject({ code: 1, stdout: '', stderr: MISSING });
    // Through commander too (an option the fast path does not take).
    expect(await runCli(['run', '--mask', '--', 'true'], { cwd: dir })).toMatchObject({ code: 125, stderr: MISSING });
  });
});

describe('risky names concern the commands that hand the set on', () => {
  const files = { 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n', '.env': 'NODE_OPTIONS=--require=/tmp/x.js\nSAFE=1\n' };

  it('export warns, export --strict refuses (exit 1); get and ls say nothing', async () => {
    const { dir } = project(files);
    const warned = await runCli(['export'], { cwd: dir });
    expect(warned.code).toBe(0);
    expect(warned.stderr).toBe('secretrun: warning: layer "dotenv .env" sets NODE_OPTIONS, which changes which programs or code the child runs; pass --strict to refuse this\n');
    const strict = await runCli(['export', '--strict'], { cwd: dir });
    expect(strict).toMatchObject({ code: 1, stdout: '' });
    expect(strict.stderr).toBe('secretrun: layer "dotenv .env" sets NODE_OPTIONS, which changes which programs or code the child runs (refused by --strict)\n');
    expect(await runCli(['get', 'SAFE'], { cwd: dir })).toMatchObject({ code: 0, stdout: '1', stderr: '' });
    expect(await runCli(['ls'], { cwd: dir })).toMatchObject({ code: 0, stderr: '' });
  });
});
