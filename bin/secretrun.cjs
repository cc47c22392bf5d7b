#!/usr/bin/env node
'use strict';
// CommonJS on purpose: loading the CJS bundle from an ESM shim makes Node scan it for named exports.
//
// The bundle is compiled with the V8 code cache made at build time (dist/cli.cjs.cache), which saves most of the
// ~7 ms it takes to compile on every start. The cache is only ever read: if it is missing, or was made by another
// Node/V8 version (V8 rejects it then), the bundle is simply compiled as usual.
const path = require('node:path');
const fs = require('node:fs');
const vm = require('node:vm');
// The CommonJS Module class, as `module.constructor`: requiring the public 'module' builtin would also load
// Node's ESM loader and source-map support, about 0.5 ms of every start.
const Module = module.constructor;

const file = path.join(__dirname, '..', 'dist', 'cli.cjs');

function boot(onScript) {
  // import() compiled inside a vm.Script has no loader to call; the bundle imports external modules (undici,
  // the AWS SDK, ora, user modules) through this one instead (src/core/import-external.ts).
  globalThis[Symbol.for('secretrun.import')] = (specifier) => import(specifier);
  // Packages with a CommonJS build (undici, the AWS SDK) load faster through require (src/core/import-external.ts).
  globalThis[Symbol.for('secretrun.require')] = (specifier) => require(specifier);
  let cachedData;
  try {
    cachedData = fs.readFileSync(`${file}.cache`);
  } catch {
    /* no cache: compile as usual */
  }
  // The build writes the bundle already wrapped in the CommonJS module function (scripts/build.mjs), so the
  // source is used as read: no second 130 KB copy of it on the heap.
  const script = new vm.Script(fs.readFileSync(file, 'utf8'), { filename: file, cachedData });
  if (onScript) onScript(script);
  const mod = new Module(file, module);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(path.dirname(file));
  script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(file), mod, file, path.dirname(file));
}

module.exports = { boot, file };
if (require.main === module) boot();
