/**
 * `secretrun init` end to end: the built CLI in real temp directories.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { lstatSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, useTmpProjects } from './helpers/cli.js';

const project = useTmpProjects(afterEach);

const read = (dir: string, name: string) => readFileSync(join(dir, name), 'utf8');

describe('init in an empty directory', () => {
  it('writes a commented starter file that check, ls and diff accept as written', async () => {
    const { dir } = project();
    const r = await runCli(['init'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('secretrun: wrote secretrun.yaml\n');
    // Nothing else is created: no .env, no .gitignore (the project may not use git).
    expect(readdirSync(dir)).toEqual(['secretrun.yaml']);

    const text = read(dir, 'secretrun.yaml');
    expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=./node_modules/secretrun/schema.json');
    expect(text).toMatch(/^ {2}- type: dotenv\n {4}path: \.env\n {4}optional: true/m);
    expect(text).toMatch(/^ {4}# {3}- type: ssm$/m); // commented out: it needs AWS credentials
    expect(text).toMatch(/^default_environment: dev\b/m);

    const check = await runCli(['check'], { cwd: dir });
    expect(check.stderr).toBe('secretrun: secretrun.yaml: OK (1 layer, 2 environments: dev, prod)\n');
    expect(check.code).toBe(0);
    const ls = await runCli(['ls'], { cwd: dir });
    expect(ls.code).toBe(0);
    const diff = await runCli(['diff', 'dev', 'prod'], { cwd: dir });
    expect(diff.code).toBe(0);
  });

  it('the starter picks up a .env at once, and holds no value itself', async () => {
    const { dir, write } = project();
    expect((await runCli(['init', '-q'], { cwd: dir })).code).toBe(0);
    write('.env', 'API_TOKEN=starter-test-token-123\n');
    const r = await runCli(['get', 'API_TOKEN'], { cwd: dir });
    expect(r.stdout).toBe('starter-test-token-123');
    expect(read(dir, 'secretrun.yaml')).not.toContain('starter-test-token-123');
  });

  it('-q prints nothing', async () => {
    const { dir } = project({ '.gitignore': 'node_modules\n' });
    const r = await runCli(['init', '-q'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(read(dir, '.gitignore')).toBe('node_modules\n.env\n');
  });
});

describe('init never overwrites', () => {
  it.each(['secretrun.yaml', 'secretrun.yml'])('refuses with exit 1 when %s exists, leaving it untouched', async (name) => {
    const mine = 'sources:\n  - { type: dotenv, path: mine.env }  # my own file\n';
    const { dir } = project({ [name]: mine, '.gitignore': 'dist\n' });
    const r = await runCli(['init'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`secretrun: ${name} already exists in this directory; not overwriting it (check it with "secretrun check")\n`);
    expect(read(dir, name)).toBe(mine);
    expect(readdirSync(dir).sort()).toEqual(['.gitignore', name]);
    // Refusing changes nothing else either.
    expect(read(dir, '.gitignore')).toBe('dist\n');
  });

  it('refuses even with -q, and a second init after a first one', async () => {
    const { dir } = project();
    expect((await runCli(['init'], { cwd: dir })).code).toBe(0);
    const first = read(dir, 'secretrun.yaml');
    const again = await runCli(['init', '-q'], { cwd: dir });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already exists');
    expect(read(dir, 'secretrun.yaml')).toBe(first);
  });
});

describe('init below a project that already has a sources file', () => {
  it('refuses (exit 1) naming the file it would shadow, writes nothing; --here writes one anyway', async () => {
    const { dir, write } = project({ 'secretrun.yaml': 'sources: []\n' });
    write('services/api/.keep', '');
    const sub = join(dir, 'services/api');
    const r = await runCli(['init'], { cwd: sub });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'secretrun: ../../secretrun.yaml already applies here: a new secretrun.yaml in this directory would shadow it for every command run below it (pass --here to write one anyway)\n',
    );
    expect(readdirSync(sub)).toEqual(['.keep']);
    const here = await runCli(['init', '--here'], { cwd: sub });
    expect([here.code, here.stderr]).toEqual([0, 'secretrun: wrote secretrun.yaml\n']);
    expect(read(sub, 'secretrun.yaml')).toContain('type: dotenv');
    // The project's own file is untouched, and the new one is what commands find from there now.
    expect(read(dir, 'secretrun.yaml')).toBe('sources: []\n');
    const check = await runCli(['check'], { cwd: sub });
    expect(check.stderr).toContain('secretrun.yaml: OK');
  });

  it('secretrun.yml above counts too; SECRETRUN_CONFIG (a file named, not found by walking up) does not', async () => {
    const { dir, write } = project({ 'secretrun.yml': 'sources: []\n' });
    write('app/.keep', '');
    const r = await runCli(['init', '-q'], { cwd: join(dir, 'app') });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('../secretrun.yml already applies here');
    const { dir: other } = project({ 'elsewhere.yaml': 'sources: []\n' });
    const named = await runCli(['init', '-q'], { cwd: other, env: { SECRETRUN_CONFIG: join(other, 'elsewhere.yaml') } });
    expect([named.code, named.stderr]).toEqual([0, '']);
  });
});

describe('init and .gitignore', () => {
  it('appends .env, adding the missing final newline first', async () => {
    const { dir } = project({ '.gitignore': 'node_modules\ndist' });
    const r = await runCli(['init'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('secretrun: wrote secretrun.yaml\nsecretrun: added .env to .gitignore\n');
    expect(read(dir, '.gitignore')).toBe('node_modules\ndist\n.env\n');
  });

  it('appends to an empty .gitignore', async () => {
    const { dir } = project({ '.gitignore': '' });
    await runCli(['init'], { cwd: dir });
    expect(read(dir, '.gitignore')).toBe('.env\n');
  });

  it.each([
    ['an exact line', 'node_modules\n.env\n'],
    ['a rooted line', '/.env\n'],
    ['a line with CRLF endings and spaces', 'dist\r\n  .env  \r\nbuild\r\n'],
  ])('leaves it alone when it already has %s', async (_what, content) => {
    const { dir } = project({ '.gitignore': content });
    const r = await runCli(['init'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('secretrun: wrote secretrun.yaml\n');
    expect(read(dir, '.gitignore')).toBe(content);
  });

  it('matches whole lines only: .env.local or a comment does not count', async () => {
    const content = '.env.local\n# .env\n.envrc\n';
    const { dir } = project({ '.gitignore': content });
    await runCli(['init'], { cwd: dir });
    expect(read(dir, '.gitignore')).toBe(content + '.env\n');
  });

  it('never writes through a .gitignore that is a symbolic link, and says so', async () => {
    const elsewhere = project({ 'shared-ignore': 'node_modules\n' });
    const { dir } = project();
    symlinkSync(join(elsewhere.dir, 'shared-ignore'), join(dir, '.gitignore'));
    const r = await runCli(['init'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('secretrun: wrote secretrun.yaml\nsecretrun: warning: .gitignore is a symbolic link; secretrun does not write through links: add .env to it yourself\n');
    expect(read(elsewhere.dir, 'shared-ignore')).toBe('node_modules\n');
    expect(lstatSync(join(dir, '.gitignore')).isSymbolicLink()).toBe(true);
  });

  it('refuses a dangling secretrun.yaml symlink instead of creating its target', async () => {
    const elsewhere = project();
    const { dir } = project();
    symlinkSync(join(elsewhere.dir, 'created-elsewhere.yaml'), join(dir, 'secretrun.yaml'));
    const r = await runCli(['init'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^secretrun: secretrun\.yaml already exists/);
    expect(readdirSync(elsewhere.dir)).toEqual([]);
  });
});
