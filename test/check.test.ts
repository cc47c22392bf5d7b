/**
 * `secretrun check` end to end: every problem at once with file:line:col, offline; `--resolve` loads the layers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { realpathSync } from 'node:fs';
import { ROOT, runCli, useTmpProjects } from './helpers/cli.js';
import { SOURCES } from '../src/sources/index.js';

const project = useTmpProjects(afterEach);

describe('check: valid files', () => {
  it('the inspect fixture is OK, with layer and environment counts', async () => {
    const r = await runCli(['check', '-c', join(ROOT, 'fixtures/inspect/secretrun.yaml')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('secretrun: fixtures/inspect/secretrun.yaml: OK (5 layers, 3 environments: dev, prod, staging)\n');
  });

  it('the demo is OK, and resolves with every required key present', async () => {
    const r = await runCli(['check', '--resolve', '-e', 'prod', '-c', 'fixtures/demo/secretrun.yaml']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      'secretrun: environment "prod": 3 layers loaded, 8 keys, all 3 required present\n' + 'secretrun: fixtures/demo/secretrun.yaml: OK (4 layers, 2 environments: dev, prod)\n',
    );
  });

  it('is offline: layers are not read without --resolve (a missing file that is not optional is reported: test/check-local.test.ts)', async () => {
    const { dir } = project({ 'secretrun.yaml': 'sources:\n  - { type: json, path: does-not-exist.json, optional: true }\n  - { type: http, url: "http://127.0.0.1:9/never" }\n' });
    const r = await runCli(['check'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('secretrun: secretrun.yaml: OK (2 layers, 1 environment: default)\n');
  });

  it('-q prints nothing on success', async () => {
    const r = await runCli(['check', '-q', '-c', 'fixtures/inspect/secretrun.yaml']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
  });
});

describe('check: every problem at once, each with file:line:col', () => {
  it('reports three different problems in one run, in file order', async () => {
    const { dir } = project({
      'secretrun.yaml': [
        'default_environment: dev', //   1
        'sources:', //                   2
        '  - type: dotenv', //           3
        '    path: .env', //             4
        '    optionl: true', //          5  unknown key
        '  - type: jsn', //              6  unknown type
        '    path: x.json', //           7
        'environments:', //              8
        '  dev:', //                     9
        '    sources:', //              10
        '      - type: ssm', //         11
        '        path: /${STAGE/app', //12  unterminated template
        '',
      ].join('\n'),
    });
    const r = await runCli(['check'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')).toEqual([
      'secretrun: secretrun.yaml:5:5: sources[0].optionl: unknown key "optionl" (did you mean "optional"?)',
      `secretrun: secretrun.yaml:6:11: sources[1].type: unknown source type "jsn" (expected one of ${SOURCES.map((s) => s.type).join(', ')}) (did you mean "json"?)`,
      'secretrun: secretrun.yaml:12:15: environments.dev.sources[0].path: unterminated "${" at column 2: the text ends before its "}"; write $${ for a literal ${',
      'secretrun: secretrun.yaml: 3 problems',
      '',
    ]);
  });

  it('reports type errors, a bad template in vars and an unset variable in vars together', async () => {
    const { dir } = project({
      'secretrun.yaml': [
        'sources:', //                                           1
        '  - { type: http, url: "http://x.test", timeout: ten }', // 2
        'environments:', //                                      3
        '  a:', //                                               4
        '    vars:', //                                          5
        '      ONE: ${}', //                                     6
        '      TWO: ${CHECK_TEST_SURELY_UNSET}', //              7
        '      THREE: ${TWO:-fine}', //                          8
        '',
      ].join('\n'),
    });
    const r = await runCli(['check'], { cwd: dir });
    expect(r.code).toBe(1);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe('secretrun: secretrun.yaml:2:50: sources[0].timeout: expected a number (seconds per attempt), got a string');
    expect(lines[1]).toMatch(/^secretrun: secretrun\.yaml:6:12: environments\.a\.vars\.ONE: invalid variable reference/);
    expect(lines[2]).toBe('secretrun: secretrun.yaml:7:12: environments.a.vars.TWO: ${CHECK_TEST_SURELY_UNSET} is not set (looked up in earlier vars and the environment)');
    expect(lines[3]).toBe('secretrun: secretrun.yaml: 3 problems');
  });

  it('a variable set in the process environment satisfies vars', async () => {
    const { dir } = project({ 'secretrun.yaml': 'environments:\n  a:\n    vars: { TWO: "${CHECK_TEST_VAR}" }\n' });
    const r = await runCli(['check'], { cwd: dir, env: { CHECK_TEST_VAR: 'x' } });
    expect(r.stderr).toBe('secretrun: secretrun.yaml: OK (0 layers, 1 environment: a)\n');
    expect(r.code).toBe(0);
  });

  it('a default_environment that is not defined', async () => {
    const { dir } = project({ 'secretrun.yaml': 'default_environment: stage\nenvironments:\n  dev: {}\n  prod: {}\n' });
    const r = await runCli(['check'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('secretrun: secretrun.yaml:1:22: default_environment: "stage" is not defined (defined: dev, prod)\nsecretrun: secretrun.yaml: 1 problem\n');
  });

  it('invalid YAML, at its position', async () => {
    const { dir } = project({ 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: [a\n' });
    const r = await runCli(['check'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^secretrun: secretrun\.yaml:\d+:\d+: invalid YAML: /);
    expect(r.stderr.trimEnd().split('\n').at(-1)).toMatch(/^secretrun: secretrun\.yaml: \d+ problems?$/);
  });

  it('-e with an unknown environment', async () => {
    const r = await runCli(['check', '-e', 'prodd', '-c', 'fixtures/inspect/secretrun.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('secretrun: unknown environment "prodd" given by -e (did you mean "prod"?) (defined: dev, prod, staging)\n');
  });

  it('no sources file at all', async () => {
    const { dir } = project({});
    const r = await runCli(['check'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^secretrun: no secretrun\.yaml in .* \(create one with "secretrun init", or pass -c FILE, --dotenv PATH or --dotenv-optional \.env\)\n$/);
  });
});

describe('check --resolve', () => {
  it('reports every unreachable layer and the missing require keys, without values', async () => {
    const { dir } = project({
      'secretrun.yaml': `sources:
  - { type: dotenv, path: missing-one.env }
  - { type: dotenv, path: present.env }
  - { type: json, path: missing-two.json }
  - { type: yaml, path: optional.yaml, optional: true }
require: [PRESENT_KEY, NEEDED_KEY, OTHER_NEEDED]
`,
      'present.env': 'PRESENT_KEY=present-value-5678\n',
    });
    const r = await runCli(['check', '--resolve'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n').sort()).toEqual(
      [
        '',
        `secretrun: layer "dotenv missing-one.env" (secretrun.yaml:2:5): missing-one.env: file not found (looked for ${realpathSync(dir)}/missing-one.env)`,
        `secretrun: layer "json missing-two.json" (secretrun.yaml:4:5): missing-two.json: file not found (looked for ${realpathSync(dir)}/missing-two.json)`,
        'secretrun: missing required keys: NEEDED_KEY, OTHER_NEEDED (listed under "require" in secretrun.yaml)',
      ].sort(),
    );
    expect(r.stderr).not.toContain('present-value-5678');
  });

  it('reports a broken data file, without quoting its content', async () => {
    const { dir } = project({ 'secretrun.yaml': 'sources:\n  - { type: json, path: broken.json }\n', 'broken.json': '{"A": "secret-in-broken-file",\n "B": }\n' });
    const r = await runCli(['check', '--resolve'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^secretrun: layer "json broken\.json" \(secretrun\.yaml:2:5\): broken\.json:(\d+:\d+:)? invalid JSON/);
    expect(r.stderr).not.toContain('secret-in-broken-file');
  });

  it('passes when every layer loads', async () => {
    const { dir } = project({ 'secretrun.yaml': 'sources:\n  - { type: dotenv, path: a.env }\n', 'a.env': 'A=value-aaaa-1\nB=value-bbbb-2\n' });
    const r = await runCli(['check', '--resolve'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('secretrun: environment "default": 1 layer loaded, 2 keys\nsecretrun: secretrun.yaml: OK (1 layer, 1 environment: default)\n');
  });
});
