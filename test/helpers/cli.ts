/**
 * Spawn the built CLI the way a user does, in real temp directories.
 */
import { spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = join(ROOT, 'bin/secretrun.cjs');

/**
 * The Node that runs the CLI under test: SECRETRUN_TEST_NODE (set by .ci/run's Node matrix), else the one
 * running the tests.
 */
export const CLI_NODE = process.env.SECRETRUN_TEST_NODE || process.execPath;

const execveOf = new Map<string, boolean>();
/** Does this Node have process.execve (≥ 22.15 / 23.11), so that a plain run replaces secretrun with the child? */
export function hasExecve(node = CLI_NODE): boolean {
  if (!execveOf.has(node)) execveOf.set(node, spawnSync(node, ['-p', 'typeof process.execve'], { encoding: 'utf8' }).stdout.trim() === 'function');
  return execveOf.get(node)!;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  /** Extra environment; merged over a minimal base (PATH, HOME) unless `inheritEnv` is set. */
  env?: Record<string, string | undefined>;
  inheritEnv?: boolean;
  input?: string;
  timeoutMs?: number;
}

/**
 * A HOME of the tests' own (one per test process, empty): no developer's `~/.vault-token`, `~/.aws`, gcloud or Azure
 * CLI credentials is ever found by a CLI under test.
 */
export const TEST_HOME = mkdtempSync(join(tmpdir(), 'secretrun-home-'));
process.on('exit', () => rmSync(TEST_HOME, { recursive: true, force: true }));

/** Variables that steer a store client or a credential chain: never inherited by a CLI under test. */
export const CREDENTIAL_ENV = /^(VAULT_|AWS_|GOOGLE_|GCLOUD_|CLOUDSDK_|GCE_METADATA_|AZURE_|IDENTITY_|MSI_|DOPPLER_|DOTENV_PRIVATE_KEY)/;

/**
 * Shut doors to real metadata services: the AWS SDK's IMDS probe and google-auth-library's metadata detection.
 * A test that exercises a metadata path sets its own loopback fake over these.
 */
export const NO_METADATA = { AWS_EC2_METADATA_DISABLED: 'true', METADATA_SERVER_DETECTION: 'none' };

/** A clean base environment so the developer's own variables never leak into assertions. */
export function baseEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: TEST_HOME,
    LANG: 'C.UTF-8',
    ...NO_METADATA,
    ...extra,
  };
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as Record<string, string>;
}

/** The test process's environment less every credential-steering variable, for tests that inherit it. */
export function inheritedEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !CREDENTIAL_ENV.test(k)));
  return { ...env, HOME: TEST_HOME, ...NO_METADATA, ...extra };
}

export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return runCommand(CLI_NODE, [BIN, ...args], opts);
}

export function runCommand(cmd: string, args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const env = opts.inheritEnv ? inheritedEnv(opts.env) : baseEnv(opts.env);
  const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] } as SpawnOptions);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d) => (stderr += d));
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  else child.stdin!.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
  return new Promise((resolvePromise, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}

/** Create a temp directory holding `files` (path → content). Returns its path; `cleanup()` removes it. */
export function tmpProject(files: Record<string, string | Buffer> = {}): { dir: string; cleanup: () => void; write: (p: string, c: string | Buffer) => string } {
  const dir = mkdtempSync(join(tmpdir(), 'secretrun-test-'));
  const write = (p: string, c: string | Buffer) => {
    const full = join(dir, p);
    mkdirSync(dirname(full), { recursive: true });
    // Private, as secrets files should be: secretrun warns about files other users can read.
    writeFileSync(full, c, { mode: 0o600 });
    return full;
  };
  for (const [p, c] of Object.entries(files)) write(p, c);
  return { dir, write, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A child program that prints chosen env vars as JSON: `node -e PRINT_ENV KEY1 KEY2`. */
export const PRINT_ENV = 'const o={};for(const k of process.argv.slice(1))o[k]=process.env[k]??null;process.stdout.write(JSON.stringify(o))';

/** Temp projects removed after each test: call once at the top of a test file. */
export function useTmpProjects(afterEachHook: (fn: () => void) => void): (files?: Record<string, string | Buffer>) => ReturnType<typeof tmpProject> {
  const cleanups: (() => void)[] = [];
  afterEachHook(() => cleanups.splice(0).forEach((c) => c()));
  return (files = {}) => {
    const p = tmpProject(files);
    cleanups.push(p.cleanup);
    return p;
  };
}

/** Is a process with this PID still running? */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
