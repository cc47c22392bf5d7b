/** `secretrun export [--format dotenv|json|yaml|shell]`: print only the merged layers on stdout. */
import { formatDotenvLists, formatEnv, EXPORT_FORMATS, type ExportFormat } from '../../formats/write.js';
import { UsageError } from '../../core/errors.js';
import { keyValueLists, valuesOf, type Resolution } from '../../core/resolve.js';
import { writeStdout } from '../output.js';
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
  writeStdout(formatted(resolution, format));
  return 0;
}

/** dotenv, the default, straight from the merged set (no 10,000-key object in between); the rest from the map. */
function formatted(resolution: Resolution, format: ExportFormat): string {
  if (format !== 'dotenv') return formatEnv(valuesOf(resolution), format);
  const { keys, values } = keyValueLists(resolution);
  return formatDotenvLists(keys, values);
}
