/**
 * undici's `request`, loaded from its smallest entry. The package's index.js loads all of undici (fetch, WebSocket,
 * EventSource, caches, mocks, every dispatcher): about 4× what the one call we make needs, and the largest part
 * of a remote layer's start-up. `request` is index.js's `makeDispatcher(api.request)`: the request API called on
 * the global dispatcher (an Agent), with the URL split into origin and path. We do the same with the request module
 * and an Agent of our own (`ownAgent`, below). If undici's layout ever changes, we load the package as a whole.
 */
import { loadPackage } from '../../core/import-external.js';

type Request = typeof import('undici').request;

/**
 * undici's `request`, plus `onConnected`: called once the request's connection is established (TLS included),
 * when undici starts writing the request on it. The retry policy tells a host that never accepted the connection
 * from a server that is slow to answer with it.
 */
export type UndiciRequest = (url: string, opts: NonNullable<Parameters<Request>[1]> & { onConnected?: () => void }) => ReturnType<Request>;

type RequestApi = (this: unknown, opts: Record<string, unknown>) => ReturnType<Request>;
type Dispatch = (opts: unknown, handler: object) => boolean;
interface Composable {
  compose(interceptor: (dispatch: Dispatch) => Dispatch): unknown;
}

let loading: Promise<UndiciRequest> | undefined;

export function loadUndiciRequest(): Promise<UndiciRequest> {
  if (!loading) baselineWasmOnly();
  return (loading ??= loadLean().catch(async () => {
    const undici = await loadPackage<typeof import('undici')>('undici');
    const own = ownAgent(undici.Agent);
    const request: UndiciRequest = (url, { onConnected, ...opts }) => {
      const dispatcher = (opts.dispatcher ?? own()) as unknown as Composable;
      return undici.request(url, { ...opts, dispatcher: (onConnected ? reporting(dispatcher, onConnected) : dispatcher) as never });
    };
    return request;
  }));
}

/**
 * Our own Agent, made on first use, never undici's global dispatcher: that one lives on `globalThis` under a symbol
 * Node's built-in fetch shares, so after anything in the process calls `fetch()` (google-auth-library's gaxios does)
 * it can be Node's own undici, whose dispatcher our undici's request API refuses (UND_ERR_INVALID_ARG, seen on Node 26).
 */
function ownAgent(Agent: new () => unknown): () => unknown {
  let agent: unknown;
  return () => (agent ??= new Agent());
}

/**
 * An Agent with options of a layer's own (`connect`: a CA, a client certificate, a server name), from undici's
 * smallest entry as `request` is, else the package. Pass it as a request's `dispatcher`.
 */
export async function undiciAgent(options: Record<string, unknown>): Promise<unknown> {
  type Agent = new (o: Record<string, unknown>) => unknown;
  const Agent = await loadPackage<Agent>('undici/lib/dispatcher/agent.js').catch(async () => (await loadPackage<{ Agent: Agent }>('undici')).Agent);
  return new Agent(options);
}

/**
 * The dispatcher, with each request's handler told apart from the rest: undici calls a handler's `onRequestStart`
 * (`onConnect` in its older handler interface) when it writes the request on an established connection.
 */
function reporting(dispatcher: Composable, onConnected: () => void): unknown {
  return dispatcher.compose((dispatch) => (opts, handler) =>
    dispatch(
      opts,
      new Proxy(handler, {
        get(target, property) {
          const value = Reflect.get(target, property) as unknown;
          if (typeof value !== 'function') return value;
          if (property === 'onRequestStart' || property === 'onConnect') {
            return (...args: unknown[]) => {
              onConnected();
              return (value as (...a: unknown[]) => unknown).apply(target, args);
            };
          }
          return (value as (...a: unknown[]) => unknown).bind(target);
        },
      }),
    ),
  );
}

async function loadLean(): Promise<UndiciRequest> {
  const [Agent, apiRequest] = await Promise.all([
    loadPackage<new () => unknown>('undici/lib/dispatcher/agent.js'),
    loadPackage<RequestApi>('undici/lib/api/api-request.js'),
  ]);
  if (typeof Agent !== 'function' || typeof apiRequest !== 'function') throw new Error('undici layout changed');
  const own = ownAgent(Agent);
  const request = (url: string | URL, { onConnected, ...opts }: Record<string, unknown> & { onConnected?: () => void } = {}) => {
    const parsed = new URL(url);
    const dispatcher = opts.dispatcher ?? own();
    return apiRequest.call(onConnected ? reporting(dispatcher as Composable, onConnected) : dispatcher, {
      ...opts,
      origin: parsed.origin,
      path: `${parsed.pathname}${parsed.search}`,
      method: opts.method ?? 'GET',
    });
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
