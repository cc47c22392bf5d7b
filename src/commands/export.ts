/** `secretrun export [--format dotenv|json|yaml|shell]`: print only the merged layers on stdout. */
import { formatEnv, EXPORT_FORMATS, type ExportFormat } from '../formats.js';
import { UsageError } from '../errors.js';
import { valuesOf } from '../resolve.js';
import { resolveEnvironment, type CommonOptions } from './common.js';

export interface ExportOptions extends CommonOptions {
  format?: string;
}

export async function exportCommand(opts: ExportOptions): Promise<number> {
  const format = (opts.format ?? 'dotenv') as ExportFormat;
  if (!EXPORT_FORMATS.includes(format)) throw new UsageError(`export: unknown format "${opts.format}" (expected one of ${EXPORT_FORMATS.join(', ')})`);
  const { resolution } = await resolveEnvironment(opts);
  process.stdout.write(await formatEnv(valuesOf(resolution), format));
  return 0;
}
