/**
 * undici's `request`, loaded from its smallest entry. The package's index.js loads all of undici (fetch, WebSocket,
 * EventSource, caches, mocks, every dispatcher): about 4× what the one call we make needs, and the largest part
 * of a remote layer's start-up. `request` is index.js's `makeDispatcher(api.request)`: the request API called on
 * the global dispatcher (an Agent), with the URL split into origin and path. We do the same with the same two
 * modules. If undici's layout ever changes, we load the package as a whole.
 */
import { loadPackage } from '../../core/import-external.js';

export type UndiciRequest = typeof import('undici').request;

type RequestApi = (this: unknown, opts: Record<string, unknown>) => ReturnType<UndiciRequest>;

let loading: Promise<UndiciRequest> | undefined;

export function loadUndiciRequest(): Promise<UndiciRequest> {
  return (loading ??= loadLean().catch(async () => (await loadPackage<typeof import('undici')>('undici')).request));
}

async function loadLean(): Promise<UndiciRequest> {
  const [{ getGlobalDispatcher }, apiRequest] = await Promise.all([
    loadPackage<{ getGlobalDispatcher: () => unknown }>('undici/lib/global.js'),
    loadPackage<RequestApi>('undici/lib/api/api-request.js'),
  ]);
  if (typeof getGlobalDispatcher !== 'function' || typeof apiRequest !== 'function') throw new Error('undici layout changed');
  const request = (url: string | URL, opts: Record<string, unknown> = {}) => {
    const parsed = new URL(url);
    return apiRequest.call(getGlobalDispatcher(), { ...opts, origin: parsed.origin, path: `${parsed.pathname}${parsed.search}`, method: opts.method ?? 'GET' });
  };
  return request as unknown as UndiciRequest;
}
