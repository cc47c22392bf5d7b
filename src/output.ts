/** stderr conventions: every line secretrun itself prints starts with `secretrun:`; data goes to stdout. */
import { redact } from './errors.js';

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
