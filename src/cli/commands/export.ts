/** `secretrun export [--format dotenv|json|yaml|shell]`: print only the merged layers on stdout. */
import { formatDotenvLists, formatEnv, EXPORT_FORMATS, type ExportFormat } from '../../formats/write.js';
import { SecretrunError, UsageError } from '../../core/errors.js';
import { keyValueLists, valuesOf, type Resolution } from '../../core/resolve.js';
import { warn, writeStdout } from '../output.js';
import { actOnFindings, handOnPolicy, resolveEnvironment, type CommonOptions } from './common.js';

export interface ExportOptions extends CommonOptions {
  format?: string;
  /** Risky names set by a layer are an error, not a warning. */
  strict?: boolean;
}

export async function exportCommand(opts: ExportOptions): Promise<number> {
  const format = (opts.format ?? 'dotenv') as ExportFormat;
  if (!EXPORT_FORMATS.includes(format)) throw new UsageError(`export: unknown format "${opts.format}" (expected one of ${EXPORT_FORMATS.join(', ')})`);
  const resolved = await resolveEnvironment(opts);
  actOnFindings(resolved, handOnPolicy(opts), opts.quiet);
  const { resolution } = resolved;
  const runInSh: string[] = [];
  const text = formatted(resolution, format, (key) => runInSh.push(key));
  if (runInSh.length > 0) {
    // The file still reads back exactly with dotenv (the contract); only a shell sourcing it is at risk.
    const what = `export --format dotenv: ${runInSh.length === 1 ? 'the value' : 'the values'} of ${runInSh.join(', ')} can only be written in a form that runs a command when a shell sources the file (set -a; . ./.env)`;
    if (opts.strict) throw new SecretrunError(`${what} (refused by --strict); use --format shell for shells`, { exitCode: 1 });
    warn(`${what}; use --format shell for shells, or --strict to refuse`, opts.quiet);
  }
  writeStdout(text);
  return 0;
}

/** dotenv, the default, straight from the merged set (no 10,000-key object in between); the rest from the map. */
function formatted(resolution: Resolution, format: ExportFormat, onRunsInSh: (key: string) => void): string {
  if (format !== 'dotenv') return formatEnv(valuesOf(resolution), format);
  const { keys, values } = keyValueLists(resolution);
  return formatDotenvLists(keys, values, onRunsInSh);
}
