/**
 * The Node 20 decision (docs/node-versions.md): secretrun keeps `engines.node >=20` and bounds its AWS SDK range
 * to releases that still support Node 20. This proves it for what is actually installed: every production
 * dependency in the lockfile admits the Node running this test, so the CI leg on each Node of the matrix fails
 * the day a lockfile update pulls in a release that dropped it (the SDK plans to drop Node 20 in January 2027).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers/cli.js';

type Version = [number, number, number];
const parse = (v: string): Version => {
  const [a = 0, b = 0, c = 0] = v.replace(/^v/, '').split('.').map((n) => (n === 'x' || n === '*' ? 0 : Number(n)));
  return [a, b, c];
};
const cmp = (a: Version, b: Version) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

/** Does a node-semver range of the forms found in `engines` (>=, >, <=, <, =, ^, ~, ||) admit `version`? */
export function admits(range: string, version: string): boolean {
  const v = parse(version);
  return range.split('||').some((clause) =>
    /^\s*(\*|x)?\s*$/.test(clause) || clause
      .trim()
      .replace(/([<>=^~]+)\s+/g, '$1')
      .split(/\s+/)
      .filter(Boolean)
      .every((comparator) => {
        const m = /^([<>]=?|=|\^|~)?(\d+(?:\.(?:\d+|x|\*))?(?:\.(?:\d+|x|\*))?)$/.exec(comparator);
        if (!m) throw new Error(`engines range not understood: ${range}`);
        const [op = '=', text] = [m[1], m[2]];
        const r = parse(text);
        const parts = text.split('.').length;
        const c = cmp(v, r);
        switch (op) {
          case '>=': return c >= 0;
          case '>': return c > 0;
          case '<=': return c <= 0;
          case '<': return c < 0;
          case '^': return c >= 0 && (r[0] > 0 ? v[0] === r[0] : r[1] > 0 ? v[0] === 0 && v[1] === r[1] : cmp(v, r) === 0 || parts < 3);
          case '~': return c >= 0 && v[0] === r[0] && (parts < 2 || v[1] === r[1]);
          default: return parts === 3 ? c === 0 : v[0] === r[0] && (parts < 2 || v[1] === r[1]);
        }
      }),
  );
}

describe('engines', () => {
  it('reads the range forms in use', () => {
    expect(admits('>=20', '20.0.0')).toBe(true);
    expect(admits('>= 14.6', '20.1.0')).toBe(true);
    expect(admits('>=22.0.0', '20.20.2')).toBe(false);
    expect(admits('^12.17.0 || ^14.13 || >=16.0.0', '20.20.2')).toBe(true);
    expect(admits('^20.19.0 || ^22.12.0 || >=23', '20.18.0')).toBe(false);
    expect(admits('^20.19.0 || ^22.12.0 || >=23', '22.12.0')).toBe(true);
  });

  it(`every production dependency admits this Node (${process.versions.node})`, () => {
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; engines?: { node?: string } | string[] }> };
    const refusing = Object.entries(lock.packages)
      .filter(([path, p]) => path !== '' && !p.dev && !Array.isArray(p.engines) && p.engines?.node && !admits(p.engines.node, process.versions.node))
      .map(([path, p]) => `${path.replace(/^.*node_modules\//, '')} (${(p.engines as { node: string }).node})`);
    expect(refusing).toEqual([]);
  });

  it('secretrun itself claims Node 20 and up, and bounds the AWS SDK below its Node-22-only releases', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.engines.node).toBe('>=20');
    for (const [name, range] of Object.entries<string>(pkg.dependencies)) if (name.startsWith('@aws-sdk/')) expect(range, name).toMatch(/^~3\.\d+\.\d+$/);
  });
});
