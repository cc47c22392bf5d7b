#!/usr/bin/env node
'use strict';
// CommonJS on purpose: loading the CJS bundle from an ESM shim makes Node scan it for named exports.
//
// The bundle is compiled with a V8 code cache made at build time, which saves most of the ~7 ms it takes to
// compile on every start. A cache is valid for one V8 only, so the build makes one per Node it can find
// (scripts/code-cache.cjs) and we pick ours by V8 version. The cache is only ever read: if there is none for this
// V8, or V8 rejects it anyway, the bundle is simply compiled as usual.
const path = require('node:path');
const fs = require('node:fs');
const vm = require('node:vm');
// The CommonJS Module class, as `module.constructor`: requiring the public 'module' builtin would also load
// Node's ESM loader and source-map support, about 0.5 ms of every start.
const Module = module.constructor;

const file = path.join(__dirname, '..', 'dist', 'cli.cjs');
/** The code cache for this V8 (a version string holds only digits, dots, dashes and letters). */
const cacheFile = path.join(__dirname, '..', 'dist', 'code-cache', `${process.versions.v8}.bin`);

function boot(onScript) {
  // import() compiled inside a vm.Script has no loader to call; the bundle imports external modules (undici,
  // the AWS SDK, ora, user modules) through this one instead (src/core/import-external.ts).
  globalThis[Symbol.for('secretrun.import')] = (specifier) => import(specifier);
  // Packages with a CommonJS build (undici, the AWS SDK) load faster through require (src/core/import-external.ts).
  globalThis[Symbol.for('secretrun.require')] = (specifier) => require(specifier);
  let cachedData;
  try {
    cachedData = fs.readFileSync(cacheFile);
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

module.exports = { boot, file, cacheFile };
if (require.main === module) boot();
