/** Shared by the file-backed source types: resolve `path` from the sources file's directory and read it. */
import { resolve } from 'node:path';
import { SourceError } from '../core/errors.js';
import { readTextFile } from '../core/files.js';
import type { PrivateFile, SourceContext, SourceOptions } from './types.js';

export function filePath(options: SourceOptions, context: Pick<SourceContext, 'configDir'>): string {
  if (typeof options.path !== 'string' || options.path === '') throw new SourceError('missing "path"');
  return resolve(context.configDir, options.path);
}

/** Read the layer's file; returns the text and the path as written, for messages. */
export function readLayerFile(options: SourceOptions, context: SourceContext): { text: string; shown: string } {
  const shown = String(options.path);
  return { text: readTextFile(filePath(options, context), shown), shown };
}

/** The layer's own file holds plain secrets: it should be readable by its owner only (see core/permissions.ts). */
export function privateFile(options: SourceOptions, context: Pick<SourceContext, 'configDir'>): PrivateFile[] {
  return [{ path: filePath(options, context), shown: String(options.path) }];
}

export function watchFile(options: SourceOptions, context: Pick<SourceContext, 'configDir'>): string[] {
  return [filePath(options, context)];
}
