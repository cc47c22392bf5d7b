/**
 * vitest globalSetup: one `moto_server` (a real SSM API emulator) on a free loopback port for the whole run.
 * Test files get its URL with `inject('motoEndpoint')` and seed their own path namespace, so they can run in
 * parallel against the one server. Setup does not wait for moto to answer (about a second): runs without ssm
 * tests shouldn't pay for it, so `seedParameters` waits instead (test/helpers/moto.ts).
 *
 * In CI (`CI=true`) a missing moto_server fails the run. On a developer machine without it, the endpoint is ''
 * and the ssm tests skip, after a loud message saying what to install.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `http://127.0.0.1:PORT` of the running moto_server, or '' when it isn't installed (tests skip). */
    motoEndpoint: string;
  }
}

const INSTALL_HINT = 'pip install "moto[server]>=5"  (provides the moto_server command)';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function spawnMoto(port: number): Promise<ChildProcess | null> {
  return new Promise((resolve, reject) => {
    // Its own process group, so teardown can stop moto and anything its launcher (a pyenv shim) started.
    const child = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    child.once('error', (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? resolve(null) : reject(err)));
    child.once('spawn', () => resolve(child));
  });
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = (signal: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // already gone
      }
    };
    const force = setTimeout(() => kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    kill('SIGTERM');
  });
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const port = await freePort();
  const child = await spawnMoto(port);
  if (child === null) {
    const message = `moto_server is not installed, so the AWS SSM tests cannot run. Install it with: ${INSTALL_HINT}`;
    if (process.env.CI === 'true') throw new Error(`${message} (required in CI)`);
    process.stderr.write(`\n${'!'.repeat(100)}\n!! SKIPPING the ssm tests: ${message}\n${'!'.repeat(100)}\n\n`);
    project.provide('motoEndpoint', '');
    return undefined;
  }
  let log = '';
  let stopping = false;
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (log = (log + d).slice(-4000)));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (log = (log + d).slice(-4000)));
  child.once('exit', (code, signal) => {
    if (!stopping) process.stderr.write(`\nmoto_server exited unexpectedly (${code ?? signal}); its last output:\n${log.trim().split('\n').slice(-5).join('\n')}\n`);
  });
  const url = `http://127.0.0.1:${port}`;
  project.provide('motoEndpoint', url);
  return () => {
    stopping = true;
    return stop(child);
  };
}
