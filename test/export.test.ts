/**
 * `export` end to end: nasty values loaded by a layer, written by the built CLI, read back by the real consumers
 * (the dotenv package, bash and sh) to exactly the same map.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import dotenv from 'dotenv';
import { parse as parseYaml } from 'yaml';
import { runCli, useTmpProjects } from './helpers/cli.js';

const project = useTmpProjects(afterEach);

const NASTY: Record<string, string> = {
  NEWLINES: 'line one\nline two\n',
  CRLF: 'a\r\nb',
  SINGLE: "it's",
  DOUBLE: 'say "hi"',
  BOTH: `it's "quoted"`,
  BACKTICK: 'run `cmd`',
  HASH: 'value # not a comment',
  HASH_START: '#hash',
  EQUALS: 'a=b=c',
  DOLLAR: '$HOME ${PATH} $(whoami)',
  BACKSLASHES: 'C:\\path\\to\\n\\file\\',
  UNICODE: 'héllo wörld ✓ 日本 🎉',
  SPACES: '  leading and trailing  ',
  EMPTY: '',
  TRUE_STRING: 'true',
  NUMBER_STRING: '0x10',
  JSONISH: '{"a": [1, 2]}',
};

async function exported(format: string): Promise<string> {
  const { dir } = project({ 'secretrun.yaml': 'sources:\n  - type: json\n    path: nasty.json\n', 'nasty.json': JSON.stringify(NASTY) });
  const r = await runCli(['export', '--format', format], { cwd: dir });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout;
}

describe('export round trips', () => {
  it('dotenv: the dotenv package reads back exactly the same map', async () => {
    expect(dotenv.parse(await exported('dotenv'))).toEqual(NASTY);
  });

  it('json and yaml read back exactly', async () => {
    expect(JSON.parse(await exported('json'))).toEqual(NASTY);
    expect(parseYaml(await exported('yaml'))).toEqual(NASTY);
  });

  it.each(['bash', 'sh'])('shell: eval in %s reproduces every value', async (shell) => {
    const script = await exported('shell');
    // Print each variable NUL-terminated so trailing newlines and spaces survive.
    const printer = Object.keys(NASTY).map((k) => `printf '%s\\0' "$${k}"`).join('\n');
    const r = spawnSync(shell, ['-c', `${script}\n${printer}`], { env: { PATH: '/usr/bin:/bin' }, encoding: 'utf8' });
    expect(r.status).toBe(0);
    const values = r.stdout.split('\0').slice(0, -1);
    expect(Object.fromEntries(Object.keys(NASTY).map((k, i) => [k, values[i]]))).toEqual(NASTY);
  });

  it('a value dotenv cannot express fails with exit 1, naming the key but not the value', async () => {
    const impossible = `a'b"c\`d # e\\n`;
    const { dir } = project({ 'secretrun.yaml': 'sources:\n  - type: json\n    path: x.json\n', 'x.json': JSON.stringify({ BAD: impossible }) });
    const r = await runCli(['export'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^secretrun: export --format dotenv: key "BAD": /);
    expect(r.stderr).not.toContain(impossible);
  });

  it('dotenv never picks a spelling that runs a command in sh when an inert exact one exists (issue 15)', async () => {
    const values = { BOTHQ: `mix "double" and 'single'`, SUBST: '`id` and $(id)', PLAIN: 'x' };
    const { dir } = project({ 'secretrun.yaml': 'sources:\n  - type: json\n    path: x.json\n', 'x.json': JSON.stringify(values) });
    const r = await runCli(['export'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // Double quotes for both quote kinds (the old writer used backticks, which sh runs); single quotes for `cmd` and $(cmd).
    expect(r.stdout).toBe(`BOTHQ="mix "double" and 'single'"\nPLAIN=x\nSUBST='\`id\` and $(id)'\n`);
    expect(dotenv.parse(r.stdout)).toEqual(values);
    // Sourced by sh, nothing runs: no "uid=" from `id` ends up in a value.
    writeFileSync(join(dir, '.env'), r.stdout);
    const sh = spawnSync('sh', ['-c', `set -a; . ./.env; printf '%s|%s' "$BOTHQ" "$SUBST"`], { cwd: dir, encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
    expect(sh.stdout).not.toContain('uid=');
    expect(sh.stdout).toContain('`id` and $(id)');
  });

  it('when only a command-running spelling is exact: the round trip is kept, one warning names the key; --strict refuses', async () => {
    const risky = "it's `touch PWNED`";
    const { dir } = project({ 'secretrun.yaml': 'sources:\n  - type: json\n    path: x.json\n', 'x.json': JSON.stringify({ RISKY: risky, OK: 'fine' }) });
    const r = await runCli(['export'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(dotenv.parse(r.stdout)).toEqual({ RISKY: risky, OK: 'fine' });
    expect(r.stderr).toBe(
      'secretrun: warning: export --format dotenv: the value of RISKY can only be written in a form that runs a command when a shell sources the file (set -a; . ./.env); use --format shell for shells, or --strict to refuse\n',
    );
    const strict = await runCli(['export', '--strict'], { cwd: dir });
    expect(strict.code).toBe(1);
    expect(strict.stdout).toBe('');
    expect(strict.stderr).toMatch(/^secretrun: export --format dotenv: the value of RISKY can only be written .* \(refused by --strict\); use --format shell for shells\n$/);
    expect(strict.stderr).not.toContain('touch');
    // Other formats have no such spelling problem.
    expect((await runCli(['export', '--strict', '--format', 'shell'], { cwd: dir })).code).toBe(0);
  });
});
