/**
 * What a `gcp-secret-manager` layer and a `ref+gcpsecrets` reference do when they run: the descriptor
 * (../gcp-secret-manager.ts) holds the options and loads this module only then.
 */
import { NotFoundError, SourceError } from '../../core/errors.js';
import { readInGroups } from '../../core/references.js';
import { debugChannel } from '../net/retry.js';
import { tokenFetchOptions } from '../net/fetch.js';
import { mapConcurrently } from '../concurrency.js';
import { payloadText, referenceFetch, SecretKeys } from '../secret-keys.js';
import { withSession } from '../session.js';
import type { ReferenceTarget, SourceContext } from '../types.js';
import type { GcpOptions } from '../gcp-secret-manager.js';
import { accessSecret, listSecretIds, serviceRoot, type SecretManagerApi } from './client.js';
import { resolveProject } from './credentials.js';

type ReferenceValues = Awaited<ReturnType<typeof readInGroups>>;

export function readGcpReferences(targets: readonly ReferenceTarget[], context: SourceContext): Promise<ReferenceValues> {
  return readInGroups(targets, (t) => t.path.split('/')[0], async (group) => {
    const project = group[0].path.split('/')[0];
    const override = context.env.CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER;
    const api = { root: override ? new URL(override).origin : serviceRoot(undefined, undefined), project, context: withSession(context), fetch: referenceFetch(context, 'the Google access token', 'the Google credentials') };
    return mapConcurrently(group, async (t) => {
      const secret = t.path.split('/')[1];
      const version = t.params.version ?? 'latest';
      try {
        const got = await accessSecret(api, secret, version);
        if (got.kind === 'unavailable') throw new SourceError(`the version is disabled or destroyed (HTTP 400 ${got.status})`);
        return { value: payloadText(got.bytes, `secret ${secret}`) };
      } catch (err) {
        if (err instanceof NotFoundError) return undefined;
        throw err;
      }
    });
  });
}

export async function loadGcpLayer(options: GcpOptions, context: SourceContext): Promise<Record<string, string>> {
  const project = await resolveProject(options.project, context);
  const api = {
    root: serviceRoot(options.endpoint, options.location),
    project,
    location: options.location,
    context: withSession(context),
    fetch: tokenFetchOptions(options, context, { carries: 'the Google access token', credentialsName: 'the Google credentials' }),
  };
  return options.filter !== undefined ? loadFiltered(api, options, context) : loadNamed(api, options);
}

type Api = SecretManagerApi;

/** `NAME@VERSION` → name and version (default latest). */
export function parseSecretRef(entry: string): { name: string; version: string } {
  const at = entry.indexOf('@');
  return at < 0 ? { name: entry, version: 'latest' } : { name: entry.slice(0, at), version: entry.slice(at + 1) };
}

async function loadNamed(api: Api, options: GcpOptions): Promise<Record<string, string>> {
  // The same entry twice is read once (quotas).
  const refs = [...new Set(options.secrets ?? [])].map(parseSecretRef);
  const missing: string[] = [];
  const payloads = await mapConcurrently(refs, async (ref) => {
    const what = `secret ${ref.name}${ref.version === 'latest' ? '' : `@${ref.version}`}`;
    try {
      const got = await accessSecret(api, ref.name, ref.version);
      if (got.kind === 'unavailable') throw new SourceError(`${what}: the version is disabled or destroyed (HTTP 400 ${got.status})`);
      return payloadText(got.bytes, what);
    } catch (err) {
      if (err instanceof NotFoundError) {
        missing.push(what);
        return undefined;
      }
      throw err;
    }
  });
  if (missing.length > 0 && (options.optional !== true || missing.length === refs.length)) {
    throw new NotFoundError(`not found in project ${api.project}: ${missing.join(', ')}`);
  }
  const keys = new SecretKeys();
  refs.forEach((ref, i) => {
    const text = payloads[i];
    if (text !== undefined) keys.add(ref.name, text, options.format);
  });
  return keys.keys;
}

async function loadFiltered(api: Api, options: GcpOptions, context: SourceContext): Promise<Record<string, string>> {
  const debug = debugChannel(context.env, context.layer);
  const ids = [...new Set(await listSecretIds(api, options.filter!))];
  const payloads = await mapConcurrently(ids, async (id) => {
    try {
      const got = await accessSecret(api, id);
      if (got.kind === 'payload') return payloadText(got.bytes, `secret ${id}`);
      debug?.(`skipped secret ${id}: its latest version is disabled or destroyed`);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      // Listed, yet gone or without a version by the time it was read.
      debug?.(`skipped secret ${id}: it has no latest version`);
    }
    return undefined;
  });
  const keys = new SecretKeys();
  ids.forEach((id, i) => {
    const text = payloads[i];
    if (text !== undefined) keys.add(id, text, options.format);
  });
  return keys.keys;
}
