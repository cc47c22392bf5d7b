/**
 * Secret-safe messages end to end (issue 15), with the built CLI: the narrowed redaction net no longer garbles
 * ordinary messages, dotenv expansion reads `\$` and dotenv-expand's operators, `check` reports repeated JSON keys,
 * and the one crash handler gives one line and the command's own exit code (waiting for a running child).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { realpathSync } from 'node:fs';
import { PRINT_ENV, runCli, useTmpProjects } from './helpers/cli.js';
import { loadSecrets } from '../src/index.js';

const project = useTmpProjects(afterEach);
/** Where a missing layer file was looked for, as the message gives it (the net blanks that part as it does the path). */
const lookedFor = (dir: string, path: string) => ` (looked for ${realpathSync(dir)}/${path})`;

describe('the redaction net does not garble', () => {
  it('short values filled in by ${...} stay readable: config/${STAGE}.${FORMAT} and the label "json"', async () => {
    const { dir } = project({
      '.env': 'STAGE=prod\nFORMAT=json\nDB_PASSWORD=correct-horse-battery\n',
      'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n  - type: json\n    path: config/${STAGE}.${FORMAT}\n',
    });
    const r = await runCli(['--', 'true'], { cwd: dir });
    expect(r.code).toBe(125);
    expect(r.stderr).toBe(`secretrun: layer "json config/\${STAGE}.\${FORMAT}" (secretrun.yaml:4:5): config/prod.json: file not found${lookedFor(dir, 'config/prod.json')}\n`);
  });

  it('a value of 8+ characters filled in by ${...} is blanked, unless the layer lists its name in public', async () => {
    const files = (pub: string) => ({ 'secretrun.yaml': `sources:\n  - type: json\n    path: \${SECRET_DIR}/app.json\n${pub}` });
    const env = { SECRET_DIR: 's3cr3t-directory-name' };
    const hiddenDir = project(files('')).dir;
    const hidden = await runCli(['--', 'true'], { cwd: hiddenDir, env });
    expect(hidden.stderr).toBe(`secretrun: layer "json \${SECRET_DIR}/app.json" (secretrun.yaml:2:5): [redacted]/app.json: file not found${lookedFor(hiddenDir, '[redacted]/app.json')}\n`);
    const shownDir = project(files('    public: [SECRET_DIR]\n')).dir;
    const shown = await runCli(['--', 'true'], { cwd: shownDir, env });
    expect(shown.stderr).toBe(`secretrun: layer "json \${SECRET_DIR}/app.json" (secretrun.yaml:2:5): s3cr3t-directory-name/app.json: file not found${lookedFor(shownDir, 's3cr3t-directory-name/app.json')}\n`);
  });

  it('a value some layer loaded stays blanked even where another layer lists its name in public', async () => {
    const { dir } = project({
      '.env': 'SECRET_DIR=s3cr3t-directory-name\n',
      'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n  - type: json\n    path: ${SECRET_DIR}/app.json\n    public: [SECRET_DIR]\n',
    });
    const r = await runCli(['--', 'true'], { cwd: dir });
    expect(r.stderr).toBe(`secretrun: layer "json \${SECRET_DIR}/app.json" (secretrun.yaml:4:5): [redacted]/app.json: file not found${lookedFor(dir, '[redacted]/app.json')}\n`);
  });

  it('a layer label holding a token that came through vars is blanked in ls, not only in errors', async () => {
    const { dir } = project({
      'secretrun.yaml': 'environments:\n  dev:\n    vars: { T: "${VAULT_TOKEN}" }\n    sources:\n      - type: json\n        path: cfg/${T}.json\n',
      'cfg/hvs.labelToken42.json': '{"A": "1"}',
    });
    const r = await runCli(['ls', '-e', 'dev', '--json'], { cwd: dir, env: { VAULT_TOKEN: 'hvs.labelToken42' } });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout).keys).toEqual([{ key: 'A', layer: 'json cfg/[redacted].json', shadowed: [] }]);
  });

  it('the library scrubs its errors with the same rule', async () => {
    const { dir } = project({
      '.env': 'STAGE=prod\nTOKEN_DIR=tok-abcdefgh-123\n',
      'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n  - type: json\n    path: ${TOKEN_DIR}/${STAGE}.json\n',
    });
    const err = await loadSecrets({ cwd: dir, processEnv: {} }).then(() => undefined, (e: Error) => e);
    expect(err?.message).toBe(`layer "json \${TOKEN_DIR}/\${STAGE}.json" (secretrun.yaml:4:5): [redacted]/prod.json: file not found${lookedFor(dir, '[redacted]/prod.json')}`);
  });
});

describe('a broken sources file', () => {
  it('gives one line: the first YAML syntax error, not the cascade after it', async () => {
    const { dir } = project({ 'secretrun.yaml': 'sources:\n  - { type: json, path: a.json\n  - type: dotenv\n' });
    const r = await runCli(['--', 'true'], { cwd: dir });
    expect(r.code).toBe(125);
    expect(r.stderr).toBe('secretrun: secretrun.yaml:3:3: invalid YAML: bad indentation\n');
  });
});

describe('dotenv expand: as dotenv-expand reads it, and errors that quote nothing', () => {
  it('\\$ is a literal $ (a bcrypt hash), and ${V-d}, ${V:+a}, ${V+a} work', async () => {
    const hash = '$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy';
    const { dir } = project({
      '.env': `HASH="${hash.replaceAll('$', '\\$')}"\nSET=yes\nA=\${UNSET-fallback}\nB=\${SET:+on}\nC=\${UNSET+on}\n`,
      'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n    expand: true\n',
    });
    const r = await runCli(['--', process.execPath, '-e', PRINT_ENV, 'HASH', 'A', 'B', 'C'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ HASH: hash, A: 'fallback', B: 'on', C: '' });
  });

  it('a $ in a password names the key, the line and a column, never the text after it', async () => {
    const { dir } = project({ '.env': 'USER=app\nPASSWORD=Xy$abcdefgh12\n', 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n    expand: true\n' });
    const r = await runCli(['--', 'true'], { cwd: dir });
    expect(r.code).toBe(125);
    expect(r.stderr).toBe(
      'secretrun: layer "dotenv .env" (secretrun.yaml:2:5): .env:2: PASSWORD: expand: the variable referenced at column 3 of the value is not set (looked up in this file, earlier layers and the environment; write \\$ for a literal $)\n',
    );
  });

  it('the sources file: an operator other than :- is "unsupported", naming the layer and position', async () => {
    const { dir } = project({ 'secretrun.yaml': 'sources:\n  - type: json\n    path: config/${STAGE-dev}.json\n' });
    const r = await runCli(['check'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('secretrun: secretrun.yaml:3:11: sources[0].path: unsupported operator "-" in ${STAGE...} at column 8');
  });
});

describe('check reports keys repeated in a JSON layer', () => {
  it('names the file, line and column of each repeat and the key; the run still uses the last one', async () => {
    const { dir } = project({
      'secretrun.yaml': 'sources:\n  - type: json\n    path: config.json\n',
      'config.json': '{\n  "API_URL": "https://a.example",\n  "DEBUG": "0",\n  "API_URL": "https://b.example"\n}\n',
    });
    const r = await runCli(['check'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'secretrun: config.json:4:3: duplicate key "API_URL" in layer "json config.json" (the last one wins at run time; keep one)\nsecretrun: secretrun.yaml: 1 problem\n',
    );
    const run = await runCli(['--', process.execPath, '-e', PRINT_ENV, 'API_URL'], { cwd: dir });
    expect(JSON.parse(run.stdout)).toEqual({ API_URL: 'https://b.example' });
  });
});

describe('the crash handler', () => {
  const crashing = (when: 'before' | 'after') => ({
    'secretrun.yaml': 'environments:\n  a:\n    sources:\n      - type: module\n        path: mod.mjs\n  b: {}\n',
    'mod.mjs':
      when === 'before'
        ? 'export default { async load() { setTimeout(() => { throw { code: 7, detail: "line one\\nline two" }; }); await new Promise((r) => setTimeout(r, 3000)); return {}; } };\n'
        : 'export default { async load() { setTimeout(() => Promise.reject(new TypeError("late failure\\nsecond line")), 300); return { A: "x" }; } };\n',
  });

  it('diff: one line, exit 2', async () => {
    const r = await runCli(['diff', 'a', 'b'], { cwd: project(crashing('before')).dir });
    expect(r.stderr).toBe('secretrun: internal error: a non-Error object was thrown (rerun with SECRETRUN_DEBUG=1 for details)\n');
    expect(r.code).toBe(2);
  });

  it('run, before the child starts: one line, exit 125', async () => {
    const { dir } = project(crashing('before'));
    const r = await runCli(['-e', 'a', '--', 'true'], { cwd: dir });
    expect(r.stderr).toBe('secretrun: internal error: a non-Error object was thrown (rerun with SECRETRUN_DEBUG=1 for details)\n');
    expect(r.code).toBe(125);
  });

  // Only a relaying parent can crash after the child starts: on the execve path (Node >= 22.15) secretrun's process
  // has become the child by then, so this pins the spawn path with --no-exec.
  it('run, once the child runs: secretrun keeps waiting and exits with the child\'s code', async () => {
    const { dir } = project(crashing('after'));
    const r = await runCli(['-e', 'a', '--no-exec', '--', process.execPath, '-e', 'setTimeout(() => { console.log("child done"); process.exit(7); }, 1500)'], { cwd: dir });
    expect(r.stderr).toBe('secretrun: internal error: late failure (rerun with SECRETRUN_DEBUG=1 for details)\n');
    expect(r.stdout).toBe('child done\n');
    expect(r.code).toBe(7);
  });

  it('export: a module throwing a multi-line string gives one line', async () => {
    const { dir } = project({
      'secretrun.yaml': 'sources:\n  - type: module\n    path: mod.mjs\n',
      'mod.mjs': 'export default { async load() { throw "upstream said:\\n<html>\\n<body>500</body>"; } };\n',
    });
    const r = await runCli(['export'], { cwd: dir });
    expect(r.stderr).toBe('secretrun: layer "module mod.mjs" (secretrun.yaml:2:5): module mod.mjs: load() failed: upstream said:\n');
    expect(r.code).toBe(1);
  });
});
