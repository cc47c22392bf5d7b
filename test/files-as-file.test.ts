/**
 * Secrets as files (contract section 4, `run`, "Secrets as files"): `as_file` / `--as-file` and `--mount`, in both
 * kinds (named pipes served by secretrun, tmpfs regular files), spawned through the built CLI with a child that
 * records exactly what it read.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import dotenv from 'dotenv';
import { parse as parseYaml } from 'yaml';
import { runCli, useTmpProjects } from './helpers/cli.js';
import { RECORDER, leftovers, recorded, runtimeDir } from './helpers/files.js';

const project = useTmpProjects(afterEach);
const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

/** A fresh XDG_RUNTIME_DIR, removed after the test. */
function xdg(ram = false): string {
  const r = runtimeDir(ram);
  cleanups.push(r.cleanup);
  return r.dir;
}

const uid = process.getuid!();

/** The mkfifo on this machine's PATH, for a wrapper that delays it. */
const realMkfifo = () => spawnSync('sh', ['-c', 'command -v mkfifo'], { encoding: 'utf8' }).stdout.trim();

/** Values that catch every shortcut: multi-line JSON, unicode, no trailing newline, more than a pipe buffer (64 KiB). */
const JSON_KEY = JSON.stringify({ type: 'service_account', private_key: '-----BEGIN KEY-----\nabc\n-----END KEY-----\n', n: 1 }, null, 2);
const UNICODE = 'ключ – 鍵 – 🔑 no newline at the end';
const LARGE = Array.from({ length: 5000 }, (_, i) => `line ${i}: ${'x'.repeat(40)}`).join('\n');
const VALUES = { JSON_KEY, UNICODE, LARGE, PLAIN: 'plain-value' };

function layeredProject(extra = '') {
  return project({
    'values.json': JSON.stringify(VALUES),
    'rec.cjs': RECORDER,
    'secretrun.yaml': `sources:\n  - type: json\n    path: values.json\n${extra}`,
  });
}

describe.each([
  { kind: 'pipe', ram: false, expectKind: 'fifo' },
  { kind: 'tmpfs', ram: true, expectKind: 'file' },
] as const)('as_file, $kind kind', ({ kind, ram, expectKind }) => {
  it('each file holds its value byte for byte, on every open; mode 0600 in a private 0700 directory of ours', async () => {
    expect(LARGE.length).toBeGreaterThan(64 * 1024);
    const p = layeredProject('as_file: [JSON_KEY, UNICODE]\n');
    const base = xdg(ram);
    const r = await runCli(['--as-file', 'LARGE', '--file-kind', kind, '--', process.execPath, 'rec.cjs', 'JSON_KEY', 'UNICODE', 'LARGE'], {
      cwd: p.dir,
      env: { XDG_RUNTIME_DIR: base, READS: '3' },
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const got = recorded(r.stdout);
    for (const key of ['JSON_KEY', 'UNICODE', 'LARGE'] as const) {
      expect(got[key].text).toEqual([VALUES[key], VALUES[key], VALUES[key]]);
      expect(got[key].kind).toBe(expectKind);
      expect(got[key].mode).toBe(0o600);
      expect(got[key].uid).toBe(uid);
      expect(got[key].dirMode).toBe(0o700);
      expect(got[key].dirUid).toBe(uid);
      expect(got[key].path.startsWith(`${base}/secretrun-files-`)).toBe(true);
    }
    // Gone once secretrun has exited.
    expect(leftovers(base)).toEqual([]);
  });

  it('per-environment as_file adds to the top-level list, and --as-file to both; other keys stay values', async () => {
    const p = layeredProject('as_file: [JSON_KEY]\nenvironments:\n  dev:\n    as_file: [UNICODE]\n');
    const r = await runCli(['-e', 'dev', '--as-file', 'LARGE', '--file-kind', kind, '--', process.execPath, 'rec.cjs', 'JSON_KEY', 'UNICODE', 'LARGE'], {
      cwd: p.dir,
      env: { XDG_RUNTIME_DIR: xdg(ram), READS: '1', SHOW: 'PLAIN' },
    });
    expect(r.code).toBe(0);
    const got = recorded(r.stdout);
    expect(Object.keys(got).sort()).toEqual(['JSON_KEY', 'LARGE', 'UNICODE']);
    expect(JSON.parse(r.stdout).$PLAIN).toBe('plain-value');
  });

  it('file_kind in the sources file chooses the kind; --file-kind overrides it', async () => {
    // LARGE is a file too: as a variable it would exceed what one exec may carry (E2BIG).
    const p = layeredProject(`as_file: [PLAIN, LARGE]\nfile_kind: ${kind}\n`);
    const base = xdg(true);
    const fromFile = await runCli(['--', process.execPath, 'rec.cjs', 'PLAIN'], { cwd: p.dir, env: { XDG_RUNTIME_DIR: base, READS: '1' } });
    expect(fromFile.stderr).toBe('');
    expect(recorded(fromFile.stdout).PLAIN.kind).toBe(expectKind);
    const other = kind === 'pipe' ? 'tmpfs' : 'pipe';
    const flag = await runCli(['--file-kind', other, '--', process.execPath, 'rec.cjs', 'PLAIN'], { cwd: p.dir, env: { XDG_RUNTIME_DIR: base, READS: '1' } });
    expect(recorded(flag.stdout).PLAIN.kind).toBe(expectKind === 'fifo' ? 'file' : 'fifo');
  });

  it('a listed key missing from the merged set is an error naming it (125), and nothing is left behind', async () => {
    const p = layeredProject('as_file: [NOT_THERE]\n');
    const base = xdg(ram);
    const r = await runCli(['--file-kind', kind, '--', 'true'], { cwd: p.dir, env: { XDG_RUNTIME_DIR: base } });
    expect(r.code).toBe(125);
    expect(r.stderr).toBe(`secretrun: as_file: NOT_THERE is not in the merged set of secretrun.yaml\n`);
    expect(leftovers(base)).toEqual([]);
  });
});

describe('--as-file without a sources file', () => {
  it('takes the key from the process environment: a CI secret variable becomes a file', async () => {
    const p = project({ 'rec.cjs': RECORDER });
    const r = await runCli(['--as-file', 'CI_KEY', '--', process.execPath, 'rec.cjs', 'CI_KEY'], {
      cwd: p.dir,
      env: { XDG_RUNTIME_DIR: xdg(), CI_KEY: UNICODE, READS: '1' },
    });
    expect(r.stderr).toBe('');
    expect(recorded(r.stdout).CI_KEY.text).toEqual([UNICODE]);
  });

  it('with --dotenv, a key not among the files is taken from the process environment; one found nowhere is 125', async () => {
    const p = project({ 'rec.cjs': RECORDER, '.env': 'FROM_FILE="in the file"\n' });
    const r = await runCli(['--dotenv', '.env', '--as-file', 'FROM_FILE', '--as-file', 'FROM_ENV', '--', process.execPath, 'rec.cjs', 'FROM_FILE', 'FROM_ENV'], {
      cwd: p.dir,
      env: { XDG_RUNTIME_DIR: xdg(), FROM_ENV: 'in the environment', READS: '1' },
    });
    expect(r.stderr).toBe('');
    const got = recorded(r.stdout);
    expect(got.FROM_FILE.text).toEqual(['in the file']);
    expect(got.FROM_ENV.text).toEqual(['in the environment']);
    const missing = await runCli(['--as-file', 'NOWHERE', '--', 'true'], { cwd: p.dir, env: { XDG_RUNTIME_DIR: xdg() } });
    expect(missing.code).toBe(125);
    expect(missing.stderr).toBe('secretrun: as_file: NOWHERE is not in the --dotenv files or the environment\n');
  });
});

describe('--mount', () => {
  const SHOW = 'SECRETRUN_MOUNT,SECRETRUN_ENV,PLAIN,JSON_KEY,FROM_PARENT';
  const parsers = {
    json: (text: string) => JSON.parse(text),
    yaml: (text: string) => parseYaml(text),
    dotenv: (text: string) => dotenv.parse(text),
  };
  it.each([
    { name: 'secrets.json', format: 'json' },
    { name: 'secrets.yml', format: 'yaml' },
    { name: '.env', format: 'dotenv' },
    { name: 'app.env', format: 'dotenv' },
    { name: '.env.local', format: 'dotenv' },
    { name: 'secrets.txt', format: 'yaml', flag: true },
  ] as const)('$name ($format) parses back to the merged set; the child gets only the path', async ({ name, format, ...rest }) => {
    const p = layeredProject('as_file: [JSON_KEY]\n');
    const flags = 'flag' in rest ? ['--mount-format', format] : [];
    const r = await runCli(['--mount', name, ...flags, '--', process.execPath, 'rec.cjs', 'SECRETRUN_MOUNT'], {
      cwd: p.dir,
      env: { XDG_RUNTIME_DIR: xdg(), READS: '2', SHOW, FROM_PARENT: 'parent' },
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    const got = recorded(r.stdout).SECRETRUN_MOUNT;
    expect(got.path).toBe(join(p.dir, name));
    expect(got.kind).toBe('fifo');
    for (const text of got.text) expect(parsers[format](text)).toEqual(VALUES);
    // The child's environment: the parent's, SECRETRUN_MOUNT, SECRETRUN_ENV and each as_file key's path; no value.
    expect(out.$SECRETRUN_ENV).toBe('default');
    expect(out.$FROM_PARENT).toBe('parent');
    expect(out.$PLAIN).toBeNull();
    expect(out.$JSON_KEY).toMatch(/\/secretrun-files-\d+-[0-9a-f]{8}\/JSON_KEY$/);
    expect(existsSync(join(p.dir, name))).toBe(false);
    // Nor the spare pipes made ahead next to it.
    expect(readdirSync(p.dir).filter((n) => n.includes('secretrun-'))).toEqual([]);
  });

  it('a spare pipe still being made when the child exits is stopped, and none appears after secretrun has gone', async () => {
    const p = layeredProject();
    // A mkfifo that is slow only for one pipe (a spare made in the background after a read; the first call makes
    // every pipe and its spare at once), so the child has long exited while it still runs.
    const bin = join(p.dir, 'slow-bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'mkfifo'), `#!/bin/sh\nif [ $# -eq 4 ]; then sleep 1; fi\nexec ${realMkfifo()} "$@"\n`, { mode: 0o755 });
    const r = await runCli(['--mount', 'secrets.env', '--', process.execPath, 'rec.cjs', 'SECRETRUN_MOUNT'], {
      cwd: p.dir,
      env: { PATH: `${bin}:${process.env.PATH}`, XDG_RUNTIME_DIR: xdg(), READS: '1' },
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(recorded(r.stdout).SECRETRUN_MOUNT.kind).toBe('fifo');
    // Longer than the slow mkfifo's sleep: a spare it was left to make would be there by now.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(readdirSync(p.dir).filter((n) => n.includes('secretrun-') || n === 'secrets.env')).toEqual([]);
  });

  it('the tmpfs kind writes a regular file 0600, only on a RAM-backed filesystem', async () => {
    const p = layeredProject();
    const dir = xdg(true);
    const path = join(dir, 'secrets.json');
    const r = await runCli(['--file-kind', 'tmpfs', '--mount', path, '--', process.execPath, join(p.dir, 'rec.cjs'), 'SECRETRUN_MOUNT'], { cwd: p.dir, env: { READS: '1' } });
    expect(r.stderr).toBe('');
    const got = recorded(r.stdout).SECRETRUN_MOUNT;
    expect([got.kind, got.mode]).toEqual(['file', 0o600]);
    expect(JSON.parse(got.text[0])).toEqual(VALUES);
    expect(existsSync(path)).toBe(false);
    // On disk: refused before anything is created.
    const disk = await runCli(['--file-kind', 'tmpfs', '--mount', 'secrets.json', '--', 'true'], { cwd: p.dir });
    expect(disk.code).toBe(125);
    expect(disk.stderr).toMatch(/^secretrun: --mount .*secrets\.json: --file-kind tmpfs needs a RAM-backed filesystem/);
    expect(existsSync(join(p.dir, 'secrets.json'))).toBe(false);
  });

  it('--mount-max-reads N: after the Nth read the pipe is gone, so a later open fails at once', async () => {
    const p = layeredProject();
    const script = 'for i in 1 2 3; do if [ -p "$SECRETRUN_MOUNT" ]; then cat "$SECRETRUN_MOUNT" | wc -l; else echo gone; fi; done';
    const r = await runCli(['--mount', 's.env', '--mount-max-reads', '2', '--', 'sh', '-c', script], { cwd: p.dir });
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n');
    expect(lines[2]).toBe('gone');
    expect(Number(lines[0])).toBeGreaterThan(4);
    expect(lines[1]).toBe(lines[0]);
  });

  it.each([
    [['--mount', 'secrets.txt'], '--mount secrets.txt: cannot tell the format from the name; add --mount-format dotenv|json|yaml'],
    [['--mount', 's.json', '--pristine'], '--mount and --pristine do not go together'],
    [['--mount', 's.json', '--mount-max-reads', 'x'], '--mount-max-reads: expected a whole number of reads, 1 or more, got "x"'],
    [['--as-file', 'PLAIN', '--file-kind', 'tmpfs', '--mount-max-reads', '2'], '--mount-max-reads applies to pipes only'],
    [['--mount-format', 'json', '--as-file', 'PLAIN'], '--mount-format needs --mount PATH'],
  ])('%j is a usage error (2) before anything resolves', async (flags, message) => {
    // The layer's file is missing: a run that resolved would fail with 125.
    const p = project({ 'secretrun.yaml': 'sources:\n  - type: json\n    path: missing.json\n' });
    const r = await runCli([...flags, '--', 'true'], { cwd: p.dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it('a value the format cannot express fails as export does, naming the key (125)', async () => {
    const p = project({ 'v.json': JSON.stringify({ ODD: 'all \' " ` quotes\n# and a newline' }), 'secretrun.yaml': 'sources:\n  - type: json\n    path: v.json\n' });
    const r = await runCli(['--mount', '.env', '--', 'true'], { cwd: p.dir });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^secretrun: --mount \(format dotenv\): key "ODD": /);
    expect(r.stderr).not.toContain('quotes');
  });
});

describe('--mount PATH refusals: examined without following links, nothing touched (125)', () => {
  it('an existing regular file', async () => {
    const p = layeredProject();
    const target = p.write('secrets.json', 'precious');
    const r = await runCli(['--mount', 'secrets.json', '--', 'true'], { cwd: p.dir });
    expect(r.code).toBe(125);
    expect(r.stderr).toBe(`secretrun: --mount ${target}: already exists and is not a named pipe; refusing to touch it\n`);
    expect(readFileSync(target, 'utf8')).toBe('precious');
  });

  it('a symlink, even to a pipe of ours', async () => {
    const p = layeredProject();
    const fifo = join(p.dir, 'real.fifo');
    spawnSync('mkfifo', ['-m', '600', fifo]);
    symlinkSync(fifo, join(p.dir, 'secrets.json'));
    const r = await runCli(['--mount', 'secrets.json', '--', 'true'], { cwd: p.dir });
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('is a symbolic link; refusing to touch it');
    expect(readlinkSync(join(p.dir, 'secrets.json'))).toBe(fifo);
    expect(lstatSync(fifo).isFIFO()).toBe(true);
  });

  it.skipIf(uid !== 0)("another user's pipe", async () => {
    const p = layeredProject();
    const fifo = join(p.dir, 'secrets.json');
    spawnSync('mkfifo', ['-m', '600', fifo]);
    chownSync(fifo, 65534, 65534);
    const r = await runCli(['--mount', 'secrets.json', '--', 'true'], { cwd: p.dir });
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('is a named pipe of another user; refusing to touch it');
    expect(lstatSync(fifo).uid).toBe(65534);
  });

  it('a directory writable by others without the sticky bit; with it, fine', async () => {
    const p = layeredProject();
    const open = join(p.dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const r = await runCli(['--mount', 'open/s.json', '--', 'true'], { cwd: p.dir });
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('is writable by group or others and not sticky');
    chmodSync(open, 0o1777);
    const sticky = await runCli(['--mount', 'open/s.json', '--', 'true'], { cwd: p.dir });
    expect([sticky.code, sticky.stderr]).toEqual([0, '']);
  });

  it('a pipe of ours is replaced, and removed at the end', async () => {
    const p = layeredProject();
    const fifo = join(p.dir, 'secrets.json');
    spawnSync('mkfifo', ['-m', '600', fifo]);
    const before = lstatSync(fifo).ino;
    const r = await runCli(['--mount', 'secrets.json', '--', 'sh', '-c', `stat -c %i ${fifo}`], { cwd: p.dir });
    expect(r.code).toBe(0);
    expect(Number(r.stdout)).not.toBe(before);
    expect(existsSync(fifo)).toBe(false);
  });

  it('tmpfs kind with XDG_RUNTIME_DIR on disk: refused (125), no file written', async () => {
    const p = layeredProject();
    const base = xdg(false);
    const r = await runCli(['--as-file', 'PLAIN', '--file-kind', 'tmpfs', '--', 'true'], { cwd: p.dir, env: { XDG_RUNTIME_DIR: base } });
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('is not a RAM-backed filesystem (tmpfs or ramfs)');
    expect(leftovers(base)).toEqual([]);
  });
});

describe('mkfifo', () => {
  it("comes from the parent's PATH only: none there is an error (125) naming it; the tmpfs kind needs none", async () => {
    const p = project({ 'v.json': JSON.stringify({ K: 'v', PATH: '/usr/bin:/bin' }), 'secretrun.yaml': 'sources:\n  - type: json\n    path: v.json\nas_file: [K]\n' });
    const base = xdg();
    // The merged set's PATH has mkfifo; the parent's has not.
    const r = await runCli(['--', '/bin/true'], { cwd: p.dir, env: { PATH: '/nonexistent', XDG_RUNTIME_DIR: base } });
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('secretrun: named pipes need mkfifo, and none was found on PATH; install it (coreutils) or use --file-kind tmpfs\n');
    expect(leftovers(base)).toEqual([]);
    const tmpfs = await runCli(['--file-kind', 'tmpfs', '--', '/bin/sh', '-c', 'read -r v < "$K"; test "$v" = v'], { cwd: p.dir, env: { PATH: '/nonexistent', XDG_RUNTIME_DIR: xdg(true) } });
    expect(tmpfs.code).toBe(0);
  });
});

describe('resident parent', () => {
  it('files keep secretrun as the parent; SECRETRUN_DEBUG=1 says why and names the exit task', async () => {
    const p = project({ 'rec.cjs': RECORDER });
    const script = 'process.stdout.write(String(process.ppid))';
    const r = await runCli(['--as-file', 'K', '--', process.execPath, '-e', script], { cwd: p.dir, env: { XDG_RUNTIME_DIR: xdg(), K: 'v', SECRETRUN_DEBUG: '1' } });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      "secretrun: debug: staying as the command's parent: secret files (as_file, --mount) are served and removed at exit\n" +
        'secretrun: debug: exit tasks: removing the secret files\n',
    );
    // The child's parent is not the test: secretrun stayed (no execve handover), on every Node.
    expect(Number(r.stdout)).not.toBe(process.pid);
  });
});

describe('sources file keys', () => {
  it('check validates as_file names and file_kind values, with positions', async () => {
    const p = project({ 'secretrun.yaml': 'sources: []\nas_file: [1BAD]\nfile_kind: disk\n' });
    const r = await runCli(['check'], { cwd: p.dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/secretrun\.yaml:2:\d+: as_file\[0\]/);
    expect(r.stderr).toMatch(/secretrun\.yaml:3:\d+: file_kind/);
    writeFileSync(join(p.dir, 'secretrun.yaml'), 'sources: []\nas_file: [GOOD]\nfile_kind: tmpfs\nenvironments:\n  dev:\n    as_file: [OTHER]\n    file_kind: pipe\n');
    expect((await runCli(['check'], { cwd: p.dir })).code).toBe(0);
  });
});
