/**
 * The first ten minutes, as a new user meets them, through the built CLI: `--dotenv` without a sources file,
 * version and help spellings, bare `secretrun`, did-you-mean for options and environments, and the small
 * consistencies between commands (check's environments, diff of identical environments, `diff --only`,
 * numbers in `vars`, an HTML page from an http layer).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { PRINT_ENV, ROOT, runCli, useTmpProjects } from './helpers/cli.js';
import { startServer, type FakeServer } from './helpers/http-server.js';

const project = useTmpProjects(afterEach);
const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const printEnv = (...keys: string[]) => ['--', process.execPath, '-e', PRINT_ENV, ...keys];
type LsEntry = { key: string; layer: string; shadowed: string[] };
/** `ls --json`'s entries (a list, or an object holding it under `keys`). */
const lsEntries = (stdout: string): LsEntry[] => {
  const parsed = JSON.parse(stdout) as LsEntry[] | { keys: LsEntry[] };
  return Array.isArray(parsed) ? parsed : parsed.keys;
};

describe('--dotenv: no sources file needed', () => {
  it('runs a command with two dotenv files in an empty directory, later files winning, quietly', async () => {
    const { dir } = project({ '.env': 'A=from-env\nB=from-env\n', '.env.local': 'B=from-local\n' });
    chmodSync(join(dir, '.env'), 0o644); // as an ordinary checkout leaves it: still quiet (check reports it)
    const r = await runCli(['--dotenv', '.env', '--dotenv', '.env.local', ...printEnv('A', 'B', 'SECRETRUN_ENV')], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ A: 'from-env', B: 'from-local', SECRETRUN_ENV: 'default' });
  });

  it('export --format json, and the --dotenv=PATH spelling given before the command', async () => {
    const { dir } = project({ '.env': 'A=1\nB="two words"\n' });
    const r = await runCli(['--dotenv=.env', 'export', '--format', 'json'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ A: '1', B: 'two words' });
  });

  it('comes after the sources file\'s layers, in the order given with --dotenv-optional', async () => {
    const { dir } = project({
      'secretrun.yaml': 'sources:\n  - type: json\n    path: base.json\n',
      'base.json': JSON.stringify({ A: 'file', B: 'file', C: 'file' }),
      'one.env': 'B=one\nC=one\n',
      'two.env': 'C=two\n',
    });
    const r = await runCli(['export', '-f', 'json', '--dotenv', 'one.env', '--dotenv-optional', 'missing.env', '--dotenv-optional', 'two.env'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ A: 'file', B: 'one', C: 'two' });
    const ls = await runCli(['ls', '--json', '--dotenv', 'one.env', '--dotenv-optional', 'two.env'], { cwd: dir });
    expect(lsEntries(ls.stdout).find((e) => e.key === 'C')).toMatchObject({ layer: 'dotenv two.env', shadowed: ['json base.json', 'dotenv one.env'] });
  });

  it('resolves relative paths from the current directory, not the sources file\'s', async () => {
    const { dir, write } = project({ 'secretrun.yaml': 'sources: []\n', '.env': 'WHERE=top\n' });
    write('app/.env', 'WHERE=app\n');
    const r = await runCli(['--dotenv', '.env', ...printEnv('WHERE')], { cwd: join(dir, 'app') });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ WHERE: 'app' });
  });

  it('a missing file is an error naming it: 125 for run, 1 for export; --dotenv-optional skips it', async () => {
    const { dir } = project({});
    const run = await runCli(['--dotenv', 'nope.env', '--', 'true'], { cwd: dir });
    expect(run.code).toBe(125);
    // A command-line path resolves from the current directory: the message says where it looked.
    expect(run.stderr).toBe(`secretrun: layer "dotenv nope.env": nope.env: file not found (looked for ${join(realpathSync(dir), 'nope.env')})\n`);
    const exp = await runCli(['export', '--dotenv', 'nope.env'], { cwd: dir });
    expect(exp.code).toBe(1);
    expect(exp.stderr).toContain('nope.env: file not found');
    const optional = await runCli(['--dotenv-optional', 'nope.env', ...printEnv('SECRETRUN_ENV')], { cwd: dir });
    expect(optional.stderr).toBe('');
    expect(optional.code).toBe(0);
    expect(JSON.parse(optional.stdout)).toEqual({ SECRETRUN_ENV: 'default' });
  });

  it('without a sources file there is only the implicit "default" environment, and no require', async () => {
    const { dir } = project({ '.env': 'A=1\n' });
    const r = await runCli(['-e', 'prod', '--dotenv', '.env', '--', 'true'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('secretrun: unknown environment "prod" given by -e: there is no sources file (only the implicit "default")\n');
    const ok = await runCli(['-e', 'default', '--dotenv', '.env', 'get', 'A'], { cwd: dir });
    expect(ok.stdout).toBe('1');
  });

  it('without --dotenv, a missing sources file still says how to start', async () => {
    const { dir } = project({});
    const r = await runCli(['--', 'true'], { cwd: dir });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^secretrun: no secretrun\.yaml in .* \(create one with "secretrun init", or pass -c FILE, --dotenv PATH or --dotenv-optional \.env\)\n$/);
  });

  it('check, ls, get and diff take it too', async () => {
    const { dir } = project({ '.env': 'A=1\nB=2\n' });
    const check = await runCli(['check', '--resolve', '--dotenv', '.env'], { cwd: dir });
    expect(check.code).toBe(0);
    // The second layer is the `env` layer that lets the shell win (none of its keys is set here).
    expect(check.stderr).toBe('secretrun: environment "default": 2 layers loaded, 2 keys\nsecretrun: OK: no sources file (0 layers + 1 from --dotenv, 1 environment: default)\n');
    expect((await runCli(['get', 'B', '--dotenv', '.env'], { cwd: dir })).stdout).toBe('2');
    expect((await runCli(['ls', '--dotenv', '.env'], { cwd: dir })).stdout).toContain('dotenv .env');
    const diff = await runCli(['diff', 'default', 'default', '--dotenv', '.env'], { cwd: dir });
    expect(diff.code).toBe(0);
    expect(diff.stdout).toBe('default and default are identical (2 keys)\n');
  });

  it('--env-file (what Node, Docker and Bun call it) is met with a suggestion of --dotenv', async () => {
    // With an existing file: Node scans a script's arguments for --env-file too and exits 9 on a missing one,
    // before secretrun runs, which is why secretrun's own option has another name.
    const { dir } = project({ '.env': 'A=1\n' });
    const r = await runCli(['--env-file', '.env', '--', 'true'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('secretrun: unknown option "--env-file" (did you mean "--dotenv"?)\n');
  });
});

describe('--dotenv without a sources file: the shell wins, as with dotenv run (0.2.0)', () => {
  const files = { '.env': 'A=from-file\nB=from-file\nC=from-file\n', 'local.env': 'C=from-local\n' };

  it('a variable already set in the environment wins over the files, even set to the empty string', async () => {
    const { dir } = project(files);
    const r = await runCli(['--dotenv', '.env', '--dotenv', 'local.env', ...printEnv('A', 'B', 'C', 'UNRELATED')], { cwd: dir, env: { A: 'from-shell', B: '', UNRELATED: 'kept' } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ A: 'from-shell', B: '', C: 'from-local', UNRELATED: 'kept' });
  });

  it('--override lets the files win, as 0.1 did; before the command or after it', async () => {
    const { dir } = project(files);
    const env = { A: 'from-shell', B: '' };
    const r = await runCli(['--override', '--dotenv', '.env', ...printEnv('A', 'B')], { cwd: dir, env });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ A: 'from-file', B: 'from-file' });
    const exported = await runCli(['export', '-f', 'json', '--dotenv', '.env', '--override'], { cwd: dir, env });
    expect(JSON.parse(exported.stdout)).toEqual({ A: 'from-file', B: 'from-file', C: 'from-file' });
    const ls = await runCli(['ls', '--json', '--dotenv', '.env', '--override'], { cwd: dir, env });
    expect(lsEntries(ls.stdout).find((e) => e.key === 'A')).toMatchObject({ layer: 'dotenv .env', shadowed: [] });
  });

  it('ls shows the env layer shadowing the file; export and get agree with run; only the files\' keys appear', async () => {
    const { dir } = project(files);
    const env = { A: 'from-shell', B: '', UNRELATED: 'not-a-file-key' };
    const ls = await runCli(['ls', '--json', '--dotenv', '.env'], { cwd: dir, env });
    expect(ls.code).toBe(0);
    expect(lsEntries(ls.stdout).map((e) => [e.key, e.layer, e.shadowed])).toEqual([
      ['A', 'env', ['dotenv .env']],
      ['B', 'env', ['dotenv .env']],
      ['C', 'dotenv .env', []],
    ]);
    const exported = await runCli(['export', '-f', 'json', '--dotenv', '.env'], { cwd: dir, env });
    expect(JSON.parse(exported.stdout)).toEqual({ A: 'from-shell', B: '', C: 'from-file' });
    const got = await runCli(['get', 'A', '--dotenv', '.env'], { cwd: dir, env });
    expect(got.stdout).toBe('from-shell');
    const empty = await runCli(['get', 'B', '--dotenv', '.env'], { cwd: dir, env });
    expect([empty.code, empty.stdout]).toEqual([0, '']);
  });

  it('a risky name the file sets but the environment already has is not reported: the child gets the environment\'s', async () => {
    const { dir } = project({ '.env': `PATH=/nowhere\nPYTHONPATH=/from-file\n` });
    const r = await runCli(['--dotenv', '.env', ...printEnv('PYTHONPATH')], { cwd: dir });
    // PATH is set in the environment (the shell's wins, so the program is found); PYTHONPATH is not.
    expect(r.stderr).toBe('secretrun: warning: layer "dotenv .env" sets PYTHONPATH, which changes which programs or code the child runs; pass --strict to refuse this\n');
    expect(JSON.parse(r.stdout)).toEqual({ PYTHONPATH: '/from-file' });
  });

  it('--override is a usage error (2) with a sources file, or without --dotenv, saying why', async () => {
    const { dir } = project({ '.env': 'A=1\n' });
    const none = await runCli(['--override', '--', 'true'], { cwd: dir });
    expect(none.code).toBe(2);
    expect(none.stderr).toBe('secretrun: --override needs --dotenv and no sources file (it lets the dotenv files win over the process environment)\n');
    for (const args of [['--override', '--dotenv', '.env', '--', 'true'], ['export', '--override', '--dotenv', '.env'], ['check', '--override', '--dotenv', '.env'], ['ls', '--override', '--dotenv', '.env']]) {
      const { dir: withFile } = project({ 'secretrun.yaml': 'sources:\n  - type: env\n', '.env': 'A=1\n' });
      const r = await runCli(args, { cwd: withFile });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toBe(
        'secretrun: --override only applies without a sources file, and secretrun.yaml is used: there, --dotenv layers already come after all of its layers (its env layer included)\n',
      );
    }
  });
});

describe('help and version like other CLIs', () => {
  it('-v, -V, --version and secretrun version print the version', async () => {
    for (const spelling of [['-v'], ['-V'], ['--version'], ['version']]) {
      const r = await runCli(spelling);
      expect(r.code, spelling[0]).toBe(0);
      expect(r.stdout, spelling[0]).toBe(`${version}\n`);
      expect(r.stderr, spelling[0]).toBe('');
    }
  });

  it('bare secretrun prints the help on stderr and exits 2', async () => {
    const r = await runCli([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^Usage: secretrun \[options\] -- <command> \[args\.\.\.\]/);
    expect(r.stderr).toContain('Get started:');
  });

  it('the top-level help shows run\'s options and the three steps to a first run', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    const runOptions = r.stdout.slice(r.stdout.indexOf('Run options'));
    for (const option of ['--dotenv <path>', '--dotenv-optional <path>', '--pristine', '--watch', '--mask', '-e, --env <name>']) expect(runOptions).toContain(option);
    expect(r.stdout).toMatch(/1\. secretrun init .*\n {2}2\. put your values in \.env .*\n {2}3\. secretrun -- node server\.js/);
  });
});

describe('did-you-mean, in one style', () => {
  it('an option that begins with a known one, or is a small edit away', async () => {
    const { dir } = project({ '.env': 'A=1\n' });
    const cases: [string[], string][] = [
      [['--enviroment', 'prod', '--', 'true'], 'unknown option "--enviroment" (did you mean "--env"?)'],
      [['export', '--enviroment=prod'], 'unknown option "--enviroment" (did you mean "--env"?)'],
      [['ls', '--revael'], 'unknown option "--revael" (did you mean "--reveal"?)'],
      [['export', '--dotenv-optionl', '.env'], 'unknown option "--dotenv-optionl" (did you mean "--dotenv-optional"?)'],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args, { cwd: dir });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toBe(`secretrun: ${message}\n`);
    }
  });

  it('an environment name', async () => {
    const { dir } = project({ 'secretrun.yaml': 'environments:\n  dev: {}\n  prod: {}\n' });
    const r = await runCli(['-e', 'prdo', '--', 'true'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('secretrun: unknown environment "prdo" given by -e (did you mean "prod"?) (defined: dev, prod)\n');
  });
});

describe('an unknown environment: whose mistake it is decides the exit code', () => {
  const FILE = { 'secretrun.yaml': 'environments:\n  dev: {}\n  prod: {}\n' };
  const commands = [['--', 'true'], ['ls'], ['export'], ['get', 'A'], ['check'], ['check', '--resolve']];

  it.each(commands)('from -e or SECRETRUN_ENV: a usage error (2) naming where the name came from: %s', async (...args) => {
    const { dir } = project(FILE);
    const byFlag = await runCli(withEnvFlag(args, 'prdo'), { cwd: dir });
    expect([byFlag.code, byFlag.stderr]).toEqual([2, 'secretrun: unknown environment "prdo" given by -e (did you mean "prod"?) (defined: dev, prod)\n']);
    const byVariable = await runCli(args, { cwd: dir, env: { SECRETRUN_ENV: 'qa' } });
    expect([byVariable.code, byVariable.stderr]).toEqual([2, 'secretrun: unknown environment "qa" given by SECRETRUN_ENV (defined: dev, prod)\n']);
  });

  it('from default_environment: a located problem of the sources file (1, and 125 for run)', async () => {
    const { dir } = project({ 'secretrun.yaml': 'default_environment: prdo\nenvironments:\n  dev: {}\n  prod: {}\n' });
    const message = 'secretrun: secretrun.yaml:1:22: default_environment: "prdo" is not defined (defined: dev, prod)\n';
    const run = await runCli(['--', 'true'], { cwd: dir });
    expect([run.code, run.stderr]).toEqual([125, message]);
    const ls = await runCli(['ls'], { cwd: dir });
    expect([ls.code, ls.stderr]).toEqual([1, message]);
    // A file without environments: the name is still the file's own mistake, located there.
    const { dir: flat } = project({ 'secretrun.yaml': 'default_environment: prod\nsources: []\n' });
    const exported = await runCli(['export'], { cwd: flat });
    expect([exported.code, exported.stderr]).toEqual([1, 'secretrun: secretrun.yaml:1:22: default_environment: "prod": secretrun.yaml defines no environments (only the implicit "default")\n']);
  });
});

/** `-e NAME` placed before `--` (run) or after the command's words. */
function withEnvFlag(args: string[], name: string): string[] {
  const dash = args.indexOf('--');
  return dash >= 0 ? [...args.slice(0, dash), '-e', name, ...args.slice(dash)] : [...args, '-e', name];
}

describe('consistent commands', () => {
  it('check reports the implicit default environment', async () => {
    const { dir } = project({ 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n    optional: true\n' });
    const r = await runCli(['check'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('secretrun: secretrun.yaml: OK (1 layer, 1 environment: default)\n');
  });

  it('diff dev dev says the two are identical', async () => {
    const { dir } = project({ 'secretrun.yaml': 'environments:\n  dev:\n    sources: [{ type: dotenv, path: .env }]\n', '.env': 'A=1\n' });
    const r = await runCli(['diff', 'dev', 'dev'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('dev and dev are identical (1 key)\n');
  });

  it('diff --only given before the environments names the option, not a missing environment', async () => {
    const { dir } = project({ 'secretrun.yaml': 'environments:\n  dev: {}\n  prod: {}\n' });
    const r = await runCli(['diff', '--only', 'DB_*', 'dev', 'prod'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('secretrun: diff: --only takes every word after it (DB_* dev prod), which left no <envA>; put the arguments first: secretrun diff <envA> <envB> --only ...\n');
  });

  it('vars accept numbers and booleans as their text', async () => {
    const { dir } = project({
      'secretrun.yaml': 'environments:\n  dev:\n    vars: { PORT: 8080, DEBUG: true, RATIO: 0.5 }\n    sources:\n      - type: json\n        path: ${PORT}-${DEBUG}-${RATIO}.json\n',
      '8080-true-0.5.json': JSON.stringify({ FOUND: 'yes' }),
    });
    const check = await runCli(['check', '-e', 'dev'], { cwd: dir });
    expect(check.stderr).toBe('secretrun: secretrun.yaml: OK (1 layer, 1 environment: dev)\n');
    const r = await runCli(['get', 'FOUND', '-e', 'dev'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('yes');
  });
});

describe('an HTML page from an http layer is reported, not parsed', () => {
  let server: FakeServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });
  const page = '<html><body><h1>502 Bad Gateway</h1><p>token=page-secret-123</p></body></html>';

  it('an error status says "HTTP 502, text/html"', async () => {
    server = await startServer(() => ({ status: 502, headers: { 'content-type': 'text/html; charset=utf-8' }, body: page }));
    const { dir } = project({ 'secretrun.yaml': `sources:\n  - type: http\n    url: ${server.origin}/config\n    retries: 0\n` });
    const r = await runCli(['--', 'true'], { cwd: dir });
    expect(r.code).toBe(125);
    expect(r.stderr).toBe(`secretrun: layer "http ${server.origin}/config" (secretrun.yaml:2:5): HTTP 502, text/html from ${server.origin}\n`);
  });

  it('a 200 with an HTML page (a proxy, a login portal) is refused without its text', async () => {
    server = await startServer(() => ({ status: 200, headers: { 'content-type': 'text/html' }, body: page }));
    const { dir } = project({ 'secretrun.yaml': `sources:\n  - type: http\n    url: ${server.origin}/config\n` });
    const r = await runCli(['export'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `secretrun: layer "http ${server.origin}/config" (secretrun.yaml:2:5): HTTP 200, text/html from ${server.origin}: an HTML page, not JSON, dotenv or YAML (set \`format\` to read it anyway)\n`,
    );
    expect(r.stdout).toBe('');
  });
});

describe('the library takes dotenv files too', () => {
  it('loadSecrets({ dotenv }) needs no sources file: the implicit default environment, no file', async () => {
    const { loadSecrets } = await import('../src/index.js');
    const { dir } = project({ '.env': 'A=1\nB=two\n', 'local.env': 'B=local\n' });
    const secrets = await loadSecrets({ cwd: dir, processEnv: {}, dotenv: ['.env', { path: 'missing.env', optional: true }, 'local.env'] });
    expect(secrets.toJSON({ reveal: true })).toEqual({ A: '1', B: 'local' });
    expect(secrets.environment).toBe('default');
    expect(secrets.file).toBe('');
    expect(secrets.source('B')).toEqual({ layer: 'dotenv local.env', shadowed: ['dotenv .env'] });
  });

  it('loadSecrets({ dotenv }): processEnv wins, even empty; override: true lets the files win; misuse is a UsageError', async () => {
    const { loadSecrets, UsageError } = await import('../src/index.js');
    const { dir } = project({ '.env': 'A=file\nB=file\nC=file\n' });
    const processEnv = { A: 'shell', B: '', OTHER: 'x' };
    const shellWins = await loadSecrets({ cwd: dir, processEnv, dotenv: ['.env'] });
    expect(shellWins.toJSON({ reveal: true })).toEqual({ A: 'shell', B: '', C: 'file' });
    expect(shellWins.source('A')).toEqual({ layer: 'env', shadowed: ['dotenv .env'] });
    const filesWin = await loadSecrets({ cwd: dir, processEnv, dotenv: ['.env'], override: true });
    expect(filesWin.toJSON({ reveal: true })).toEqual({ A: 'file', B: 'file', C: 'file' });
    const noDotenv = await loadSecrets({ cwd: dir, processEnv, override: true }).catch((e: unknown) => e);
    expect(noDotenv).toBeInstanceOf(UsageError);
    expect((noDotenv as Error).message).toBe('the "override" option needs the "dotenv" option and no sources file (it lets the dotenv files win over the process environment)');
  });

  it('without dotenv files or a sources file, the error names the library option, not -c', async () => {
    const { loadSecrets, ConfigError } = await import('../src/index.js');
    const { dir } = project({});
    const err = await loadSecrets({ cwd: dir, processEnv: {} }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(`no secretrun.yaml in ${dir} or any parent directory (create one with "secretrun init", or pass the "config" option)`);
  });
});
