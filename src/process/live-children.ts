/**
 * The children `run` started that have not exited yet. The crash handler (src/cli/main.ts) reads this: once a
 * child runs, an internal error must not end secretrun, which would orphan the child and lose its exit code.
 */
import type { ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();

export function trackChild(child: ChildProcess): void {
  live.add(child);
  const forget = () => live.delete(child);
  child.once('exit', forget);
  child.once('error', forget);
}

export function liveChildren(): ChildProcess[] {
  return [...live];
}
