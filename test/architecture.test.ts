/**
 * The import rules of ARCHITECTURE.md, read from the source: which layer may import which. A new import across
 * a forbidden line fails here, with the file and the import named.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { ROOT } from './helpers/cli.js';

const SRC = join(ROOT, 'src');

/** Every relative import of every file under src/, as paths relative to src/ (`core/errors.ts`). */
function imports(): { from: string; to: string }[] {
  const out: { from: string; to: string }[] = [];
  for (const name of readdirSync(SRC, { recursive: true }) as string[]) {
    if (!name.endsWith('.ts')) continue;
    const text = readFileSync(join(SRC, name), 'utf8');
    for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*)'(\.[^']+)'/g)) {
      const target = relative(SRC, resolve(dirname(join(SRC, name)), m[1])).replace(/\.js$/, '.ts');
      out.push({ from: name, to: target });
    }
  }
  return out;
}

const layerOf = (path: string) => path.split('/')[0];

/**
 * Known crossings waiting for their owner's rework; each entry is one file → one target. Remove an entry when the
 * import goes away (the test below checks the list holds no stale entry).
 */
const KNOWN: string[] = [];

describe('import rules (ARCHITECTURE.md)', () => {
  const all = imports();
  const crossing = (rule: (from: string, to: string) => boolean) =>
    all.filter(({ from, to }) => rule(from, to)).map(({ from, to }) => `${from} -> ${to}`).filter((c) => !KNOWN.includes(c));

  it('finds the imports it checks', () => {
    expect(all.length).toBeGreaterThan(50);
    expect(all).toContainEqual({ from: 'cli/commands/run.ts', to: 'cli/commands/common.ts' });
  });

  it('only src/cli imports src/cli', () => {
    expect(crossing((from, to) => layerOf(from) !== 'cli' && layerOf(to) === 'cli')).toEqual([]);
  });

  it('core reaches sources only through the registry and the Source / descriptor interfaces, never a specific source', () => {
    expect(crossing((from, to) => layerOf(from) === 'core' && layerOf(to) === 'sources' && !['sources/index.ts', 'sources/types.ts', 'sources/descriptor.ts'].includes(to))).toEqual([]);
  });

  it('core does not import process (children, signals, watching)', () => {
    expect(crossing((from, to) => layerOf(from) === 'core' && layerOf(to) === 'process')).toEqual([]);
  });

  it('formats and sources do not import process', () => {
    expect(crossing((from, to) => ['formats', 'sources'].includes(layerOf(from)) && layerOf(to) === 'process')).toEqual([]);
  });

  it('the list of known crossings holds no stale entry', () => {
    const present = new Set(all.map(({ from, to }) => `${from} -> ${to}`));
    expect(KNOWN.filter((k) => !present.has(k))).toEqual([]);
  });

  it('only src/cli/main.ts loads commander', () => {
    const users = (readdirSync(SRC, { recursive: true }) as string[]).filter((n) => n.endsWith('.ts') && /from 'commander'|import\('commander'\)/.test(readFileSync(join(SRC, n), 'utf8')));
    expect(users).toEqual(['cli/main.ts']);
  });
});
