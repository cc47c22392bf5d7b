/** Shared by the file-backed source types: resolve `path` from the sources file's directory and read it. */
import { isAbsolute, resolve } from 'node:path';
import { readTextFile } from '../core/files.js';
import { NotFoundError } from '../core/errors.js';
import type { PrivateFile, SourceContext } from './types.js';

/** The options of a file-backed layer (FILE_OPTIONS), as read from its descriptor. */
export interface FileLayerOptions {
  path: string;
  allow_world_readable?: boolean;
}

export function filePath(options: Pick<FileLayerOptions, 'path'>, context: Pick<SourceContext, 'configDir'>): string {
  return resolve(context.configDir, options.path);
}

/** Read the layer's file; returns the text and the path as written, for messages. */
export function readLayerFile(options: Pick<FileLayerOptions, 'path'>, context: SourceContext): { text: string; shown: string } {
  const shown = options.path;
  const abs = filePath(options, context);
  try {
    return { text: readTextFile(abs, shown), shown };
  } catch (err) {
    // A relative path resolves from the sources file's directory (or, for --dotenv, the current one): say where.
    if (err instanceof NotFoundError && !isAbsolute(shown)) throw new NotFoundError(`${err.message} (looked for ${abs})`);
    throw err;
  }
}

/** The layer's own file holds plain secrets: it should be readable by its owner only (see core/permissions.ts). */
export function privateFile(options: Pick<FileLayerOptions, 'path'>, context: Pick<SourceContext, 'configDir'>): PrivateFile[] {
  return [{ path: filePath(options, context), shown: options.path }];
}

export function watchFile(options: Pick<FileLayerOptions, 'path'>, context: Pick<SourceContext, 'configDir'>): string[] {
  return [filePath(options, context)];
}
