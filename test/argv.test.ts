import { describe, expect, it } from 'vitest';
import { choiceError, excessArgumentsError, foreignOption, normaliseArgv, plainArgs, suggestOption } from '../src/cli/argv.js';
import { COMMANDS, commandNamed, parseFlags } from '../src/cli/command-table.js';
import { UsageError } from '../src/core/errors.js';

/** The fast path's answer as plain data: the command's name, its arguments and options. */
function fast(argv: string[]) {
  const plain = plainArgs(argv);
  return plain && { name: plain.command.name, args: plain.args, opts: plain.opts };
}

describe('plainArgs: the start-up fast path for run', () => {
  it('takes the plain run forms', () => {
    expect(fast(['--', 'node', 'server.js'])).toEqual({ name: 'run', args: [['node', 'server.js']], opts: { exec: true } });
    expect(fast(['run', '-e', 'prod', '-c', 'x.yaml', '-q', '--strict', '--pristine', '--', 'cmd', '-e', 'x'])).toEqual({
      name: 'run',
      args: [['cmd', '-e', 'x']],
      opts: { env: 'prod', config: 'x.yaml', quiet: true, strict: true, pristine: true, exec: true },
    });
    expect(fast(['--env=dev', '--config=a.yaml', '--', 'true'])).toEqual({ name: 'run', args: [['true']], opts: { env: 'dev', config: 'a.yaml', exec: true } });
    // Options with a required value take it from the table too, whatever the command.
    expect(fast(['--grace', '5', '--', 'true'])?.opts).toEqual({ grace: '5', exec: true });
  });

  it('reads --no-exec as commander does (exec: false), only for run', () => {
    expect(fast(['--no-exec', '-q', '--', 'true'])).toEqual({ name: 'run', args: [['true']], opts: { exec: false, quiet: true } });
    expect(fast(['--no-exec=1', '--', 'true'])).toBeUndefined();
    expect(fast(['export', '--no-exec'])).toBeUndefined();
  });

  it('leaves everything else to commander', () => {
    for (const argv of [[], ['--'], ['export', '--'], ['--watch', '--', 'x'], ['--mask', '--', 'x'], ['-e'], ['-e', '--', 'x'], ['--help'], ['run', 'node'], ['-x', '--', 'y'], ['--pristine=1', '--', 'x']]) {
      expect(fast(argv), argv.join(' ')).toBeUndefined();
    }
  });
});

describe('plainArgs: the export and get fast paths', () => {
  it('takes export with a known format and common options; the default format from the table', () => {
    expect(fast(['export'])).toEqual({ name: 'export', args: [], opts: { format: 'dotenv' } });
    expect(fast(['export', '-f', 'json', '-e', 'prod', '-q'])?.opts).toEqual({ format: 'json', env: 'prod', quiet: true });
    expect(fast(['export', '--format=shell', '--config=x.yaml'])?.opts).toEqual({ format: 'shell', config: 'x.yaml' });
    // Options before the command belong to it.
    expect(fast(['-e', 'prod', 'export'])?.opts).toEqual({ format: 'dotenv', env: 'prod' });
  });

  it('takes get with exactly its one argument', () => {
    expect(fast(['get', 'DATABASE_URL', '-e', 'prod'])).toEqual({ name: 'get', args: ['DATABASE_URL'], opts: { env: 'prod' } });
    for (const argv of [['get'], ['get', 'A', 'B'], ['get', '--', 'A']]) expect(fast(argv), argv.join(' ')).toBeUndefined();
  });

  it('leaves everything else to commander (and its messages)', () => {
    for (const argv of [['export', '--format', 'xml'], ['export', '--help'], ['export', '--pristine'], ['export', '--', 'x'], ['export', 'x'], ['ls'], ['export', '-f'], ['completion', 'bash']]) {
      expect(fast(argv), argv.join(' ')).toBeUndefined();
    }
  });
});

describe('--dotenv on the fast path', () => {
  it('keeps --dotenv and --dotenv-optional in one list, in the order given, before or after the command', () => {
    const plain = plainArgs(['--dotenv', '.env', '--dotenv-optional=.env.local', '--dotenv', 'b.env', '--', 'node', 'server.js']);
    expect(plain?.command.name).toBe('run');
    expect(plain?.opts.dotenv).toEqual([
      { path: '.env', optional: false },
      { path: '.env.local', optional: true },
      { path: 'b.env', optional: false },
    ]);
    expect(plainArgs(['--dotenv', '.env', 'export', '-f', 'json'])?.opts).toMatchObject({ format: 'json', dotenv: [{ path: '.env', optional: false }] });
    expect(plainArgs(['get', 'KEY', '--dotenv-optional', 'x.env'])?.opts.dotenv).toEqual([{ path: 'x.env', optional: true }]);
  });
});

describe('suggestOption', () => {
  const known = ['-c', '--config', '-e', '--env', '--dotenv', '--dotenv-optional', '-f', '--format', '--reveal'];
  it('maps habits, then prefixes, then small edits', () => {
    expect(suggestOption('--env-file', known)).toBe('--dotenv');
    expect(suggestOption('--env-file-if-exists', known)).toBe('--dotenv-optional');
    expect(suggestOption('--enviroment', known)).toBe('--env');
    expect(suggestOption('--dotenv-optionl', known)).toBe('--dotenv-optional');
    expect(suggestOption('--dotenvfile', known)).toBe('--dotenv');
    expect(suggestOption('--fromat', known)).toBe('--format');
    expect(suggestOption('--revael', known)).toBe('--reveal');
    expect(suggestOption('--frobnicate', known)).toBeUndefined();
  });
});

describe('normaliseArgv', () => {
  it('makes run the default command, only with --', () => {
    expect(normaliseArgv(['--', 'x'])).toEqual(['run', '--', 'x']);
    expect(normaliseArgv(['-e', 'prod', '--', 'x'])).toEqual(['run', '-e', 'prod', '--', 'x']);
    expect(normaliseArgv(['--version'])).toEqual(['--version']);
  });

  it('moves common options given before a command after it', () => {
    expect(normaliseArgv(['-q', '-e', 'prod', 'export', '--format', 'json'])).toEqual(['export', '-q', '-e', 'prod', '--format', 'json']);
  });

  it("knows every command's options by each spelling before a command, and no word a spelling merely contains", () => {
    for (const def of COMMANDS.flatMap((c) => c.options.filter((o) => !o.hidden))) {
      const flags = parseFlags(def.flags);
      for (const word of [flags.short, flags.long].filter((w): w is string => w !== undefined)) {
        const value = flags.value === 'required' ? ['x'] : [];
        expect(normaliseArgv([word, ...value, 'ls'])).toEqual(['ls', word, ...value]);
        expect(normaliseArgv([word.slice(0, -1), 'ls'])).toEqual([word.slice(0, -1), 'ls']);
      }
    }
    expect(normaliseArgv(['--no-exec', '--', 'ls'])).toEqual(['run', '--no-exec', '--', 'ls']);
  });

  it('refuses an unknown first word with a suggestion, and options with no command', () => {
    expect(() => normaliseArgv(['exprot'])).toThrow(new UsageError('unknown command "exprot" (did you mean "export"?); to run a program, put it after --: secretrun -- exprot ...'));
    expect(() => normaliseArgv(['-e', 'prod'])).toThrow(/missing command: secretrun -e prod -- <command>/);
  });
});

describe('usage errors in the house style', () => {
  it('an option missing its value never takes the -- (nor is left to commander), on any command', () => {
    expect(() => normaliseArgv(['--dotenv', '--', 'node', 'app.js'])).toThrow(new UsageError('--dotenv needs a value: --dotenv <path>'));
    expect(() => normaliseArgv(['run', '-e', '--', 'true'])).toThrow(new UsageError('-e needs a value: -e, --env <name>'));
    expect(() => normaliseArgv(['ls', '--config'])).toThrow(new UsageError('--config needs a value: -c, --config <file>'));
    expect(() => normaliseArgv(['export', '-f'])).toThrow(new UsageError('-f needs a value: -f, --format <format>'));
    // The fast path steps aside for it, so the same words come from normaliseArgv.
    expect(plainArgs(['--dotenv', '--', 'node'])).toBeUndefined();
    // After --, words are the child's.
    expect(normaliseArgv(['--', 'cmd', '--dotenv'])).toEqual(['run', '--', 'cmd', '--dotenv']);
    expect(normaliseArgv(['--dotenv=--', '--', 'cmd'])).toEqual(['run', '--dotenv=--', '--', 'cmd']);
  });

  it('a value outside the choices suggests the closest one', () => {
    expect(choiceError('--format', 'format', 'jsno', ['dotenv', 'json', 'yaml', 'shell']).message).toBe('--format: unknown format "jsno" (did you mean "json"?) (expected one of: dotenv, json, yaml, shell)');
    expect(choiceError('completion', 'shell', 'powershell', ['bash', 'zsh', 'fish']).message).toBe('completion: unknown shell "powershell" (expected one of: bash, zsh, fish)');
  });

  it('extra arguments: the word when it is name-like, -e NAME where the command takes it; never a pasted value', () => {
    expect(excessArgumentsError(commandNamed('ls')!, ['prod']).message).toBe('ls: unexpected argument "prod" (to choose an environment: -e prod); usage: secretrun ls [options]');
    expect(excessArgumentsError(commandNamed('diff')!, ['qa']).message).toBe('diff: unexpected argument "qa"; usage: secretrun diff <envA> <envB> [options]');
    expect(excessArgumentsError(commandNamed('get')!, ['postgres://u:p@h/db']).message).toBe('get: 1 unexpected argument; usage: secretrun get <key> [options]');
    expect(excessArgumentsError(commandNamed('init')!, ['a', 'b']).message).toBe('init: 2 unexpected arguments; usage: secretrun init [options]');
  });

  it("another command's option is named as not taken by this one (diff has no -e: its environments are its arguments)", () => {
    expect(foreignOption(commandNamed('diff')!, '-e')?.message).toBe('diff does not take -e; usage: secretrun diff <envA> <envB> [options]');
    expect(foreignOption(commandNamed('diff')!, '--nope')).toBeUndefined();
    expect(commandNamed('diff')!.options.map((o) => o.flags)).not.toContain('-e, --env <name>');
  });
});

describe('usage errors through the built CLI: exit 2, one line, commander path and fast path alike', () => {
  it.each([
    [['--dotenv', '--', 'node', 'app.js'], '--dotenv needs a value: --dotenv <path>'],
    [['-e', '--', 'true'], '-e needs a value: -e, --env <name>'],
    [['get', '--dotenv'], '--dotenv needs a value: --dotenv <path>'],
    [['export', '--format', 'jsno'], '--format: unknown format "jsno" (did you mean "json"?) (expected one of: dotenv, json, yaml, shell)'],
    [['export', '--format=yml'], '--format: unknown format "yml" (did you mean "yaml"?) (expected one of: dotenv, json, yaml, shell)'],
    [['completion', 'fihs'], 'completion: unknown shell "fihs" (did you mean "fish"?) (expected one of: bash, zsh, fish)'],
    [['ls', 'prod'], 'ls: unexpected argument "prod" (to choose an environment: -e prod); usage: secretrun ls [options]'],
    [['get', 'A', 'B'], 'get: unexpected argument "B"; usage: secretrun get <key> [options]'],
    [['diff', '-e', 'prod', 'dev', 'prod'], 'diff does not take -e; usage: secretrun diff <envA> <envB> [options]'],
  ])('%j', async (args, message) => {
    const { runCli } = await import('./helpers/cli.js');
    const r = await runCli(args as string[]);
    expect([r.code, r.stderr]).toEqual([2, `secretrun: ${message}\n`]);
  });

  it('diff --help no longer lists -e/--env', async () => {
    const { runCli } = await import('./helpers/cli.js');
    const r = await runCli(['diff', '--help']);
    expect(r.stdout).not.toMatch(/--env\b/);
    expect(r.stdout).toContain('--dotenv <path>');
  });
});

describe('help that teaches (built CLI)', () => {
  it('secretrun --help shows the three card examples; every command has examples; --version prints the version', async () => {
    const { runCli } = await import('./helpers/cli.js');
    const top = await runCli(['--help']);
    expect(top.code).toBe(0);
    for (const ex of ['secretrun -- node server.js', 'secretrun export --format dotenv', 'secretrun diff dev prod']) expect(top.stdout).toContain(ex);
    for (const cmd of ['run', 'export', 'diff', 'ls', 'get', 'init', 'check', 'completion']) {
      const r = await runCli([cmd, '--help']);
      expect(r.code, cmd).toBe(0);
      expect(r.stdout, cmd).toMatch(/Examples:\n {2}secretrun /);
    }
    const { version } = JSON.parse((await import('node:fs')).readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    expect((await runCli(['--version'])).stdout.trim()).toBe(version);
  });

  it('an unknown option suggests the closest one and exits 2', async () => {
    const { runCli } = await import('./helpers/cli.js');
    const r = await runCli(['export', '--fromat', 'json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('secretrun: unknown option "--fromat" (did you mean "--format"?)\n');
  });
});
