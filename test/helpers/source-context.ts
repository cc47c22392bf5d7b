/** A hand-made SourceContext for calling a source's `load` directly in unit tests. */
import type { Source, SourceContext } from '../../src/sources/types.js';

export function makeContext(overrides: Partial<SourceContext> = {}) {
  const warnings: string[] = [];
  const secrets: string[] = [];
  return {
    layer: 'test',
    configDir: process.cwd(),
    keys: {},
    env: {},
    signal: new AbortController().signal,
    warn: (m: string) => warnings.push(m),
    secret: (s: string) => secrets.push(s),
    warnings,
    secrets,
    ...overrides,
  };
}

/** Run `load` and return the error it throws (fails the test if it does not throw). */
export async function loadError(source: Source, options: Record<string, unknown>, context: SourceContext = makeContext()): Promise<Error> {
  try {
    await source.load(options, context);
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected load to fail');
}
