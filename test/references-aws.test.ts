/**
 * `ref+awsssm://` and `ref+awssecrets://` end to end (contract section 3b): the built CLI against moto_server
 * (started by test/setup/moto.ts) through a counting loopback proxy, so batching is asserted from the requests
 * that reached the store, not assumed. Real files in temp projects; the child prints its environment.
 */
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { withoutNodeVersionWarning } from '../src/sources/aws/client.js';
import { BIN, CLI_NODE, PRINT_ENV, runCli, runCommand, useTmpProjects, type CliResult } from './helpers/cli.js';
import { dummyAwsEnv, seedParameters, seedSecrets, startAwsProxy, type AwsProxy } from './helpers/moto.js';
import { starts, until, watchPlumbing } from './helpers/watch.js';

const moto = inject('motoEndpoint');
const NS = `SrRefTest-${process.pid}-${Date.now().toString(36)}`;
const project = useTmpProjects(afterEach);

const DB_PASSWORD = 'pw-Zq8vT3mK9xL2';
const API = { DB_PASS: 'api-dbpass-7Hq2', TOKEN: 'api-token-9Xw4', PORT: 8080, NESTED: { a: 1 } };
const SSM_COUNT = 23;

let proxy: AwsProxy;
afterEach(() => void proxy?.targets.splice(0));

/** Run the CLI in `dir` with the dummy AWS environment pointed at the counting proxy. */
function cli(dir: string, args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  return runCli(args, { cwd: dir, env: dummyAwsEnv({ AWS_ENDPOINT_URL: proxy.url, ...env }) });
}

/** `run` with a child that prints the named variables as JSON. */
async function childEnv(dir: string, keys: string[], args: string[] = [], env: Record<string, string | undefined> = {}): Promise<Record<string, string | null>> {
  const r = await cli(dir, [...args, '--', process.execPath, '-e', PRINT_ENV, ...keys], env);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

const count = (target: string) => proxy.targets.filter((t) => t === target).length;

describe.skipIf(!moto)('references against moto_server', () => {
  beforeAll(async () => {
    await seedParameters(moto, [
      { name: `/${NS}/db/password`, value: DB_PASSWORD, type: 'SecureString' },
      { name: `/${NS}/db/user`, value: 'app' },
      { name: `/${NS}/file`, value: 'second.env' },
      { name: `/${NS}/b64`, value: Buffer.from('decoded-after-resolution').toString('base64') },
      { name: `/${NS}/versioned`, value: 'first-version' },
      ...Array.from({ length: SSM_COUNT }, (_, i) => ({ name: `/${NS}/many/P${i}`, value: `many-value-${i}` })),
    ]);
    await seedParameters(moto, [{ name: `/${NS}/versioned`, value: 'second-version' }]);
    // The same name in another region, with another value: `?region=` must pick it.
    const eu = withoutNodeVersionWarning(() => new SSMClient({ endpoint: moto, region: 'eu-west-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } }));
    await eu.send(new PutParameterCommand({ Name: `/${NS}/db/user`, Value: 'app-in-eu-west-1', Type: 'String', Overwrite: true }));
    eu.destroy();
    await seedSecrets(moto, [
      { name: `${NS}/api`, value: JSON.stringify(API) },
      { name: `${NS}/plain`, value: 'plain-secret-text-5Rt' },
      { name: `${NS}/other`, value: JSON.stringify({ K: 'other-k-value' }) },
      { name: `${NS}/rotated`, value: 'rotated-v1', then: ['rotated-v2'] },
    ]);
    proxy = await startAwsProxy(moto);
  });
  afterAll(() => proxy?.close());

  it('a committed .env of references, no sources file: whole and embedded, pointers, one read per distinct secret, SSM by tens', async () => {
    const many = Array.from({ length: SSM_COUNT }, (_, i) => `M${i}=ref+awsssm://${NS}/many/P${i}`).join('\n');
    const { dir } = project({
      '.env': [
        `DB_PASSWORD=ref+awsssm:///${NS}/db/password`,
        `DATABASE_URL=postgres://ref+awsssm://${NS}/db/user+:ref+awsssm://${NS}/db/password+@db:5432/app`,
        `API_DB_PASS="ref+awssecrets://${NS}/api#/DB_PASS"`,
        `API_TOKEN='secretref+awssecrets://${NS}/api#/TOKEN'`,
        `API_PORT="ref+awssecrets://${NS}/api#/PORT"`,
        `API_NESTED="ref+awssecrets://${NS}/api#/NESTED"`,
        `PLAIN=ref+awssecrets://${NS}/plain`,
        `OTHER="ref+awssecrets://${NS}/other#/K"`,
        'LITERAL=no reference here',
        many,
      ].join('\n'),
    });
    const env = await childEnv(dir, ['DB_PASSWORD', 'DATABASE_URL', 'API_DB_PASS', 'API_TOKEN', 'API_PORT', 'API_NESTED', 'PLAIN', 'OTHER', 'LITERAL', 'M0', 'M22'], ['--dotenv', '.env']);
    expect(env).toEqual({
      DB_PASSWORD,
      DATABASE_URL: `postgres://app:${DB_PASSWORD}@db:5432/app`,
      API_DB_PASS: API.DB_PASS,
      API_TOKEN: API.TOKEN,
      API_PORT: '8080',
      API_NESTED: '{"a":1}',
      PLAIN: 'plain-secret-text-5Rt',
      OTHER: 'other-k-value',
      LITERAL: 'no reference here',
      M0: 'many-value-0',
      M22: 'many-value-22',
    });
    // 2 + 23 distinct parameters: ceil(25 / 10) calls; 3 distinct secrets for 6 keys: one batch call.
    expect(count('AmazonSSM.GetParameters')).toBe(3);
    expect(count('secretsmanager.BatchGetSecretValue')).toBe(1);
    expect(proxy.targets).toHaveLength(4);
  });

  it('json and yaml layers in a sources file; a shadowed reference is never read; ${...} reads a reference before its layer loads', async () => {
    const { dir } = project({
      'secretrun.yaml': [
        'sources:',
        '  - type: json',
        '    path: a.json',
        '  - type: yaml',
        '    path: b.yaml',
        '  - type: dotenv',
        '    path: ${NEXT_FILE}',
      ].join('\n'),
      'a.json': JSON.stringify({ SHADOWED: `ref+awsssm://${NS}/does-not-exist`, FROM_JSON: `ref+awssecrets://${NS}/api#/TOKEN`, NEXT_FILE: `ref+awsssm://${NS}/file` }),
      'b.yaml': `SHADOWED: literal wins\nFROM_YAML: "user=ref+awsssm://${NS}/db/user+"\n`,
      'second.env': 'SECOND=loaded from the file a reference named\n',
    });
    const env = await childEnv(dir, ['SHADOWED', 'FROM_JSON', 'FROM_YAML', 'NEXT_FILE', 'SECOND']);
    expect(env).toEqual({ SHADOWED: 'literal wins', FROM_JSON: API.TOKEN, FROM_YAML: 'user=app', NEXT_FILE: 'second.env', SECOND: 'loaded from the file a reference named' });
    // NEXT_FILE before the dotenv layer loads, then the winners: the parameter already read is not read again.
    expect(proxy.served.join('\n')).not.toContain('does-not-exist');
    expect(proxy.served.filter((b) => b.includes(`/${NS}/file`))).toHaveLength(1);
  });

  it('references: false on a layer and on the whole file keep values literal', async () => {
    const ref = `ref+awsssm://${NS}/db/user`;
    const layer = project({ 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n    references: false\n', '.env': `U=${ref}\n` });
    expect(await childEnv(layer.dir, ['U'])).toEqual({ U: ref });
    const file = project({ 'secretrun.yaml': 'references: false\nsources:\n  - type: dotenv\n    path: .env\n', '.env': `U=${ref}\n` });
    expect(await childEnv(file.dir, ['U'])).toEqual({ U: ref });
    expect(proxy.targets).toEqual([]);
  });

  it('region and version are honoured; decode applies to the resolved value', async () => {
    const { dir } = project({
      'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n    decode: { B64: base64 }\n',
      '.env': `EU=ref+awsssm://${NS}/db/user?region=eu-west-1\nUS=ref+awsssm://${NS}/db/user\nV1=ref+awsssm://${NS}/versioned?version=1\nV2=ref+awsssm://${NS}/versioned\nB64=ref+awsssm://${NS}/b64\nPREV=ref+awssecrets://${NS}/rotated?version_stage=AWSPREVIOUS\n`,
    });
    expect(await childEnv(dir, ['EU', 'US', 'V1', 'V2', 'B64', 'PREV'])).toEqual({
      EU: 'app-in-eu-west-1',
      US: 'app',
      V1: 'first-version',
      V2: 'second-version',
      B64: 'decoded-after-resolution',
      PREV: 'rotated-v1',
    });
  });

  describe('the inherited environment', () => {
    it('the bare ENTRYPOINT ["secretrun", "--"]: no file, references set by the platform; other tools\' schemes left alone', async () => {
      const { dir } = project();
      const env = await childEnv(dir, ['DB_PASSWORD', 'URL', 'OTHER_TOOL', 'PLAIN'], [], {
        DB_PASSWORD: `ref+awsssm://${NS}/db/password`,
        URL: `https://ref+awsssm://${NS}/db/user+@host`,
        OTHER_TOOL: 'ref+sops://secrets.yaml#/x',
        PLAIN: 'plain',
      });
      expect(env).toEqual({ DB_PASSWORD, URL: 'https://app@host', OTHER_TOOL: 'ref+sops://secrets.yaml#/x', PLAIN: 'plain' });
      expect(count('AmazonSSM.GetParameters')).toBe(1);
    });

    it('with no file, no --dotenv and no reference: the "no secretrun.yaml" error names the way out', async () => {
      const { dir } = project();
      const r = await cli(dir, ['--', 'true'], { OTHER_TOOL: 'ref+sops://x' });
      expect(r.code).toBe(125);
      expect(r.stderr).toMatch(/^secretrun: no secretrun\.yaml in .*--dotenv-optional \.env\)\n$/);
    });

    it('--dotenv files and the environment both resolve; export shows the files\' keys only', async () => {
      const { dir } = project({ '.env': `FROM_FILE=ref+awsssm://${NS}/db/user\n` });
      const env = await childEnv(dir, ['FROM_FILE', 'FROM_ENV'], ['--dotenv', '.env'], { FROM_ENV: `ref+awsssm://${NS}/db/password` });
      expect(env).toEqual({ FROM_FILE: 'app', FROM_ENV: DB_PASSWORD });
      expect(count('AmazonSSM.GetParameters')).toBe(2); // the files' winners, then the environment (the cache spares nothing twice)
      const r = await cli(dir, ['export', '--dotenv', '.env', '--format', 'json'], { FROM_ENV: `ref+awsssm://${NS}/db/password` });
      expect(JSON.parse(r.stdout)).toEqual({ FROM_FILE: 'app' });
    });

    it('with a sources file, a reference no env layer reads is one warning; an env layer resolves it', async () => {
      const env = { INHERITED: `ref+awsssm://${NS}/db/user` };
      const without = project({ 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n    optional: true\n' });
      const r = await cli(without.dir, ['--', process.execPath, '-e', PRINT_ENV, 'INHERITED'], env);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual(env);
      expect(r.stderr).toBe(`secretrun: warning: the inherited variable INHERITED holds a reference (ref+awsssm://${NS}/db/user) that no "env" layer reads: the child gets its text (add \`- type: env\` to the sources)\n`);
      const withEnv = project({ 'secretrun.yaml': 'sources:\n  - type: env\n' });
      expect(await childEnv(withEnv.dir, ['INHERITED'], [], env)).toEqual({ INHERITED: 'app' });
    });
  });

  describe('failures name the key, the scheme and the path, with each command\'s code', () => {
    const missing = `ref+awsssm://${NS}/gone`;
    const files = { 'secretrun.yaml': 'environments:\n  a:\n    sources:\n      - type: dotenv\n        path: .env\n  b:\n    sources: []\n', '.env': `SECRET=prefix-value-x9 ${missing}\n` };

    it.each([
      [['-e', 'a', '--', 'true'], 125],
      [['export', '-e', 'a'], 1],
      [['get', '-e', 'a', 'SECRET'], 1],
      [['ls', '-e', 'a'], 1],
      [['diff', 'a', 'b'], 2],
    ])('%j exits %i', async (args, code) => {
      const { dir } = project(files);
      const r = await cli(dir, args);
      expect(r.code).toBe(code);
      expect(r.stderr).toBe(`secretrun: layer "dotenv .env" (secretrun.yaml:4:9): SECRET: ${missing}: not found\n`);
    });

    it('an unknown scheme and a refused parameter in a layer are errors naming the key', async () => {
      const unknown = project({ '.env': 'K=ref+sops://secrets.yaml\n' });
      let r = await cli(unknown.dir, ['--dotenv', '.env', '--', 'true']);
      expect([r.code, r.stderr]).toEqual([125, 'secretrun: layer "dotenv .env": K: ref+sops://: unknown reference scheme (known: ref+awsssm, ref+awssecrets, ref+vault, ref+gcpsecrets, ref+azurekeyvault)\n']);
      const refused = project({ '.env': `K=ref+awsssm://${NS}/db/user?endpoint=http://127.0.0.1:1\n` });
      r = await cli(refused.dir, ['export', '--dotenv', '.env']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`K: ref+awsssm://${NS}/db/user: parameter "endpoint" is not accepted (accepted: region, version)`);
      expect(proxy.targets).toEqual([]);
    });

    it('an unquoted # cutting a reference is an error in every command, naming the file, line and key', async () => {
      const { dir } = project({ '.env': `A=1\nK=ref+awssecrets://${NS}/api#/DB_PASS\n` });
      for (const [args, code] of [[['--', 'true'], 125], [['export'], 1], [['ls'], 1], [['get', 'A'], 1]] as const) {
        const r = await cli(dir, ['--dotenv', '.env', ...args]);
        expect(r.code).toBe(code);
        expect(r.stderr).toBe('secretrun: layer "dotenv .env": .env:2: K: an unquoted "#" cuts the reference (dotenv reads it as a comment); quote the value: K="ref+..."\n');
      }
      expect(proxy.targets).toEqual([]);
    });
  });

  it('ls, export, get and diff agree with run; ls shows "via"; --mask hides the resolved value', async () => {
    const { dir } = project({
      'secretrun.yaml': 'environments:\n  a:\n    sources:\n      - type: dotenv\n        path: .env\n  b:\n    sources:\n      - type: dotenv\n        path: .env\n      - type: dotenv\n        path: b.env\n',
      '.env': `DB_PASSWORD=ref+awsssm://${NS}/db/password\nSAME=plain\n`,
      'b.env': `SAME=ref+awssecrets://${NS}/plain\n`,
    });
    const run = await childEnv(dir, ['DB_PASSWORD'], ['-e', 'a']);
    const exported = await cli(dir, ['export', '-e', 'a', '--format', 'json']);
    expect(JSON.parse(exported.stdout)).toEqual({ DB_PASSWORD: run.DB_PASSWORD, SAME: 'plain' });
    expect((await cli(dir, ['get', '-e', 'a', 'DB_PASSWORD'])).stdout).toBe(DB_PASSWORD);
    const ls = await cli(dir, ['ls', '-e', 'a', '--json', '--reveal']);
    expect(JSON.parse(ls.stdout).keys).toEqual([
      { key: 'DB_PASSWORD', layer: 'dotenv .env', via: 'ref+awsssm', shadowed: [], value: DB_PASSWORD },
      { key: 'SAME', layer: 'dotenv .env', shadowed: [], value: 'plain' },
    ]);
    const table = await cli(dir, ['ls', '-e', 'a']);
    expect(table.stdout).toMatch(/^DB_PASSWORD +dotenv \.env via ref\+awsssm +- +\*+ \(15 chars\)$/m);
    expect(table.stdout).not.toContain(DB_PASSWORD);
    const diff = await cli(dir, ['diff', 'a', 'b', '--json', '--reveal']);
    expect(diff.code).toBe(1);
    expect(JSON.parse(diff.stdout).changed).toEqual([{ key: 'SAME', a: { layer: 'dotenv .env', value: 'plain' }, b: { layer: 'dotenv b.env', value: 'plain-secret-text-5Rt' } }]);
    const masked = await cli(dir, ['-e', 'a', '--mask', '--', process.execPath, '-e', 'console.log("pw=" + process.env.DB_PASSWORD)']);
    expect(masked.code, masked.stderr).toBe(0);
    expect(masked.stdout).toBe('pw=****\n');
  });

  it('watch mode reads referenced values again on every re-resolve, and restarts the child when one changed', async () => {
    const plumbing = watchPlumbing();
    try {
      await seedParameters(moto, [{ name: `/${NS}/rotating`, value: 'rotating-v1' }, { name: `/${NS}/rotating-env`, value: 'env-v1' }]);
      const { dir } = plumbing.project({ '.env': `TOKEN=ref+awsssm://${NS}/rotating\n` });
      const env = dummyAwsEnv({ AWS_ENDPOINT_URL: proxy.url, FROM_ENV: `ref+awsssm://${NS}/rotating-env` }) as Record<string, string>;
      const w = await plumbing.startWatched(dir, ['--dotenv', '.env', '--watch=2'], ['TOKEN', 'FROM_ENV'], env);
      expect(w.first.env).toEqual({ TOKEN: 'rotating-v1', FROM_ENV: 'env-v1' });
      await seedParameters(moto, [{ name: `/${NS}/rotating`, value: 'rotating-v2' }]);
      const second = await until(() => starts(w.log)[1], 'a restart with the file reference\'s new value', 15_000);
      expect(second.env).toEqual({ TOKEN: 'rotating-v2', FROM_ENV: 'env-v1' });
      // A reference in the inherited environment (no sources file) is part of what the child gets, and of the fingerprint.
      await seedParameters(moto, [{ name: `/${NS}/rotating-env`, value: 'env-v2' }]);
      const third = await until(() => starts(w.log)[2], 'a restart with the inherited reference\'s new value', 15_000);
      expect(third.env).toEqual({ TOKEN: 'rotating-v2', FROM_ENV: 'env-v2' });
    } finally {
      await plumbing.cleanup();
    }
  });

  it('check validates references in local layer files offline', async () => {
    const { dir } = project({
      'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n  - type: dotenv\n    path: cut.env\n  - type: json\n    path: c.json\n',
      '.env': `GOOD=ref+awsssm://${NS}/db/user\nBAD="ref+awsssm://x#/y"\n`,
      'cut.env': `\nCUT=ref+awssecrets://x#/y\n`,
      'c.json': JSON.stringify({ UNKNOWN: 'ref+nope://x', PARAM: 'ref+awssecrets://x?profile=admin' }),
    });
    const r = await cli(dir, ['check']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('BAD: ref+awsssm://x: a "#" fragment is not supported by ref+awsssm');
    expect(r.stderr).toContain('cut.env:2: CUT: an unquoted "#" cuts the reference');
    expect(r.stderr).toContain('UNKNOWN: ref+nope://: unknown reference scheme');
    expect(r.stderr).toContain('PARAM: ref+awssecrets://x: parameter "profile" is not accepted');
    expect(proxy.targets).toEqual([]);
  });
});

describe('cost', () => {
  // Store code arrives through require (node_modules) or as a vendored bundle the shim reads (dist/vendor/aws.cjs).
  const STORES = String.raw`[\\/](?:node_modules[\\/](?:@aws-sdk|@smithy|@google-cloud|google-auth-library|@azure|node-vault)|dist[\\/]vendor)[\\/]`;
  const REPORT = `const fs = require('node:fs'); const read = fs.readFileSync; const seen = new Set(); const re = new RegExp(${JSON.stringify(STORES)});
fs.readFileSync = function (p, ...rest) { if (typeof p === 'string' && re.test(p)) seen.add(p); return read.call(this, p, ...rest); };
process.on('exit', () => process.stderr.write('stores: ' + (seen.size + Object.keys(require.cache).filter((f) => re.test(f)).length) + '\\n'));`;

  it('a run without a reference loads no store module; one with a reference does', async () => {
    const { dir, write } = project({ '.env': 'A=plain value\nB=ref-but+not://a reference\n' });
    const preload = write('report.cjs', REPORT);
    // --no-exec: where Node has execve the run would replace the process before the preload could report.
    const plain = await runCommand(CLI_NODE, ['-r', preload, BIN, '--no-exec', '--dotenv', '.env', '--', 'true'], { cwd: dir, env: { NOT_A_REF: 'ref+sops://x' } });
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stderr).toBe('stores: 0\n');
    // The positive control: the same preload sees the SDK load once a reference is there (it fails there: no region).
    write('.env', 'A=ref+awsssm://x\n');
    const withRef = await runCommand(CLI_NODE, ['-r', preload, BIN, '--dotenv', '.env', '--', 'true'], { cwd: dir });
    expect(withRef.code).toBe(125);
    expect(Number(/stores: (\d+)/.exec(withRef.stderr)![1])).toBeGreaterThan(0);
  });
});
