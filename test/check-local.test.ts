/**
 * Offline `check` catches what `run` would fail on or silently misread (issue 25, item 6): a missing layer file
 * and a non-http(s) URL (a problem of the selected environment, a note of another), dotenv lines dotenv ignores,
 * an unquoted `#` that cuts a value and a UTF-16 file (warnings; `--strict` fails). Never a value in a message.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import dotenv from 'dotenv';
import { runCli, useTmpProjects } from './helpers/cli.js';
import { lintDotenv } from '../src/formats/dotenv-lint.js';

const project = useTmpProjects(afterEach);

describe('the dotenv scan (pure): what dotenv would misread, by line, while dotenv.parse stays the reading', () => {
  it('finds ignored lines and a value cut by an unquoted #, and leaves comments, quotes and multi-line values alone', () => {
    const text = 'A=1\n\nPASSWORD=p#ssw0rd\nB=ok # a comment\nthis is not a line\nexport C=3\nM="multi\nline # inside"\nQ="x#y"\n  # comment\nF: yes\nE=a b#c\r\n';
    expect(lintDotenv(Buffer.from(text))).toEqual([
      { kind: 'hash-cut', line: 3, key: 'PASSWORD' },
      { kind: 'ignored', line: 5 },
      { kind: 'hash-cut', line: 12, key: 'E' },
    ]);
    // What the findings describe is what dotenv does.
    expect(dotenv.parse(text)).toMatchObject({ PASSWORD: 'p', B: 'ok', M: 'multi\nline # inside', Q: 'x#y', E: 'a b' });
  });

  it('a UTF-16 file (byte-order mark) is one finding', () => {
    expect(lintDotenv(Buffer.from('\ufeffA=1\n', 'utf16le'))).toEqual([{ kind: 'utf16', line: 1 }]);
    expect(lintDotenv(Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from('A=1', 'utf16le')]))).toEqual([{ kind: 'utf16', line: 1 }]);
  });
});

const SOURCES = [
  'default_environment: dev',
  'sources:',
  '  - type: dotenv',
  '    path: .env',
  'environments:',
  '  dev:',
  '    sources:',
  '      - type: json',
  '        path: config/dev.json',
  '  prod:',
  '    vars: { STAGE: Production }',
  '    sources:',
  '      - type: json',
  '        path: config/${STAGE}.json',
  '      - type: yaml',
  '        path: config/optional.yaml',
  '        optional: true',
  '      - type: http',
  '        url: ftp://files.example/secrets.json',
  '',
].join('\n');

describe('check (offline) through the CLI', () => {
  it('a missing file and a non-http URL of another environment are notes; dotenv findings are warnings; exit 0', async () => {
    const { dir } = project({ 'secretrun.yaml': SOURCES, '.env': 'A=1\nPASSWORD=p#ssw0rd\njunk line\n', 'config/dev.json': '{}' });
    const r = await runCli(['check'], { cwd: dir });
    expect(r.code).toBe(0);
    const at = join(realpathSync(dir), 'config', 'Production.json');
    expect(r.stderr.split('\n')).toEqual([
      `secretrun: note: environment "prod": secretrun.yaml:13:9: layer "json config/Production.json": config/Production.json: file not found (looked for ${at}; \`optional: true\` makes it an empty layer)`,
      'secretrun: note: environment "prod": secretrun.yaml:18:9: layer "http ftp://files.example/secrets.json": `url` is not an http:// or https:// URL',
      'secretrun: warning: .env:2:1: the value of PASSWORD is cut at an unquoted "#" (dotenv reads the rest as a comment): quote the value',
      'secretrun: warning: .env:3:1: dotenv ignores this line (not KEY=VALUE, a comment or blank): no key is set from it',
      'secretrun: secretrun.yaml: OK (5 layers, 2 environments: dev, prod)',
      '',
    ]);
    expect(r.stderr).not.toContain('ssw0rd');
  });

  it('the same in the selected environment (-e or SECRETRUN_ENV) are problems: exit 1, with file:line', async () => {
    const { dir } = project({ 'secretrun.yaml': SOURCES, '.env': 'A=1\n', 'config/dev.json': '{}' });
    for (const [args, env] of [[['check', '-e', 'prod'], {}], [['check'], { SECRETRUN_ENV: 'prod' }]] as const) {
      const r = await runCli([...args], { cwd: dir, env });
      expect(r.code).toBe(1);
      const lines = r.stderr.split('\n');
      expect(lines[0]).toMatch(/^secretrun: secretrun\.yaml:13:9: layer "json config\/Production\.json": config\/Production\.json: file not found \(looked for /);
      expect(lines.slice(1)).toEqual(['secretrun: secretrun.yaml:18:9: layer "http ftp://files.example/secrets.json": `url` is not an http:// or https:// URL', 'secretrun: secretrun.yaml: 2 problems', '']);
    }
    // The dev environment (default_environment) is whole: the prod findings stay notes.
    const dev = await runCli(['check'], { cwd: dir });
    expect(dev.code).toBe(0);
  });

  it('every option its descriptor marks as an http(s) URL is checked: doppler\'s api_host written without a scheme; one the parent environment fills is not', async () => {
    const yaml = ['sources:', '  - type: doppler', '    api_host: api.doppler.example', '  - type: doppler', '    api_host: ${HOST}', ''].join('\n');
    const { dir } = project({ 'secretrun.yaml': yaml });
    const r = await runCli(['check'], { cwd: dir, env: { HOST: 'not-a-url' } });
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n')).toEqual(['secretrun: secretrun.yaml:2:5: layer "doppler": `api_host` is not an http:// or https:// URL', 'secretrun: secretrun.yaml: 1 problem', '']);
  });

  it('a missing file shared by every environment is a problem; check --strict fails on dotenv warnings, also a UTF-16 file', async () => {
    const { dir } = project({ 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n  - type: dotenv\n    path: gone.env\n' });
    writeFileSync(join(dir, '.env'), Buffer.from('\ufeffA=1\n', 'utf16le'), { mode: 0o600 });
    const missing = await runCli(['check'], { cwd: dir });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('secretrun: secretrun.yaml:4:5: layer "dotenv gone.env": gone.env: file not found');

    const { dir: ok } = project({ 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n' });
    writeFileSync(join(ok, '.env'), Buffer.from('\ufeffA=1\n', 'utf16le'), { mode: 0o600 });
    const lenient = await runCli(['check'], { cwd: ok });
    expect(lenient.code).toBe(0);
    expect(lenient.stderr).toContain('secretrun: warning: .env:1:1: the file is UTF-16 (it starts with a byte-order mark); dotenv reads UTF-8: save it as UTF-8');
    const strict = await runCli(['check', '--strict'], { cwd: ok });
    expect(strict.code).toBe(1);
    expect(strict.stderr).toBe('secretrun: .env:1:1: the file is UTF-16 (it starts with a byte-order mark); dotenv reads UTF-8: save it as UTF-8\nsecretrun: secretrun.yaml: 1 problem\n');
  });

  it('--dotenv files are scanned too', async () => {
    const { dir } = project({ 'local.env': 'TOKEN=abc#def\n' });
    const r = await runCli(['check', '--dotenv', 'local.env'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('secretrun: warning: local.env:1:1: the value of TOKEN is cut at an unquoted "#"');
    expect(r.stderr).not.toContain('abc');
  });
});
