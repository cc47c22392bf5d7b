/**
 * `type: module` — a user's ES module whose default export implements the same `Source` interface as the
 * built-in types (./types.ts):
 *
 *   export default { async load(options, context) { return { KEY: 'value' }; } };
 *
 * `options` is the layer minus `path` and the keys the core handles itself (`type`, `name`, `optional`, `only`,
 * `prefix`, `rename`, `case`, `references`, `decode`, `decode_prefixed`, `public`, `allow_world_readable`), already interpolated. The returned object is checked here so
 * that a buggy module gets a clear message instead of a confusing failure further on.
 *
 * Node caches a module by URL, so a module is evaluated once per process even when it backs several layers.
 */
import { statOrUndefined } from '../core/files.js';
import { pathToFileURL } from 'node:url';
import { NotFoundError, SourceError, describeError } from '../core/errors.js';
import type { Source, SourceOptions } from './types.js';
import { importExternal } from '../core/import-external.js';
import { COMMON_OPTION_NAMES } from '../core/validate.js';
import { defineSource, labelByPath } from './descriptor.js';
import { filePath, watchFile } from './local-file.js';

/** Layer keys consumed by the core (the common keys) or by this loader (`path`): a user module never sees them. */
export const CORE_KEYS: readonly string[] = [...new Set([...COMMON_OPTION_NAMES, 'references', 'allow_world_readable', 'path'])];

export function moduleOptions(options: SourceOptions): SourceOptions {
  return Object.fromEntries(Object.entries(options).filter(([key]) => !CORE_KEYS.includes(key)));
}

/** Import the module and check that its default export is a source. */
export async function importSource(absPath: string, shownPath: string): Promise<Source> {
  const info = statOrUndefined(absPath);
  if (!info) throw new NotFoundError(`module ${shownPath} not found`);
  if (!info.isFile()) throw new SourceError(`module ${shownPath} is not a file`);
  let namespace: Record<string, unknown>;
  try {
    namespace = await importExternal(pathToFileURL(absPath).href);
  } catch (err) {
    throw new SourceError(`module ${shownPath} failed to load: ${describeError(err)}`);
  }
  const source = namespace.default as Partial<Source> | undefined;
  if (source === undefined) throw new SourceError(`module ${shownPath} has no default export; it must \`export default { async load(options, context) { ... } }\``);
  if (source === null || typeof source !== 'object') throw new SourceError(`module ${shownPath}: the default export must be an object with a load(options, context) method`);
  if (typeof source.load !== 'function') throw new SourceError(`module ${shownPath}: the default export has no load(options, context) method`);
  return source as Source;
}

/** A module's result must be a plain object of strings; say which key is wrong, never what its value is. */
export function checkResult(result: unknown, shownPath: string): Record<string, string> {
  const what = `module ${shownPath}: load() returned`;
  if (result === null || typeof result !== 'object' || Array.isArray(result)) throw new SourceError(`${what} ${typeName(result)}; expected an object of string values`);
  const proto = Object.getPrototypeOf(result);
  if (proto !== Object.prototype && proto !== null) throw new SourceError(`${what} a ${proto?.constructor?.name ?? 'class'} instance; expected a plain object of string values`);
  for (const [key, value] of Object.entries(result)) {
    if (typeof value !== 'string') throw new SourceError(`${what} ${typeName(value)} for key "${key}"; values must be strings (use String(value) or JSON.stringify)`);
  }
  return { ...(result as Record<string, string>) };
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  return `${/^[aeiou]/.test(typeof value) ? 'an' : 'a'} ${typeof value}`;
}

export default defineSource({
  type: 'module',
  description: 'A user ES module whose default export implements the source interface.',
  options: { path: { type: 'string', required: true, nonEmpty: true, description: 'Path to the ES module.' } },
  // Every other key of the layer is the module's own option.
  openOptions: true,
  // User modules usually reach a network service: show the spinner.
  remote: true,
  // The contract promises modules the resolved keys of all earlier layers, so wait for them.
  usesEarlierKeys: true,
  label: labelByPath,
  watchPaths: watchFile,
  async load(options, context) {
    const absPath = filePath(options, context);
    const shownPath = options.path;
    const source = await importSource(absPath, shownPath);
    let result: unknown;
    try {
      result = await source.load(moduleOptions(options), context);
    } catch (err) {
      // A module may signal "nothing there" so that `optional: true` applies, by throwing our NotFoundError or any
      // error named NotFoundError (a module can't always import secretrun's classes).
      const message = `module ${shownPath}: load() failed: ${describeError(err)}`;
      if (err instanceof NotFoundError || (err instanceof Error && err.name === 'NotFoundError')) throw new NotFoundError(message);
      throw new SourceError(message);
    }
    return checkResult(result, shownPath);
  },
});
