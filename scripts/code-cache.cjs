// Build step: run one plain `secretrun -- true` on the demo and save the V8 code cache of dist/cli.cjs, including
// every function that run compiled. Run by scripts/build.mjs; the CLI itself never writes it.
const fs = require('node:fs');
const { boot, file } = require('../bin/secretrun.cjs');

let script;
process.on('exit', () => {
  if (script) fs.writeFileSync(`${file}.cache`, script.createCachedData());
});
process.argv.splice(2, process.argv.length, '-q', '-c', 'fixtures/demo/secretrun.yaml', '--', 'true');
boot((s) => (script = s));
