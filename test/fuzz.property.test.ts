/**
 * A seeded, bounded fuzz run over hostile input (issue 26): sources files with layers of every source type,
 * mutated as text (anchors and aliases, collection keys, control characters, invalid UTF-8, devices, broken
 * structure), and layer files with random bytes, invalid UTF-8, huge lines, many keys and junk between entries.
 * Every input goes through `check`, `export --format json` and `run -- true` of the BUILT CLI, and every run must:
 * - exit with a documented code, the V8 heap capped at 512 MiB; where /usr/bin/time exists, within 20 s of CPU
 *   and a peak RSS under 512 MiB (and 60 s of wall-clock time, for a run that hangs), else within 20 s;
 * - print only `secretrun: ` lines on stderr: no `internal error`, no stack, no Node warning, no control character;
 * - fail with one line (run, export), or one located `file:line:col` line per problem (check, and a sources file's
 *   problems in any command);
 * - never show a fragment of a secret that a layer holds (stdout of `export` shows values by design).
 *
 * The seed is printed; SECRETRUN_FUZZ_SEED=N reproduces a run, SECRETRUN_FUZZ_INPUTS=N changes its size (default
 * 24 inputs, 72 CLI runs), SECRETRUN_FUZZ_SHOW=1 prints each run's outcome, SECRETRUN_FUZZ_KEEP=1 keeps the projects. No network beyond a closed port on 127.0.0.1: an input whose mutations touched an
 * address goes through `check` only (offline), and so does every source type this file has no template for.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SOURCES } from '../src/sources/index.js';
import { startServer } from './helpers/http-server.js';
import { BIN, CLI_NODE, runCommand, tmpProject, type CliResult } from './helpers/cli.js';

const SEED = process.env.SECRETRUN_FUZZ_SEED ? Number(process.env.SECRETRUN_FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
const INPUTS = Number(process.env.SECRETRUN_FUZZ_INPUTS ?? 24);
/** CPU seconds one run may use (user + system, measured by /usr/bin/time: the same on a quiet and a loaded machine). */
const CPU_SECONDS = 20;
/** Wall-clock cap, for a run that waits on something (CPU time misses a hang); generous for a shared machine. */
const RUN_TIMEOUT_MS = TIME_AVAILABLE() ? 60_000 : 20_000;
const MEMORY_KIB = 512 * 1024;
function TIME_AVAILABLE(): boolean {
  return existsSync('/usr/bin/time');
}
const TIME = TIME_AVAILABLE() ? '/usr/bin/time' : undefined;

let closedPort = 0;
beforeAll(async () => {
  const closed = await startServer(() => ({}));
  closedPort = closed.port;
  await closed.close();
});

// ---- generators ------------------------------------------------------------------------------------------------

const alnum = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789');
/** A secret a layer holds: recognisable, and random enough that any 10 characters of it are its own. */
const secret = fc.string({ unit: alnum, minLength: 20, maxLength: 20 }).map((s) => `fz_${s}`);
const key = fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,11}$/);
/** Keys a layer should not have: control characters, spaces, unicode, empty. */
const oddKey = fc.oneof(key, fc.string({ unit: 'binary', maxLength: 8 }), fc.constantFrom('', 'A B', '1A', 'A\x1b[2J', 'É', 'A\u2028B', '__proto__', 'A.B', 'PATH'));
/** Bytes of a line that no format expects: control characters, invalid UTF-8 sequences, NUL, quotes, YAML indicators. */
const junkByte = fc.oneof(
  { arbitrary: fc.integer({ min: 0x20, max: 0x7e }), weight: 12 },
  { arbitrary: fc.constantFrom(0x00, 0x07, 0x09, 0x0d, 0x1b, 0x22, 0x27, 0x23, 0x26, 0x2a, 0x3a, 0x3f, 0x5b, 0x7b, 0x7f, 0x80, 0xc0, 0xed, 0xff), weight: 2 },
  { arbitrary: fc.integer({ min: 0, max: 255 }), weight: 1 },
);
const junkLine = fc.array(junkByte, { maxLength: 40 }).map((b) => Buffer.from(b));

interface LayerFile {
  format: 'dotenv' | 'json' | 'yaml';
  entries: { key: string; value: string; secret: boolean }[];
  junk: { at: number; line: Buffer }[];
  /** A value of 150-300 kB (past what one environment variable may hold). */
  huge?: number;
  /** Thousands of generated keys. */
  many?: number;
  /** Instead of all the above: random bytes. */
  random?: Buffer;
}

const entry = fc.oneof(
  { arbitrary: fc.record({ key, value: secret, secret: fc.constant(true) }), weight: 8 },
  { arbitrary: fc.record({ key: oddKey, value: fc.string({ maxLength: 12 }), secret: fc.constant(false) }), weight: 1 },
);

const layerFile = (format: LayerFile['format']): fc.Arbitrary<LayerFile> =>
  fc.oneof(
    { arbitrary: fc.uint8Array({ maxLength: 2000 }).map((b) => ({ format, entries: [], junk: [], random: Buffer.from(b) })), weight: 1 },
    {
      arbitrary: fc.record({
        format: fc.constant(format),
        entries: fc.array(entry, { minLength: 1, maxLength: 8 }),
        junk: fc.oneof({ arbitrary: fc.constant([] as { at: number; line: Buffer }[]), weight: 2 }, { arbitrary: fc.array(fc.record({ at: fc.nat(8), line: junkLine }), { minLength: 1, maxLength: 2 }), weight: 1 }),
        huge: fc.option(fc.integer({ min: 150_000, max: 300_000 }), { nil: undefined, freq: 4 }),
        many: fc.option(fc.integer({ min: 2_000, max: 5_000 }), { nil: undefined, freq: 5 }),
      }),
      weight: 5,
    },
  );

function renderLayer(f: LayerFile): Buffer {
  if (f.random) return f.random;
  const entries = [...f.entries];
  if (f.huge) entries.push({ key: 'HUGE_VALUE', value: 'h'.repeat(f.huge), secret: false });
  for (let i = 0; i < (f.many ?? 0); i++) entries.push({ key: `MANY_${i}`, value: `v${i}`, secret: false });
  const line = (e: (typeof entries)[number]) =>
    f.format === 'dotenv' ? `${e.key}=${JSON.stringify(e.value)}` : f.format === 'yaml' ? `${JSON.stringify(e.key)}: ${JSON.stringify(e.value)}` : `${JSON.stringify(e.key)}: ${JSON.stringify(e.value)},`;
  const lines: Buffer[] = entries.map((e) => Buffer.from(line(e)));
  // Junk goes between entries, never inside one: a secret stays a value, whatever the junk does to the parse.
  for (const j of [...f.junk].sort((a, b) => b.at - a.at)) lines.splice(Math.min(j.at, lines.length), 0, j.line);
  if (f.format === 'json') lines.unshift(Buffer.from('{'));
  if (f.format === 'json') lines.push(Buffer.from('"LAST_": "x"}'));
  return Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')]));
}

/** Layer templates by type: local files, and remote layers aimed at a closed port on 127.0.0.1, never retried. */
const TEMPLATES: Record<string, (i: number, port: number) => string> = {
  env: () => `type: env\n    only: [HOME, FUZZ_*]`,
  dotenv: (i) => `type: dotenv\n    path: layer${i}.env`,
  json: (i) => `type: json\n    path: layer${i}.json`,
  yaml: (i) => `type: yaml\n    path: layer${i}.yaml`,
  ssm: (_, port) => `type: ssm\n    path: /fuzz/app\n    region: us-east-1\n    endpoint: http://127.0.0.1:${port}/\n    retries: 0\n    timeout: 2`,
  secretsmanager: (_, port) => `type: secretsmanager\n    secret_id: fuzz/app\n    region: us-east-1\n    endpoint: http://127.0.0.1:${port}/\n    retries: 0\n    timeout: 2`,
  doppler: (_, port) => `type: doppler\n    project: p\n    config: c\n    api_host: http://127.0.0.1:${port}/\n    retries: 0\n    timeout: 2`,
  http: (_, port) => `type: http\n    url: http://127.0.0.1:${port}/secrets\n    retries: 0\n    timeout: 2`,
  exec: () => `type: exec\n    command: [printf, '{"EXEC_A": "1"}']`,
  module: (i) => `type: module\n    path: layer${i}.mjs`,
  'ansible-vault': (i) => `type: ansible-vault\n    path: layer${i}.yaml\n    password: fuzz-vault-password`,
};
/** What a template's file holds, by type. */
const FILE_FORMAT: Record<string, LayerFile['format'] | undefined> = { dotenv: 'dotenv', json: 'json', yaml: 'yaml', 'ansible-vault': 'yaml', module: undefined };
const EXTRA_KEYS = fc.constantFrom('', '', '', '\n    optional: true', '\n    prefix: P_', '\n    only: ["*"]', '\n    public: [A]', '\n    name: "la\\x1byer"');

/** Text the mutations insert: YAML's sharp edges, control characters, devices, templates, structure. */
const TOKENS = [
  '&a [*a]', '*a', '&x', '? [k]\n', '? {k: v}\n', '<<: *a', '!!binary', '!vault', '\t', '\0', '\x1b[2J', '\x07', '\u2028', '\x85', '\ufeff',
  '{', '}', '[', ']', '"', "'", ':', ': ', '- ', '#', '|', '>', '%', '@', '`', '~', 'null', '1e999', '-1', '0x1F',
  '/dev/zero', '/dev/stdin', '${', '${NOPE}', '${FUZZ_VAR:-x}', '$$', 'x'.repeat(3000),
  '\n  - type: dotenv\n    path: /dev/zero\n', '\nrequire: [FUZZ_REQUIRED, "\\x1b"]\n', '\nenvironments:\n  x: { vars: { A: "${B}" } }\n',
  '\ndefault_environment: nope\n', '\n  - type: json\n    path: "a\\x1b[2Jb.json"\n',
];
/** Where in the text, as a fraction of its length: anywhere alike (fast-check's bias would favour the start). */
const position = fc.noBias(fc.integer({ min: 0, max: 9999 })).map((n) => n / 10_000);
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), at: position, text: fc.constantFrom(...TOKENS) }),
  fc.record({ kind: fc.constant('bytes' as const), at: position, bytes: junkLine }),
  fc.record({ kind: fc.constant('delete' as const), at: position, length: fc.integer({ min: 1, max: 12 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(text: Buffer, m: Mutation): Buffer {
  // (Buffer.concat's own type is the wider Buffer<ArrayBufferLike>.)
  const at = Math.floor(m.at * text.length);
  if (m.kind === 'delete') return Buffer.concat([text.subarray(0, at), text.subarray(at + m.length)]);
  return Buffer.concat([text.subarray(0, at), m.kind === 'insert' ? Buffer.from(m.text) : m.bytes, text.subarray(at)]);
}

/** Every registered type; the ones that load without failing (local files, exec, module) more often than the remote ones, which always fail here. */
const ALL_TYPES = SOURCES.map((s) => s.type);
const LOCAL_TYPES = ['env', 'dotenv', 'json', 'yaml', 'exec', 'module'].filter((t) => ALL_TYPES.includes(t));
const layerType = fc.oneof({ arbitrary: fc.constantFrom(...LOCAL_TYPES), weight: 4 }, { arbitrary: fc.constantFrom(...ALL_TYPES), weight: 1 });
const input = fc.record({
  layers: fc.array(fc.record({ type: layerType, extra: EXTRA_KEYS }), { minLength: 1, maxLength: 4 }),
  files: fc.array(fc.record({ dotenv: layerFile('dotenv'), json: layerFile('json'), yaml: layerFile('yaml') }), { minLength: 4, maxLength: 4 }),
  moduleSecret: secret,
  mutations: fc.oneof({ arbitrary: fc.constant([] as Mutation[]), weight: 1 }, { arbitrary: fc.array(mutation, { minLength: 1, maxLength: 3 }), weight: 1 }),
});
type Input = typeof input extends fc.Arbitrary<infer I> ? I : never;

interface Project {
  dir: string;
  secrets: string[];
  /** Offline only: a mutation touched an address, or a type has no template here. */
  checkOnly: boolean;
  cleanup(): void;
}

function writeProject(inp: Input, port: number): Project {
  const files: Record<string, Buffer | string> = {};
  const secrets = [inp.moduleSecret];
  let checkOnly = false;
  const layers = inp.layers.map(({ type, extra }, i) => {
    const template = TEMPLATES[type];
    // A type added after this file was written: validated offline, never loaded.
    if (!template) checkOnly = true;
    const f = inp.files[i];
    const format = FILE_FORMAT[type];
    if (format) {
      files[`layer${i}.${format === 'dotenv' ? 'env' : format}`] = renderLayer(f[format]);
      secrets.push(...f[format].entries.filter((e) => e.secret).map((e) => e.value));
    }
    if (type === 'module') files[`layer${i}.mjs`] = `export default { load() { return { MOD_SECRET: ${JSON.stringify(inp.moduleSecret)} }; } };\n`;
    return `  - ${template ? template(i, port) : `type: ${type}\n    fuzz: 1`}${extra}\n`;
  });
  let text: Buffer = Buffer.from(`sources:\n${layers.join('')}`);
  for (const m of inp.mutations) text = mutate(text, m);
  // The only addresses a loading run may reach: the closed port on loopback, written as the templates write it.
  const addresses = text.toString('latin1').split('://').length - 1;
  const ours = text.toString('latin1').split(`http://127.0.0.1:${port}/`).length - 1;
  if (addresses !== ours) checkOnly = true;
  files['secretrun.yaml'] = text;
  const p = tmpProject(files);
  return { dir: p.dir, secrets, checkOnly, cleanup: p.cleanup };
}

// ---- running and judging ---------------------------------------------------------------------------------------

const COMMANDS = { check: ['check'], export: ['export', '--format', 'json'], run: ['--', 'true'] } as const;
type CommandName = keyof typeof COMMANDS;
const EXIT_CODES: Record<CommandName, number[]> = { check: [0, 1], export: [0, 1], run: [0, 125, 126, 127] };
const LOCATED = /^secretrun: (?:warning: )?.+?:\d+:\d+: /;

interface Measured {
  r: CliResult;
  rssKiB?: number;
  cpuSeconds?: number;
}

async function runOne(p: Project, name: CommandName, port: number): Promise<Measured> {
  const rssFile = join(p.dir, `.rss-${name}`);
  const node = [CLI_NODE, '--max-old-space-size=512', BIN, ...COMMANDS[name]];
  const [cmd, ...args] = TIME ? [TIME, '-f', '%M %U %S', '-o', rssFile, ...node] : node;
  const env = {
    AWS_ACCESS_KEY_ID: 'AKIAFUZZFUZZFUZZFUZZ',
    AWS_SECRET_ACCESS_KEY: 'fuzz-not-a-real-secret-access-key',
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`,
    DOPPLER_TOKEN: 'dp.st.fuzz',
    DOPPLER_API_HOST: `http://127.0.0.1:${port}`,
    VAULT_ADDR: `http://127.0.0.1:${port}`,
    FUZZ_VAR: 'fuzz',
  };
  const r = await runCommand(cmd, args, { cwd: p.dir, env, timeoutMs: RUN_TIMEOUT_MS });
  // /usr/bin/time's last line: peak RSS in KiB, user and system CPU seconds.
  const [rss, user, sys] = TIME && existsSync(rssFile) ? readFileSync(rssFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number) : [];
  return { r, rssKiB: Number.isFinite(rss) ? rss : undefined, cpuSeconds: Number.isFinite(user + sys) ? user + sys : undefined };
}

/** Every problem with this run, as text (empty: a good run). */
function judge(name: CommandName, { r, rssKiB, cpuSeconds }: Measured, secrets: string[]): string[] {
  const problems: string[] = [];
  if (r.signal) problems.push(`killed by ${r.signal} (over ${RUN_TIMEOUT_MS / 1000} s of wall-clock time?)`);
  else if (!EXIT_CODES[name].includes(r.code!)) problems.push(`exit ${r.code}, expected one of ${EXIT_CODES[name].join(', ')}`);
  if (rssKiB !== undefined && rssKiB > MEMORY_KIB) problems.push(`peak RSS ${rssKiB} KiB, over ${MEMORY_KIB}`);
  if (cpuSeconds !== undefined && cpuSeconds > CPU_SECONDS) problems.push(`${cpuSeconds.toFixed(1)} s of CPU, over ${CPU_SECONDS}`);
  const lines = r.stderr.split('\n');
  if (lines.pop() !== '') problems.push('stderr does not end with a line break');
  for (const l of lines) if (!l.startsWith('secretrun: ')) problems.push(`a line without the prefix: ${JSON.stringify(l.slice(0, 200))}`);
  if (/internal error/.test(r.stderr)) problems.push('an internal error');
  if (/^\s+at /m.test(r.stderr)) problems.push('a stack trace');
  if (/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/.test(r.stderr)) problems.push('a control character on stderr');
  const shown = name === 'export' ? r.stderr : r.stderr + r.stdout;
  for (const s of secrets) {
    for (let i = 0; i + 10 <= s.length; i++) {
      if (shown.includes(s.slice(i, i + 10))) {
        problems.push(`a fragment of a layer's secret: ${s.slice(i, i + 10)}`);
        break;
      }
    }
  }
  const failures = lines.filter((l) => !l.startsWith('secretrun: warning: '));
  if (r.code !== 0 && name !== 'check' && failures.length > 1 && !failures.every((l) => LOCATED.test(l))) {
    problems.push(`${failures.length} lines for one failure, not all of them located problems of a file`);
  }
  if (r.code !== 0 && name === 'check') {
    const summary = failures.pop();
    if (!summary || !/^secretrun: .+: \d+ problems?$|^secretrun: .+?:\d+:\d+: /.test(summary)) problems.push(`check ends without its summary: ${summary}`);
    for (const l of failures) if (!LOCATED.test(l)) problems.push(`check reports a problem without its position: ${l.slice(0, 200)}`);
  }
  return problems;
}

describe(`fuzz: hostile sources and layer files (seed ${SEED})`, () => {
  afterAll(() => {
    console.log(`fuzz seed ${SEED} (reproduce with SECRETRUN_FUZZ_SEED=${SEED}), ${INPUTS} inputs`);
  });

  it('every run ends in a documented way, one clean line per problem, no secret shown', async () => {
    console.log(`fuzz seed ${SEED}: reproduce with SECRETRUN_FUZZ_SEED=${SEED}`);
    const inputs = fc.sample(input, { seed: SEED, numRuns: INPUTS });
    const found: string[] = [];
    let runs = 0;
    const tally = new Map<string, number>();
    // Two inputs at a time, each through its commands side by side: the machine has two cores.
    const queue = inputs.map((inp, index) => ({ inp, index }));
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const p = writeProject(next.inp, closedPort);
        try {
          const names: CommandName[] = p.checkOnly ? ['check'] : ['check', 'export', 'run'];
          const results = await Promise.all(names.map((n) => runOne(p, n, closedPort)));
          runs += names.length;
          names.forEach((n, i) => {
            const outcome = `${n} ${results[i].r.signal ?? results[i].r.code}`;
            tally.set(outcome, (tally.get(outcome) ?? 0) + 1);
            if (process.env.SECRETRUN_FUZZ_SHOW) console.log(`#${next!.index} ${outcome}: ${results[i].r.stderr.split('\n')[0].slice(0, 160)}`);
            for (const problem of judge(n, results[i], p.secrets)) {
              found.push(`input ${next!.index} (seed ${SEED}), ${n}: ${problem}\n  sources file: ${JSON.stringify(readFileSync(join(p.dir, 'secretrun.yaml'), 'latin1').slice(0, 600))}\n  stderr: ${results[i].r.stderr.slice(0, 600)}`);
            }
          });
        } finally {
          if (process.env.SECRETRUN_FUZZ_KEEP) console.log(`input ${next.index}: ${p.dir}`);
          else p.cleanup();
        }
      }
    };
    await Promise.all([worker(), worker()]);
    const outcomes = [...tally].sort().map(([o, n]) => `${o}: ${n}`).join(', ');
    console.log(`fuzz seed ${SEED}: ${runs} CLI runs over ${INPUTS} inputs (${outcomes})`);
    expect(found, found.join('\n\n')).toEqual([]);
    expect(runs).toBeGreaterThanOrEqual(INPUTS);
  }, 60_000 + INPUTS * 8_000);
});
