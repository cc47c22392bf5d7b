/**
 * README's "Secrets that must be files" recipe, example by example, against the real programs installed here:
 * curl --cacert against a local https server, ssh-keygen -y -f, kubectl with KUBECONFIG, Python's json.load,
 * Node's fs.readFileSync, a CI variable turned into a file, --mount, and google-auth-library, which refuses a
 * pipe and loads from the tmpfs kind. A program that is not installed skips its example, loudly.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ROOT, runCli, useTmpProjects } from './helpers/cli.js';
import { runtimeDir } from './helpers/files.js';

const has = (cmd: string, ...args: string[]) => {
  const ok = spawnSync(cmd, args.length ? args : ['--version'], { stdio: 'ignore' }).status === 0;
  if (!ok) console.warn(`\n*** test/files-recipes.test.ts: ${cmd} is not installed; its example is skipped ***\n`);
  return ok;
};
const HAS_OPENSSL = has('openssl', 'version');
const HAS_CURL = has('curl');
const HAS_SSH_KEYGEN = spawnSync('ssh-keygen', ['-?'], { stdio: 'ignore' }).error === undefined;
const HAS_KUBECTL = has('kubectl', 'version', '--client');
const HAS_PYTHON = has('python3');

const project = useTmpProjects(afterEach);
const scratch = useTmpProjects(afterAll);
const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

/** The secrets, as a store would hold them: PEM with its final newline, an OpenSSH key, a kubeconfig, a JSON key. */
const secrets: Record<string, string> = {};
let server: Server | undefined;
let port = 0;

beforeAll(async () => {
  const tmp = scratch();
  if (HAS_OPENSSL) {
    const made = spawnSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1', '-keyout', 'key.pem', '-out', 'cert.pem'],
      { cwd: tmp.dir, stdio: 'ignore' },
    );
    if (made.status === 0) {
      secrets.TLS_CA = readFileSync(join(tmp.dir, 'cert.pem'), 'utf8');
      server = createServer({ key: readFileSync(join(tmp.dir, 'key.pem')), cert: secrets.TLS_CA }, (_req, res) => res.end('hello over verified TLS\n'));
      await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
    }
  }
  if (HAS_SSH_KEYGEN) {
    spawnSync('ssh-keygen', ['-t', 'ed25519', '-N', '', '-q', '-C', 'deploy@example', '-f', join(tmp.dir, 'id')], { stdio: 'ignore' });
    secrets.SSH_KEY = readFileSync(join(tmp.dir, 'id'), 'utf8');
    secrets.SSH_PUB = readFileSync(join(tmp.dir, 'id.pub'), 'utf8');
  }
  secrets.KUBECONFIG = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: prod',
    '  cluster: { server: "https://k8s.internal.example:6443" }',
    'users:',
    '- name: deployer',
    '  user: { token: kube-token-123456 }',
    'contexts:',
    '- name: prod',
    '  context: { cluster: prod, user: deployer }',
    'current-context: prod',
    '',
  ].join('\n');
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  secrets.GOOGLE_APPLICATION_CREDENTIALS = JSON.stringify(
    {
      type: 'service_account',
      project_id: 'demo-project',
      private_key_id: 'abc123',
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      client_email: 'deployer@demo-project.iam.gserviceaccount.com',
      client_id: '1234567890',
      token_uri: 'https://oauth2.googleapis.com/token',
    },
    null,
    2,
  );
});
afterAll(() => server?.close());

/** A project whose json layer holds the secrets and whose sources file lists `asFile`. */
function recipeProject(asFile: string[], extra = '') {
  return project({
    'secrets.json': JSON.stringify(secrets),
    'secretrun.yaml': `sources:\n  - type: json\n    path: secrets.json\nas_file: [${asFile.join(', ')}]\n${extra}`,
  });
}

function xdg(ram = false): string {
  const r = runtimeDir(ram);
  cleanups.push(r.cleanup);
  return r.dir;
}

async function secretrun(dir: string, args: string[], env: Record<string, string> = {}) {
  return runCli(args, { cwd: dir, env: { XDG_RUNTIME_DIR: xdg(), ...env } });
}

describe('README: secrets that must be files', () => {
  it.skipIf(!HAS_OPENSSL || !HAS_CURL)("curl --cacert \"$TLS_CA\": the CA certificate from a pipe verifies the server", async () => {
    const p = recipeProject(['TLS_CA']);
    const r = await secretrun(p.dir, ['--', 'sh', '-c', `curl -sS --cacert "$TLS_CA" https://127.0.0.1:${port}/`]);
    expect([r.code, r.stdout, r.stderr]).toEqual([0, 'hello over verified TLS\n', '']);
    // Without the certificate, curl refuses the server: the pipe really carried it.
    const without = await secretrun(p.dir, ['--', 'sh', '-c', `curl -sS https://127.0.0.1:${port}/`]);
    expect(without.code).not.toBe(0);
  });

  it.skipIf(!HAS_SSH_KEYGEN)('ssh-keygen -y -f "$SSH_KEY": the private key loads from a pipe', async () => {
    const p = recipeProject(['SSH_KEY']);
    const r = await secretrun(p.dir, ['--', 'sh', '-c', 'ssh-keygen -y -f "$SSH_KEY"']);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toBe(secrets.SSH_PUB);
  });

  it.skipIf(!HAS_KUBECTL)('kubectl with KUBECONFIG listed in as_file: the variable is the path kubectl reads', async () => {
    const p = recipeProject(['KUBECONFIG']);
    const r = await secretrun(p.dir, ['--', 'kubectl', 'config', 'view', '--minify', '-o', 'jsonpath={.clusters[0].cluster.server}']);
    expect([r.code, r.stdout]).toEqual([0, 'https://k8s.internal.example:6443']);
  });

  it.skipIf(!HAS_PYTHON)("python3 json.load(open(os.environ['SERVICE_JSON']))", async () => {
    const p = recipeProject(['SERVICE_JSON']);
    p.write('secrets.json', JSON.stringify({ SERVICE_JSON: secrets.GOOGLE_APPLICATION_CREDENTIALS }));
    const r = await secretrun(p.dir, ['--', 'python3', '-c', 'import json, os; print(json.load(open(os.environ["SERVICE_JSON"]))["client_email"])']);
    expect([r.code, r.stdout]).toEqual([0, 'deployer@demo-project.iam.gserviceaccount.com\n']);
  });

  it("node fs.readFileSync(process.env.SERVICE_JSON), on every read", async () => {
    const p = recipeProject(['SERVICE_JSON']);
    p.write('secrets.json', JSON.stringify({ SERVICE_JSON: secrets.GOOGLE_APPLICATION_CREDENTIALS }));
    const script = 'const fs = require("fs"); for (let i = 0; i < 3; i++) console.log(JSON.parse(fs.readFileSync(process.env.SERVICE_JSON, "utf8")).project_id)';
    const r = await secretrun(p.dir, ['--', process.execPath, '-e', script]);
    expect([r.code, r.stdout]).toEqual([0, 'demo-project\n'.repeat(3)]);
  });

  it('CI: secretrun --as-file DEPLOY_KEY, with no sources file, turns a job variable into a file', async () => {
    const p = project();
    const r = await secretrun(p.dir, ['--as-file', 'DEPLOY_KEY', '--', 'sh', '-c', 'test -p "$DEPLOY_KEY" && cat "$DEPLOY_KEY"'], { DEPLOY_KEY: 'ci-deploy-key-value' });
    expect([r.code, r.stdout]).toEqual([0, 'ci-deploy-key-value']);
  });

  it('--mount secrets.json: the program reads the whole set from SECRETRUN_MOUNT', async () => {
    const p = project({ 'v.json': JSON.stringify({ DB_URL: 'postgres://db/app', API_KEY: 'k-123' }), 'secretrun.yaml': 'sources:\n  - type: json\n    path: v.json\n' });
    const script = 'const s = JSON.parse(require("fs").readFileSync(process.env.SECRETRUN_MOUNT, "utf8")); console.log(s.DB_URL, process.env.DB_URL ?? "(not in env)")';
    const r = await secretrun(p.dir, ['--mount', 'secrets.json', '--', process.execPath, '-e', script]);
    expect([r.code, r.stdout]).toEqual([0, 'postgres://db/app (not in env)\n']);
  });

  describe('google-auth-library: refuses a pipe, loads from --file-kind tmpfs', () => {
    const GOOGLE_AUTH = JSON.stringify(join(ROOT, 'node_modules/google-auth-library'));
    // No network: getClient() builds the service-account client from the file; nothing is fetched.
    const script = `const { GoogleAuth } = require(${GOOGLE_AUTH});
new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/cloud-platform'] }).getClient()
  .then((c) => console.log(c.constructor.name, c.email))
  .catch((e) => { console.log('refused:', /not a file/.test(e.message)); process.exit(3); });`;

    it('a named pipe is refused (the library checks for a regular file)', async () => {
      const p = recipeProject(['GOOGLE_APPLICATION_CREDENTIALS']);
      const r = await secretrun(p.dir, ['--', process.execPath, '-e', script]);
      expect([r.code, r.stdout]).toEqual([3, 'refused: true\n']);
    });

    it('secretrun --file-kind tmpfs --as-file GOOGLE_APPLICATION_CREDENTIALS loads the key', async () => {
      const p = project();
      const r = await secretrun(p.dir, ['--file-kind', 'tmpfs', '--as-file', 'GOOGLE_APPLICATION_CREDENTIALS', '--', process.execPath, '-e', script], {
        XDG_RUNTIME_DIR: xdg(true),
        GOOGLE_APPLICATION_CREDENTIALS: secrets.GOOGLE_APPLICATION_CREDENTIALS,
      });
      expect([r.code, r.stdout, r.stderr]).toEqual([0, 'JWT deployer@demo-project.iam.gserviceaccount.com\n', '']);
    });

    it('file_kind: tmpfs in the sources file does the same', async () => {
      const p = recipeProject(['GOOGLE_APPLICATION_CREDENTIALS'], 'file_kind: tmpfs\n');
      const r = await secretrun(p.dir, ['--', process.execPath, '-e', script], { XDG_RUNTIME_DIR: xdg(true) });
      expect([r.code, r.stdout, r.stderr]).toEqual([0, 'JWT deployer@demo-project.iam.gserviceaccount.com\n', '']);
    });
  });
});
