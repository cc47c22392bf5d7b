/**
 * `secretrun completion bash|zsh|fish`, end to end: the built CLI prints the script, a real shell loads it, and
 * completing a command line calls back the built CLI (through a `secretrun` on PATH) for environment names.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, CLI_NODE, ROOT, baseEnv, runCli, useTmpProjects } from './helpers/cli.js';

const project = useTmpProjects(afterEach);
const INSPECT = join(ROOT, 'fixtures/inspect');
const FORMATS = ['dotenv', 'json', 'yaml', 'shell'];
const COMMANDS = ['run', 'export', 'diff', 'ls', 'get', 'init', 'check', 'completion', 'version'];

function has(program: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${program}`]).status === 0;
}

/** A directory holding a `secretrun` that runs the built CLI: the scripts call `secretrun` by name. */
let shimDir: string;
const scripts: Record<string, string> = {};
beforeAll(async () => {
  shimDir = mkdtempSync(join(tmpdir(), 'secretrun-shim-'));
  const shim = join(shimDir, 'secretrun');
  writeFileSync(shim, `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`);
  chmodSync(shim, 0o755);
  for (const shell of ['bash', 'zsh', 'fish']) {
    const r = await runCli(['completion', shell]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    scripts[shell] = join(shimDir, `completion.${shell}`);
    writeFileSync(scripts[shell], r.stdout);
  }
});
afterAll(() => rmSync(shimDir, { recursive: true, force: true }));

const shellEnv = () => baseEnv({ PATH: `${shimDir}:${process.env.PATH}` });

/**
 * Complete a command line in bash the way readline does: load the script, set COMP_WORDS/COMP_CWORD (the last
 * word is the one under the cursor) and call the function `complete -F` registered for secretrun.
 */
function bashComplete(words: string[], cwd: string, env = shellEnv()): { candidates: string[]; stderr: string } {
  const program = [
    'source "$0"',
    'COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}',
    // The function registered for secretrun, as bash would find it.
    'fn=$(complete -p secretrun | sed -n "s/.*-F \\([^ ]*\\) .*/\\1/p")',
    '"$fn" secretrun "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"',
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join('\n');
  const r = spawnSync('bash', ['--norc', '--noprofile', '-c', program, scripts.bash, ...words], { cwd, env, encoding: 'utf8', timeout: 20_000 });
  expect(r.status).toBe(0);
  return { candidates: r.stdout.split('\n').filter(Boolean).sort(), stderr: r.stderr };
}

describe('bash', () => {
  it('the script passes bash -n', () => {
    const r = spawnSync('bash', ['-n', scripts.bash], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('secretrun diff <TAB> lists the environments of the nearest sources file, for both positions and only two', () => {
    expect(bashComplete(['secretrun', 'diff', ''], INSPECT).candidates).toEqual(['dev', 'prod', 'staging']);
    expect(bashComplete(['secretrun', 'diff', 'dev', ''], INSPECT).candidates).toEqual(['dev', 'prod', 'staging']);
    expect(bashComplete(['secretrun', 'diff', 's'], INSPECT).candidates).toEqual(['staging']);
    expect(bashComplete(['secretrun', 'diff', '--reveal', 'dev', 'p'], INSPECT).candidates).toEqual(['prod']);
    expect(bashComplete(['secretrun', 'diff', 'dev', 'prod', ''], INSPECT).candidates).toEqual([]);
  });

  it('finds the sources file from a subdirectory, or uses the one named with -c on the line', () => {
    const p = project({ 'secretrun.yaml': 'environments:\n  alpha: {}\n  beta: {}\n', 'sub/dir/.keep': '', 'elsewhere/other.yaml': 'environments:\n  gamma: {}\n' });
    expect(bashComplete(['secretrun', 'diff', ''], join(p.dir, 'sub/dir')).candidates).toEqual(['alpha', 'beta']);
    expect(bashComplete(['secretrun', 'diff', '-c', 'elsewhere/other.yaml', ''], p.dir).candidates).toEqual(['gamma']);
    expect(bashComplete(['secretrun', 'diff', '--config', '=', 'elsewhere/other.yaml', ''], p.dir).candidates).toEqual(['gamma']);
    // A file without environments has the implicit "default".
    const q = project({ 'secretrun.yaml': 'sources: []\n' });
    expect(bashComplete(['secretrun', 'ls', '-e', ''], q.dir).candidates).toEqual(['default']);
  });

  describe('with no secretrun on PATH (a --save-dev install, run with npx or ./node_modules/.bin)', () => {
    // PATH without the shim directory: only the system's own tools (bash, sed, sh).
    const noSecretrun = () => baseEnv({ PATH: '/usr/bin:/bin' });
    /** A stand-in binary that answers the environment question with names of its own, so the test sees who answered. */
    const standIn = (names: string[]) => `#!/bin/sh\n[ "$1 $2" = "completion --list-envs" ] && printf '%s\\n' ${names.join(' ')}\n`;

    it.skipIf(spawnSync('sh', ['-c', 'PATH=/usr/bin:/bin command -v secretrun']).status === 0)('asks the nearest node_modules/.bin/secretrun, from a subdirectory too', () => {
      const p = project({ 'secretrun.yaml': 'environments:\n  alpha: {}\n', 'node_modules/.bin/secretrun': standIn(['from-node-modules']), 'src/app/.keep': '' });
      chmodSync(join(p.dir, 'node_modules/.bin/secretrun'), 0o755);
      expect(bashComplete(['secretrun', 'diff', ''], join(p.dir, 'src/app'), noSecretrun()).candidates).toEqual(['from-node-modules']);
    });

    it.skipIf(spawnSync('sh', ['-c', 'PATH=/usr/bin:/bin command -v secretrun']).status === 0)('asks the binary being completed when it is typed as a path', () => {
      const p = project({ 'secretrun.yaml': 'environments:\n  alpha: {}\n', 'tools/secretrun': standIn(['from-the-path-typed']) });
      chmodSync(join(p.dir, 'tools/secretrun'), 0o755);
      expect(bashComplete(['./tools/secretrun', '-e', ''], p.dir, noSecretrun()).candidates).toEqual(['from-the-path-typed']);
    });

    it.skipIf(spawnSync('sh', ['-c', 'PATH=/usr/bin:/bin command -v secretrun']).status === 0)('else calls back the program that generated the script', () => {
      const p = project({ 'secretrun.yaml': 'environments:\n  alpha: {}\n  beta: {}\n' });
      expect(bashComplete(['secretrun', 'ls', '-e', ''], p.dir, noSecretrun()).candidates).toEqual(['alpha', 'beta']);
      // The generated script names that program, quoted for the shell.
      expect(execFileSync('bash', ['-c', 'source "$0"; printf "%s\\n" "${_secretrun_generated_by[@]}"', scripts.bash], { encoding: 'utf8' })).toBe(`${CLI_NODE}\n${BIN}\n`);
    });
  });

  it('-e <TAB> lists environments for every command that takes it', () => {
    for (const cmd of ['ls', 'export', 'get', 'check', 'run']) {
      expect(bashComplete(['secretrun', cmd, '-e', ''], INSPECT).candidates).toEqual(['dev', 'prod', 'staging']);
    }
    expect(bashComplete(['secretrun', '--env', 'p'], INSPECT).candidates).toEqual(['prod']);
  });

  it('export --format <TAB> lists the four formats, also after "=" and as -f', () => {
    expect(bashComplete(['secretrun', 'export', '--format', ''], INSPECT).candidates).toEqual([...FORMATS].sort());
    expect(bashComplete(['secretrun', 'export', '--format', '=', ''], INSPECT).candidates).toEqual([...FORMATS].sort());
    expect(bashComplete(['secretrun', 'export', '-f', 'j'], INSPECT).candidates).toEqual(['json']);
  });

  it('commands at the first position; options per command; shells for completion', () => {
    expect(bashComplete(['secretrun', ''], INSPECT).candidates).toEqual([...COMMANDS].sort());
    expect(bashComplete(['secretrun', 'e'], INSPECT).candidates).toEqual(['export']);
    const exportOptions = bashComplete(['secretrun', 'export', '--'], INSPECT).candidates;
    expect(exportOptions).toEqual(expect.arrayContaining(['--config', '--env', '--quiet', '--format', '--help']));
    expect(exportOptions).not.toContain('--reveal');
    expect(bashComplete(['secretrun', 'diff', '--re'], INSPECT).candidates).toEqual(['--reveal']);
    expect(bashComplete(['secretrun', 'run', '--pr'], INSPECT).candidates).toEqual(['--pristine']);
    // Top level: the program's own options and run's, since `secretrun -e prod -- cmd` works.
    expect(bashComplete(['secretrun', '--'], INSPECT).candidates).toEqual(expect.arrayContaining(['--version', '--help', '--env', '--config', '--pristine']));
    expect(bashComplete(['secretrun', 'completion', ''], INSPECT).candidates).toEqual(['bash', 'fish', 'zsh']);
    // The hidden callback is not offered.
    expect(bashComplete(['secretrun', 'completion', '--'], INSPECT).candidates).not.toContain('--list-envs');
  });

  it('after -- it completes the program to run, not secretrun words', () => {
    const after = bashComplete(['secretrun', '-e', 'dev', '--', 'nod'], INSPECT).candidates;
    expect(after).toContain('node');
    expect(after).not.toContain('dev');
    expect(bashComplete(['secretrun', 'run', '--', 'diff', ''], INSPECT).candidates).not.toContain('staging');
  });

  it('is quiet when there is no sources file or it is broken: no candidates, nothing on stderr', () => {
    const none = project({});
    expect(bashComplete(['secretrun', 'diff', ''], none.dir)).toEqual({ candidates: [], stderr: '' });
    const broken = project({ 'secretrun.yaml': 'environments: [unclosed\n' });
    expect(bashComplete(['secretrun', 'diff', ''], broken.dir)).toEqual({ candidates: [], stderr: '' });
    expect(bashComplete(['secretrun', 'diff', '-c', 'missing.yaml', ''], none.dir)).toEqual({ candidates: [], stderr: '' });
  });

  it('never lets an environment name from the file reach the shell as code', () => {
    const p = project({ 'secretrun.yaml': "environments:\n  '$(touch pwned)': {}\n  '`touch pwned2`': {}\n  'a b': {}\n  safe-one: {}\n" });
    expect(bashComplete(['secretrun', 'diff', ''], p.dir).candidates).toEqual(['safe-one']);
    expect(existsSync(join(p.dir, 'pwned'))).toBe(false);
    expect(existsSync(join(p.dir, 'pwned2'))).toBe(false);
  });
});

describe('the hidden callback and usage errors', () => {
  it('completion --list-envs prints one name per line in file order, exit 0', async () => {
    const r = await runCli(['completion', '--list-envs'], { cwd: INSPECT });
    expect(r).toMatchObject({ code: 0, stdout: 'dev\nprod\nstaging\n', stderr: '' });
    const p = project({ 'x/secretrun.yaml': 'environments:\n  zulu: {}\n  alpha: {}\n' });
    const viaConfig = await runCli(['completion', '--list-envs', '-c', 'x/secretrun.yaml'], { cwd: p.dir });
    expect(viaConfig).toMatchObject({ code: 0, stdout: 'zulu\nalpha\n', stderr: '' });
    const viaEnv = await runCli(['completion', '--list-envs'], { cwd: p.dir, env: { SECRETRUN_CONFIG: 'x/secretrun.yaml' } });
    expect(viaEnv.stdout).toBe('zulu\nalpha\n');
  });

  it('completion --list-envs prints nothing and succeeds when there is no file', async () => {
    const p = project({});
    expect(await runCli(['completion', '--list-envs'], { cwd: p.dir })).toMatchObject({ code: 0, stdout: '', stderr: '' });
  });

  it('an unknown or missing shell is a usage error (exit 2)', async () => {
    const unknown = await runCli(['completion', 'tcsh']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/tcsh/);
    expect(unknown.stderr).toMatch(/bash, zsh, fish|bash", "zsh", "fish/);
    expect(unknown.stdout).toBe('');
    const missing = await runCli(['completion']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe('secretrun: completion: which shell? (bash, zsh, fish)\n');
  });
});

describe('zsh', () => {
  it('the script names every command, the formats and the environment callback', () => {
    const text = execFileSync('cat', [scripts.zsh], { encoding: 'utf8' });
    expect(text.startsWith('#compdef secretrun\n')).toBe(true);
    for (const c of COMMANDS) expect(text).toContain(`'${c}:`);
    expect(text).toContain(`:value:(${FORMATS.join(' ')})`);
    expect(text).toContain('_secretrun_environments');
    expect(text).toContain('command secretrun completion --list-envs');
  });

  it.skipIf(!has('zsh'))('passes zsh -n, and loads under compinit without errors', () => {
    expect(spawnSync('zsh', ['-n', scripts.zsh], { encoding: 'utf8' })).toMatchObject({ status: 0, stderr: '' });
    const r = spawnSync('zsh', ['-f', '-c', `autoload -U compinit && compinit -u -D && source '${scripts.zsh}' && print -r -- $_comps[secretrun]`], { encoding: 'utf8', env: shellEnv() });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('_secretrun');
  });

  /**
   * Real zsh completion needs a line editor: start an interactive zsh on a pseudo-terminal (zsh/zpty), load the
   * script under compinit, make `compadd` print its candidates, type the line and TAB, then a key bound to a
   * widget that prints an end marker.
   */
  const ZSH_CAPTURE = `
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PS1=''; unsetopt zle_bracketed_paste 2>/dev/null"
zpty -w z "autoload -U compinit; compinit -u -D -d /dev/null"
zpty -w z "source \${(q)1}"
# The markers are split in the source so the echoed input never matches them.
zpty -w z 'compadd () { local -a _w; builtin compadd -O _w "$@"; print -rl -- "CAND""::"\${^_w}; }'
zpty -w z 'comp-done() { print -r -- "END""::"; }; zle -N comp-done; bindkey "^X" comp-done'
zpty -n -w z "$2"$'\t'$'\x18'
local line out
while zpty -r z line; do
  [[ $line == *'END::'* ]] && break
  [[ $line == *'CAND::'* ]] && out+=\${\${line##*CAND::}%%$'\r'*}$'\n'
done
print -rn -- $out
zpty -d z
`;

  function zshComplete(line: string, cwd: string): string[] {
    const capture = join(shimDir, 'capture.zsh');
    writeFileSync(capture, ZSH_CAPTURE);
    const r = spawnSync('zsh', ['-f', capture, scripts.zsh, line], { cwd, env: shellEnv(), encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(0);
    return [...new Set(r.stdout.split('\n').filter(Boolean))].sort();
  }

  it.skipIf(!has('zsh'))('completes environments, formats, commands and options in a real zsh line editor', () => {
    expect(zshComplete('secretrun diff ', INSPECT)).toEqual(['dev', 'prod', 'staging']);
    expect(zshComplete('secretrun diff dev ', INSPECT)).toEqual(['dev', 'prod', 'staging']);
    expect(zshComplete('secretrun export --format ', INSPECT)).toEqual([...FORMATS].sort());
    expect(zshComplete('secretrun export --format=j', INSPECT)).toEqual(['json']);
    expect(zshComplete('secretrun ', INSPECT)).toEqual([...COMMANDS].sort());
    expect(zshComplete('secretrun -e ', INSPECT)).toEqual(['dev', 'prod', 'staging']);
    expect(zshComplete('secretrun diff --re', INSPECT)).toEqual(['--reveal']);
    const p = project({ 'other.yaml': 'environments:\n  gamma: {}\n' });
    expect(zshComplete('secretrun diff -c other.yaml ', p.dir)).toEqual(['gamma']);
    expect(zshComplete('secretrun -e dev -- nod', INSPECT)).toContain('node');
  }, 120_000);
});

describe('fish', () => {
  /** fish's own `complete -C`: the candidates fish would offer for a command line (tab-separated descriptions dropped). */
  function fishComplete(line: string, cwd: string): string[] {
    const r = spawnSync('fish', ['--no-config', '-c', `source '${scripts.fish}'; complete -C '${line}'`], { cwd, env: shellEnv(), encoding: 'utf8', timeout: 20_000 });
    expect(r.stderr).toBe('');
    return r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t')[0]).sort();
  }

  it.skipIf(!has('fish'))('passes fish -n', () => {
    expect(spawnSync('fish', ['-n', scripts.fish], { encoding: 'utf8' })).toMatchObject({ status: 0, stderr: '' });
  });

  it.skipIf(!has('fish'))('completes commands, environments, formats and options', () => {
    expect(fishComplete('secretrun ', INSPECT)).toEqual([...COMMANDS].sort());
    expect(fishComplete('secretrun diff ', INSPECT)).toEqual(['dev', 'prod', 'staging']);
    expect(fishComplete('secretrun ls -e ', INSPECT)).toEqual(['dev', 'prod', 'staging']);
    expect(fishComplete('secretrun export --format ', INSPECT)).toEqual([...FORMATS].sort());
    expect(fishComplete('secretrun diff --re', INSPECT)).toEqual(['--reveal']);
    expect(fishComplete('secretrun completion ', INSPECT)).toEqual(['bash', 'fish', 'zsh']);
    const p = project({ 'other.yaml': 'environments:\n  gamma: {}\n' });
    expect(fishComplete('secretrun diff -c other.yaml ', p.dir)).toEqual(['gamma']);
    // After --: the program to run, completed by fish as its own command line.
    expect(fishComplete('secretrun -e dev -- nod', INSPECT)).toContain('node');
    expect(fishComplete('secretrun -e dev -- nod', INSPECT)).not.toContain('dev');
  });
});
