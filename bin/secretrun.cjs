#!/usr/bin/env node
// CommonJS on purpose: loading the CJS bundle from an ESM shim makes Node scan it for named exports.
require('../dist/cli.cjs');
