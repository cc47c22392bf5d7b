/** stderr conventions: every line secretrun itself prints starts with `secretrun:`; data goes to stdout. */
import { writeSync } from 'node:fs';
import { printable } from '../core/errors.js';

const warned = new Set<string>();

/** A warning, printed once per process (watch mode re-resolves often; the advice does not change). */
export function warn(message: string, quiet = false): void {
  if (quiet || warned.has(message)) return;
  warned.add(message);
  process.stderr.write(`secretrun: warning: ${printable(message)}\n`);
}

/**
 * Process warnings (a library's deprecation, the `yaml` package's notes) are printed by Node as lines without our
 * prefix, and their text may quote the input. Here each becomes one of our warnings naming its kind and code
 * only; with SECRETRUN_DEBUG=1 Node prints them as it would.
 */
export function ownProcessWarnings(env: Readonly<Record<string, string | undefined>> = process.env): void {
  if (env.SECRETRUN_DEBUG === '1') return;
  process.emitWarning = ((warning: string | Error, options?: string | { type?: string; code?: string }, code?: string) => {
    const type = typeof options === 'string' ? options : (options?.type ?? (warning instanceof Error ? warning.name : 'Warning'));
    const id = (typeof options === 'object' ? options?.code : code) ?? (warning as { code?: unknown }).code;
    warn(`Node reported a ${type}${typeof id === 'string' ? ` (${id})` : ''}; rerun with SECRETRUN_DEBUG=1 to see it`);
  }) as typeof process.emitWarning;
}

export function info(message: string, quiet = false): void {
  if (!quiet) process.stderr.write(`secretrun: ${printable(message)}\n`);
}

/**
 * Data on stdout (export, get): written to fd 1 directly. Creating `process.stdout` costs ~2 ms (Node builds
 * its stream machinery), more than writing a 10,000-key export. The write is complete before this returns, so
 * exiting right after loses nothing. A non-blocking fd (EAGAIN, e.g. a pipe shared with a parent that made it
 * non-blocking) hands the rest to `process.stdout`, which queues it and is flushed before exit (main.ts). A reader
 * that went away (EPIPE, `| head`) ends the output quietly, as `process.stdout` does.
 */
export function writeStdout(text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  let done = 0;
  try {
    while (done < bytes.length) done += writeSync(1, bytes, done);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EAGAIN') process.stdout.write(bytes.subarray(done));
    else if (code !== 'EPIPE') throw err;
  }
}
