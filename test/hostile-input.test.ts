/**
 * Hostile input found by fuzzing (issue 26), each with its minimal input, through the BUILT CLI: values too large
 * for a program's environment, files that never end (devices, endless pipes), a duplicate-key scan that must stay
 * linear, process warnings, and control characters in what messages quote. The sources-file cases that fit the
 * bad-input table (alias cycles, collection keys, /dev/zero, escapes in a path) are there.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { escapeControl, printable, registerSecret } from '../src/core/errors.js';
import { MAX_FILE_BYTES, readBoundedFile } from '../src/core/files.js';
import { lineCol, lineColIndex } from '../src/formats/parse.js';
import { execSizeProblem, linuxArgSpace, MAX_ARG_STRLEN } from '../src/process/child.js';
import { BIN, CLI_NODE, runCli, runCommand, useTmpProjects, type CliResult } from './helpers/cli.js';

const project = useTmpProjects(afterEach);
const JSON_LAYER = 'sources:\n  - type: json\n    path: data.json\n';
const DOTENV_LAYER = (path: string) => `sources:\n  - type: dotenv\n    path: ${path}\n`;

/** Every line is ours, and nothing a terminal would act on. */
function expectOwnLines(r: CliResult, count?: number): string[] {
  const lines = r.stderr.split('\n');
  expect(lines.pop(), r.stderr).toBe('');
  for (const l of lines) expect(l, r.stderr).toMatch(/^secretrun: /);
  expect(r.stderr).not.toMatch(/internal error|\(node:\d+\)|^\s+at /m);
  expect(r.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/);
  if (count !== undefined) expect(lines, r.stderr).toHaveLength(count);
  return lines;
}

describe('values too large for a program (E2BIG)', () => {
  const linux = process.platform === 'linux';

  it.runIf(linux)('a 200,000-character value: export prints it, run names the key and its size instead of spawn E2BIG', async () => {
    const { dir } = project({ 'secretrun.yaml': JSON_LAYER, 'data.json': JSON.stringify({ SMALL: 'ok', BIG: 'x'.repeat(200_000) }) });
    const exported = await runCli(['export', '--format', 'json'], { cwd: dir });
    expect(exported.code, exported.stderr).toBe(0);
    expect(JSON.parse(exported.stdout).BIG).toHaveLength(200_000);
    const r = await runCli(['--', 'true'], { cwd: dir });
    expect(r.code).toBe(125);
    const [line] = expectOwnLines(r, 1);
    expect(line).toBe(
      "secretrun: BIG is too large for a program's environment: 195.3 KiB as BIG=value, over the 128.0 KiB Linux allows one variable; pass it as a file instead (--as-file BIG)",
    );
  });

  it.runIf(linux)('a 1 MiB dotenv line is refused the same way, and the largest value that fits still runs', async () => {
    // "FITS=" + value + NUL is exactly MAX_ARG_STRLEN: the kernel takes it.
    const fits = 'y'.repeat(MAX_ARG_STRLEN - 'FITS='.length - 1);
    const { dir } = project({ 'secretrun.yaml': DOTENV_LAYER('.env'), '.env': `FITS=${fits}\n` });
    const ok = await runCli(['--', process.execPath, '-e', 'process.stdout.write(String(process.env.FITS.length))'], { cwd: dir });
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toBe(String(fits.length));

    const big = project({ 'secretrun.yaml': DOTENV_LAYER('.env'), '.env': `HUGE=${'z'.repeat(1024 * 1024)}\n` });
    const r = await runCli(['--', 'true'], { cwd: big.dir });
    expect(r.code).toBe(125);
    expect(expectOwnLines(r, 1)[0]).toContain('HUGE is too large for a program\'s environment: 1.0 MiB as HUGE=value');
  });

  it.runIf(linux)('many values that fit one by one but not together: the total against ARG_MAX, naming the largest', async () => {
    const values = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`K${i}`, 'v'.repeat(100_000 + i)]));
    const { dir } = project({ 'secretrun.yaml': JSON_LAYER, 'data.json': JSON.stringify(values) });
    const r = await runCli(['--', 'true'], { cwd: dir });
    expect(r.code).toBe(125);
    const [line] = expectOwnLines(r, 1);
    expect(line).toMatch(/^secretrun: the command's arguments and environment add up to 2\.9 MiB, over the [\d.]+ [KM]iB this system lets a program start with \(ARG_MAX/);
    expect(line).toContain('the largest variable is K29 (97.7 KiB); pass it as a file instead (--as-file K29)');
  });

  it('the limits, as Linux counts them (one string with its NUL; a quarter of the stack, between 128 KiB and 6 MiB)', () => {
    const at = (bytes: number) => execSizeProblem('/bin/true', ['/bin/true'], { K: 'x'.repeat(bytes - 3) }, { platform: 'linux', argSpace: () => 8 * 1024 * 1024 });
    expect(at(MAX_ARG_STRLEN)).toBeUndefined();
    expect(at(MAX_ARG_STRLEN + 1)?.message).toMatch(/^K is too large/);
    expect(execSizeProblem('/bin/true', ['/bin/true', 'a'.repeat(MAX_ARG_STRLEN)], {}, { platform: 'linux' })).toMatchObject({ exitCode: 126, message: expect.stringMatching(/^argument 1 of the command is 128\.0 KiB/) });
    // Other systems have other rules: no guess there.
    expect(execSizeProblem('/bin/true', [], { K: 'x'.repeat(MAX_ARG_STRLEN) }, { platform: 'darwin' })).toBeUndefined();
    const limits = (stack: string) => `Limit Soft Limit Hard Limit Units\nMax stack size            ${stack}              unlimited            bytes\n`;
    expect(linuxArgSpace(limits('8388608'))).toBe(2 * 1024 * 1024);
    expect(linuxArgSpace(limits('unlimited'))).toBe(6 * 1024 * 1024);
    expect(linuxArgSpace(limits('65536'))).toBe(128 * 1024);
    expect(linuxArgSpace('')).toBeUndefined();
  });

  it.runIf(linux)('the estimate matches what this kernel really takes: the measured largest environment fits, a few KiB more does not', () => {
    // Find the largest environment spawn accepts (binary search over one filler variable plus 100 KB ones).
    const envOf = (n: number) => Object.fromEntries(Array.from({ length: Math.ceil(n / 100_000) }, (_, i) => [`V${i}`, 'x'.repeat(Math.min(100_000, n - i * 100_000))]));
    const spawns = (n: number) => !spawnSync('/bin/true', { env: envOf(n) }).error;
    let lo = 0;
    let hi = 8 * 1024 * 1024;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (spawns(mid)) lo = mid;
      else hi = mid - 1;
    }
    // Our check refuses nothing the kernel takes, and refuses what it does not, with at most its margin of doubt.
    expect(execSizeProblem('/bin/true', ['/bin/true'], envOf(lo - 16 * 1024))).toBeUndefined();
    expect(execSizeProblem('/bin/true', ['/bin/true'], envOf(lo + 1))).toBeDefined();
  });
});

describe('files that never end: devices, sockets and endless pipes', () => {
  it('check, export and run refuse /dev/zero at once; -c /dev/zero too', async () => {
    const { dir } = project({ 'secretrun.yaml': DOTENV_LAYER('/dev/zero') });
    for (const [args, code] of [[['check', '--resolve'], 1], [['export'], 1], [['--', 'true'], 125], [['-c', '/dev/zero', 'check'], 1]] as const) {
      const r = await runCli([...args], { cwd: dir, timeoutMs: 15_000 });
      expect(r.code, r.stderr).toBe(code);
      expectOwnLines(r);
      expect(r.stderr).toContain('/dev/zero: is a character device, expected a file or a named pipe');
    }
  });

  it('an ansible-vault password_file that is a device is refused', async () => {
    const { dir } = project({ 'secretrun.yaml': 'sources:\n  - type: ansible-vault\n    path: vault.yml\n    password_file: /dev/urandom\n', 'vault.yml': 'A: 1\n' });
    const r = await runCli(['export'], { cwd: dir, timeoutMs: 15_000 });
    expect(r.code).toBe(1);
    expect(expectOwnLines(r, 1)[0]).toContain('password_file /dev/urandom: is a character device');
  });

  it('a socket is refused', async () => {
    const { dir } = project({});
    const path = join(dir, 'sock');
    const server = createServer(() => {}).listen(path);
    await new Promise((r) => server.once('listening', r));
    try {
      const r = await runCli(['--dotenv', path, 'export'], { cwd: dir });
      expect(r.code).toBe(1);
      expect(expectOwnLines(r, 1)[0]).toContain('sock: is a socket, expected a file or a named pipe');
    } finally {
      server.close();
    }
  });

  it('named pipes still work: a fifo with a writer, and /dev/stdin', async () => {
    const { dir } = project({});
    const fifo = join(dir, 'pipe.env');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const writer = spawn('sh', ['-c', `printf 'FROM_PIPE=1\\n' > "${fifo}"`]);
    const r = await runCli(['--dotenv', fifo, 'export', '--format', 'json'], { cwd: dir });
    writer.kill();
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ FROM_PIPE: '1' });
    // A real pipe on stdin, as a shell makes it (the test's own stdin pipes are socket pairs, which are refused).
    const piped = `printf 'FROM_STDIN=2\\n' | "$CLI_NODE" "$BIN" --dotenv /dev/stdin export --format json`;
    const stdin = await runCommand('sh', ['-c', piped], { cwd: dir, env: { CLI_NODE, BIN } });
    expect(stdin.stderr).toBe('');
    expect(JSON.parse(stdin.stdout)).toEqual({ FROM_STDIN: '2' });
  });

  it('an endless pipe stops at the 10 MiB limit, whatever it would go on sending', async () => {
    const { dir } = project({});
    const fifo = join(dir, 'endless.env');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const writer = spawn('sh', ['-c', `exec yes SECRET_LIKE=sk_live_endless > "${fifo}"`], { stdio: 'ignore' });
    try {
      const r = await runCli(['--dotenv', fifo, 'export'], { cwd: dir, timeoutMs: 20_000 });
      expect(r.code).toBe(1);
      expect(expectOwnLines(r, 1)[0]).toContain('endless.env: more than the 10 MiB limit (reading stopped there)');
      expect(r.stdout).toBe('');
    } finally {
      writer.kill();
    }
  });

  it('readBoundedFile: exactly the limit is read, one byte more is refused, whatever stat said', () => {
    const { write } = project({});
    const path = write('exact', Buffer.alloc(1000, 0x61));
    expect(readBoundedFile(path, 'exact', 1000)).toHaveLength(1000);
    expect(() => readBoundedFile(path, 'exact', 999)).toThrow('exact: file is 1000 bytes, larger than the 999 bytes limit');
    expect(MAX_FILE_BYTES).toBe(10 * 1024 * 1024);
  });
});

describe('duplicate keys are found in linear time', () => {
  it('lineColIndex gives lineCol\'s answer for every offset', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', '\n', 'é', '\r'), maxLength: 200 }), fc.array(fc.nat(220), { maxLength: 20 }), (text, offsets) => {
        const index = lineColIndex(text);
        return offsets.every((o) => JSON.stringify(index(o)) === JSON.stringify(lineCol(text, o)));
      }),
      { seed: 26 },
    );
  });

  // Before the fix: 27-44 s for 1 MiB and 10,000 duplicates on this machine; the cost grew with duplicates times
  // file size. Here both are larger (4 MiB, 20,000: about 8 times the work, minutes if quadratic), and check must
  // finish well inside the timeout, reporting every duplicate where it is.
  it('check reports 19,999 duplicates after a 4 MiB value without rescanning the file for each', async () => {
    const parts = [`"BIG": "${'x'.repeat(4 * 1024 * 1024)}"`];
    for (let i = 0; i < 20_000; i++) parts.push(`"D": "${i}"`);
    const { dir } = project({ 'secretrun.yaml': JSON_LAYER, 'data.json': `{${parts.join(',\n')}}` });
    const r = await runCli(['check'], { cwd: dir, timeoutMs: 90_000 });
    expect(r.signal, 'killed by the timeout: the scan is not linear').toBeNull();
    expect(r.code).toBe(1);
    const lines = expectOwnLines(r, 20_000);
    expect(lines[0]).toBe('secretrun: data.json:3:1: duplicate key "D" in layer "json data.json" (the last one wins at run time; keep one)');
    expect(lines[19_998]).toMatch(/^secretrun: data\.json:20001:1: duplicate key "D"/);
    expect(lines[19_999]).toBe('secretrun: secretrun.yaml: 19999 problems');
  }, 100_000);
});

describe('no process warning reaches stderr as Node prints it', () => {
  it("a module layer's process warning becomes one line of ours, without its text", async () => {
    const { dir } = project({
      'secretrun.yaml': 'sources:\n  - type: module\n    path: warns.mjs\n',
      'warns.mjs': 'export default { load() { process.emitWarning("token sk_live_warned0001 expired", "DeprecationWarning", "DEP0999"); return { A: "1" }; } };\n',
    });
    const r = await runCli(['export', '--format', 'json'], { cwd: dir });
    expect(r.code).toBe(0);
    const [line] = expectOwnLines(r, 1);
    expect(line).toBe('secretrun: warning: Node reported a DeprecationWarning (DEP0999); rerun with SECRETRUN_DEBUG=1 to see it');
    expect(r.stderr).not.toContain('sk_live');
  });
});

describe('control characters in what a message quotes', () => {
  it('C0, DEL, C1 and the Unicode line separators are escaped; everything else is kept', () => {
    expect(escapeControl('a\x1b[2Jb\x07\x00\x7f\x80\x9f\u2028\u2029\n\té🎉')).toBe('a\\x1b[2Jb\\x07\\x00\\x7f\\x80\\x9f\\u2028\\u2029\\x0a\\x09é🎉');
    fc.assert(
      // Plain booleans, not expect(), in the loop: cheap on a loaded machine.
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => {
        const once = escapeControl(s);
        return !/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(once) && escapeControl(once) === once;
      }),
      { seed: 26 },
    );
  });

  it('redaction comes first: a secret holding a control character is still blanked', () => {
    registerSecret('hunter2\x1bsecret');
    expect(printable('got hunter2\x1bsecret here')).toBe('got [redacted] here');
  });

  it('key names, paths and require entries from the input reach stderr escaped, one line each', async () => {
    const { dir } = project({
      'secretrun.yaml': 'sources:\n  - type: json\n    path: data.json\nrequire: ["\\x07BELL\\u0080"]\n',
      'data.json': JSON.stringify({ 'A\u001b[2J\u2028B': 'v' }),
    });
    const check = await runCli(['check'], { cwd: dir });
    expect(check.code).toBe(1);
    expect(expectOwnLines(check, 2)[0]).toContain('secretrun.yaml:4:11: require[0]: "\\u0007BELL\\x80" is not a valid environment variable name');
    mkdirSync(join(dir, 'sub'));
    const run = await runCli(['-c', 'secretrun.yaml', '--', 'true'], { cwd: dir });
    expect(run.code).toBe(125);
    expectOwnLines(run);
    const resolving = project({ 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: "a\\x1b[2Jb\\u2028\\n.env"\n' });
    const resolved = await runCli(['check', '--resolve'], { cwd: resolving.dir });
    expect(resolved.code).toBe(1);
    expect(expectOwnLines(resolved, 1)[0]).toMatch(/^secretrun: layer "dotenv a\\x1b\[2Jb\\u2028\\x0a\.env" \(secretrun\.yaml:2:5\): a\\x1b\[2Jb\\u2028\\x0a\.env: file not found/);
    const noRequire = project({ 'secretrun.yaml': 'sources:\n  - type: json\n    path: data.json\n', 'data.json': JSON.stringify({ 'A\u001b[2J\u2028B': 'v' }) });
    const bad = await runCli(['export'], { cwd: noRequire.dir });
    expect(bad.code).toBe(1);
    expect(expectOwnLines(bad, 1)[0]).toContain('invalid environment variable name "A\\u001b[2J\\u2028B"');
  });
});
