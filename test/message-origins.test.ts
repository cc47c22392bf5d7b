/**
 * Messages that show what the user needs (issue 25, items 1-4), through the built CLI with real files and real
 * loopback servers: `vars` are the sources file's own text (a label and a path built from them show, even when a
 * loaded value happens to equal them); a destination's scheme, host and port show wherever they came from; a
 * 401 says which token was used, never its value; a missing --dotenv file says where it was looked for; a
 * scheme-less API host names its setting.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { realpathSync } from 'node:fs';
import { runCli, useTmpProjects } from './helpers/cli.js';
import { dopplerHandler, useServers } from './helpers/http-server.js';
import { startBlackhole } from './helpers/blackhole.js';

const project = useTmpProjects(afterEach);
const serve = useServers(afterEach);

const GOOD = 'dp.st.prd.the-good-token-0002';
const FROM_DOTENV = 'dp.st.prd.stale-dotenv-token-77';
const doppler = dopplerHandler({
  configs: [{ project: 'openedx', config: 'prd', secrets: { SECRET_KEY: 'prd-key' } }],
  tokens: { [GOOD]: { kind: 'service', project: 'openedx', config: 'prd' } },
});

describe('vars are the sources file\'s own text', () => {
  const yaml = [
    'environments:',
    '  prod:',
    '    vars: { STAGE: Production, HIDDEN: "${SECRET_DIR}" }',
    '    sources:',
    '      - type: dotenv',
    '        path: .env',
    '      - type: json',
    '        path: config/${STAGE}.json',
    '      - type: json',
    '        path: ${HIDDEN}/${STAGE}.json',
    '        optional: true',
    '',
  ].join('\n');

  it('a label and a missing file built from vars show them, even when a loaded value is the same text', async () => {
    // `.env` loads a value equal to the vars value: the net would blank "Production" everywhere if it were not
    // shown by construction in the label and the path.
    const { dir } = project({ 'secretrun.yaml': yaml, '.env': 'SAME_TEXT=Production\n' });
    const r = await runCli(['export', '-e', 'prod'], { cwd: dir, env: { SECRET_DIR: 'a-private-directory' } });
    expect(r.code).toBe(1);
    const at = join(realpathSync(dir), 'config', 'Production.json');
    expect(r.stderr).toBe(`secretrun: layer "json config/Production.json" (secretrun.yaml:7:9): config/Production.json: file not found (looked for ${at})\n`);
  });

  it('ls shows the labels; the part of a vars value that ${...} filled from the environment stays blanked', async () => {
    const { dir } = project({ 'secretrun.yaml': yaml, '.env': 'SAME_TEXT=Production\n', 'config/Production.json': '{"API": "x"}' });
    const r = await runCli(['ls', '-e', 'prod', '--json'], { cwd: dir, env: { SECRET_DIR: 'a-private-directory' } });
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('"json config/Production.json"');
    expect(r.stdout).not.toContain('a-private-directory');
    expect(r.stdout).toContain('json [redacted]/Production.json');
  });
});

describe('destinations and credentials in messages', () => {
  it('a host from DOPPLER_API_HOST that never accepts: scheme, host and port shown, retried at `timeout` each', async () => {
    const hole = await startBlackhole();
    try {
      const { dir } = project({ 'secretrun.yaml': 'sources:\n  - type: doppler\n    timeout: 0.5\n    retries: 1\n' });
      const r = await runCli(['export'], { cwd: dir, env: { DOPPLER_TOKEN: GOOD, DOPPLER_API_HOST: hole.origin } });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        new RegExp(`^secretrun: layer "doppler" \\(secretrun\\.yaml:2:5\\): no connection to ${hole.origin.replace(/\./g, '\\.')} within 0\\.5 s \\(gave up after 2 attempts in [\\d.]+ s\\)\\n$`),
      );
    } finally {
      await hole.close();
    }
  });

  it('a 401 names where the token came from (the .env layer wins over the shell, as documented), never a token', async () => {
    const s = await serve(doppler);
    const { dir } = project({
      '.env': `DOPPLER_TOKEN=${FROM_DOTENV}\n`,
      'secretrun.yaml': `sources:\n  - type: dotenv\n    path: .env\n  - type: doppler\n    api_host: ${s.origin}\n`,
    });
    const r = await runCli(['export'], { cwd: dir, env: { DOPPLER_TOKEN: GOOD } });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `secretrun: layer "doppler" (secretrun.yaml:4:5): the Doppler token was rejected (HTTP 401 from ${s.origin}; token DOPPLER_TOKEN from layer "dotenv .env")\n`,
    );
    expect(r.stderr).not.toContain(FROM_DOTENV);
    expect(r.stderr).not.toContain(GOOD);

    const { dir: literal } = project({ 'secretrun.yaml': `sources:\n  - type: doppler\n    token: ${FROM_DOTENV}\n    api_host: ${s.origin}\n` });
    const r2 = await runCli(['export'], { cwd: literal });
    expect(r2.stderr).toContain(`(HTTP 401 from ${s.origin}; token from the sources file)`);
    expect(r2.stderr).not.toContain(FROM_DOTENV);
  });

  it('a scheme-less DOPPLER_API_HOST names the variable and asks for https://', async () => {
    const { dir } = project({ 'secretrun.yaml': 'sources:\n  - type: doppler\n' });
    const r = await runCli(['export'], { cwd: dir, env: { DOPPLER_TOKEN: GOOD, DOPPLER_API_HOST: 'api.example.com' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('secretrun: layer "doppler" (secretrun.yaml:2:5): api_host DOPPLER_API_HOST from the environment: the API host needs a scheme: write https://HOST[:PORT]\n');
  });

  it('--dotenv with a missing file says where it looked', async () => {
    const { dir } = project({ 'secretrun.yaml': 'sources: []\n' });
    const r = await runCli(['export', '--dotenv', 'nope'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`secretrun: layer "dotenv nope": nope: file not found (looked for ${join(realpathSync(dir), 'nope')})\n`);
  });
});
