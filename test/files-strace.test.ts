/**
 * Secrets as files, proven at the system-call level (strace -f, every process of the run): in the pipe kind no
 * secret byte is written to a regular file and no regular file is created or opened for writing; in the tmpfs kind
 * the secret goes only into files created in the private directory on /dev/shm. The trace records the data of
 * every write (`-xx`, hex) and the file behind every descriptor (`-y`), so a write of the value anywhere else
 * would show. (Without strace the suite is skipped loudly, except under CI.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, runCommand, useTmpProjects } from './helpers/cli.js';
import { RECORDER, recorded, runtimeDir } from './helpers/files.js';

const STRACE = ['/usr/bin/strace', 'strace'].find((s) => spawnSync(s, ['-V']).status === 0);
if (!STRACE) {
  if (process.env.CI) throw new Error('strace is required in CI (apt-get install strace)');
  console.warn('\n*** test/files-strace.test.ts SKIPPED: strace is not installed ***\n');
}

const project = useTmpProjects(afterEach);
const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

const SECRET = 'strace-marker-9f8e7d6c5b4a39281706';
const hex = (s: string) => [...Buffer.from(s)].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');

/** strace -xx prints every byte of a string as \\xNN, paths behind descriptors too. */
const unhex = (s: string) => Buffer.from(s.replace(/\\x([0-9a-f]{2})/g, '$1').replace(/[^0-9a-f]/g, ''), 'hex').toString();
const WRITES = new Set(['write', 'writev', 'pwrite64', 'pwritev', 'pwritev2']);

interface Traced {
  /** Each write whose data holds the secret: the file behind the descriptor as strace -y shows it. */
  secretWrites: string[];
  /** Each open that creates a file or opens one for writing: its path. */
  writeOpens: string[];
}

function analyse(trace: string): Traced {
  const marker = hex(SECRET);
  const secretWrites: string[] = [];
  const writeOpens: string[] = [];
  for (const line of trace.split('\n')) {
    const m = /^\d+\s+([a-z0-9_]+)\((.*)$/.exec(line);
    if (!m) continue;
    const [, call, args] = m;
    if (WRITES.has(call) && args.includes(marker)) {
      const target = /^\d+<((?:\\x[0-9a-f]{2})*)(.*?)>/.exec(args);
      secretWrites.push(target ? unhex(target[1]) + target[2] : `(fd without a path: ${args.slice(0, 40)})`);
    }
    if ((call === 'openat' || call === 'open' || call === 'creat') && (call === 'creat' || /\bO_(WRONLY|RDWR|CREAT|TRUNC|APPEND)\b/.test(args))) {
      // openat's first argument is the directory descriptor; the path is the first quoted string (hex with -xx).
      writeOpens.push(unhex(/"((?:\\x[0-9a-f]{2})*)"/.exec(args)?.[1] ?? ''));
    }
  }
  return { secretWrites, writeOpens };
}

async function traced(dir: string, args: string[], env: Record<string, string>) {
  const traceFile = join(project().dir, 'trace.txt');
  const r = await runCommand(
    STRACE!,
    ['-f', '-qq', '-y', '-xx', '-s', '4096', '-e', 'trace=write,writev,pwrite64,pwritev,pwritev2,open,openat,creat', '-o', traceFile, process.execPath, BIN, ...args],
    { cwd: dir, env, timeoutMs: 60_000 },
  );
  return { ...r, ...analyse(readFileSync(traceFile, 'utf8')) };
}

describe.skipIf(!STRACE)('secrets as files under strace', () => {
  it('the analysis sees a secret written to a regular file (so this suite can fail)', async () => {
    const { dir } = project();
    const target = join(dir, 'leak.txt');
    const traceFile = join(dir, 'trace.txt');
    const script = `require('fs').writeFileSync(${JSON.stringify(target)}, ${JSON.stringify(SECRET)})`;
    await runCommand(STRACE!, ['-f', '-qq', '-y', '-xx', '-s', '4096', '-e', 'trace=write,openat', '-o', traceFile, process.execPath, '-e', script], { cwd: dir });
    const found = analyse(readFileSync(traceFile, 'utf8'));
    expect(found.secretWrites).toEqual([target]);
    expect(found.writeOpens).toContain(target);
  });

  it('pipe kind (as_file and --mount): the secret only ever goes into pipes; no regular file is opened for writing', async () => {
    const p = project({ 'rec.cjs': RECORDER, 'v.json': JSON.stringify({ KEY: SECRET }), 'secretrun.yaml': 'sources:\n  - type: json\n    path: v.json\nas_file: [KEY]\n' });
    const base = runtimeDir();
    cleanups.push(base.cleanup);
    const r = await traced(p.dir, ['--mount', 'all.json', '--', process.execPath, 'rec.cjs', 'KEY', 'SECRETRUN_MOUNT'], { XDG_RUNTIME_DIR: base.dir, READS: '2' });
    expect(r.stderr).toBe('');
    const got = recorded(r.stdout);
    expect(got.KEY.text).toEqual([SECRET, SECRET]);
    expect(JSON.parse(got.SECRETRUN_MOUNT.text[0])).toEqual({ KEY: SECRET });
    // Four reads, four writes of the secret; each into a named pipe of ours (unlinked by then: a fresh pipe was
    // renamed over the path as the reader arrived).
    expect(r.secretWrites).toHaveLength(4);
    for (const target of r.secretWrites) expect(target).toMatch(new RegExp(`^(${base.dir}/secretrun-files-\\d+-[0-9a-f]{8}/KEY|${p.dir}/all\\.json)( \\(deleted\\))?$`));
    // Opened for writing: only those pipes (and /dev/null, /dev/tty); nothing created with O_CREAT.
    const others = r.writeOpens.filter((path) => !/^\/dev\/(null|tty)$/.test(path) && !/\/secretrun-files-\d+-[0-9a-f]{8}\/KEY$/.test(path) && path !== join(p.dir, 'all.json'));
    expect(others).toEqual([]);
  });

  it('tmpfs kind: the secret goes only into files created in the private directory on /dev/shm', async () => {
    const p = project({ 'rec.cjs': RECORDER, 'v.json': JSON.stringify({ KEY: SECRET }), 'secretrun.yaml': 'sources:\n  - type: json\n    path: v.json\nas_file: [KEY]\n' });
    const base = runtimeDir(true);
    cleanups.push(base.cleanup);
    const r = await traced(p.dir, ['--file-kind', 'tmpfs', '--', process.execPath, 'rec.cjs', 'KEY'], { XDG_RUNTIME_DIR: base.dir, READS: '2' });
    expect(r.stderr).toBe('');
    expect(recorded(r.stdout).KEY).toMatchObject({ kind: 'file', text: [SECRET, SECRET] });
    expect(r.secretWrites.length).toBeGreaterThan(0);
    const inPrivateDir = new RegExp(`^${base.dir}/secretrun-files-\\d+-[0-9a-f]{8}/`);
    for (const target of r.secretWrites) expect(target).toMatch(inPrivateDir);
    expect(base.dir.startsWith('/dev/shm/')).toBe(true);
    expect(r.writeOpens.filter((path) => !/^\/dev\/(null|tty)$/.test(path) && !inPrivateDir.test(path))).toEqual([]);
  });
});
