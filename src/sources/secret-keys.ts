/**
 * From named secrets to a layer's keys, for the stores whose secrets are named blobs (gcp-secret-manager,
 * azure-key-vault): the name made into a variable name, `format: json` expanding a JSON-object payload, the
 * UTF-8 and NUL checks, and collisions reported with both secrets' names. Messages name secrets, never values.
 */
import { SourceError } from '../core/errors.js';
import { jsonObject, structuredToEnv } from '../formats/parse.js';
import { toEnvKey } from '../core/names.js';
import { DEFAULT_DEADLINE_SECONDS, DEFAULT_RETRIES, DEFAULT_TIMEOUT_SECONDS } from './descriptor.js';
import { tokenFetchOptions } from './net/fetch.js';
import type { SourceContext } from './types.js';


/** `db-password` → `db_password`, `1st` → `_1st`: every character invalid in a variable name becomes `_`. */
export function secretKeyName(name: string): string {
  return toEnvKey(name, false);
}

/** The payload as text: UTF-8 without NUL, or an error naming the secret (`origin`, e.g. `secret db-password`). */
export function payloadText(bytes: Uint8Array, origin: string): string {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new SourceError(`${origin} is not UTF-8 text (binary secrets can't be environment variables)`);
  }
  if (text.includes('\0')) throw new SourceError(`${origin} holds a NUL character, which an environment variable can't`);
  return text;
}

/** Keys gathered from several secrets; two secrets giving one key is an error naming both. */
export class SecretKeys {
  private readonly out: Record<string, string> = {};
  private readonly originOf = new Map<string, string>();

  /** One secret's payload, as its named key or (`json`) as the members of its JSON object. */
  add(name: string, text: string, format: 'raw' | 'json', origin = `secret ${name}`): void {
    if (format === 'raw') return this.set(secretKeyName(name), text, origin);
    const object = jsonObject(text);
    if (object === undefined) throw new SourceError(`${origin} is not a JSON object (\`format: json\`)`);
    for (const [key, value] of Object.entries(structuredToEnv(object, { origin }))) this.set(key, value, origin);
  }

  private set(key: string, value: string, origin: string): void {
    const earlier = this.originOf.get(key);
    if (earlier !== undefined) throw new SourceError(`${earlier} and ${origin} both give the key ${key}; read one of them in its own layer with \`rename\` or \`only\``);
    this.originOf.set(key, origin);
    this.out[key] = value;
  }

  get keys(): Record<string, string> {
    return this.out;
  }
}

/** The fetch options of a reference read (`ref+gcpsecrets`, `ref+azurekeyvault`): the remote defaults, no insecure transport. */
export function referenceFetch(context: SourceContext, carries: string, credentialsName: string) {
  const defaults = { timeout: DEFAULT_TIMEOUT_SECONDS, retries: DEFAULT_RETRIES, deadline: DEFAULT_DEADLINE_SECONDS, allow_insecure_http: false };
  return tokenFetchOptions(defaults, context, { carries, credentialsName });
}

