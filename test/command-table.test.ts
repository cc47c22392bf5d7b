/**
 * One command table (src/cli/command-table.ts) feeds commander, the fast argv path and completion. These tests
 * read the table and check every row against the built CLI's `--help` and its bash, zsh and fish scripts, so a
 * command or an option can't be added to one and missed by another.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { COMMANDS, PROGRAM_OPTIONS, failureExit, parseFlags, type CommandDef, type OptionDef } from '../src/cli/command-table.js';
import { completionScript, completionSpec } from '../src/cli/commands/completion.js';
import { BIN, runCli, runCommand, useTmpProjects } from './helpers/cli.js';

const SHELLS = ['bash', 'zsh', 'fish'] as const;
const scripts: Record<string, string> = {};
const help: Record<string, string> = {};

beforeAll(async () => {
  const runs = [
    ...SHELLS.map(async (shell) => {
      const r = await runCli(['completion', shell]);
      expect(r).toMatchObject({ code: 0, stderr: '' });
      scripts[shell] = r.stdout;
    }),
    ...['', ...COMMANDS.map((c) => c.name)].map(async (name) => {
      const r = await runCli(name ? [name, '--help'] : ['--help']);
      expect(r).toMatchObject({ code: 0, stderr: '' });
      help[name] = r.stdout;
    }),
  ];
  await Promise.all(runs);
}, 60_000);

const visible = (row: CommandDef) => row.options.filter((o) => !o.hidden);
const spellingsOf = (o: OptionDef) => {
  const f = parseFlags(o.flags);
  return [f.short, f.long].filter((s): s is string => !!s);
};

/** The part of each script that completes one command's options. */
function section(shell: (typeof SHELLS)[number], name: string): string {
  const text = scripts[shell];
  if (shell === 'bash') return text.split('\n').find((l) => l.startsWith(`      ${name}) words=`)) ?? '';
  if (shell === 'zsh') {
    const start = text.indexOf(`        ${name})\n          _arguments`);
    return start < 0 ? '' : text.slice(start, text.indexOf(';;', start));
  }
  return text
    .split('\n')
    .filter((l) => l.includes(`__fish_seen_subcommand_from ${name};`))
    .join('\n');
}

/** How each shell's script spells a flag inside a command's section. */
function mentions(shell: (typeof SHELLS)[number], text: string, flag: string): boolean {
  if (shell === 'fish') return flag.startsWith('--') ? text.includes(` -l ${flag.slice(2)} `) : text.includes(` -s ${flag.slice(1)} `);
  return new RegExp(`(^|[\\s{,'"])${flag.replace(/-/g, '\\-')}([\\s=,}'"]|$)`).test(text);
}

describe('every command and option of the table', () => {
  it('the top-level help names every command and the program options', () => {
    for (const row of COMMANDS) expect(help[''], row.name).toMatch(new RegExp(`^  ${row.name}\\b`, 'm'));
    for (const o of PROGRAM_OPTIONS) for (const flag of spellingsOf(o)) expect(help[''], flag).toContain(flag);
  });

  it.each(COMMANDS.map((c) => [c.name, c] as const))('%s --help shows each of its arguments and visible options, and no hidden one', (name, row) => {
    const text = help[name];
    expect(text).toContain(`Usage: secretrun ${name}`);
    for (const a of row.arguments) expect(text, a.name).toContain(a.name.replace(/\.\.\./, ''));
    for (const o of visible(row)) expect(text, o.flags).toContain(o.flags);
    for (const o of row.options.filter((x) => x.hidden)) expect(text, o.flags).not.toContain(parseFlags(o.flags).long!);
  });

  for (const shell of SHELLS) {
    it(`${shell}: every command is offered, with each of its visible options and none of its hidden ones`, () => {
      for (const row of COMMANDS) {
        const part = section(shell, row.name);
        expect(part, `${shell} ${row.name}`).not.toBe('');
        for (const o of visible(row)) for (const flag of spellingsOf(o)) expect(mentions(shell, part, flag), `${shell} ${row.name} ${flag}`).toBe(true);
        for (const o of row.options.filter((x) => x.hidden)) expect(mentions(shell, part, parseFlags(o.flags).long!), `${shell} ${row.name} hidden ${o.flags}`).toBe(false);
      }
    });
  }

  it('each flag is written the way commander reads it', () => {
    for (const row of COMMANDS) for (const o of row.options) expect(() => parseFlags(o.flags), `${row.name} ${o.flags}`).not.toThrow();
    expect(parseFlags('--no-exec')).toMatchObject({ key: 'exec', negated: true, value: 'none' });
    expect(parseFlags('--on-change <action>')).toMatchObject({ key: 'onChange', value: 'required', valueName: 'action' });
    expect(parseFlags('--only <keys...>')).toMatchObject({ key: 'only', variadic: true });
    expect(parseFlags('--watch [seconds]')).toMatchObject({ key: 'watch', value: 'optional' });
    expect(parseFlags('-c, --config <file>')).toEqual({ short: '-c', long: '--config', key: 'config', negated: false, value: 'required', variadic: false, valueName: 'file' });
    expect(parseFlags('-f, <format>')).toMatchObject({ short: '-f', long: undefined, key: 'f', valueName: 'format' });
    expect(parseFlags('--restart-signal-2 <signal>')).toMatchObject({ key: 'restartSignal2' });
    for (const bad of ['', '-c', '-c,<file>', '--config<file>', '--config <file', '--config <>', '--config <file..>', '--1x', '-1, --x', '--x <a> y']) {
      expect(() => parseFlags(bad), JSON.stringify(bad)).toThrow(/cannot read the flags/);
    }
  });

  it('the failure exit codes come from the table: run 125, diff 2, the others 1', () => {
    expect(Object.fromEntries(COMMANDS.map((c) => [c.name, failureExit(c.name)]))).toEqual({ run: 125, export: 1, diff: 2, ls: 1, get: 1, init: 1, check: 1, completion: 1, version: 1 });
  });
});

describe('adding an option or a command is one table entry', () => {
  it('a new row and a new option reach every completion script', () => {
    const extra: CommandDef = {
      name: 'rotate',
      description: 'a throwaway command',
      arguments: [{ name: '<envName>', description: 'which environment' }],
      options: [{ flags: '--dry-run', description: 'show what would change' }, { flags: '--dotenv <file>', description: 'a dotenv layer', repeatable: true }],
      failureExit: 1,
      examples: [],
      action: async () => 0,
    };
    const spec = completionSpec([...COMMANDS, extra], PROGRAM_OPTIONS);
    const rotate = spec.commands.find((c) => c.name === 'rotate')!;
    expect(rotate.positionals).toEqual([{ kind: 'environments' }]);
    expect(rotate.options.map((o) => o.long)).toEqual(['--dry-run', '--dotenv', '--help']);
    for (const shell of SHELLS) {
      const text = completionScript(shell, spec);
      expect(text).toContain('rotate');
      expect(text).toContain('dry-run');
      expect(text).toContain('dotenv');
    }
  });
});

describe('the fast path reads the table without commander', () => {
  const project = useTmpProjects(afterEach);
  /** Preloaded into the CLI's process: reports each module the bundle requires from dist/vendor/. */
  const TRACE = "const M=require('module');const load=M._load;M._load=function(r,...a){if(r.includes('vendor/'))process.stderr.write('loaded '+r+'\\n');return load.call(this,r,...a)}";

  it('secretrun -- cmd, export and get KEY never load commander; ls does', async () => {
    const p = project({ 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n', '.env': 'A=1\n', 'trace.cjs': TRACE });
    const cli = (args: string[]) => runCommand(process.execPath, ['-r', join(p.dir, 'trace.cjs'), BIN, ...args], { cwd: p.dir });
    expect(await cli(['--', 'true'])).toMatchObject({ code: 0, stderr: '' });
    expect(await cli(['-e', 'default', 'run', '--pristine', '--', 'true'])).toMatchObject({ code: 0, stderr: '' });
    expect(await cli(['export', '-f', 'json'])).toMatchObject({ code: 0, stderr: '' });
    expect(await cli(['get', 'A'])).toMatchObject({ code: 0, stdout: '1', stderr: '' });
    expect((await cli(['ls'])).stderr).toContain('loaded ./vendor/commander.cjs');
  });
});
