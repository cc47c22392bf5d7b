/**
 * Reading a layer's own options. The schema has already checked types for the sources file; these guards cover
 * what it cannot (a `module` or a test calling a source directly) with one wording for every source type.
 */
import { SourceError } from '../core/errors.js';
import type { SourceOptions } from './types.js';

/** Defaults of the remote layers' `timeout` (seconds per attempt) and `retries` (extra attempts). */
export const DEFAULT_TIMEOUT_SECONDS = 10;
export const DEFAULT_RETRIES = 3;

export function optionalString(options: SourceOptions, name: string): string | undefined {
  const value = options[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new SourceError(`\`${name}\` must be a string`);
  return value;
}

export function requiredString(options: SourceOptions, name: string): string {
  const value = optionalString(options, name);
  if (!value) throw new SourceError(`\`${name}\` is required`);
  return value;
}

export function stringMap(options: SourceOptions, name: string): Record<string, string> {
  const value = options[name];
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new SourceError(`\`${name}\` must be a map of strings`);
  for (const [k, v] of Object.entries(value)) if (typeof v !== 'string') throw new SourceError(`\`${name}.${k}\` must be a string`);
  return value as Record<string, string>;
}

/** `timeout` in seconds, a positive number; `defaultTimeout` lets exec keep its longer default. */
export function timeoutOption(options: SourceOptions, defaultTimeout = DEFAULT_TIMEOUT_SECONDS): number {
  const { timeout = defaultTimeout } = options;
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) throw new SourceError('`timeout` must be a positive number of seconds');
  return timeout;
}

/** `timeout` and `retries` of the remote layers (ssm, doppler, http). */
export function remoteOptions(options: SourceOptions): { timeout: number; retries: number } {
  const { retries = DEFAULT_RETRIES } = options;
  if (typeof retries !== 'number' || !Number.isInteger(retries) || retries < 0) throw new SourceError('`retries` must be a whole number, 0 or more');
  return { timeout: timeoutOption(options), retries };
}

/** `allow_insecure_http` of the http and doppler layers: send credentials over plain http:// beyond loopback. */
export function allowInsecureHttp(options: SourceOptions): boolean {
  const { allow_insecure_http: allow = false } = options;
  if (typeof allow !== 'boolean') throw new SourceError('`allow_insecure_http` must be true or false');
  return allow;
}
