import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { NotFoundError, SourceError } from '../src/core/errors.js';
import execSource, { execOptions, lastLine, resolveProgram } from '../src/sources/exec.js';
import { readOptions } from '../src/core/validate.js';
import type { SourceContext } from '../src/sources/types.js';
import { PRINT_ENV, ROOT, runCli, useTmpProjects } from './helpers/cli.js';
import { loadError as sourceLoadError, makeContext as sourceContext } from './helpers/source-context.js';

const FIXTURES = join(ROOT, 'fixtures/exec');
const NODE = process.execPath;
const SECRET = 'sup3r-s3cret-stdout-value';

/** Commands run from fixtures/exec and find programs on the parent's PATH. */
const makeContext = (overrides: Partial<SourceContext> = {}) => sourceContext({ layer: 'exec test', configDir: FIXTURES, env: { PATH: process.env.PATH }, ...overrides });
const loadError = (options: Record<string, unknown>, context: SourceContext = makeContext()) => sourceLoadError(execSource, options, context);

const project = useTmpProjects(afterEach);

describe('exec source', () => {
  it('parses JSON output, runs in the sources file directory and sees the layer env', async () => {
    const ctx = makeContext();
    const out = await execSource.load({ command: [NODE, 'print-json.mjs'], env: { EXEC_FIXTURE_VAR: 'from-env-option' } }, ctx);
    expect(out).toEqual({ API_TOKEN: 'tok-123', DB: '{"HOST":"db.internal","PORT":5432}', CWD: FIXTURES, FROM_ENV: 'from-env-option' });
    expect(ctx.secrets).toContain('from-env-option');
  });

  it('applies select and flatten like the json type', async () => {
    expect(await execSource.load({ command: [NODE, 'print-json.mjs'], select: 'DB' }, makeContext())).toEqual({ HOST: 'db.internal', PORT: '5432' });
    const flat = await execSource.load({ command: [NODE, 'print-json.mjs'], flatten: '__' }, makeContext());
    expect(flat.DB__HOST).toBe('db.internal');
  });

  it('parses dotenv and yaml output', async () => {
    expect(await execSource.load({ command: [NODE, 'print-format.mjs', 'dotenv'], format: 'dotenv' }, makeContext())).toEqual({ API_TOKEN: 'tok-123', MULTI: 'line1\nline2' });
    expect(await execSource.load({ command: [NODE, 'print-format.mjs', 'yaml'], format: 'yaml', flatten: '_' }, makeContext())).toEqual({ API_TOKEN: 'tok-123', DB_HOST: 'db.internal', DB_PORT: '5432' });
  });

  it('resolves a relative program path from the sources file directory, not the cwd', async () => {
    const { dir } = project({ 'bin/secrets': '#!/bin/sh\nprintf \'{"FROM_SCRIPT":"%s"}\' "$1"\n' });
    chmodSync(join(dir, 'bin/secrets'), 0o755);
    expect(process.cwd()).not.toBe(dir);
    expect(await execSource.load({ command: ['./bin/secrets', 'arg one'] }, makeContext({ configDir: dir }))).toEqual({ FROM_SCRIPT: 'arg one' });
    expect(await execSource.load({ command: ['bin/secrets', 'x'] }, makeContext({ configDir: dir }))).toEqual({ FROM_SCRIPT: 'x' });
  });

  it('a non-zero exit names the command, the code and the last stderr line, without the arguments', async () => {
    const err = await loadError({ command: [NODE, 'fail.mjs', '--token=abc123secret'] });
    expect(err).toBeInstanceOf(SourceError);
    expect(err.message).toBe(`command "${NODE}" exited with code 3: ERROR: vault is sealed`);
    expect(err.message).not.toContain('abc123secret');
  });

  it('never shows stdout when the command fails, even when stdout held a secret', async () => {
    const err = await loadError({ command: [NODE, 'leak-then-fail.mjs'] });
    expect(err.message).toMatch(/exited with code 1: authentication failed$/);
    expect(err.message).not.toContain(SECRET);
    expect(err.message).not.toContain('LEAKED');
  });

  it('never quotes stdout in a parse error', async () => {
    for (const format of ['json', 'yaml']) {
      const err = await loadError({ command: [NODE, 'not-json.mjs'], format });
      expect(err.message).toMatch(/output of command ".*"/);
      expect(err.message).not.toContain('sup3r');
    }
  });

  it('kills a command that runs past its timeout', async () => {
    const started = Date.now();
    const err = await loadError({ command: [NODE, 'hang.mjs'], timeout: 0.5 });
    expect(err.message).toBe(`command "${NODE}" timed out after 0.5s (option "timeout")`);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('follows SIGTERM with SIGKILL when the command ignores it', async () => {
    const started = Date.now();
    // The shell ignores SIGTERM from its first instruction (a node script might not be ready yet under load), and
    // `exec` hands that disposition to sleep.
    const err = await loadError({ command: ['/bin/sh', '-c', 'trap "" TERM; exec sleep 30'], timeout: 0.3 });
    expect(err.message).toMatch(/timed out after 0.3s/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
    expect(Date.now() - started).toBeLessThan(6_000);
  });

  it('a killed command whose background child still holds stdout does not keep the layer waiting', async () => {
    const started = Date.now();
    const err = await loadError({ command: ['/bin/sh', '-c', 'sleep 30 & exec sleep 60'], timeout: 0.3 });
    expect(err.message).toMatch(/timed out after 0.3s/);
    // Not the 30 s until the background `sleep` lets go of the pipe.
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('stops when the run is cancelled', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const err = await loadError({ command: [NODE, 'hang.mjs'], timeout: 20 }, makeContext({ signal: controller.signal }));
    expect(err.message).toMatch(/cancelled/);
  });

  it('caps the output size', async () => {
    const err = await loadError({ command: [NODE, 'flood.mjs'] });
    expect(err.message).toMatch(/output exceeds 10 MiB/);
  });

  it('a missing program is a NotFoundError (so optional: true can skip it)', async () => {
    const err = await loadError({ command: ['secretrun-no-such-program-xyz', '--flag'] });
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.message).toBe('command "secretrun-no-such-program-xyz" not found on PATH');
    const rel = await loadError({ command: ['./missing.sh'] });
    expect(rel.message).toBe('command "./missing.sh" not found');
  });

  it('a file that is not executable is a clear error', async () => {
    const { dir } = project({ 'tool.sh': '#!/bin/sh\necho {}\n' });
    const err = await loadError({ command: ['./tool.sh'] }, makeContext({ configDir: dir }));
    expect(err.message).toBe('command "./tool.sh" cannot be executed (permission denied)');
  });

  it('says when a command was killed by a signal', async () => {
    const err = await loadError({ command: ['/bin/sh', '-c', 'kill -9 $$'] });
    expect(err.message).toBe('command "/bin/sh" was killed by SIGKILL (no stderr output)');
  });

  it('rejects output that is not UTF-8', async () => {
    const err = await loadError({ command: [NODE, '-e', 'process.stdout.write(Buffer.from([0x7b, 0xff, 0x7d]))'] });
    expect(err.message).toMatch(/is not valid UTF-8/);
  });

  it('validates its options through its descriptor', async () => {
    expect((await loadError({ command: 'op read x' })).message).toBe('`command`: expected a list, got a string');
    expect((await loadError({ command: [] })).message).toBe('`command`: must list at least 1 item');
    expect((await loadError({ command: [''] })).message).toBe('`command[0]`: the program must not be empty');
    expect((await loadError({ command: ['x'], format: 'toml' })).message).toBe('`format`: unknown value "toml" (expected one of json, dotenv, yaml)');
    expect((await loadError({ command: ['x'], timeout: 0 })).message).toBe('`timeout`: must be greater than 0');
    expect((await loadError({ command: ['x'], env: { A: 1 } })).message).toBe('`env.A`: expected a string, got an integer');
    expect(execOptions(readOptions(execSource, { command: ['x'] }) as Parameters<typeof execOptions>[0])).toMatchObject({ format: 'json', timeoutMs: 30_000, env: {} });
  });

  it('keeps only the last non-empty stderr line, capped', () => {
    expect(lastLine('a\nb\n\n  \n')).toBe('b');
    expect(lastLine('')).toBe('');
    expect(lastLine('x'.repeat(500))).toHaveLength(201);
  });

  it('resolves only programs written with a slash', () => {
    expect(resolveProgram('op', '/cfg')).toBe('op');
    expect(resolveProgram('./op', '/cfg')).toBe('/cfg/op');
    expect(resolveProgram('/usr/bin/op', '/cfg')).toBe('/usr/bin/op');
  });

  it('is a remote-style layer, so the progress spinner shows while it runs', () => {
    expect(execSource.remote).toBe(true);
  });
});

describe('exec end to end (built CLI)', () => {
  const sourcesFile = (layer: string) => `sources:\n  - type: exec\n${layer.replace(/^/gm, '    ')}\n`;

  it('runs the command from the sources file directory and hands its values to the child', async () => {
    const { dir } = project({
      'secretrun.yaml': sourcesFile(`command: [node, ${JSON.stringify(join(FIXTURES, 'print-json.mjs'))}]\nenv: { EXEC_FIXTURE_VAR: "\${FROM_PARENT}" }\nonly: [API_TOKEN, FROM_ENV, CWD]`),
      'sub/dir/.keep': '',
    });
    const r = await runCli(['--', NODE, '-e', PRINT_ENV, 'API_TOKEN', 'FROM_ENV', 'CWD', 'DB'], { cwd: join(dir, 'sub/dir'), env: { FROM_PARENT: 'parent-value' } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ API_TOKEN: 'tok-123', FROM_ENV: 'parent-value', CWD: realpathSync(dir), DB: null });
  });

  it('a failing command stops secretrun with 125, the layer, the exit code and the last stderr line, never stdout', async () => {
    const { dir } = project({ 'secretrun.yaml': sourcesFile(`command: [node, ${JSON.stringify(join(FIXTURES, 'leak-then-fail.mjs'))}, --password=argv-secret]`) });
    const r = await runCli(['--', NODE, '-e', 'console.log("child ran")'], { cwd: dir });
    expect(r.code).toBe(125);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('secretrun: layer "exec node" (secretrun.yaml:2:5): command "node" exited with code 1: authentication failed\n');
    expect(r.stderr).not.toContain(SECRET);
    expect(r.stderr).not.toContain('argv-secret');
  });

  it('a command that hangs is killed after its timeout', async () => {
    const { dir } = project({ 'secretrun.yaml': sourcesFile(`command: [node, ${JSON.stringify(join(FIXTURES, 'hang.mjs'))}]\ntimeout: 0.5`) });
    const r = await runCli(['export'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('secretrun: layer "exec node" (secretrun.yaml:2:5): command "node" timed out after 0.5s (option "timeout")\n');
  });

  it('optional: true turns a missing program into an empty layer', async () => {
    const { dir } = project({ 'secretrun.yaml': sourcesFile('command: [secretrun-no-such-program-xyz]\noptional: true') });
    const r = await runCli(['export', '--format', 'json'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({});
  });
});
