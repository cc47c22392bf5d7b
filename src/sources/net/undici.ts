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
  if (!loading) baselineWasmOnly();
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
    return apiRequest.call(opts.dispatcher ?? getGlobalDispatcher(), { ...opts, origin: parsed.origin, path: `${parsed.pathname}${parsed.search}`, method: opts.method ?? 'GET' });
  };
  return request as unknown as UndiciRequest;
}

/**
 * undici parses HTTP with llhttp compiled to WebAssembly. V8 compiles it with its baseline compiler (Liftoff) and
 * then again with TurboFan on background threads, and a process that exits waits for those jobs: on the spawn
 * path (Node 20) secretrun's exit came 125-280 ms after its command's. `--liftoff-only` keeps the baseline code,
 * which parses a secrets response as fast as it matters: one doppler layer on Node 20, medians of 15 alternating
 * runs, 313 ms without it, 147 ms with it (`node -e 0`: 78 ms). V8 reads the flag when it compiles a module, so
 * setting it before undici loads is enough. Only on x64 and arm64, where Liftoff compiles every instruction llhttp
 * uses (elsewhere a Liftoff bailout under `--liftoff-only` is fatal), and it only affects this process (the
 * command runs in a new one, or replaces this one with execve).
 */
function baselineWasmOnly(): void {
  if (process.arch !== 'x64' && process.arch !== 'arm64') return;
  try {
    (process.getBuiltinModule?.('node:v8') ?? require('node:v8')).setFlagsFromString('--liftoff-only');
  } catch {
    /* an unknown flag: V8 keeps its default */
  }
}
