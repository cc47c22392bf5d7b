/** stderr conventions: every line secretrun itself prints starts with `secretrun:`; data goes to stdout. */
import { writeSync } from 'node:fs';
import { redact } from '../core/errors.js';

const warned = new Set<string>();

/** A warning, printed once per process (watch mode re-resolves often; the advice does not change). */
export function warn(message: string, quiet = false): void {
  if (quiet || warned.has(message)) return;
  warned.add(message);
  process.stderr.write(`secretrun: warning: ${redact(message)}\n`);
}

export function info(message: string, quiet = false): void {
  if (!quiet) process.stderr.write(`secretrun: ${redact(message)}\n`);
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
