/**
 * Plumbing for watch-mode tests: the built CLI around fixtures/child/recorder.mjs, a child that appends one JSON
 * line per start (its PID and chosen env vars) and per signal to a log file. Tests wait for events in that log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, ROOT, alive, baseEnv, tmpProject } from './cli.js';
import { startServer, type FakeServer } from './http-server.js';

export const RECORDER = join(ROOT, 'fixtures/child/recorder.mjs');

export type Event = { event: 'start'; pid: number; env: Record<string, string | null> } | { event: 'signal'; pid: number; signal: string };

export function events(log: string): Event[] {
  if (!existsSync(log)) return [];
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Event);
}
export const starts = (log: string) => events(log).filter((e): e is Extract<Event, { event: 'start' }> => e.event === 'start');
export const signals = (log: string, pid: number) => events(log).filter((e) => e.event === 'signal' && e.pid === pid).map((e) => (e as { signal: string }).signal);

/** Poll `probe` until it returns something truthy. */
export async function until<T>(probe: () => T | undefined | null | false, what: string, timeoutMs = 8000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Replace a file the way editors and deploy tools do: write a temp file, rename it over. */
export function replaceFile(path: string, content: string): void {
  writeFileSync(`${path}.tmp`, content);
  renameSync(`${path}.tmp`, path);
}

export interface Watched {
  proc: ChildProcess;
  log: string;
  stderr(): string;
  stdout(): string;
  ended: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The first child's start event. */
  first: Extract<Event, { event: 'start' }>;
}

/** Projects, servers and watched processes of a test file, all cleaned up by `cleanup()` (call it in afterAll). */
export function watchPlumbing() {
  const cleanups: (() => void | Promise<void>)[] = [];
  return {
    async cleanup() {
      for (const c of cleanups.splice(0).reverse()) await c();
    },
    project(files: Record<string, string>) {
      const p = tmpProject(files);
      cleanups.push(p.cleanup);
      return p;
    },
    async server(handler: Parameters<typeof startServer>[0]): Promise<FakeServer> {
      const s = await startServer(handler);
      cleanups.push(() => s.close());
      return s;
    },
    /** Start `secretrun <args> -- node recorder.mjs <log> <childArgs>` and wait for the first child. */
    async startWatched(dir: string, args: string[], childArgs: string[], env: Record<string, string> = {}): Promise<Watched> {
      const log = join(dir, `events-${randomBytes(4).toString('hex')}.log`);
      const proc = spawn(process.execPath, [BIN, ...args, '--', process.execPath, RECORDER, log, ...childArgs], {
        cwd: dir,
        env: baseEnv(env),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      let stdout = '';
      proc.stderr!.setEncoding('utf8').on('data', (d) => (stderr += d));
      proc.stdout!.setEncoding('utf8').on('data', (d) => (stdout += d));
      const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
      let exited = false;
      void ended.then(() => (exited = true));
      // Leave nothing behind, whatever the test did.
      cleanups.push(() => {
        for (const e of starts(log)) if (alive(e.pid)) process.kill(e.pid, 'SIGKILL');
        if (!exited) proc.kill('SIGKILL');
      });
      const first = await until(() => {
        if (exited && starts(log).length === 0) throw new Error(`secretrun exited early: ${stderr}`);
        return starts(log)[0];
      }, 'the first child');
      return { proc, log, stderr: () => stderr, stdout: () => stdout, ended, first };
    },
  };
}
