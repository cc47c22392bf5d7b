/**
 * The one ordered list of what `run` does after its child has exited and before secretrun exits (or re-raises
 * the child's signal): remove the secret files (`as_file`, `--mount`), and whatever else a feature that keeps the
 * parent resident needs to finish (revoking leases, ...). Tasks run in the order they were added, one at a time;
 * each is bounded by its own timeout, and one that fails or overruns is reported by name and the next one runs:
 * nothing here may change the exit code or leave the child's signal un-raised.
 *
 * Usage: `addExitTask('remove secret files', () => files.close(), 2000)` once the thing to undo exists;
 * `run` calls `runExitTasks(warn)` exactly once, in a `finally` around the child's whole life.
 */
export type ExitTask = () => void | Promise<void>;

interface Entry {
  name: string;
  fn: ExitTask;
  timeoutMs: number;
}

const tasks: Entry[] = [];

/** Queue `fn` to run at exit, after the tasks added before it. `name` is what a failure message shows (no value). */
export function addExitTask(name: string, fn: ExitTask, timeoutMs: number): void {
  tasks.push({ name, fn, timeoutMs });
}

/** The names queued so far, in order (for SECRETRUN_DEBUG and tests). */
export function exitTaskNames(): string[] {
  return tasks.map((t) => t.name);
}

/**
 * Run and drain every queued task in order. `onProblem` gets one line per task that threw or ran out of time
 * (built from the task's name and the error's code, never its message: a library may quote a value there).
 */
export async function runExitTasks(onProblem: (message: string) => void): Promise<void> {
  while (tasks.length > 0) {
    const { name, fn, timeoutMs } = tasks.shift()!;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
      timer.unref();
    });
    try {
      const outcome = await Promise.race([Promise.resolve().then(fn), timedOut]);
      if (outcome === 'timeout') onProblem(`${name}: not finished after ${timeoutMs / 1000}s; exiting without it`);
    } catch (err) {
      const code = (err as { code?: unknown } | null)?.code;
      onProblem(`${name} failed${typeof code === 'string' ? ` (${code})` : ''}`);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Signals whose default action ends the process and that a container runtime or a user may send early. */
const EARLY_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR2'];

/**
 * Between creating something an exit task undoes (secret files) and the moment the child's signal relay is up, a
 * terminating signal would end secretrun by its default action and skip the exit tasks. Until the returned
 * function is called, such a signal runs `undo` (synchronous: there is no child to wait for, and nothing else
 * may start meanwhile) and then ends secretrun by the same signal, as it would have.
 */
export function guardEarlySignals(undo: () => void): () => void {
  const handler = (sig: NodeJS.Signals) => {
    release();
    try {
      undo();
    } finally {
      process.kill(process.pid, sig);
    }
  };
  const release = () => {
    for (const sig of EARLY_SIGNALS) process.removeListener(sig, handler);
  };
  for (const sig of EARLY_SIGNALS) process.on(sig, handler);
  return release;
}
