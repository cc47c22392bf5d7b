/**
 * What every AWS source shares: the layer's AWS options, loading an SDK client package lazily, building the client
 * (credential chain, region, endpoint variables, timeouts, retries, the Node 20 warning switch), resolving the
 * region, and one-line error messages. A new AWS source describes its service (`AwsService`) and calls
 * `withAwsClient`; it never repeats any of this.
 *
 * Credentials, region and endpoint come from the SDK's own resolution chains (AWS_PROFILE, AWS_REGION,
 * AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, ~/.aws/config, SSO, container and instance roles); the layer's
 * `region`, `profile` and `endpoint` only override them when given. When those chains would certainly end at the
 * environment's keys, a region and endpoint known without reading a file, the requests go through ./lean.ts
 * instead, and the SDK is not loaded (a service opts in with `AwsService.lean`).
 *
 * Retries are ours, not the SDK's (its client makes one attempt per call): the policy of every remote layer
 * (../net/retry.ts) retries throttling until `deadline`, waits for a slow answer (twice as long on each retry)
 * instead of sending the request again, and paces the requests to a backend that throttled. Sources call `retrying(what, signal => client.send(..., { abortSignal }))`.
 */
import { SourceError, shown } from '../../core/errors.js';
import { loadPackage } from '../../core/import-external.js';
import { urlForDisplay } from '../../core/urls.js';
import { debugChannel, formatSeconds, GaveUp, pacerFor, withRetries, type Attempt, type AttemptOutcome } from '../net/retry.js';
import { everyPage } from '../net/pages.js';
import { missingProfileMessage } from './profiles.js';
import { readKey } from '../session.js';
import type { OptionSpecs } from '../../core/validate.js';
import { DEFAULT_DEADLINE_SECONDS, DEFAULT_RETRIES, DEFAULT_TIMEOUT_SECONDS, REMOTE_OPTIONS } from '../descriptor.js';
import type { ReferenceTarget, SourceContext, SourceOptions } from '../types.js';
import { awsErrorName, classifyAwsError, describeAwsError, oneLine, type ErrorScene } from './errors.js';
import { LeanClient, leanRoute, leanSdk, maskCredentials, nodeHttp, sharedFileVerdicts, type LeanProtocol } from './lean.js';

/** One AWS service as a source uses it. */
export interface AwsService<Sdk, Client> {
  /** The SDK package, e.g. `@aws-sdk/client-ssm`. */
  packageName: string;
  /** Shown in messages: `cannot reach SSM at ...`. */
  title: string;
  /** The SDK's own endpoint variable for this service, e.g. AWS_ENDPOINT_URL_SSM. */
  endpointVariable: string;
  /** The endpoint host prefix: `ssm` gives https://ssm.<region>.amazonaws.com. */
  hostPrefix: string;
  createClient(sdk: Sdk, config: AwsClientConfig): Client;
  /** The service's JSON protocol, for requests without the SDK when it would certainly make the same (./lean.ts). */
  lean?: LeanProtocol;
}

/** The options every AWS layer accepts besides its own. */
export interface AwsOptions {
  region?: string;
  profile?: string;
  endpoint?: string;
  timeoutMs: number;
  retries: number;
  deadlineMs: number;
}

/**
 * The options every AWS layer accepts besides its own, for its descriptor; `endpointExample` is the service's
 * public endpoint in eu-west-1, shown when `endpoint` is not a URL.
 */
export function awsOptionSpecs(service: { endpointVariable: string; hostPrefix: string }) {
  return {
    region: { type: 'string', description: 'AWS region (default: the SDK region chain).' },
    profile: { type: 'string', description: 'Shared config/credentials profile.' },
    endpoint: {
      type: 'string',
      pattern: { regex: '^https?://[^\\s/?#]+', is: `an http(s) URL such as https://${service.hostPrefix}.eu-west-1.amazonaws.com` },
      description: `Endpoint URL override (${service.endpointVariable} / AWS_ENDPOINT_URL are honoured too).`,
    },
    ...REMOTE_OPTIONS,
  } as const satisfies OptionSpecs;
}

/** The AWS part of a layer's checked options, as `withAwsClient` uses it. */
export function awsOptions(o: { region?: string; profile?: string; endpoint?: string; timeout: number; retries: number; deadline: number }): AwsOptions {
  return {
    region: o.region || undefined,
    profile: o.profile || undefined,
    endpoint: o.endpoint || undefined,
    timeoutMs: Math.round(o.timeout * 1000),
    retries: o.retries,
    deadlineMs: Math.round(o.deadline * 1000),
  };
}

/**
 * A reference's AWS options (contract section 3b): its `region` only, the remote defaults, and everything else
 * (endpoint, profile, credentials) from the parent environment and the SDK's chains, never from a reference.
 */
export function referenceAwsOptions(target: ReferenceTarget): AwsOptions {
  return awsOptions({ region: target.params.region, timeout: DEFAULT_TIMEOUT_SECONDS, retries: DEFAULT_RETRIES, deadline: DEFAULT_DEADLINE_SECONDS });
}

/** The `check` every AWS reference hook shares: `region` is a region name (it becomes part of a host name). */
export function awsReferenceProblem(target: ReferenceTarget): string | undefined {
  const region = target.params.region;
  return region !== undefined && !/^[a-z]{2}(?:-[a-z]+)+-[0-9]+$/.test(region) ? 'parameter "region" is not a region name such as eu-west-1' : undefined;
}

/** The part of an SDK client's constructor options we set; every AWS client accepts these. */
export interface AwsClientConfig {
  maxAttempts: number;
  retryMode: 'standard';
  requestHandler: { connectionTimeout: number; httpAgent?: unknown; httpsAgent?: unknown };
  logger: { debug(...a: unknown[]): void; info(...a: unknown[]): void; warn(...a: unknown[]): void; error(...a: unknown[]): void };
  region?: string;
  profile?: string;
  endpoint?: string;
}

/** The client surface we use: every generated SDK client has it. */
export interface AwsClient {
  config: { region(): Promise<string> };
  destroy(): void;
}

/**
 * On Node 20 the SDK prints a NodeVersionSupportWarning once per process. Its documented switch
 * (aws/aws-sdk-js-v3#7983) is AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true, read synchronously in the
 * client constructor. We set it only for that call and restore it, so the child's environment is untouched.
 */
export function withoutNodeVersionWarning<T>(construct: () => T): T {
  const name = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';
  const before = process.env[name];
  process.env[name] = 'true';
  try {
    return construct();
  } finally {
    if (before === undefined) delete process.env[name];
    else process.env[name] = before;
  }
}

export function clientConfig(opts: AwsOptions, context: Pick<SourceContext, 'warn'>, agents?: ConnectionWatch): AwsClientConfig {
  // Only set what the user gave: leaving `endpoint` and `region` out is what lets AWS_ENDPOINT_URL_<SERVICE>
  // and the region chain apply for sure.
  const config: AwsClientConfig = {
    // One attempt per SDK call: withRetries decides (and AWS_MAX_ATTEMPTS / AWS_RETRY_MODE don't second-guess it).
    maxAttempts: 1,
    retryMode: 'standard',
    // The time limit of a whole attempt is ours (it doubles on each retry); the SDK only bounds connecting.
    requestHandler: { connectionTimeout: opts.timeoutMs, ...(agents && { httpAgent: agents.agent(false), httpsAgent: agents.agent(true) }) },
    // The SDK writes some warnings with console.warn unless given a logger; keep them to one line on our channel.
    logger: {
      debug: () => {},
      info: () => {},
      warn: (...args: unknown[]) => context.warn(`AWS SDK: ${sdkWarningText(args.map(String).join(' '))}`),
      error: () => {},
    },
  };
  if (opts.region) config.region = opts.region;
  if (opts.profile) config.profile = opts.profile;
  if (opts.endpoint) config.endpoint = opts.endpoint;
  return config;
}

/** `@aws-sdk/credential-provider-node - defaultProvider::fromEnv WARNING: Multiple ...` -> `Multiple ...` */
function sdkWarningText(text: string): string {
  return oneLine(text).replace(/^@[\w.-]+\/[\w.-]+ - \S+ (?:WARNING:|\[WARN\])\s*/, '');
}

async function resolveRegion(client: AwsClient, opts: AwsOptions, context: SourceContext): Promise<string> {
  let region: string | undefined;
  try {
    region = await client.config.region();
  } catch (err) {
    const profileProblem = missingProfile(opts, context);
    if (profileProblem) throw new SourceError(profileProblem);
    // The SDK's "Region is missing" does not say where to set one; anything else is an invalid name (not quoted).
    if (!/region is missing/i.test(String((err as Error)?.message))) throw new SourceError('AWS region: the region is not a valid region name (such as eu-west-1)');
  }
  if (region) return region;
  throw new SourceError(
    missingProfile(opts, context) ?? `no AWS region: set \`region\` on the layer, AWS_REGION, or \`region\` in profile "${profileInUse(opts, context)}" of ${context.env.AWS_CONFIG_FILE ?? '~/.aws/config'}`,
  );
}

function profileInUse(opts: AwsOptions, context: SourceContext): string {
  return opts.profile ?? context.env.AWS_PROFILE ?? 'default';
}

/** A named profile that neither shared file defines: the real cause behind "no region" or "no credentials". */
function missingProfile(opts: AwsOptions, context: SourceContext): string | undefined {
  const profile = opts.profile ?? context.env.AWS_PROFILE;
  return missingProfileMessage(profile, opts.profile !== undefined ? 'layer option `profile`' : 'AWS_PROFILE', context.env);
}

/**
 * The client's HTTP agents, watched: the retry policy tells a host that never accepts a connection (retried at
 * `timeout` each) from a server that is slow to answer on one (waited for longer). `connected(listener)` calls
 * back at once when a connection is open (a kept-alive one serves the next request), else when one opens.
 * `agent(https)` makes each agent on first use: the lean client needs only its endpoint's, and node:https (with
 * node:tls) costs a few milliseconds to load.
 */
export interface ConnectionWatch {
  agent(https: boolean): unknown;
  connected(listener: () => void): () => void;
  destroy(): void;
}

function watchConnections(): ConnectionWatch {
  let open = 0;
  const listeners = new Set<() => void>();
  const opened = (socket: import('node:net').Socket, event: 'connect' | 'secureConnect') =>
    socket.once(event, () => {
      open++;
      socket.once('close', () => open--);
      for (const listener of [...listeners]) listener();
    });
  const agents = new Map<boolean, import('node:http').Agent>();
  const make = (https: boolean) => {
    // The SDK's own defaults: keep-alive, 50 sockets.
    const agent = new (nodeHttp(https).Agent)({ keepAlive: true, maxSockets: 50 });
    const create = (agent as unknown as { createConnection: (...a: unknown[]) => import('node:net').Socket }).createConnection.bind(agent);
    (agent as unknown as { createConnection: (...a: unknown[]) => unknown }).createConnection = (...args: unknown[]) => {
      const socket = create(...args);
      if (socket) opened(socket, https ? 'secureConnect' : 'connect');
      return socket;
    };
    agents.set(https, agent);
    return agent;
  };
  return {
    agent: (https) => agents.get(https) ?? make(https),
    destroy: () => agents.forEach((agent) => agent.destroy()),
    connected(listener) {
      if (open > 0) {
        listener();
        return () => {};
      }
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** The endpoint the SDK uses, as it finds it: the option, the service's variable, AWS_ENDPOINT_URL, the default. */
export function endpointInUse(service: Pick<AwsService<unknown, unknown>, 'endpointVariable' | 'hostPrefix'>, opts: AwsOptions, env: SourceContext['env'], region: string): string {
  return opts.endpoint ?? env[service.endpointVariable] ?? env.AWS_ENDPOINT_URL ?? `https://${service.hostPrefix}.${region}.amazonaws.com`;
}

/** What a source gets to fetch with: the SDK, a ready client, the region, and the retry loop to send through. */
export interface AwsCall<Sdk, Client> {
  sdk: Sdk;
  client: Client;
  region: string;
  /**
   * What makes two reads of one name the same read (the start of a `context.reads` key, see ../session.ts): the
   * service, the endpoint in use, the region and the credential identity. That identity is the layer's `profile`,
   * else AWS_PROFILE, else the default chain (which, unlike a named profile, takes environment credentials first);
   * a reference has no `profile`, so a layer with one that AWS_PROFILE does not name reads on its own.
   */
  store: string;
  /** Run one SDK call under the retry policy; `send` gets each attempt's abort signal (time limit and cancel). */
  retrying<T>(what: string, send: (abortSignal: AbortSignal) => Promise<T>): Promise<T>;
}

/** One attempt of an SDK call, abandoned when `signal` aborts; the outcome says what the retry loop should do. */
async function attemptCall<T>(send: (abortSignal: AbortSignal) => Promise<T>, attempt: Attempt, cancel: AbortSignal, watch: ConnectionWatch): Promise<AttemptOutcome<T>> {
  const stop = watch.connected(attempt.connected);
  try {
    return { ok: true, value: await send(attempt.signal) };
  } catch (err) {
    if (cancel.aborted) throw new SourceError('cancelled');
    return classifyAwsError(err);
  } finally {
    stop();
  }
}

/** The error reported for a request that had no answer within `waitedMs` (see describeAwsError). */
function noAnswer(waitedMs: number): { error: unknown; describe: string } {
  const error = Object.assign(new Error(`no answer within ${formatSeconds(waitedMs)}`), { name: 'AttemptTimeout', timeoutMs: waitedMs });
  return { error, describe: error.message };
}

/** The error reported for an attempt whose connection was not established within `waitedMs`. */
function noConnection(waitedMs: number): { error: unknown; describe: string } {
  const error = Object.assign(new Error(`no connection within ${formatSeconds(waitedMs)}`), { name: 'AttemptNoConnection', timeoutMs: waitedMs });
  return { error, describe: error.message };
}

/**
 * The lean client (./lean.ts) when the SDK would certainly end at the same request, with the endpoint it sends to,
 * else the service's SDK and a client of it; the debug line says which and why (names only).
 */
async function awsClient<Sdk, Client extends AwsClient>(
  service: AwsService<Sdk, Client>,
  opts: AwsOptions,
  context: SourceContext,
  watch: ConnectionWatch,
  debug: ((message: string) => void) | undefined,
): Promise<{ sdk: Sdk; client: Client; endpoint?: string }> {
  // process.env: what the SDK itself would read; the layer's environment must agree with it.
  const route = service.lean
    ? await leanRoute(service, opts, context.env, process.env, (region) => endpointInUse(service, opts, context.env, region), sharedFileVerdicts(context))
    : { lean: false as const, why: 'no lean protocol' };
  debug?.(`${service.title} client: ${route.lean ? 'lean (no AWS SDK)' : 'AWS SDK'}, ${route.why}`);
  if (route.lean) {
    maskCredentials(route.credentials, context);
    const { region, endpoint, credentials } = route;
    // The stand-ins have the surface the sources use of the SDK module and client (see ./lean.ts).
    const client = new LeanClient({ protocol: service.lean!, endpoint, region, credentials, agent: watch.agent(new URL(endpoint).protocol === 'https:') });
    return { sdk: leanSdk(service.lean!) as Sdk, client: client as unknown as Client, endpoint };
  }
  let sdk: Sdk;
  try {
    sdk = await loadPackage<Sdk>(service.packageName);
  } catch {
    throw new SourceError(`the AWS SDK is not installed: run \`npm install ${service.packageName}\``);
  }
  return { sdk, client: withoutNodeVersionWarning(() => service.createClient(sdk, clientConfig(opts, context, watch))) };
}

/**
 * Load the service's SDK, build a client, resolve the region and run `use`. An SDK failure thrown by `use` becomes
 * one line naming the error, the region and the attempts (a `SourceError` it throws itself passes as it is); the
 * client is destroyed in every case.
 */
export async function withAwsClient<Sdk, Client extends AwsClient, T>(
  service: AwsService<Sdk, Client>,
  opts: AwsOptions,
  context: SourceContext,
  use: (call: AwsCall<Sdk, Client>) => Promise<T>,
): Promise<T> {
  const debug = debugChannel(context.env, context.layer);
  const watch = watchConnections();
  const { sdk, client, endpoint: leanEndpoint } = await awsClient(service, opts, context, watch, debug);
  try {
    const region = await resolveRegion(client, opts, context);
    // The SDK's region is known only now; a lean client's endpoint was worked out with its region.
    const endpoint = leanEndpoint ?? endpointInUse(service, opts, context.env, region);
    const pacer = pacerFor(`${service.title} ${endpoint}`);
    const retrying = <R>(what: string, send: (abortSignal: AbortSignal) => Promise<R>): Promise<R> =>
      withRetries((a) => attemptCall(send, a, context.signal, watch), {
        timeoutMs: opts.timeoutMs,
        retries: opts.retries,
        deadlineMs: opts.deadlineMs,
        signal: context.signal,
        pacer,
        debug,
        what: `${service.title} ${what}`,
        onTimeout: noAnswer,
        onNoConnection: noConnection,
      });
    try {
      const store = readKey(service.title, endpoint, region, opts.profile ?? context.env.AWS_PROFILE);
      return await use({ sdk, client, region, store, retrying });
    } catch (err) {
      if (err instanceof SourceError) throw err;
      if (context.signal.aborted) throw new SourceError('cancelled');
      const cause0 = err instanceof GaveUp ? err.last.error : err;
      const profileProblem = awsErrorName(cause0) === 'CredentialsProviderError' ? missingProfile(opts, context) : undefined;
      if (profileProblem) throw new SourceError(profileProblem);
      const scene: ErrorScene = {
        service: service.title,
        region,
        timeoutMs: opts.timeoutMs,
        files: `${context.env.AWS_SHARED_CREDENTIALS_FILE ?? '~/.aws/credentials'} and ${context.env.AWS_CONFIG_FILE ?? '~/.aws/config'}`,
        // AWS_ENDPOINT_URL may carry userinfo or a `?token=`: messages show scheme, host and port only.
        endpoint: shown(urlForDisplay(endpoint)),
        profile: profileInUse(opts, context),
        profileFromOption: opts.profile !== undefined,
      };
      const cause = err instanceof GaveUp ? err.last.error : err;
      throw new SourceError(describeAwsError(cause, scene, err instanceof GaveUp ? err : undefined), { cause });
    }
  } finally {
    client.destroy();
    watch.destroy();
  }
}

/**
 * The label of an AWS layer that names one resource or a list of them: `ssm /Dev/WebServer`, or
 * `secretsmanager prod/db (+2)` for a list (the first name and how many more).
 */
export function resourceLabel(one: unknown, many: unknown, fill: (text: string) => string): string | undefined {
  if (typeof one === 'string') return fill(one);
  if (!Array.isArray(many) || many.length === 0) return undefined;
  const first = fill(String(many[0]));
  return many.length === 1 ? first : `${first} (+${many.length - 1})`;
}

/** Every page of a paged call, following NextToken (../net/pages.ts: a token given twice is an error, not a loop). */
export function allPages<P extends { NextToken?: string }>(operation: string, page: (nextToken: string | undefined) => Promise<P>): Promise<P[]> {
  return everyPage(page, (answer) => answer.NextToken, (pages) => `${operation} returned the same NextToken twice after ${pages} pages`);
}

/** `items` in runs of at most `size`: AWS batch calls take a bounded number of names or ids per request. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
