/**
 * Own CPU time of the relaying parent (`--no-exec`, as for PID 1, --mask, watch) against the spawn-only launcher:
 * each process reports `process.cpuUsage()` (user + system) at exit through a preloaded hook that every command
 * gets alike, and the table shows the 25th percentile of ROUNDS alternating runs per Node (CPU time, unlike wall
 * time, is little disturbed by other work on the machine, and the low quartile drops runs slowed by cache misses).
 *
 *   node bench/relay-cpu.mjs            this Node and the installed 22, 24, 26; the working tree's build
 *   BENCH_ROUNDS=20                     runs per command
 *   BENCH_PACKAGE=0                     leave out the installed package (bench/lib.mjs installedPackage)
 *   BENCH_NODES=24,26                   only these majors
 *
 * Two floors: bench/minimal-relay.cjs, a relaying parent that does this project's work by hand (with dotenv's parser,
 * and with a plain split of each line), started as a file, as a bin is.
 *
 * One diagnostic row: the working tree's `--no-exec` under `--min-semi-space-size=2`, a young generation large
 * enough that the relaying parent never scavenges (the bin cannot pass a V8 flag). From V8 12 (Node 22) the code
 * cache does not depend on this flag, so the cache is still taken and the distance to the row above is what the one
 * scavenge costs; V8 11 (Node 20) rejects the cache under it, so there the row means nothing.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SECRETRUN_BIN, SPAWN_ONLY, installedPackage, selectedNodes, table } from './lib.mjs';
import { startupProject } from './fixtures.mjs';

/** The least a relaying parent can do for this project, by hand: the floor of any JavaScript relaying launcher. */
const MINIMAL_RELAY = fileURLToPath(new URL('./minimal-relay.cjs', import.meta.url));

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const dir = mkdtempSync(join(tmpdir(), 'secretrun-relay-cpu-'));
const hook = join(dir, 'cpu.cjs');
writeFileSync(hook, "process.on('exit', () => { const u = process.cpuUsage(); require('fs').appendFileSync(process.env.CPU_OUT, (u.user + u.system) / 1000 + '\\n'); });\n");
const project = startupProject();
const pkg = process.env.BENCH_PACKAGE === '0' ? undefined : installedPackage();
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(SECRETRUN_|DOTENV_|NODE_OPTIONS$|AWS_)/.test(k)));
const p25 = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 4)];

const rows = [];
const nodes = selectedNodes();
for (const { version, bin } of nodes) {
  const cmds = [
    ['`node -e 0`', ['-e', '0']],
    ['spawn-only', ['-e', SPAWN_ONLY]],
    ['minimal relaying script, dotenv\'s parser (bench/minimal-relay.cjs, a floor)', [MINIMAL_RELAY, '--', 'true']],
    ['minimal relaying script, lines split on `=` (a floor)', [MINIMAL_RELAY, '--split', '--', 'true']],
    ['secretrun (working tree) `--no-exec`', [SECRETRUN_BIN, '--no-exec', '--', 'true']],
    ['the same without its scavenge (`--min-semi-space-size=2`, diagnostic)', ['--min-semi-space-size=2', SECRETRUN_BIN, '--no-exec', '--', 'true']],
    ...(pkg ? [['secretrun (installed package) `--no-exec`', [pkg.bin, '--no-exec', '--', 'true']]] : []),
  ];
  const samples = cmds.map(() => []);
  for (let r = 0; r < ROUNDS + 2; r++) {
    cmds.forEach(([label, args], i) => {
      const out = join(dir, `out-${i}`);
      rmSync(out, { force: true });
      const res = spawnSync(bin, ['-r', hook, ...args], { cwd: project.dir, env: { ...env, CPU_OUT: out }, stdio: 'ignore' });
      if (res.status !== 0) throw new Error(`${label} on Node ${version} exited with ${res.status}`);
      if (r >= 2) samples[i].push(Number(readFileSync(out, 'utf8')));
    });
  }
  const [, spawnOnly] = samples.map(p25);
  cmds.forEach(([label], i) => rows.push([version, label, `${p25(samples[i]).toFixed(1)} ms`, i < 2 ? '' : `${(p25(samples[i]) - spawnOnly).toFixed(1)} ms`]));
}
console.log(`## Own CPU time at exit (user + system, p25 of ${ROUNDS} alternating runs), \`-- true\` with the B1 project\n`);
console.log(table(['node', 'command', 'CPU time', 'above spawn-only'], rows));
project.remove();
rmSync(dir, { recursive: true, force: true });
