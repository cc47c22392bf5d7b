/**
 * `import()` of a module outside our bundle: undici, the AWS SDK, ora, a user's `type: module` file.
 *
 * bin/secretrun.cjs runs the CLI bundle through `vm.Script` with a V8 code cache, and a plain `import()` compiled
 * there has no module loader to call. The shim registers its own `import()` under this symbol; everywhere else
 * (the library, tests) the ordinary `import()` is used.
 */
const SHIM_IMPORT = Symbol.for('secretrun.import');

export function importExternal<T>(specifier: string): Promise<T> {
  const viaShim = (globalThis as Record<symbol, unknown>)[SHIM_IMPORT] as ((s: string) => Promise<unknown>) | undefined;
  return (viaShim ? viaShim(specifier) : import(specifier)) as Promise<T>;
}
