/** stderr conventions: every line secretrun itself prints starts with `secretrun:`; data goes to stdout. */
import { redact } from './errors.js';

export function warn(message: string, quiet = false): void {
  if (!quiet) process.stderr.write(`secretrun: warning: ${redact(message)}\n`);
}

export function info(message: string, quiet = false): void {
  if (!quiet) process.stderr.write(`secretrun: ${redact(message)}\n`);
}
