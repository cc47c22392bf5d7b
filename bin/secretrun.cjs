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

const dist = path.join(__dirname, '..', 'dist');
const file = path.join(dist, 'cli.cjs');
/** The code cache for this V8 (a version string holds only digits, dots, dashes and letters). */
const cacheFile = path.join(dist, 'code-cache', `${process.versions.v8}.bin`);
/**
 * The CLI's code that a run of local layers never reaches (other commands, the Vault, Google and Azure clients,
 * watch mode, secret files: scripts/cli-bundles.mjs), loaded with its own code cache when first asked for.
 */
const coldFile = path.join(dist, 'cold.cjs');
const coldCacheFile = path.join(dist, 'code-cache', 'cold', `${process.versions.v8}.bin`);

/**
 * Packages the build bundles into one file of dist/vendor/ with a code cache per V8 (scripts/build.mjs): the AWS
 * clients, whose `require` is the largest part of an AWS layer's start-up.
 */
const VENDORED = { '@aws-sdk/client-ssm': 'aws', '@aws-sdk/client-secrets-manager': 'aws' };
const vendorFile = (name) => path.join(dist, 'vendor', `${name}.cjs`);
const vendorCacheFile = (name) => path.join(dist, 'vendor', 'code-cache', name, `${process.versions.v8}.bin`);

/**
 * The name V8 compiles a bundle under: `secretrun/dist/cli.cjs`, the same wherever the package lies. V8 stores the
 * script's name in the code cache, so an absolute path would carry the build machine's directory into the package
 * (and into stack traces from its cached functions); the real path still goes to `require` and `__filename`.
 */
const scriptOrigin = (filename) => `secretrun/${path.relative(path.join(__dirname, '..'), filename).split(path.sep).join('/')}`;

/** Run a CommonJS file compiled with the code cache `cache` (when there is one and V8 takes it); its exports. */
function runCached(filename, cache, wrapped, onScript) {
  let cachedData;
  try {
    cachedData = fs.readFileSync(cache);
  } catch {
    /* no cache: compile as usual */
  }
  const text = fs.readFileSync(filename, 'utf8');
  const script = new vm.Script(wrapped ? text : Module.wrap(text), { filename: scriptOrigin(filename), cachedData });
  if (onScript) onScript(script);
  const mod = new Module(filename, module);
  mod.filename = filename;
  mod.paths = Module._nodeModulePaths(path.dirname(filename));
  script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(filename), mod, filename, path.dirname(filename));
  mod.loaded = true;
  return mod.exports;
}

const vendoredExports = new Map();
/** A vendored bundle's exports, loaded once; `onScript` (the build's cache step) gets its compiled script. */
function requireVendored(name, onScript) {
  if (!vendoredExports.has(name)) vendoredExports.set(name, runCached(vendorFile(name), vendorCacheFile(name), false, onScript));
  return vendoredExports.get(name);
}

/**
 * What undici's HTTP/2 client reads from node:http2 when it loads (protocol constants, fixed by RFC 9113); the
 * module itself is loaded only when an HTTP/2 session is opened, which secretrun never asks for. Loading node:http2
 * (and node:tls with it) costs 2.4 ms on Node 20 and 6-11 ms on Node 26 of every http/doppler layer.
 */
const HTTP2_CONSTANTS = {
  HTTP2_HEADER_AUTHORITY: ':authority',
  HTTP2_HEADER_METHOD: ':method',
  HTTP2_HEADER_PATH: ':path',
  HTTP2_HEADER_SCHEME: ':scheme',
  HTTP2_HEADER_CONTENT_LENGTH: 'content-length',
  HTTP2_HEADER_EXPECT: 'expect',
  HTTP2_HEADER_STATUS: ':status',
  HTTP2_HEADER_PROTOCOL: ':protocol',
  NGHTTP2_REFUSED_STREAM: 7,
  NGHTTP2_CANCEL: 8,
};
let http2;
const lazyHttp2 = new Proxy(
  {},
  { get: (_, key) => (key === 'constants' && !http2 ? HTTP2_CONSTANTS : (http2 ??= require('node:http2'))[key]) },
);
const UNDICI_H2 = /[\\/]undici[\\/]lib[\\/]dispatcher[\\/]client-h2\.js$/;

/** `require` of a package: its vendored bundle when the build made one, else the installed package. */
function requirePackage(specifier) {
  const name = VENDORED[specifier];
  if (name && fs.existsSync(vendorFile(name))) return requireVendored(name);
  if (!specifier.startsWith('undici')) return require(specifier);
  // While undici loads, its HTTP/2 client gets node:http2 lazily (above); nothing else changes.
  const load = Module._load;
  Module._load = function (request, parent, ...rest) {
    if ((request === 'node:http2' || request === 'http2') && parent && UNDICI_H2.test(parent.filename ?? '')) return lazyHttp2;
    return load.call(this, request, parent, ...rest);
  };
  try {
    return require(specifier);
  } finally {
    Module._load = load;
  }
}

let coldModules;
/** dist/cold.cjs's table of modules, loaded once; `onScript` (the build's cache step) gets its compiled script. */
function coldTable(onScript) {
  return (coldModules ??= runCached(coldFile, coldCacheFile, true, onScript));
}

function boot(onScript) {
  // import() compiled inside a vm.Script has no loader to call; the bundle imports external modules (undici,
  // the AWS SDK, ora, user modules) through this one instead (src/core/import-external.ts).
  globalThis[Symbol.for('secretrun.import')] = (specifier) => import(specifier);
  // Packages with a CommonJS build (undici, the AWS SDK) load faster through require (src/core/import-external.ts).
  globalThis[Symbol.for('secretrun.require')] = requirePackage;
  // One module of dist/cold.cjs by its source path (`src/cli/commands/ls.ts`), initialised on first use.
  globalThis[Symbol.for('secretrun.cold')] = (id) => coldTable()[id]();
  // The build writes the bundle already wrapped in the CommonJS module function (scripts/build.mjs), so the
  // source is used as read: no second 130 KB copy of it on the heap.
  runCached(file, cacheFile, true, onScript);
}

module.exports = { boot, file, cacheFile, coldFile, coldCacheFile, coldTable, requireVendored, vendorCacheFile, HTTP2_CONSTANTS };
if (require.main === module) boot();
