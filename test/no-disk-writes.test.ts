/**
 * "Nothing is ever written to disk" (issue 7), checked at the system-call level: `run`, `export`, `diff`, `ls`,
 * `get` and `check --resolve` run under `strace -f` with dotenv, json and yaml layers and an http layer on a
 * loopback server, and the trace must hold no file opened for writing and no file created, renamed, linked,
 * truncated or removed, except under /dev (/dev/null, /dev/tty). Pipes to the test never appear in the trace:
 * they are inherited, not opened.
 *
 * strace is at /usr/bin/strace here and CI installs it. Without it the suite is skipped loudly, except under CI,
 * where a missing strace is a failure.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, runCommand, useTmpProjects } from './helpers/cli.js';
import { startServer, vaultHandler, type FakeServer } from './helpers/http-server.js';
import { dummyAwsEnv, seedParameters } from './helpers/moto.js';

const SYSCALLS = ['open', 'openat', 'openat2', 'creat', 'rename', 'renameat', 'renameat2', 'link', 'linkat', 'symlink', 'symlinkat', 'truncate', 'mkdir', 'mkdirat', 'unlink', 'unlinkat'];
/** Calls that change the file system whatever their arguments. */
const ALWAYS_WRITES = new Set(SYSCALLS.filter((s) => !s.startsWith('open')));
const WRITE_FLAGS = /\bO_(WRONLY|RDWR|CREAT|TRUNC|APPEND)\b/;

const STRACE = ['/usr/bin/strace', 'strace'].find((s) => spawnSync(s, ['-V']).status === 0);
if (!STRACE) {
  if (process.env.CI) throw new Error('strace is required in CI (apt-get install strace): the no-disk-writes guarantee is untested without it');
  console.warn('\n*** test/no-disk-writes.test.ts SKIPPED: strace is not installed (apt-get install strace) ***\n');
}

interface FileEvent {
  pid: string;
  syscall: string;
  /** The first path argument, or '' when the call names only a descriptor. */
  path: string;
  flags: string;
  line: string;
}

/** Parse `strace -f` output. `<unfinished ...>` lines keep the arguments; `<... resumed>` lines are skipped. */
function parseTrace(text: string): FileEvent[] {
  const events: FileEvent[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+)\s+([a-z0-9_]+)\((.*)$/.exec(line);
    if (!m || !SYSCALLS.includes(m[2])) continue;
    const args = m[3];
    const path = /"((?:[^"\\]|\\.)*)"/.exec(args)?.[1] ?? '';
    events.push({ pid: m[1], syscall: m[2], path, flags: args, line });
  }
  return events;
}

function writes(events: FileEvent[]): FileEvent[] {
  return events.filter((e) => {
    if (e.path.startsWith('/dev/')) return false;
    if (ALWAYS_WRITES.has(e.syscall)) return true;
    return WRITE_FLAGS.test(e.flags);
  });
}

const VAULT_TOKEN = 'hvs.CAESINoDiskWritesToken';
let server: FakeServer;
beforeAll(async () => {
  server = await startServer(
    vaultHandler({ token: VAULT_TOKEN, secrets: { 'app/dev': { HTTP_SECRET: 'from-vault-dev' }, 'app/prod': { HTTP_SECRET: 'from-vault-prod' } } }),
  );
});
afterAll(() => server?.close());

const project = useTmpProjects((fn) => afterAll(fn));

function fixture() {
  return project({
    '.env': 'DOTENV_SECRET=sk_live_dotenv\nSHARED=from-dotenv\n',
    'config/dev.json': JSON.stringify({ JSON_SECRET: 'supersecret-dev', DB: { HOST: 'db.dev' } }),
    'config/prod.json': JSON.stringify({ JSON_SECRET: 'supersecret-prod', DB: { HOST: 'db.prod' } }),
    'settings.yaml': 'YAML_SECRET: supersecret-yaml\nSHARED: from-yaml\n',
    'secretrun.yaml': [
      'default_environment: dev',
      'sources:',
      '  - { type: dotenv, path: .env }',
      '  - { type: yaml, path: settings.yaml }',
      'environments:',
      '  dev:',
      '    vars: { STAGE: dev }',
      '    sources: &layers',
      '      - { type: json, path: "config/${STAGE}.json", flatten: __ }',
      '      - type: http',
      '        url: "${VAULT_ADDR}/v1/secret/data/app/${STAGE}"',
      '        headers: { X-Vault-Token: "${VAULT_TOKEN}" }',
      '        select: data.data',
      '  prod:',
      '    vars: { STAGE: prod }',
      '    sources: *layers',
      '',
    ].join('\n'),
  });
}

async function traced(dir: string, args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number | null; stdout: string; stderr: string; events: FileEvent[] }> {
  const traceFile = join(project().dir, 'trace.txt'); // written by strace itself, outside the traced processes
  const r = await runCommand(STRACE!, ['-f', '-qq', '-e', `trace=${SYSCALLS.join(',')}`, '-o', traceFile, process.execPath, BIN, ...args], {
    cwd: dir,
    env: { VAULT_ADDR: server.origin, VAULT_TOKEN, ...env },
    timeoutMs: 60_000,
  });
  return { ...r, events: parseTrace(readFileSync(traceFile, 'utf8')) };
}

describe.skipIf(!STRACE)('nothing is written to disk (strace)', () => {
  it('the trace parser sees a write when there is one (so this suite can fail)', async () => {
    const { dir } = project();
    const target = join(dir, 'written.txt');
    const traceFile = join(dir, 'trace.txt');
    const script = `const fs=require('fs');fs.writeFileSync(${JSON.stringify(target)},'x');fs.renameSync(${JSON.stringify(target)},${JSON.stringify(target + '.2')});fs.writeFileSync('/dev/null','ok')`;
    const r = await runCommand(STRACE!, ['-f', '-qq', '-e', `trace=${SYSCALLS.join(',')}`, '-o', traceFile, process.execPath, '-e', script], { cwd: dir });
    expect(r.code).toBe(0);
    const found = writes(parseTrace(readFileSync(traceFile, 'utf8')));
    expect(found.map((e) => `${e.syscall} ${e.path}`)).toEqual([`openat ${target}`, `rename ${target}`]);
  });

  const COMMANDS: { name: string; args: string[]; code: number; stdout?: RegExp }[] = [
    { name: 'run', args: ['--', 'true'], code: 0 },
    { name: 'run -e prod (a child that only reads)', args: ['-e', 'prod', '--', process.execPath, '-e', 'process.exit(process.env.HTTP_SECRET === "from-vault-prod" ? 0 : 3)'], code: 0 },
    { name: 'export (dotenv)', args: ['export'], code: 0, stdout: /^HTTP_SECRET=from-vault-dev$/m },
    { name: 'export --format json', args: ['export', '--format', 'json'], code: 0, stdout: /"DB__HOST": ?"db\.dev"/ },
    { name: 'export --format shell -e prod', args: ['export', '--format', 'shell', '-e', 'prod'], code: 0, stdout: /JSON_SECRET='supersecret-prod'/ },
    { name: 'diff dev prod', args: ['diff', 'dev', 'prod'], code: 1, stdout: /HTTP_SECRET/ },
    { name: 'diff --json --reveal', args: ['diff', 'dev', 'prod', '--json', '--reveal'], code: 1, stdout: /from-vault-prod/ },
    { name: 'ls', args: ['ls'], code: 0, stdout: /YAML_SECRET/ },
    { name: 'ls --json --reveal', args: ['ls', '--json', '--reveal'], code: 0, stdout: /sk_live_dotenv/ },
    { name: 'get', args: ['get', 'JSON_SECRET'], code: 0, stdout: /^supersecret-dev$/ },
    { name: 'check --resolve', args: ['check', '--resolve'], code: 0 },
    { name: 'run --mask (output piped through the redactor)', args: ['--mask', '--', process.execPath, '-e', 'console.log(process.env.JSON_SECRET)'], code: 0, stdout: /^\*\*\*\*$/m },
    { name: 'run --watch, ended by the child', args: ['--watch', '2', '--', 'true'], code: 0 },
    { name: 'a failing run (unknown environment, a usage error)', args: ['-c', 'secretrun.yaml', '-e', 'nope', '--', 'true'], code: 2 },
  ];

  for (const c of COMMANDS) {
    it(`${c.name}: no file opened for writing, created, renamed, linked or removed`, async () => {
      const { dir } = fixture();
      const r = await traced(dir, c.args);
      expect(r.code, r.stderr).toBe(c.code);
      if (c.stdout) expect(r.stdout).toMatch(c.stdout);
      // The trace really covers the CLI: it saw the sources file and, for commands that resolve, the layer files.
      const opened = r.events.map((e) => e.path);
      expect(opened).toContain(join(dir, 'secretrun.yaml'));
      if (c.code <= 1) expect(opened).toContain(join(dir, '.env'));
      expect(writes(r.events).map((e) => e.line)).toEqual([]);
    });
  }

  const moto = inject('motoEndpoint');
  it.skipIf(!moto)('an ssm layer (the AWS SDK and its credential chain) writes no cache either', async () => {
    const ns = `/secretrun-test/no-disk-writes/${process.pid}`;
    await seedParameters(moto, [{ name: `${ns}/SSM_SECRET`, value: 'sk_live_ssm', type: 'SecureString' }]);
    const { dir } = project({ 'secretrun.yaml': `sources:\n  - { type: dotenv, path: .env }\n  - { type: ssm, path: ${ns}, endpoint: "${moto}" }\n`, '.env': 'A=1\n' });
    const r = await traced(dir, ['export'], dummyAwsEnv());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('SSM_SECRET=sk_live_ssm');
    expect(writes(r.events).map((e) => e.line)).toEqual([]);
  });
});
