/** `secretrun get KEY`: the plain value on stdout, byte for byte, with no newline added. For scripts. */
import { closest } from '../../core/validate.js';
import { SecretrunError } from '../../core/errors.js';
import { writeStdout } from '../output.js';
import { actOnFindings, resolveEnvironment, type CommonOptions } from './common.js';

export async function get(key: string, opts: CommonOptions): Promise<number> {
  const resolved = await resolveEnvironment(opts);
  // Like ls and diff, get reads one key and hands nothing on: `require` is for run and export.
  actOnFindings(resolved, {}, opts.quiet);
  const { plan, resolution } = resolved;
  const entry = resolution.entries.get(key);
  if (!entry) {
    // Only key names appear in the message, never a value.
    const hint = closest(key, [...resolution.entries.keys()]);
    const where = plan.implicit ? '' : ` in environment "${plan.name}"`;
    throw new SecretrunError(`key "${key}" is not defined${where}${hint ? ` (did you mean "${hint}"?)` : ''}`, { exitCode: 1 });
  }
  writeStdout(entry.value);
  return 0;
}
