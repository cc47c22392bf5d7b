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
//   cold code gets it from the hot file's table of module namespaces, which cli.cjs fills before the CLI starts.
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
 * In the cold build: a module the hot file holds becomes a view of its namespace there (`hotIds` collects them), so
 * both files use one instance of it.
 */
function hotModules(hotSet, hotIds) {
  return {
    name: 'hot-modules',
    setup(b) {
      b.onResolve({ filter: /^\.\.?\// }, async (args) => {
        const id = await projectId(b, args, 'hot-modules');
        if (id === undefined || !hotSet.has(id)) return undefined;
        hotIds.add(id);
        return { path: id, namespace: 'hot-view' };
      });
      // Getters, so a `let` the hot module reassigns reads the same in cold code (ES module live bindings).
      b.onLoad({ filter: /.*/, namespace: 'hot-view' }, (args) => ({
        contents: `const ns = globalThis[${HOT_SYMBOL}][${JSON.stringify(args.path)}];
const view = { __esModule: true };
for (const key of Object.keys(ns)) Object.defineProperty(view, key, { get: () => ns[key], enumerable: true });
module.exports = view;`,
        loader: 'js',
      }));
    },
  };
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
  // 2. The cold file: a table of the cold modules, each initialised when first asked for.
  const hotIds = new Set();
  const table = [...coldIds].sort().map((id) => `  ${JSON.stringify(id)}: () => require(${JSON.stringify(`./${id}`)}),`);
  await build({
    ...options,
    stdin: { contents: `module.exports = {\n${table.join('\n')}\n};\n`, resolveDir: root, loader: 'js', sourcefile: 'cold-modules.js' },
    outfile: `${outdir}/cold.cjs`,
    plugins: [hotModules(hotSet, hotIds), ...plugins],
  });
  // 3. The start-up file again, now also filling the table of the hot modules cold code uses, before the CLI starts.
  const ids = [...hotIds].sort();
  const registry = `${ids.map((id, i) => `import * as m${i} from ${JSON.stringify(`./${id}`)};`).join('\n')}
globalThis[${HOT_SYMBOL}] = { ${ids.map((id, i) => `${JSON.stringify(id)}: m${i}`).join(', ')} };`;
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
