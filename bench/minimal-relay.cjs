'use strict';
/**
 * The least a relaying parent can do for the B1 project, written by hand for bench/relay-cpu.mjs: take the two paths
 * from the sources file, parse the `.env` (with dotenv's parser, or with `--split` a split on the first `=` of each
 * line), add config.json's values, spawn the child with stdio inherited, relay three signals and exit with its
 * code. No validation, no messages, no interpolation, no layer labels: the floor of any relaying launcher written in
 * JavaScript and started as a file, as a bin is.
 *
 *   node bench/minimal-relay.cjs [--split] -- command args...     (in a B1 project: bench/fixtures.mjs)
 */
const fs = require('node:fs');
const { spawn } = require('node:child_process');

const split = process.argv[2] === '--split';
const [command, ...args] = process.argv.slice(process.argv.indexOf('--') + 1);
const [dotenvPath, jsonPath] = [...fs.readFileSync('secretrun.yaml', 'utf8').matchAll(/path: (\S+)/g)].map((m) => m[1]);
const dotenvText = fs.readFileSync(dotenvPath, 'utf8');
const fromDotenv = split
  ? Object.fromEntries(dotenvText.split('\n').filter((line) => /^\w+=/.test(line)).map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]))
  : require('dotenv').parse(dotenvText);
const env = { ...process.env, ...fromDotenv };
for (const [key, value] of Object.entries(JSON.parse(fs.readFileSync(jsonPath, 'utf8')))) env[key] = typeof value === 'string' ? value : JSON.stringify(value);
const child = spawn(command, args, { stdio: 'inherit', env });
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
child.on('exit', (code) => process.exit(code ?? 1));
