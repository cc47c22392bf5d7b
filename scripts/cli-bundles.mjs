// The CLI as two CommonJS files: dist/cli.cjs, what a run of local layers needs, and dist/cold.cjs, the code only
// some runs reach (the other commands, the remote source types, watch mode, secret files). Every start reads,
// deserialises and initialises cli.cjs, so what a plain `secretrun -- cmd` never runs costs it time there: memory
// touched is time on a VM (docs/performance.md, "Third session": about 150 fewer pages per start with this split
// and the deferred registry below).
//
// How the two share one set of modules (one SourceError class, one registry, one session):
// - COLD lists modules (a file, or a folder's) that hot code reaches through `import()`. In the hot build such an
//   `import()` becomes a stub asking bin/secretrun.cjs for the module: the shim loads cold.cjs (with its own code
//   cache) on the first ask. A static import of a listed file from hot code is a build error (it would pull the
//   module back in); a folder's module imported statically stays in the start-up file.
// - cold.cjs holds the COLD modules and whatever only they import. A module the hot file already holds is not copied:
//   cold code gets it from the hot file's table of shared modules, which cli.cjs fills before the CLI starts.
// - That table holds a function per module, which builds a view of the module's exports (a getter per export,
//   reading the hot module's own binding) when cold code first imports it. A table of namespaces (`import * as`) did
//   the same, but esbuild builds every namespace when cli.cjs loads (~190 getters defined, a closure each) for code
//   only some runs load. Measured on a plain `secretrun -- true` of env/dotenv/json layers, up to the handover: the
//   namespaces were 200-310 KB of young-generation allocation on Node 20-26 (__export alone ~23 KB in --heap-prof),
//   which pushed the start over its one scavenge on Node 22-26 and cost it 130-160 minor page faults there. The views
//   need each module's export names: esbuild's metafile gives them (exportNames), and the cold build checks every
//   import of cold code against them, so a name the list lacks (an `export *` of a CommonJS module is known only at
//   run time) fails the build.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { relative, resolve, sep } from 'node:path';

/** Modules reached from the start-up file only through `import()` (paths from the project root; a `/` ends a folder). */
export const COLD = [
  // The registry's deferred source types (EAGER_TYPES below are the others).
  'src/sources/ssm.ts',
  'src/sources/secretsmanager.ts',
  'src/sources/vault.ts',
  'src/sources/gcp-secret-manager.ts',
  'src/sources/azure-key-vault.ts',
  'src/sources/doppler.ts',
  'src/sources/http.ts',
  'src/sources/exec.ts',
  'src/sources/module.ts',
  'src/sources/ansible-vault.ts',
  'src/cli/commands/export.ts',
  'src/cli/commands/diff.ts',
  'src/cli/commands/ls.ts',
  'src/cli/commands/get.ts',
  'src/cli/commands/init.ts',
  'src/cli/commands/check.ts',
  'src/cli/commands/completion.ts',
  'src/cli/watch-flags.ts',
  'src/cli/progress.ts',
  'src/process/watch.ts',
  'src/process/files/',
  'src/sources/net/',
  'src/sources/vault/',
  'src/sources/gcp/',
  'src/sources/azure/',
  'src/formats/vault.ts',
];

const root = resolve('.');
const idOf = (file) => relative(root, file).split(sep).join('/');
const isCold = (id) => COLD.some((c) => (c.endsWith('/') ? id.startsWith(c) : id === c));
const COLD_SYMBOL = "Symbol.for('secretrun.cold')";

/**
 * For a plugin's onResolve of a relative import from a project file: the id of the module esbuild would resolve it
 * to (`src/core/errors.ts`), or undefined. `plugin` marks the inner resolve so that it does not come back here.
 */
async function projectId(b, args, plugin) {
  if (args.pluginData === plugin || args.namespace !== 'file') return undefined;
  const found = await b.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: plugin });
  return found.errors.length > 0 || !found.path ? undefined : idOf(found.path);
}
const HOT_SYMBOL = "Symbol.for('secretrun.hot')";

/**
 * In the hot build: `import()` of a COLD module becomes a stub that asks the shim for it; a static import of one is an
 * error. `coldIds` collects the modules asked for.
 */
function coldBoundary(coldIds) {
  return {
    name: 'cold-boundary',
    setup(b) {
      b.onResolve({ filter: /^\.\.?\// }, async (args) => {
        const id = await projectId(b, args, 'cold-boundary');
        if (id === undefined || !isCold(id)) return undefined;
        // A folder's modules that hot code imports statically stay in the start-up file (small shared parts such
        // as a source's option checks); a listed file must not be.
        // `require()` (the deferred registry's, below) asks for the module as `import()` does, but synchronously.
        const asked = args.kind === 'dynamic-import' || args.kind === 'require-call';
        if (!asked && !COLD.includes(id)) return undefined;
        if (!asked) {
          return { errors: [{ text: `${idOf(args.importer)} imports ${id} statically, but it is listed in COLD (scripts/cli-bundles.mjs): use import(), or take it off the list` }] };
        }
        coldIds.add(id);
        return { path: id, namespace: 'cold-stub' };
      });
      b.onLoad({ filter: /.*/, namespace: 'cold-stub' }, (args) => ({
        contents: `module.exports = globalThis[${COLD_SYMBOL}](${JSON.stringify(args.path)});`,
        loader: 'js',
      }));
    },
  };
}

/**
 * In the cold build: a module the hot file holds (a key of `exportsOf`, its export names) becomes the hot file's view
 * of it (`hotIds` collects them), so both files use one instance of it. The view is an ES module re-exporting the
 * listed names from the object the hot table's function returns (`hot-object`, built once, when cold code first
 * imports the module): esbuild fails the build on an import of a name the list lacks, and reads every other through
 * the object's getters (hotRegistry), so a `let` the hot module reassigns reads the same in cold code (ES module
 * live bindings).
 */
function hotModules(exportsOf, hotIds) {
  return {
    name: 'hot-modules',
    setup(b) {
      b.onResolve({ filter: /^\.\.?\// }, async (args) => {
        const id = await projectId(b, args, 'hot-modules');
        if (id === undefined || !exportsOf.has(id)) return undefined;
        hotIds.add(id);
        return { path: id, namespace: 'hot-view' };
      });
      b.onLoad({ filter: /.*/, namespace: 'hot-view' }, (args) => ({
        contents: `export { ${exportsOf.get(args.path).map((name) => JSON.stringify(name)).join(', ')} } from ${JSON.stringify(`hot-object:${args.path}`)};`,
        loader: 'js',
      }));
      b.onResolve({ filter: /^hot-object:/, namespace: 'hot-view' }, (args) => ({ path: args.path.slice('hot-object:'.length), namespace: 'hot-object' }));
      b.onLoad({ filter: /.*/, namespace: 'hot-object' }, (args) => ({
        contents: `module.exports = globalThis[${HOT_SYMBOL}][${JSON.stringify(args.path)}]();`,
        loader: 'js',
      }));
    },
  };
}

/**
 * The export names of each of the modules `ids` as the hot build compiles them (its `plugins`): esbuild's metafile
 * lists an entry point's exports, with `export ... from` and `export *` of ES modules resolved. Names known only at
 * run time (an `export *` of a CommonJS or external module) are missing, which hotModules turns into a build error
 * where cold code imports one.
 */
async function exportNames(options, ids, plugins) {
  const { metafile } = await build({
    ...options,
    entryPoints: ids.map((id) => `./${id}`),
    format: 'esm',
    splitting: true,
    write: false,
    metafile: true,
    outdir: 'export-names',
    outbase: root,
    plugins,
  });
  const names = new Map(Object.values(metafile.outputs).filter((o) => o.entryPoint).map((o) => [o.entryPoint, o.exports]));
  const unlisted = ids.filter((id) => !names.has(id));
  if (unlisted.length > 0) throw new Error(`cli-bundles: esbuild listed no exports for ${unlisted.join(', ')}`);
  return names;
}

/**
 * The start-up file's table of the modules cold code shares (`exportsOf`: id → export names): per module, a
 * function returning a view with a getter per export. Named imports, which esbuild resolves through renaming and
 * re-exports; no getter exists until cold code asks for the module.
 */
function hotRegistry(exportsOf) {
  const imports = [];
  const entries = [];
  [...exportsOf].forEach(([id, names], i) => {
    const local = (j) => `m${i}_${j}`;
    imports.push(`import { ${names.map((name, j) => `${JSON.stringify(name)} as ${local(j)}`).join(', ')} } from ${JSON.stringify(`./${id}`)};`);
    const getters = names.map((name, j) => `get ${JSON.stringify(name)}() { return ${local(j)}; }`);
    entries.push(`  ${JSON.stringify(id)}: () => ({ __esModule: true, ${getters.join(', ')} }),`);
  });
  return `${imports.join('\n')}\nglobalThis[${HOT_SYMBOL}] = {\n${entries.join('\n')}\n};\n`;
}

/**
 * The source types whose descriptors a run of local layers uses; in the CLI bundle every other registry entry is a
 * `deferredSource` (src/sources/descriptor.ts): its module, and what only it imports, initialise on first use (when a
 * sources file names the type, or a value its `ref+` scheme), so a plain start neither runs nor allocates them, and the
 * code cache does not carry their compiled module code.
 */
export const EAGER_TYPES = ['env', 'dotenv', 'json', 'yaml'];

/**
 * In the hot build: src/sources/index.ts with each `import NAME from './TYPE.js'` of a type not in EAGER_TYPES
 * dropped and NAME in the SOURCES list replaced by `deferredSource('TYPE', () => require('./TYPE.js').default)`
 * (esbuild's `require` of an ES module initialises it then). A registry module written differently fails the build.
 */
function deferredRegistry() {
  return {
    name: 'deferred-registry',
    setup(b) {
      b.onLoad({ filter: /[\\/]src[\\/]sources[\\/]index\.ts$/ }, (args) => {
        let text = readFileSync(args.path, 'utf8');
        const imports = [...text.matchAll(/^import (\w+) from '\.\/([\w-]+)\.js';\n/gm)].filter(([, , type]) => !EAGER_TYPES.includes(type));
        const list = /^export const SOURCES: SourceRegistry = \[([^\]]*)\];$/m.exec(text);
        if (imports.length === 0 || !list) throw new Error('cli-bundles: src/sources/index.ts no longer has the shape deferredRegistry() rewrites');
        for (const [, , type] of imports) if (!COLD.includes(`src/sources/${type}.ts`)) throw new Error(`cli-bundles: src/sources/${type}.ts is deferred (not in EAGER_TYPES) but not in COLD`);
        let entries = list[1];
        for (const [line, name, type] of imports) {
          text = text.replace(line, '');
          const replaced = entries.replace(new RegExp(`\\b${name}\\b`), `deferredSource(${JSON.stringify(type)}, () => require(${JSON.stringify(`./${type}.js`)}).default)`);
          if (replaced === entries) throw new Error(`cli-bundles: ${name} (./${type}.js) is imported by the registry but not in SOURCES`);
          entries = replaced;
        }
        text = text.replace(list[0], `export const SOURCES: SourceRegistry = [${entries}];`);
        return { contents: `import { deferredSource } from './descriptor.js';\n${text}`, loader: 'ts' };
      });
    },
  };
}

/** The hot build's inputs from the project (not node_modules, not the stubs): the modules cli.cjs holds. */
function projectInputs(metafile) {
  return new Set(Object.keys(metafile.inputs).filter((p) => p.startsWith('src/') || p === 'package.json'));
}

/**
 * Build dist/cli.cjs and dist/cold.cjs into `outdir` with esbuild `options` (format cjs; the caller's plugins, such
 * as the vendored packages, apply to both). Returns the two file names.
 */
export async function buildCliBundles(options, outdir) {
  const plugins = options.plugins ?? [];
  // 1. The start-up file as it will be, to learn which modules it holds.
  const coldIds = new Set();
  const first = await build({ ...options, entryPoints: ['src/cli/main.ts'], write: false, metafile: true, outfile: `${outdir}/cli.cjs`, plugins: [deferredRegistry(), coldBoundary(coldIds), ...plugins] });
  const hotSet = projectInputs(first.metafile);
  const exportsOf = await exportNames(options, [...hotSet], [deferredRegistry(), coldBoundary(new Set()), ...plugins]);
  // 2. The cold file: a table of the cold modules, each initialised when first asked for.
  const hotIds = new Set();
  const table = [...coldIds].sort().map((id) => `  ${JSON.stringify(id)}: () => require(${JSON.stringify(`./${id}`)}),`);
  await build({
    ...options,
    stdin: { contents: `module.exports = {\n${table.join('\n')}\n};\n`, resolveDir: root, loader: 'js', sourcefile: 'cold-modules.js' },
    outfile: `${outdir}/cold.cjs`,
    // `ns.name` of an `import * as ns` of a shared module, where the list lacks `name`, is an error too.
    logOverride: { ...options.logOverride, 'import-is-undefined': 'error' },
    plugins: [hotModules(exportsOf, hotIds), ...plugins],
  }).catch((e) => {
    if (!e.errors?.some((m) => m.text.includes('"hot-view:'))) throw e;
    throw new Error('cli-bundles: cold code imports a name that esbuild did not list among the exports of a module the start-up file holds (an `export *` of a CommonJS or external module is known only at run time): export it by name', { cause: e });
  });
  // 3. The start-up file again, now also filling the table of the hot modules cold code uses, before the CLI starts.
  const ids = [...hotIds].sort();
  const registry = hotRegistry(new Map(ids.map((id) => [id, exportsOf.get(id)])));
  const final = await build({
    ...options,
    stdin: { contents: `import './hot-registry';\nimport './src/cli/main.ts';\n`, resolveDir: root, loader: 'js', sourcefile: 'cli-entry.js' },
    outfile: `${outdir}/cli.cjs`,
    metafile: true,
    plugins: [
      { name: 'hot-registry', setup: (b) => (b.onResolve({ filter: /^\.\/hot-registry$/ }, () => ({ path: 'hot-registry', namespace: 'hot-registry' })), b.onLoad({ filter: /.*/, namespace: 'hot-registry' }, () => ({ contents: registry, resolveDir: root, loader: 'js' }))) },
      deferredRegistry(),
      coldBoundary(new Set()),
      ...plugins,
    ],
  });
  const again = projectInputs(final.metafile);
  if (again.size !== hotSet.size || [...again].some((id) => !hotSet.has(id))) throw new Error('cli-bundles: the start-up file changed between its two builds');
  return { hot: `${outdir}/cli.cjs`, cold: `${outdir}/cold.cjs`, coldModules: [...coldIds], sharedModules: ids };
}
