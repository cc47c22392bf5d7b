/** Shared by the file-backed source types: resolve `path` from the sources file's directory and read it. */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { readTextFile } from '../core/files.js';
import type { SourceContext } from './types.js';

/** The options of a file-backed layer (FILE_OPTIONS), as read from its descriptor. */
export interface FileLayerOptions {
  path: string;
  allow_world_readable?: boolean;
}

export function filePath(options: Pick<FileLayerOptions, 'path'>, context: Pick<SourceContext, 'configDir'>): string {
  return resolve(context.configDir, options.path);
}

export interface ReadOptions {
  /**
   * Warn when the file is readable by group or others, as ssh does for keys (default true). Off for files whose
   * content is encrypted (ansible-vault), which may safely be readable.
   */
  plaintext?: boolean;
}

/** Read the layer's file; returns the text and the path as written, for messages. */
export function readLayerFile(options: FileLayerOptions, context: SourceContext, { plaintext = true }: ReadOptions = {}): { text: string; shown: string } {
  const shown = options.path;
  const abs = filePath(options, context);
  const text = readTextFile(abs, shown);
  if (plaintext && options.allow_world_readable !== true) warnIfShared(abs, shown, context.warn);
  return { text, shown };
}

/** One warning for a secrets file that other users can read. */
export function warnIfShared(abs: string, shown: string, warn: (message: string) => void, label = ''): void {
  let mode: number;
  try {
    mode = statSync(abs).mode;
  } catch {
    return;
  }
  if ((mode & 0o044) === 0) return;
  const who = (mode & 0o004) !== 0 ? 'other users' : 'its group';
  warn(`${label}${shown} is readable by ${who} (mode ${(mode & 0o777).toString(8).padStart(4, '0')}); run "chmod 600 ${shown}", or set allow_world_readable: true on the layer`);
}

export function watchFile(options: Pick<FileLayerOptions, 'path'>, context: Pick<SourceContext, 'configDir'>): string[] {
  return [filePath(options, context)];
}
