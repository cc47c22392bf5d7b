// Bundle the CLI and the library into dist/ with esbuild, and emit type declarations with tsc.
// One minified ESM file per entry keeps start-up cheap (module loading dominates for small packages);
// the heavy optional dependencies stay external and are imported lazily only when a layer needs them.
import { build } from 'esbuild';
import { renameSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const external = ['@aws-sdk/*', '@smithy/*', 'undici', 'ora'];
// Build beside dist/ and swap it in, so a test run reading dist/ never sees it half-written.
const next = `dist.next-${process.pid}`;
await build({
  entryPoints: { cli: 'src/cli.ts', index: 'src/index.ts' },
  outdir: next,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: !process.env.SECRETRUN_NO_MINIFY,
  legalComments: 'none',
  chunkNames: 'chunks/[name]-[hash]',
  external,
  // yaml's "node" export is CommonJS, which esbuild cannot split into a lazily imported chunk with named
  // exports; its ESM build is the same code.
  alias: { yaml: './node_modules/yaml/browser/index.js' },
  // CommonJS dependencies bundled into ESM call require() for node built-ins.
  banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
  logLevel: 'warning',
});
const old = `dist.old-${process.pid}`;
try {
  renameSync('dist', old);
} catch {
  /* no previous build */
}
renameSync(next, 'dist');
rmSync(old, { recursive: true, force: true });

if (!process.argv.includes('--no-types')) {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json', '--emitDeclarationOnly'], { stdio: 'inherit' });
}
