// schema.json is generated from the source descriptors (src/sources/*.ts, through src/core/schema.ts).
//   node scripts/schema.mjs           write schema.json when it differs (scripts/build.mjs runs this)
//   node scripts/schema.mjs --check   exit 1 when the checked-in schema.json is not the generated one
import { build } from 'esbuild';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The schema text for the built-in registry, as the checked-in file should hold it. */
export async function generatedSchemaText() {
  // Inside the project, so the bundle's external imports resolve from its node_modules.
  mkdirSync('node_modules/.cache', { recursive: true });
  const dir = mkdtempSync(join('node_modules', '.cache', 'secretrun-schema-'));
  try {
    const out = join(dir, 'schema.mjs');
    await build({
      stdin: {
        contents: "import { generateSchema } from './src/core/schema.ts'; import { SOURCES } from './src/sources/index.ts'; export default JSON.stringify(generateSchema(SOURCES), null, 2) + '\\n';",
        resolveDir: '.',
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile: out,
      external: ['@aws-sdk/*', '@smithy/*', 'undici', 'ora', 'yaml', 'dotenv'],
      logLevel: 'warning',
    });
    return (await import(pathToFileURL(join(process.cwd(), out)).href)).default;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const text = await generatedSchemaText();
  const current = readFileSync('schema.json', 'utf8');
  if (process.argv.includes('--check')) {
    if (current !== text) {
      console.error('schema.json is not the one the source descriptors generate: run `node scripts/schema.mjs` and commit it');
      process.exit(1);
    }
  } else if (current !== text) {
    writeFileSync('schema.json', text);
    console.log('schema.json regenerated from the source descriptors');
  }
}
