/**
 * Would a V8 start-up snapshot make the relaying parent cheap? Node can start from a snapshot of a heap that a
 * script built (`node --snapshot-blob F --build-snapshot entry.js`, then `node --snapshot-blob F args`), so none of
 * secretrun's JavaScript would have to be read, deserialised from a code cache or run at its top level. This measures
 * the floor of that design before anyone builds it: a snapshot whose main function does nothing, and one whose main
 * function is the spawn-only launcher, against `node -e 0` and the spawn-only launcher themselves, and secretrun
 * `--no-exec` for scale. The floor carries none of secretrun's code, so secretrun from a snapshot could only be
 * slower than it.
 *
 *   node bench/snapshot.mjs             this Node and the installed 22, 24, 26
 *   BENCH_ROUNDS=31                     alternating rounds per Node (median wall time)
 *   BENCH_NODES=24,26                   only these majors
 *
 * Minor page faults (memory touched for the first time, which costs about 13 µs a page on the VM this was first run
 * on, and does not move with the machine's load) come from GNU time, median of 7, when /usr/bin/time exists.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SECRETRUN_BIN, SPAWN_ONLY, alternate, fmtRatio, gnuTime, median, nodeOn, selectedNodes, table } from './lib.mjs';
import { startupProject } from './fixtures.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 31);
const dir = mkdtempSync(join(tmpdir(), 'secretrun-snapshot-'));
const ENTRIES = {
  // A snapshot is taken after the entry script has run; its main function is what a start from it runs.
  empty: "require('node:v8').startupSnapshot.setDeserializeMainFunction(() => {});\n",
  // The spawn-only launcher as a snapshot's main function (child_process loaded at run time, as the launcher does).
  relay: `require('node:v8').startupSnapshot.setDeserializeMainFunction(() => { ${SPAWN_ONLY.replaceAll("require('child_process')", "require('node:child_process')")}; });\n`,
};
const project = startupProject();
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(SECRETRUN_|DOTENV_|NODE_OPTIONS$|AWS_)/.test(k)));

/** Minor page faults of one run, median of 7 (GNU time's %R), or undefined without /usr/bin/time. */
function pageFaults(cmd) {
  const counts = Array.from({ length: 7 }, () => gnuTime(cmd, '%R', { cwd: project.dir, env }));
  return counts[0] === undefined ? undefined : median(counts);
}

const nodes = selectedNodes();
const rows = [];
for (const { version, bin } of nodes) {
  const blobs = {};
  for (const [name, text] of Object.entries(ENTRIES)) {
    const entry = join(dir, `${name}.js`);
    blobs[name] = join(dir, `${name}-${version}.blob`);
    writeFileSync(entry, text);
    const res = spawnSync(bin, ['--snapshot-blob', blobs[name], '--build-snapshot', entry], { stdio: ['ignore', 'ignore', 'pipe'] });
    if (res.status !== 0) throw new Error(`building the ${name} snapshot with Node ${version} failed: ${String(res.stderr).trim().split('\n')[0]}`);
  }
  const cmds = [
    nodeOn(bin, '`node -e 0`', ['-e', '0']),
    nodeOn(bin, 'snapshot, empty main', ['--snapshot-blob', blobs.empty]),
    nodeOn(bin, 'spawn-only', ['-e', SPAWN_ONLY]),
    nodeOn(bin, 'snapshot, spawn-only main', ['--snapshot-blob', blobs.relay]),
    nodeOn(bin, 'secretrun `--no-exec -- true`', [SECRETRUN_BIN, '--no-exec', '--', 'true']),
  ];
  const samples = await alternate(cmds, { rounds: ROUNDS, cwd: project.dir, env });
  const walls = samples.map(median);
  cmds.forEach((cmd, i) => {
    const base = i === 1 ? walls[0] : i === 3 || i === 4 ? walls[2] : undefined;
    const blob = i === 1 ? blobs.empty : i === 3 ? blobs.relay : undefined;
    rows.push([version, cmd.label, `${walls[i].toFixed(1)} ms`, base ? fmtRatio(walls[i] / base) : '', String(pageFaults(cmd) ?? 'n/a'), blob ? `${(statSync(blob).size / 2 ** 20).toFixed(1)} MiB` : '']);
  });
}
console.log(`## Starting from a V8 start-up snapshot (median wall of ${ROUNDS} alternating rounds, \`-- true\` with the B1 project)\n`);
console.log(table(['node', 'command', 'wall', 'vs the row it replaces', 'minor page faults', 'snapshot blob'], rows));
project.remove();
rmSync(dir, { recursive: true, force: true });
