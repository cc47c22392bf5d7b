/**
 * The cheap CI regression guard (a CI step, not a timed unit test): B1 only, a few alternating runs, and a
 * failure only when secretrun is slower than 2× the spawn-only launcher — the size of an eager import of a heavy
 * dependency creeping back into the start-up path, far outside the noise of a shared CI machine. The strict
 * targets live in `npm run bench`.
 *
 *   node bench/guard.mjs            (after a build; SECRETRUN_BENCH_BIN=… to check another build)
 */
import { existsSync } from 'node:fs';
import { SECRETRUN_BIN, SPAWN_ONLY, alternate, fmtMs, fmtRatio, median, node } from './lib.mjs';
import { startupProject } from './fixtures.mjs';

const ROUNDS = Number(process.env.GUARD_ROUNDS ?? 7);
const LIMIT = 2;

if (!existsSync(SECRETRUN_BIN)) {
  console.error(`guard: ${SECRETRUN_BIN} not found; build first (node scripts/build.mjs)`);
  process.exit(1);
}
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(SECRETRUN_|DOTENV_|NODE_OPTIONS$)/.test(k)));
const project = startupProject();
try {
  const spawnOnly = node('spawn-only', ['-e', SPAWN_ONLY]);
  const secretrun = node('secretrun -- true', [SECRETRUN_BIN, '--', 'true']);
  const [spawnMs, secretrunMs] = (await alternate([spawnOnly, secretrun], { rounds: ROUNDS, warmup: 1, cwd: project.dir, env })).map(median);
  const ratio = secretrunMs / spawnMs;
  const verdict = ratio > LIMIT ? 'FAIL' : 'ok';
  console.log(`guard: secretrun ${fmtMs(secretrunMs)}, spawn-only ${fmtMs(spawnMs)}: ${fmtRatio(ratio)} (limit ${LIMIT}×, medians of ${ROUNDS}) ${verdict}`);
  if (ratio > LIMIT) {
    console.log('guard: start-up regressed; look for an eager import of a heavy dependency (run `npm run bench` and `node --cpu-prof bin/secretrun.cjs -- true`)');
    process.exitCode = 1;
  }
} finally {
  project.remove();
}
