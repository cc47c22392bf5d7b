/**
 * The bad-input catalogue (issue 7): one table of broken sources files, data files, remote answers and command
 * lines, each run through the BUILT CLI in a real temp directory.
 *
 * Every case states its exit code, a message fragment and, where one exists, the location (`file:line:col`)
 * the message must carry. Every case also checks what users and log collectors rely on:
 * - stderr is one or more lines, each starting with `secretrun: `, and never a stack trace;
 * - no secret reaches stderr or stdout. Every data file here holds secret-looking values (`sk_live_...`,
 *   `supersecret...`), the sources file starts with layers that load secrets from a .env, a JSON file, a YAML
 *   file and a token-protected HTTP endpoint (tokens in headers and in the URL query), and the assertion looks
 *   for both the exact values and their tell-tale prefixes.
 *
 * A case marked `bug` shows how secretrun SHOULD behave and currently doesn't: it runs as `it.fails` until
 * the lead fixes the code, at which point vitest reports it and the marker must go. `SHOW_KNOWN_BUGS=1` runs
 * them as ordinary tests, to see how they fail today.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SOURCES } from '../src/sources/index.js';
import { BIN, runCli, runCommand, useTmpProjects, type CliResult } from './helpers/cli.js';
import { startServer, vaultHandler, type FakeServer } from './helpers/http-server.js';

// ---- the secrets every case carries ------------------------------------------------------------------------

const SECRET = {
  dotenv: 'sk_live_51DotenvLayerQwErTy0123',
  json: 'supersecret-json-Zx9#value',
  yaml: 'supersecret-yaml-Pq7$value',
  http: 'sk_live_51HttpVaultLayerAbCdEf',
  vaultToken: 'hvs.CAESIVaultHeaderTokenSecret01',
  bearer: 'sk_live_bearerHeaderToken0002',
  urlToken: 'sk_live_urlQueryToken0003',
  inline: 'sk_live_inlineInSourcesFile0004',
  caseValue: 'supersecret-case-value-0005',
  caseOther: 'sk_live_caseOtherValue0006',
};
/** Any of these in output means a value leaked, even in part. Every secret above and in the case files matches. */
const SECRET_SHAPES = /sk_live_|supersecret|hvs\.CAES/;

/** Layers that load secrets first, so every case fails with secrets in memory. The case's own text follows. */
const PREAMBLE = `sources:
  - { type: dotenv, path: secrets.env }
  - { type: json, path: secrets.json }
  - { type: yaml, path: secrets.yaml }
  - type: http
    url: "\${SECRETS_URL}/v1/secret/data/app?token=\${URL_TOKEN}"
    headers: { X-Vault-Token: "\${VAULT_TOKEN}", Authorization: "Bearer \${BEARER_TOKEN}" }
    select: data.data
`;
const PREAMBLE_LINES = PREAMBLE.split('\n').length - 1;
/** Line `n` of a case's own text, as a line of the whole sources file. */
const line = (n: number) => PREAMBLE_LINES + n;

const SECRET_FILES: Record<string, string> = {
  'secrets.env': `API_KEY=${SECRET.dotenv}\nexport DB_PASSWORD="${SECRET.caseOther}"\n`,
  'secrets.json': JSON.stringify({ JSON_SECRET: SECRET.json, NESTED: { TOKEN: SECRET.caseValue } }),
  'secrets.yaml': `YAML_SECRET: "${SECRET.yaml}"\n`,
};

// ---- the table ---------------------------------------------------------------------------------------------

interface Case {
  name: string;
  /** The case's part of the sources file, appended to PREAMBLE (use `raw` for a file of your own). */
  sources?: string;
  /** The whole sources file, without the preamble (`null`: don't write one). */
  raw?: string | Buffer | null;
  /** Data files (path → content). */
  files?: Record<string, string | Buffer>;
  /** Arguments after `secretrun`; default `['--', 'true']`. */
  args?: string[];
  env?: Record<string, string>;
  code: number;
  message: string | RegExp;
  /** `file:line:col` carried by the line holding `message`, if the problem has a position. */
  at?: string;
  /** Runs after the files are written (chmod, sparse files, directories). */
  setup?: (dir: string) => void;
  /** Needs file permissions to apply (dropped CAP_DAC_OVERRIDE when running as root). */
  unprivileged?: boolean;
  /** Known defect: the expectation is right, the code isn't yet. Says where. */
  bug?: string;
}

const RUN = ['--', 'true'];
const S = (n: number, col: number) => `secretrun.yaml:${line(n)}:${col}`;

const CASES: Case[] = [
  // -- malformed YAML in the sources file
  {
    name: 'YAML: a tab used for indentation',
    sources: `  - type: json\n\tpath: data.json\n`,
    code: 125,
    message: 'invalid YAML: tab used for indentation',
    at: S(2, 1),
  },
  {
    name: 'YAML: a key indented less than its siblings',
    sources: `  - type: json\n   path: data.json\n`,
    code: 125,
    message: 'invalid YAML: a character is missing here (a "-" before a list item, a closing quote, bracket or brace?)',
    at: S(2, 1),
  },
  {
    name: 'YAML: a duplicate key in a layer',
    sources: `  - type: json\n    path: data.json\n    path: other.json\n`,
    code: 125,
    message: 'duplicate key',
    at: S(3, 5),
  },
  {
    name: 'YAML: an unclosed flow mapping holding an inline token',
    sources: `  - { type: http, url: "http://127.0.0.1:9/x", headers: { Authorization: "Bearer ${SECRET.inline}" }\n`,
    code: 125,
    message: 'invalid YAML: bad indentation',
    at: S(2, 1), // the end of the file, where the "}" was due
  },
  {
    name: 'YAML: the top level is a list',
    raw: `- type: dotenv\n  path: secrets.env\n`,
    code: 125,
    message: '(top level): expected a mapping, got a list',
    at: 'secretrun.yaml:1:1',
  },
  {
    name: 'an empty sources file',
    raw: '',
    code: 125,
    message: 'the sources file is empty',
    at: 'secretrun.yaml:1:1',
  },
  {
    name: 'a sources file holding only comments',
    raw: '# sources: [ ]\n# nothing here\n',
    code: 125,
    message: 'the sources file is empty',
    at: 'secretrun.yaml:1:1',
  },
  {
    name: 'a NUL byte in the sources file',
    sources: `  - type: json\n    path: "data\0.json"\n`,
    code: 125,
    message: 'contains a NUL byte',
    at: S(2, 16),
  },
  {
    name: 'non-UTF-8 bytes in the sources file',
    raw: Buffer.concat([Buffer.from(`${PREAMBLE}  - type: json\n    path: d`), Buffer.from([0xff, 0xfe]), Buffer.from('.json\n')]),
    code: 125,
    message: 'not valid UTF-8',
    at: S(2, 12),
  },
  {
    name: 'a sources file over the 1 MiB cap',
    raw: null,
    setup: (dir) => sparseFile(join(dir, 'secretrun.yaml'), 2 * 1024 * 1024),
    code: 125,
    message: /secretrun\.yaml: file is 2 MiB, larger than the 1 MiB limit/,
  },
  {
    name: 'a YAML alias bomb in the sources file',
    raw: PREAMBLE + aliasBomb(),
    code: 125,
    message: /secretrun\.yaml.*alias/,
  },

  // -- wrong types, one per option class
  { name: 'optional: "yes" (a string, not a boolean)', sources: `  - type: json\n    path: data.json\n    optional: "yes"\n`, code: 125, message: 'sources[4].optional: expected a boolean (true or false), got a string', at: S(3, 15) },
  { name: 'only: a string, not a list', sources: `  - type: json\n    path: data.json\n    only: API_KEY\n`, code: 125, message: 'sources[4].only: expected a list, got a string', at: S(3, 11) },
  { name: 'prefix: a number', sources: `  - type: json\n    path: data.json\n    prefix: 3\n`, code: 125, message: 'sources[4].prefix: expected a string, got an integer', at: S(3, 13) },
  { name: 'timeout: "ten"', sources: `  - type: http\n    url: http://127.0.0.1:9/\n    timeout: ten\n`, code: 125, message: 'sources[4].timeout: expected a number (seconds per attempt), got a string', at: S(3, 14) },
  { name: 'timeout: 0', sources: `  - type: doppler\n    timeout: 0\n`, code: 125, message: 'sources[4].timeout: must be greater than 0', at: S(2, 14) },
  { name: 'retries: -1', sources: `  - type: doppler\n    retries: -1\n`, code: 125, message: 'sources[4].retries: must be at least 0', at: S(2, 14) },
  { name: 'retries: 1.5', sources: `  - type: ssm\n    path: /app\n    retries: 1.5\n`, code: 125, message: 'sources[4].retries: expected an integer (a whole number of extra attempts), got a fraction', at: S(3, 14) },
  { name: 'names: [] (an empty list)', sources: `  - type: ssm\n    names: []\n`, code: 125, message: 'sources[4].names: must list at least 1 item', at: S(2, 12) },
  { name: 'recursive: "true" (a string)', sources: `  - type: ssm\n    path: /app\n    recursive: "true"\n`, code: 125, message: 'sources[4].recursive: expected a boolean (true or false), got a string', at: S(3, 16) },
  { name: 'headers: a list, not a map', sources: `  - type: http\n    url: http://127.0.0.1:9/\n    headers: [X-Token, "${SECRET.inline}"]\n`, code: 125, message: 'sources[4].headers: expected a mapping, got a list', at: S(3, 14) },
  { name: 'a header value that is a number', sources: `  - type: http\n    url: http://127.0.0.1:9/\n    headers: { X-Retry: 5 }\n`, code: 125, message: 'sources[4].headers.X-Retry: expected a string, got an integer', at: S(3, 25) },
  { name: 'method: DELETE (not an allowed value)', sources: `  - type: http\n    url: http://127.0.0.1:9/\n    method: DELETE\n`, code: 125, message: 'sources[4].method: unknown value "DELETE" (expected one of GET, POST, PUT, PATCH)', at: S(3, 13) },
  { name: 'format: toml', sources: `  - type: http\n    url: http://127.0.0.1:9/\n    format: toml\n`, code: 125, message: 'sources[4].format: unknown value "toml" (expected one of json, dotenv, yaml)', at: S(3, 13) },
  { name: 'decode: base32', sources: `  - type: json\n    path: data.json\n    decode: { API_KEY: base32 }\n`, code: 125, message: 'sources[4].decode.API_KEY: unknown value "base32" (expected one of base64)', at: S(3, 24) },
  { name: 'vars: a list', sources: `environments:\n  dev:\n    vars: { PORT: [8080] }\n`, args: ['-e', 'dev', '--', 'true'], code: 125, message: 'environments.dev.vars.PORT: expected a string, a number or a boolean, got a list', at: S(3, 19) },
  { name: 'sources: a mapping, not a list', raw: `sources:\n  type: dotenv\n  path: secrets.env\n`, code: 125, message: 'sources: expected a list, got a mapping', at: 'secretrun.yaml:2:3' },
  { name: 'a layer that is a bare word', sources: `  - dotenv\n`, code: 125, message: 'sources[4]: expected a mapping, got a string', at: S(1, 5) },
  { name: 'a layer without a type', sources: `  - path: data.json\n`, code: 125, message: 'sources[4]: missing required key "type"', at: S(1, 5) },
  { name: 'type: 3', sources: `  - type: 3\n    path: data.json\n`, code: 125, message: 'sources[4].type: unknown source type (an integer)', at: S(1, 11) },
  { name: 'require: an invalid name', sources: `require: [API_KEY, my-key]\n`, code: 125, message: 'require[1]: "my-key" is not a valid environment variable name', at: S(1, 20) },

  // -- unknown names
  {
    name: 'unknown type "dotnev": did you mean dotenv, with the full list',
    sources: `  - type: dotnev\n    path: secrets.env\n`,
    code: 125,
    message: `sources[4].type: unknown source type "dotnev" (expected one of ${SOURCES.map((s) => s.type).join(', ')}) (did you mean "dotenv"?)`,
    at: S(1, 11),
  },
  { name: 'unknown key "optionl": did you mean optional', sources: `  - type: json\n    path: data.json\n    optionl: true\n`, code: 125, message: 'sources[4].optionl: unknown key "optionl" (did you mean "optional"?)', at: S(3, 5) },
  { name: 'unknown key "pth": did you mean path', sources: `  - type: json\n    pth: data.json\n`, code: 125, message: 'sources[4].pth: unknown key "pth" (did you mean "path"?)', at: S(2, 5) },
  { name: 'unknown top-level key "enviroments"', sources: `enviroments:\n  dev: {}\n`, code: 125, message: 'enviroments: unknown key "enviroments" (did you mean "environments"?)', at: S(1, 1) },
  { name: 'unknown environment key "varz"', sources: `environments:\n  dev:\n    varz: { A: b }\n`, args: ['-e', 'dev', '--', 'true'], code: 125, message: 'environments.dev.varz: unknown key "varz" (did you mean "vars"?)', at: S(3, 5) },

  // -- finding and reading the sources file
  { name: '-c names a missing file', raw: null, args: ['-c', 'nope.yaml', '--', 'true'], code: 125, message: 'sources file nope.yaml (from -c) not found' },
  { name: '-c names a directory', raw: null, setup: (dir) => mkdirSync(join(dir, 'conf')), args: ['-c', 'conf', '--', 'true'], code: 125, message: 'sources file conf (from -c) is a directory, expected a file' },
  { name: 'SECRETRUN_CONFIG names a missing file', raw: null, env: { SECRETRUN_CONFIG: 'missing.yaml' }, code: 125, message: 'sources file missing.yaml (from SECRETRUN_CONFIG) not found' },
  {
    name: 'an unreadable sources file (mode 000)',
    sources: `  - { type: json, path: data.json }\n`,
    setup: (dir) => chmodSync(join(dir, 'secretrun.yaml'), 0o000),
    unprivileged: true,
    code: 125,
    message: 'secretrun.yaml: permission denied',
  },

  // -- data files
  { name: 'a missing layer file', sources: `  - type: json\n    path: absent.json\n`, code: 125, message: `layer "json absent.json" (${S(1, 5)}): absent.json: file not found` },
  {
    name: 'an unreadable layer file (mode 000)',
    sources: `  - type: dotenv\n    path: locked.env\n`,
    files: { 'locked.env': `LOCKED=${SECRET.caseValue}\n` },
    setup: (dir) => chmodSync(join(dir, 'locked.env'), 0o000),
    unprivileged: true,
    code: 125,
    message: `layer "dotenv locked.env" (${S(1, 5)}): locked.env: permission denied`,
  },
  { name: 'a directory given as a layer path', sources: `  - type: dotenv\n    path: conf.d\n`, setup: (dir) => mkdirSync(join(dir, 'conf.d')), code: 125, message: `layer "dotenv conf.d" (${S(1, 5)}): conf.d: is a directory, expected a file` },
  {
    name: 'bad JSON, located by line and column',
    sources: `  - type: json\n    path: data.json\n`,
    files: { 'data.json': `{\n  "API_KEY": "${SECRET.caseValue}",\n  "OTHER": ${SECRET.caseOther}\n}\n` },
    code: 125,
    message: 'invalid JSON: found a letter where a JSON value was expected (strings need double quotes)',
    at: 'data.json:3:12',
  },
  {
    name: 'JSON with a trailing comma',
    sources: `  - type: json\n    path: data.json\n`,
    files: { 'data.json': `{\n  "API_KEY": "${SECRET.caseValue}",\n}\n` },
    code: 125,
    message: 'invalid JSON: expected a key in double quotes, found "}"',
    at: 'data.json:3:1',
  },
  {
    name: 'JSON: an unterminated string holding a secret',
    sources: `  - type: json\n    path: data.json\n`,
    files: { 'data.json': `{"API_KEY": "${SECRET.caseValue}\n` },
    code: 125,
    message: 'invalid JSON: control character in a string',
    at: 'data.json:1:41',
  },
  {
    name: 'a JSON array at the top level',
    sources: `  - type: json\n    path: data.json\n`,
    files: { 'data.json': JSON.stringify([SECRET.caseValue, SECRET.caseOther]) },
    code: 125,
    message: 'data.json: the top level is an array; expected an object of key/value pairs',
  },
  {
    name: 'a JSON string at the top level',
    sources: `  - type: json\n    path: data.json\n`,
    files: { 'data.json': JSON.stringify(SECRET.caseValue) },
    code: 125,
    message: 'data.json: the top level is a string; expected an object of key/value pairs',
  },
  {
    name: 'select points at a string',
    sources: `  - type: json\n    path: data.json\n    select: db.password\n`,
    files: { 'data.json': JSON.stringify({ db: { password: SECRET.caseValue } }) },
    code: 125,
    message: 'data.json: select "db.password" points at a string; expected an object of key/value pairs',
  },
  {
    name: 'select names a missing key',
    sources: `  - type: yaml\n    path: data.yaml\n    select: db.replica\n`,
    files: { 'data.yaml': `db:\n  password: "${SECRET.caseValue}"\n` },
    code: 125,
    message: 'data.yaml: select "db.replica": no key "replica"',
  },
  {
    name: 'a data file over the 10 MiB cap (sparse, never read)',
    sources: `  - type: json\n    path: huge.json\n`,
    setup: (dir) => sparseFile(join(dir, 'huge.json'), 10 * 1024 * 1024 + 1),
    code: 125,
    message: `layer "json huge.json" (${S(1, 5)}): huge.json: file is 10.0 MiB, larger than the 10 MiB limit`,
  },
  {
    name: 'JSON keys that are not variable names ("-" and ".")',
    sources: `  - type: json\n    path: data.json\n`,
    files: { 'data.json': JSON.stringify({ 'api-key': SECRET.caseValue, 'db.password': SECRET.caseOther }) },
    code: 125,
    message: `layer "json data.json" (${S(1, 5)}): invalid environment variable names "api-key", "db.password"`,
  },
  {
    name: 'dotenv keys that are not variable names',
    sources: `  - type: dotenv\n    path: bad.env\n`,
    files: { 'bad.env': `api-key=${SECRET.caseValue}\n1PASSWORD=${SECRET.caseOther}\n` },
    code: 125,
    message: `layer "dotenv bad.env" (${S(1, 5)}): invalid environment variable names "api-key", "1PASSWORD"`,
  },
  {
    name: 'prefix "1" makes every key invalid',
    sources: `  - type: dotenv\n    path: secrets.env\n    prefix: "1"\n`,
    code: 125,
    message: 'invalid environment variable names "1API_KEY", "1DB_PASSWORD"',
  },
  {
    name: 'a key with a terminal escape sequence is shown escaped',
    sources: `  - type: json\n    path: data.json\n`,
    files: { 'data.json': `{"EVIL\\u001b[2J\\u001b[31m": "${SECRET.caseValue}"}` },
    code: 125,
    message: 'invalid environment variable name "EVIL\\u001b[2J\\u001b[31m"',
  },
  {
    name: 'a NUL byte in a JSON value (\\u0000)',
    sources: `  - type: json\n    path: data.json\n`,
    files: { 'data.json': `{"API_KEY": "sk_live_before\\u0000supersecret_after"}` },
    code: 125,
    message: `layer "json data.json" (${S(1, 5)}): value of API_KEY contains a NUL byte`,
  },
  {
    name: 'a raw NUL byte in a dotenv file',
    sources: `  - type: dotenv\n    path: nul.env\n`,
    files: { 'nul.env': `API_KEY=sk_live_before\0supersecret_after\n` },
    code: 125,
    message: `layer "dotenv nul.env" (${S(1, 5)}): nul.env: contains a NUL byte`,
  },
  {
    name: 'non-UTF-8 bytes in a JSON file',
    sources: `  - type: json\n    path: data.json\n`,
    files: { 'data.json': Buffer.concat([Buffer.from(`{\n  "API_KEY": "${SECRET.caseValue}`), Buffer.from([0xc3, 0x28]), Buffer.from('"\n}\n')]) },
    code: 125,
    message: 'not valid UTF-8',
    at: 'data.json:2:42',
  },
  {
    name: 'non-UTF-8 bytes in a dotenv file',
    sources: `  - type: dotenv\n    path: latin1.env\n`,
    files: { 'latin1.env': Buffer.concat([Buffer.from(`API_KEY=${SECRET.caseValue}\nNAME=Jos`), Buffer.from([0xe9]), Buffer.from('\n')]) },
    code: 125,
    message: 'not valid UTF-8',
    at: 'latin1.env:2:9',
  },
  {
    name: 'a duplicate key in a YAML data file',
    sources: `  - type: yaml\n    path: data.yaml\n`,
    files: { 'data.yaml': `API_KEY: "${SECRET.caseValue}"\nAPI_KEY: "${SECRET.caseOther}"\n` },
    code: 125,
    message: 'invalid YAML: duplicate key',
    at: 'data.yaml:2:1',
  },
  {
    name: 'a tab used for indentation in a YAML data file',
    sources: `  - type: yaml\n    path: data.yaml\n`,
    files: { 'data.yaml': `db:\n\tpassword: "${SECRET.caseValue}"\n` },
    code: 125,
    message: 'invalid YAML: tab used for indentation',
    at: 'data.yaml:2:1',
  },
  {
    name: 'a YAML alias bomb in a data file',
    sources: `  - type: yaml\n    path: data.yaml\n`,
    files: { 'data.yaml': `API_KEY: "${SECRET.caseValue}"\n${aliasBomb()}` },
    code: 125,
    message: /layer "yaml data\.yaml" \(secretrun\.yaml:\d+:5\): .*alias/i,
  },
  {
    name: 'JSON nested 100 000 levels deep',
    sources: `  - type: json\n    path: data.json\n`,
    files: { 'data.json': `{"API_KEY": "${SECRET.caseValue}", "X": ${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}}` },
    code: 125,
    message: /data\.json.*nest/,
  },
  {
    name: 'flatten makes two keys collide',
    sources: `  - type: json\n    path: data.json\n    flatten: __\n`,
    files: { 'data.json': JSON.stringify({ DB: { HOST: SECRET.caseValue }, DB__HOST: SECRET.caseOther }) },
    args: ['export'],
    code: 1,
    message: /layer "json data\.json".*DB__HOST/,
  },
  {
    name: 'invalid base64 under decode names the key, not the value',
    sources: `  - type: json\n    path: data.json\n    decode: { API_KEY: base64 }\n`,
    files: { 'data.json': JSON.stringify({ API_KEY: `${SECRET.caseValue}!!` }) },
    code: 125,
    message: /layer "json data\.json" \(secretrun\.yaml:\d+:5\): .*API_KEY/,
  },

  // -- interpolation
  { name: 'an unresolved ${NAME} in a path', sources: `  - type: json\n    path: \${CONFIG_DIR}/data.json\n`, code: 125, message: 'path: ${CONFIG_DIR} is not set', at: S(2, 11) },
  { name: 'an unresolved ${NAME} in a header', sources: `  - type: http\n    url: http://127.0.0.1:9/\n    headers: { X-Api-Key: "\${MISSING_TOKEN}" }\n`, code: 125, message: 'headers.X-Api-Key: ${MISSING_TOKEN} is not set', at: S(3, 27) },
  { name: 'an unterminated ${', sources: `  - type: json\n    path: "\${CONFIG_DIR/data.json"\n`, code: 125, message: 'unterminated "${" at column 1: the text ends before its "}"; write $${ for a literal ${', at: S(2, 11) },
  { name: '${} without a name', sources: `  - type: json\n    path: "\${}/data.json"\n`, code: 125, message: 'expected a name after "${"', at: S(2, 11) },
  { name: 'an unresolved ${NAME} in vars', sources: `environments:\n  dev:\n    vars: { BASE: "\${NO_SUCH_BASE}" }\n`, args: ['-e', 'dev', '--', 'true'], code: 125, message: 'environments.dev.vars.BASE: ${NO_SUCH_BASE} is not set', at: S(3, 19) },
  {
    name: 'a self-reference: a layer path using a key that layer defines',
    sources: `  - type: json\n    path: \${APP_ENV}.json\n`,
    files: { 'prod.json': JSON.stringify({ APP_ENV: 'prod', API_KEY: SECRET.caseValue }) },
    code: 125,
    message: 'layer "json ${APP_ENV}.json": path: ${APP_ENV} is not set (looked up in vars, earlier layers and the environment)',
    at: S(2, 11),
  },
  {
    name: 'a self-reference inside a dotenv file with expand',
    sources: `  - type: dotenv\n    path: loop.env\n    expand: true\n`,
    files: { 'loop.env': `API_KEY=${SECRET.caseValue}\nLOOP=\${LOOP}-suffix\n` },
    code: 125,
    message: 'loop.env:2: LOOP: expand: the variable referenced at column 1 of the value is not set (looked up in this file, earlier layers and the environment; write \\$ for a literal $)',
  },

  // -- environments and require
  { name: 'an unknown environment lists the defined ones', sources: `environments:\n  dev: {}\n  staging: {}\n`, args: ['-e', 'stagin', '--', 'true'], code: 2, message: 'unknown environment "stagin" given by -e (did you mean "staging"?) (defined: dev, staging)' },
  { name: 'SECRETRUN_ENV names an unknown environment', sources: `environments:\n  dev: {}\n`, env: { SECRETRUN_ENV: 'prod' }, code: 2, message: 'unknown environment "prod" given by SECRETRUN_ENV (defined: dev)' },
  { name: 'no environment selected', sources: `environments:\n  dev: {}\n  prod: {}\n`, code: 125, message: 'no environment selected: pass -e NAME, set SECRETRUN_ENV or default_environment (defined: dev, prod)' },
  { name: '-e with a file that defines no environments', sources: '', args: ['-e', 'prod', '--', 'true'], code: 2, message: 'unknown environment "prod" given by -e: secretrun.yaml defines no environments' },
  { name: 'default_environment names an undefined environment', sources: `default_environment: prd\nenvironments:\n  dev: {}\n  prod: {}\n`, code: 125, message: 'default_environment: "prd" is not defined (defined: dev, prod)', at: S(1, 22) },
  { name: 'require lists every missing key', sources: `require: [API_KEY, STRIPE_KEY, SENTRY_DSN]\n`, code: 125, message: 'missing required keys: STRIPE_KEY, SENTRY_DSN' },

  // -- http layers
  { name: 'an http url that is not a URL', sources: `  - type: http\n    url: "not a url"\n`, code: 125, message: `layer "http (invalid URL)" (${S(1, 5)}): invalid URL: it has no scheme (write it as https://HOST[:PORT]/...)` },
  { name: 'an http url with an empty host', sources: `  - type: http\n    url: "http://"\n`, code: 125, message: 'invalid URL (it does not parse' },
  { name: 'an ftp:// url', sources: `  - type: http\n    url: ftp://127.0.0.1/secrets.json\n`, code: 125, message: 'unsupported URL scheme "ftp:" (only http: and https:)' },
  { name: 'a file:// url', sources: `  - type: http\n    url: file:///etc/passwd\n`, code: 125, message: 'unsupported URL scheme "file:" (only http: and https:)' },
  {
    name: 'an invalid URL carrying a token in its query',
    sources: `  - type: http\n    url: "http//vault.internal/v1/x?token=\${URL_TOKEN}"\n`,
    code: 125,
    message: 'invalid URL: it has no scheme',
  },
  {
    name: 'connection refused, no retries',
    sources: `  - type: http\n    url: "http://127.0.0.1:\${CLOSED_PORT}/v1/x?token=\${URL_TOKEN}"\n    headers: { X-Vault-Token: "\${VAULT_TOKEN}" }\n    retries: 0\n`,
    code: 125,
    message: /connection refused \(ECONNREFUSED\) talking to http:\/\/127\.0\.0\.1:\d+/,
  },
  {
    name: 'HTTP 404 without optional',
    // The origin comes from \${SECRETS_URL}, filled in by the preamble's layer too (not public there): blanked.
    sources: `  - type: http\n    url: "\${SECRETS_URL}/v1/secret/data/absent?token=\${URL_TOKEN}"\n    headers: { X-Vault-Token: "\${VAULT_TOKEN}" }\n    public: [SECRETS_URL]\n`,
    code: 125,
    message: /not found \(HTTP 404 from http:\/\/127\.0\.0\.1:\d+\)/,
  },
  {
    name: 'HTTP 403: a wrong token is rejected without being shown',
    sources: `  - type: http\n    url: "\${SECRETS_URL}/v1/secret/data/app"\n    headers: { X-Vault-Token: "${SECRET.inline}" }\n`,
    code: 125,
    message: /the credentials were rejected \(HTTP 403 from http:\/\/127\.0\.0\.1:\d+; header X-Vault-Token from the sources file\)/,
  },
  {
    name: 'an http body that is not JSON',
    sources: `  - type: http\n    url: "\${SECRETS_URL}/echo?token=\${URL_TOKEN}"\n    headers: { Authorization: "Bearer \${BEARER_TOKEN}" }\n`,
    code: 125,
    // The origin came from \${SECRETS_URL}, a filled-in value the layer does not mark public: blanked.
    message: /http:\/\/127\.0\.0\.1:\d+:1:14: invalid JSON: expected a key in double quotes, found a letter/,
  },

  // -- command lines (usage errors exit 2)
  { name: 'an unknown command suggests the closest one', raw: null, args: ['exprot'], code: 2, message: 'unknown command "exprot" (did you mean "export"?)' },
  { name: 'an unknown option', raw: null, args: ['export', '--frobnicate'], code: 2, message: 'unknown option "--frobnicate"' },
  { name: 'export --format xml', raw: null, args: ['export', '--format', 'xml'], code: 2, message: '--format: unknown format "xml" (expected one of: dotenv, json, yaml, shell)' },
  {
    name: 'options without a command or --',
    raw: null,
    args: ['-e', 'prod'],
    code: 2,
    message: /secretrun -e prod -- <command>|no command/,
  },
  { name: 'diff with an unknown environment exits 2', sources: `environments:\n  dev: {}\n`, args: ['diff', 'dev', 'nope'], code: 2, message: 'unknown environment "nope" given by diff\'s arguments (defined: dev)' },
  { name: 'get of an undefined key exits 1', sources: '', args: ['get', 'NO_SUCH_KEY'], code: 1, message: 'key "NO_SUCH_KEY" is not defined' },
  {
    name: 'ls with a broken layer exits 1',
    sources: `  - type: json\n    path: data.json\n`,
    files: { 'data.json': `{"API_KEY": "${SECRET.caseValue}" "B": 1}` },
    args: ['ls'],
    code: 1,
    message: 'invalid JSON: expected "," or "}", found """',
    at: 'data.json:1:43',
  },

  // -- found by fuzzing (issue 26)
  {
    name: 'YAML: an alias inside the list it names (only: &a [*a]), in check',
    sources: `  - type: dotenv\n    path: secrets.env\n    only: &a [*a]\n`,
    args: ['check'],
    code: 1,
    message: 'invalid YAML: an alias inside the node it refers to (a cycle)',
    at: S(3, 15),
  },
  {
    name: 'YAML: an alias inside the list it names (retries: &cyc [*cyc]), in run',
    sources: `  - type: http\n    url: "http://127.0.0.1:\${CLOSED_PORT}/"\n    retries: &cyc [*cyc]\n`,
    code: 125,
    message: 'invalid YAML: an alias inside the node it refers to (a cycle)',
    at: S(3, 20),
  },
  {
    name: 'YAML: a key that is a mapping, in the sources file (no Node warning)',
    sources: `? complex: ["${SECRET.inline}"]\n: 1\n`,
    args: ['check'],
    code: 1,
    message: 'invalid YAML: a key that is a list or a mapping (keys are strings)',
    at: S(1, 3),
  },
  {
    name: 'YAML: a key that is a list, in a yaml layer (no Node warning)',
    sources: `  - type: yaml\n    path: data.yaml\n`,
    files: { 'data.yaml': `A: 1\n? [${SECRET.caseValue}]\n: v\n` },
    code: 125,
    message: 'invalid YAML: a key that is a list or a mapping (keys are strings)',
    at: 'data.yaml:2:3',
  },
  {
    name: 'a layer path naming a character device (/dev/zero) is refused before reading',
    sources: `  - type: dotenv\n    path: /dev/zero\n`,
    code: 125,
    message: '/dev/zero: is a character device, expected a file or a named pipe',
  },
  {
    name: 'a layer path holding terminal escapes is printed escaped',
    sources: `  - type: dotenv\n    path: "a\\x1b[2Jb\\x07.env"\n`,
    code: 125,
    message: 'a\\x1b[2Jb\\x07.env: file not found',
  },
  { name: 'export with a missing layer file exits 1', sources: `  - type: dotenv\n    path: .env.production\n`, args: ['export', '--format', 'json'], code: 1, message: '.env.production: file not found' },
];

// ---- running a case ----------------------------------------------------------------------------------------

/** Under root, file modes don't apply; dropping the DAC capabilities makes them apply again. */
const DROP_DAC = ['--bounding-set=-dac_override,-dac_read_search'];
const isRoot = process.getuid?.() === 0;
const canDropDac = isRoot && spawnSync('setpriv', [...DROP_DAC, 'true']).status === 0;
const permissionsUntestable = isRoot && !canDropDac ? 'running as root and `setpriv` cannot drop CAP_DAC_OVERRIDE here' : undefined;

let server: FakeServer;
let closedPort: number;

beforeAll(async () => {
  const vault = vaultHandler({ token: SECRET.vaultToken, secrets: { app: { HTTP_SECRET: SECRET.http } } });
  server = await startServer((req) => {
    // A server that echoes what it was sent: nothing it says may reach the user.
    if (req.path === '/echo') return { status: 200, headers: { 'content-type': 'application/json' }, body: `{"ok": true, echo: ${JSON.stringify(req.headers.authorization)}, "url": "${req.url}"}` };
    if (req.query.get('token') !== SECRET.urlToken && req.path.includes('/app')) return { status: 403, json: { errors: [`bad token ${req.url}`] } };
    return vault(req);
  });
  const closed = await startServer(() => ({}));
  closedPort = closed.port;
  await closed.close();
});
afterAll(() => server?.close());

const project = useTmpProjects(afterEach);

function caseEnv(c: Case): Record<string, string> {
  return {
    SECRETS_URL: server.origin,
    VAULT_TOKEN: SECRET.vaultToken,
    BEARER_TOKEN: SECRET.bearer,
    URL_TOKEN: SECRET.urlToken,
    CLOSED_PORT: String(closedPort),
    ...c.env,
  };
}

async function runCase(c: Case): Promise<CliResult> {
  const sourcesFile = c.raw === undefined ? PREAMBLE + (c.sources ?? '') : c.raw;
  const { dir } = project({ ...SECRET_FILES, ...(sourcesFile === null ? {} : { 'secretrun.yaml': sourcesFile }), ...c.files });
  c.setup?.(dir);
  const args = c.args ?? RUN;
  const opts = { cwd: dir, env: caseEnv(c) };
  if (c.unprivileged && isRoot) return runCommand('setpriv', [...DROP_DAC, process.execPath, BIN, ...args], opts);
  return runCli(args, opts);
}

/** One or more `secretrun: ` lines, no stack trace, no Node internals. */
function expectCleanStderr(stderr: string): void {
  const lines = stderr.split('\n');
  expect(lines.pop(), 'stderr ends with a newline').toBe('');
  expect(lines.length).toBeGreaterThan(0);
  for (const l of lines) expect(l, `every stderr line is prefixed:\n${stderr}`).toMatch(/^secretrun: /);
  expect(stderr).not.toMatch(/^\s+at /m);
  expect(stderr).not.toContain('node:internal');
  expect(stderr).not.toMatch(/\b(TypeError|ReferenceError|RangeError|SyntaxError)\b/);
}

function expectNoSecrets(output: string): void {
  for (const value of Object.values(SECRET)) expect(output).not.toContain(value);
  expect(output).not.toMatch(SECRET_SHAPES);
  expect(output, 'no raw terminal escapes').not.toContain('\x1b');
}

function lineWith(stderr: string, message: string | RegExp): string | undefined {
  return stderr.split('\n').find((l) => (typeof message === 'string' ? l.includes(message) : message.test(l)));
}

describe('bad-input catalogue', () => {
  it('has at least 40 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40);
    expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
  });

  for (const c of CASES) {
    const skipReason = c.unprivileged ? permissionsUntestable : undefined;
    if (skipReason) {
      it.skip(`${c.name} (skipped: ${skipReason})`, () => {});
      continue;
    }
    // SHOW_KNOWN_BUGS=1 runs known bugs as ordinary tests, to see exactly how they fail.
    const test = c.bug && !process.env.SHOW_KNOWN_BUGS ? it.fails : it;
    test(c.bug ? `${c.name} [known bug: ${c.bug}]` : c.name, async () => {
      const r = await runCase(c);
      const shown = `exit ${r.code}\nstderr: ${r.stderr}`;
      expect(r.code, shown).toBe(c.code);
      expectCleanStderr(r.stderr);
      const hit = lineWith(r.stderr, c.message);
      expect(hit, `expected ${String(c.message)} in\n${r.stderr}`).toBeDefined();
      if (c.at) expect(hit, 'the message carries its location').toContain(`${c.at}: `);
      expectNoSecrets(r.stderr);
      expectNoSecrets(r.stdout);
    });
  }
});

// ---- fixtures made on the fly -------------------------------------------------------------------------------

/** A file of `bytes` bytes that takes no disk space and no time to write. */
function sparseFile(path: string, bytes: number): void {
  writeFileSync(path, '', { mode: 0o600 });
  truncateSync(path, bytes);
}

/** Nine levels of nine aliases each: 9^9 nodes if expanded. */
function aliasBomb(): string {
  const lines = ['a0: &a0 ["sk_live_bomb", "supersecret_bomb"]'];
  for (let i = 1; i <= 9; i++) lines.push(`a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(', ')}]`);
  return lines.join('\n') + '\n';
}
