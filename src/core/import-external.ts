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

const SHIM_REQUIRE = Symbol.for('secretrun.require');

/**
 * A package that ships a CommonJS build (undici, the AWS SDK), loaded with `require` when running under the CLI
 * shim, which registers it. Its CommonJS build loads in about half the time of its ESM build (the AWS SDK: about
 * 60 ms instead of 125 ms; undici: 8 ms less), and `require` does not start Node's ESM loader. Elsewhere (the
 * library, tests) it is imported like any other module.
 */
export function loadPackage<T>(name: string): Promise<T> {
  const viaShim = (globalThis as Record<symbol, unknown>)[SHIM_REQUIRE] as ((s: string) => unknown) | undefined;
  if (!viaShim) return importExternal<T>(name);
  try {
    return Promise.resolve(viaShim(name) as T);
  } catch (err) {
    return Promise.reject(err);
  }
}
