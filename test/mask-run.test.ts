/**
 * `run --mask` end to end: the built CLI around real children that print their secrets in awkward ways.
 * Output is collected as bytes, so what is compared is exactly what passed through.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, baseEnv, tmpProject } from './helpers/cli.js';
import { maskedValues } from '../src/cli/commands/run.js';
import type { Resolution } from '../src/core/resolve.js';

const cleanups: (() => void)[] = [];
afterAll(() => cleanups.splice(0).forEach((c) => c()));

const SECRET_A = 'alpha-secret-value-1';
const SECRET_B = 'bravo-secret-value-2';

function project(extra: Record<string, string | Buffer> = {}, layer = '') {
  const p = tmpProject({
    'secretrun.yaml': `sources:\n  - type: dotenv\n    path: .env\n    allow_world_readable: true\n${layer}`,
    '.env': `SECRET_A=${SECRET_A}\nSECRET_B=${SECRET_B}\nLOG_LEVEL=verbose-mode\nPORT=8080\n`,
    ...extra,
  });
  cleanups.push(p.cleanup);
  return p;
}

interface RawResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: Buffer;
  /** ms from start to the first stdout byte, and to exit. */
  firstStdoutAt?: number;
  exitedAt: number;
}

function runRaw(args: string[], cwd: string, onStdout?: (chunk: Buffer, proc: ReturnType<typeof spawn>) => void, slowReaderPeriodMs = 0): Promise<RawResult> {
  const t0 = Date.now();
  const proc = spawn(process.execPath, [BIN, ...args], { cwd, env: baseEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  // A reader that reads in short bursts: secretrun's writes queue up, including when it is about to exit.
  const throttle = slowReaderPeriodMs
    ? setInterval(() => {
        proc.stdout!.resume();
        setTimeout(() => proc.stdout!.pause(), 3);
      }, slowReaderPeriodMs)
    : undefined;
  if (slowReaderPeriodMs) proc.stdout!.pause();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let firstStdoutAt: number | undefined;
  proc.stdout!.on('data', (d: Buffer) => {
    firstStdoutAt ??= Date.now() - t0;
    out.push(d);
    onStdout?.(d, proc);
  });
  proc.stderr!.on('data', (d: Buffer) => err.push(d));
  const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
  return new Promise((resolve) => {
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      clearInterval(throttle);
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err), firstStdoutAt, exitedAt: Date.now() - t0 });
    });
  });
}

/** A child program written into the project: `node <file>`. */
function child(p: ReturnType<typeof project>, name: string, code: string): string[] {
  p.write(name, code);
  return [process.execPath, join(p.dir, name)];
}

describe('run --mask', () => {
  it('masks values split across writes, on stdout and on stderr, each to its own stream', async () => {
    const p = project();
    const cmd = child(
      p,
      'split.mjs',
      `const a = process.env.SECRET_A, b = process.env.SECRET_B;
       const pause = () => new Promise((r) => setTimeout(r, 150));
       process.stdout.write('token=' + a.slice(0, 7)); await pause();
       process.stdout.write(a.slice(7) + ' end\\n');
       process.stderr.write('err ' + b.slice(0, 1)); await pause();
       process.stderr.write(b.slice(1, 12)); await pause();
       process.stderr.write(b.slice(12) + '\\n');
       process.stdout.write('both ' + a + b + ' ' + a.slice(0, 5) + '\\n');`,
    );
    const r = await runRaw(['--mask', '--', ...cmd], p.dir);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe('token=**** end\nboth ******** alpha\n');
    expect(r.stderr.toString()).toBe('err ****\n');
  });

  it('--mask=names shows which key was printed', async () => {
    const p = project();
    const cmd = child(p, 'names.mjs', `console.log(process.env.SECRET_A + ':' + process.env.SECRET_B); console.error('e=' + process.env.SECRET_B);`);
    const r = await runRaw(['--mask=names', '--', ...cmd], p.dir);
    expect(r.stdout.toString()).toBe('<SECRET_A>:<SECRET_B>\n');
    expect(r.stderr.toString()).toBe('e=<SECRET_B>\n');
  });

  it('binary bytes, invalid UTF-8 and colour codes pass through byte for byte', async () => {
    const p = project();
    const cmd = child(
      p,
      'binary.mjs',
      `const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
       process.stdout.write(all);
       process.stdout.write(Buffer.from([0xff, 0xfe, 0xc3]));
       process.stdout.write('\\x1b[31m' + process.env.SECRET_A + '\\x1b[0m\\r\\n');
       process.stdout.write(Buffer.from([0xe2, 0x82]));
       process.stdout.write(Buffer.from([0xac, 0x00]));`,
    );
    const r = await runRaw(['--mask', '--', ...cmd], p.dir);
    const expected = Buffer.concat([
      Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
      Buffer.from([0xff, 0xfe, 0xc3]),
      Buffer.from('\x1b[31m****\x1b[0m\r\n'),
      Buffer.from([0xe2, 0x82, 0xac, 0x00]),
    ]);
    expect(r.stdout.equals(expected)).toBe(true);
  });

  it('keys marked public and values shorter than 6 characters are not masked', async () => {
    const p = project({}, '    public: [LOG_LEVEL]\n');
    const cmd = child(p, 'pub.mjs', `const e = process.env; console.log([e.LOG_LEVEL, e.PORT, e.SECRET_A].join(' '));`);
    const r = await runRaw(['--mask', '--', ...cmd], p.dir);
    expect(r.stdout.toString()).toBe('verbose-mode 8080 ****\n');
    // Without `public`, the same value is masked.
    const q = project();
    const r2 = await runRaw(['--mask', '--', ...child(q, 'pub.mjs', `console.log(process.env.LOG_LEVEL)`)], q.dir);
    expect(r2.stdout.toString()).toBe('****\n');
  });

  it('output is flushed as it comes, not held until a newline or the end', async () => {
    const p = project();
    const cmd = child(p, 'slow.mjs', `process.stdout.write('working... '); setTimeout(() => process.stdout.write('done\\n'), 1500);`);
    const r = await runRaw(['--mask', '--', ...cmd], p.dir);
    expect(r.stdout.toString()).toBe('working... done\n');
    expect(r.exitedAt - r.firstStdoutAt!).toBeGreaterThan(1000);
  });

  it('exit codes and signals pass through, with the output flushed first', async () => {
    const p = project();
    const code = await runRaw(['--mask', '--', 'sh', '-c', 'printf "%s" "$SECRET_A"; exit 3'], p.dir);
    expect(code.code).toBe(3);
    expect(code.stdout.toString()).toBe('****');
    // A last write that could be the start of a secret is held back until the end, then written out.
    const prefix = await runRaw(['--mask', '--', 'sh', '-c', `printf '%s' "${SECRET_A.slice(0, 9)}"; exit 6`], p.dir);
    expect(prefix.code).toBe(6);
    expect(prefix.stdout.toString()).toBe(SECRET_A.slice(0, 9));
    const sig = await runRaw(['--mask', '--', 'sh', '-c', 'echo "$SECRET_B" >&2; kill -TERM $$'], p.dir);
    expect(sig.signal).toBe('SIGTERM');
    expect(sig.stderr.toString()).toBe('****\n');
    const missing = await runRaw(['--mask', '--', 'no-such-program-xyz'], p.dir);
    expect(missing.code).toBe(127);
  });

  it('everything the child wrote is out before secretrun exits, even megabytes written just before exiting', async () => {
    const p = project();
    // Slow readers: writes to them are queued, and exiting with a queue would lose output. Whether a queue is left
    // at the moment of exit depends on timing, so several readers with different rhythms.
    // (Not a node child: node itself drops queued pipe output on process.exit.)
    const flood = ['--mask', '--', 'sh', '-c', `head -c ${4 * 1024 * 1024} /dev/zero | tr '\\0' x; printf %s "$SECRET_A"; exit 4`];
    const runs = await Promise.all([30, 40, 50, 65].map((period) => runRaw(flood, p.dir, undefined, period)));
    for (const r of runs) {
      expect(r.code).toBe(4);
      expect(r.stdout.length).toBe(4 * 1024 * 1024 + 4);
      expect(r.stdout.subarray(-5).toString()).toBe('x****');
    }
  });

  it('a reader that goes away (| head) ends the child with a broken pipe, as without --mask', async () => {
    const p = project();
    const r = await runRaw(['--mask', '--', 'yes', SECRET_A], p.dir, (_chunk, proc) => proc.stdout!.destroy());
    // Node ignores SIGPIPE, so secretrun cannot die of it and exits 128 + 13, as bash reports for `yes | head`.
    expect(r.code).toBe(141);
    expect(r.stdout.toString().startsWith('****\n')).toBe(true);
  });

  it('does not hang on a background process that keeps the output pipe open', async () => {
    const p = project();
    const r = await runRaw(['--mask', '--', 'sh', '-c', 'sleep 8 & echo "$SECRET_A"; exit 5'], p.dir);
    expect(r.code).toBe(5);
    expect(r.stdout.toString()).toBe('****\n');
    expect(r.exitedAt).toBeLessThan(6000);
  });

  it('the child sees pipes, not the terminal (the documented trade-off)', async () => {
    const p = project();
    const cmd = child(p, 'tty.mjs', `console.log('isTTY=' + !!process.stdout.isTTY)`);
    const viaScript = (mask: string[]) =>
      new Promise<string>((resolve) => {
        const line = [process.execPath, BIN, ...mask, '--', ...cmd].join(' ');
        const proc = spawn('script', ['-qfec', line, '/dev/null'], { cwd: p.dir, env: baseEnv({ TERM: 'dumb' }), stdio: ['pipe', 'pipe', 'pipe'] });
        let out = '';
        proc.stdout.on('data', (d) => (out += d));
        proc.on('close', () => resolve(out));
      });
    expect(await viaScript([])).toContain('isTTY=true');
    expect(await viaScript(['--mask'])).toContain('isTTY=false');
  });
});

describe('run --watch --mask', () => {
  function replaceFile(path: string, content: string): void {
    writeFileSync(`${path}.tmp`, content);
    renameSync(`${path}.tmp`, path);
  }

  /** Run secretrun until `done(stdout)` holds, then SIGTERM it. */
  function watchUntil(args: string[], cwd: string, steps: { when: (out: string) => boolean; then: () => void }[]): Promise<RawResult> {
    let i = 0;
    let seen = '';
    return runRaw(args, cwd, (chunk, proc) => {
      seen += chunk.toString();
      while (i < steps.length && steps[i].when(seen)) steps[i++].then();
      if (i === steps.length) proc.kill('SIGTERM');
    });
  }

  it('a restart masks the new values', async () => {
    const p = project();
    const cmd = child(p, 'print.mjs', `console.log('A=' + process.env.SECRET_A); process.on('SIGTERM', () => process.exit(0)); setInterval(() => {}, 1000);`);
    const r = await watchUntil(['--watch', '30', '--mask', '--', ...cmd], p.dir, [
      { when: (o) => o.includes('A='), then: () => replaceFile(join(p.dir, '.env'), `SECRET_A=new-alpha-secret-3\nSECRET_B=${SECRET_B}\nLOG_LEVEL=verbose-mode\n`) },
      { when: (o) => o.split('A=').length === 3, then: () => {} },
    ]);
    expect(r.stdout.toString()).toBe('A=****\nA=****\n');
    expect(r.stderr.toString()).toBe('secretrun: file: 2 keys changed (PORT removed, SECRET_A); restarting\n');
  });

  it('with --on-change=signal, values the running child reads later are masked too', async () => {
    const p = project();
    // A program that reloads its settings itself on SIGHUP (here by reading the file) and prints them.
    const cmd = child(
      p,
      'reload.mjs',
      `import { readFileSync } from 'node:fs';
       console.log('ready');
       process.on('SIGHUP', () => console.log('reloaded ' + readFileSync(${JSON.stringify(join(p.dir, '.env'))}, 'utf8').split('\\n')[0]));
       process.on('SIGTERM', () => process.exit(0));
       setInterval(() => {}, 1000);`,
    );
    const r = await watchUntil(['--watch', '30', '--mask=names', '--on-change=signal:SIGHUP', '--', ...cmd], p.dir, [
      { when: (o) => o.includes('ready'), then: () => replaceFile(join(p.dir, '.env'), `SECRET_A=charlie-secret-4\nSECRET_B=${SECRET_B}\n`) },
      { when: (o) => o.includes('reloaded'), then: () => {} },
    ]);
    expect(r.stdout.toString()).toBe('ready\nreloaded SECRET_A=<SECRET_A>\n');
  });
});

describe('which values are masked', () => {
  const layer = (name: string, keys: Record<string, string>, publicKeys: string[] = []) => ({ name, type: 'dotenv', keys, missing: false, publicKeys });
  const resolution = (layers: ReturnType<typeof layer>[]): Resolution => ({ environment: 'default', entries: new Map(), layers });

  it('the winning layer decides whether a key is public', () => {
    const r = resolution([layer('a', { LEVEL: 'debug-level', TOKEN: 'first-token' }, ['LEVEL', 'TOKEN']), layer('b', { TOKEN: 'second-token' })]);
    expect(maskedValues(r, 'stars')).toEqual(new Map([['second-token', '****']]));
    const flipped = resolution([layer('a', { LEVEL: 'debug-level' }), layer('b', { LEVEL: 'info-level' }, ['LEVEL'])]);
    expect(maskedValues(flipped, 'names')).toEqual(new Map());
  });

  it('a value shared by two keys is named after the first in sorted order', () => {
    const r = resolution([layer('a', { ZED: 'same-value-1', ALPHA: 'same-value-1' })]);
    expect(maskedValues(r, 'names')).toEqual(new Map([['same-value-1', '<ALPHA>']]));
  });
});
