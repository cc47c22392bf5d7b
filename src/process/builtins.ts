/**
 * Node built-ins that the start-up path should not load before it needs them. On Node 22+ child_process, net,
 * stream and tty are outside Node's start-up snapshot (about 30 internal modules to compile), and the execve
 * handover uses none of them. `process.getBuiltinModule` (Node ≥ 20.16) loads one on first use; `require` is the
 * fallback (the CLI bundle is CommonJS, and the library build defines it).
 */
export const childProcessModule = (): typeof import('node:child_process') => process.getBuiltinModule?.('node:child_process') ?? require('node:child_process');
export const streamModule = (): typeof import('node:stream') => process.getBuiltinModule?.('node:stream') ?? require('node:stream');
export const ttyModule = (): typeof import('node:tty') => process.getBuiltinModule?.('node:tty') ?? require('node:tty');
