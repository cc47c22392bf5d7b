/** Shared by the file-backed source types: resolve `path` from the sources file's directory and read it. */
import { resolve } from 'node:path';
import { SourceError } from '../errors.js';
import { readTextFile } from '../files.js';
import type { SourceContext, SourceOptions } from './types.js';

export function filePath(options: SourceOptions, context: Pick<SourceContext, 'configDir'>): string {
  if (typeof options.path !== 'string' || options.path === '') throw new SourceError('missing "path"');
  return resolve(context.configDir, options.path);
}

/** Read the layer's file; returns the text and the path as written, for messages. */
export function readLayerFile(options: SourceOptions, context: SourceContext): { text: string; shown: string } {
  const shown = String(options.path);
  return { text: readTextFile(filePath(options, context), shown), shown };
}

export function watchFile(options: SourceOptions, context: Pick<SourceContext, 'configDir'>): string[] {
  return [filePath(options, context)];
}
