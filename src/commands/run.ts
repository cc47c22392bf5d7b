/** `secretrun [run] [options] -- <command> [args...]`: resolve, then run the child with the merged set. */
import { startChild, findExecutable, type ChildEnd } from '../child.js';
import { UsageError } from '../errors.js';
import { valuesOf } from '../resolve.js';
import { resolveEnvironment, type CommonOptions } from './common.js';

export interface RunOptions extends CommonOptions {
  pristine?: boolean;
}

/** Exit code when secretrun itself fails before the child starts (contract section 5). */
export const FAILURE_EXIT = 125;

export async function run(command: string[], opts: RunOptions): Promise<ChildEnd> {
  if (command.length === 0) throw new UsageError('run: no command given (usage: secretrun [options] -- <command> [args...])');
  const { resolution } = await resolveEnvironment(opts);
  const env = childEnvironment(valuesOf(resolution), resolution.environment, process.env, !!opts.pristine);
  const cwd = process.cwd();
  // Look the program up on the parent's PATH with --pristine (the child's env may have none), else on the child's.
  const file = findExecutable(command[0], opts.pristine ? process.env.PATH : env.PATH, cwd);
  const terminal = !!(process.stdin.isTTY || process.stdout.isTTY || process.stderr.isTTY);
  const child = startChild(file, command.slice(1), { env, cwd, terminal, pid1: process.pid === 1 });
  try {
    return await child.ended;
  } finally {
    child.release();
  }
}

/** The parent environment overlaid by the merged layers (or only the layers with --pristine), plus SECRETRUN_ENV. */
export function childEnvironment(
  merged: Record<string, string>,
  environment: string,
  parent: Readonly<Record<string, string | undefined>>,
  pristine: boolean,
): Record<string, string> {
  const env: Record<string, string> = {};
  if (!pristine) for (const [k, v] of Object.entries(parent)) if (v !== undefined) env[k] = v;
  Object.assign(env, merged);
  env.SECRETRUN_ENV = environment;
  return env;
}
