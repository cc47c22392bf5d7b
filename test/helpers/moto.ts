/**
 * Helpers for the ssm tests: seed moto_server through the real AWS SDK, a dummy AWS environment that can never
 * reach real AWS, a hand-made SourceContext, and small loopback servers (a counting/throttling proxy in front
 * of moto, a server that never answers).
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { SSMClient, PutParameterCommand } from '@aws-sdk/client-ssm';
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { withoutNodeVersionWarning } from '../../src/sources/aws/client.js';
import { expect } from 'vitest';
import { SourceError } from '../../src/core/errors.js';
import type { SourceContext } from '../../src/sources/types.js';
import { runCli, tmpProject, type CliResult } from './cli.js';

export interface SeedParameter {
  name: string;
  value: string;
  type?: 'String' | 'SecureString' | 'StringList';
}

/** Wait until the moto_server started by test/setup/moto.ts answers (setup itself does not wait). */
export async function waitForMoto(endpoint: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`moto_server did not answer on ${endpoint} within ${timeoutMs / 1000} s (see its output above)`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Put parameters into moto with the real SDK (PutParameter, overwriting), a few at a time. */
export async function seedParameters(endpoint: string, params: SeedParameter[]): Promise<void> {
  await waitForMoto(endpoint);
  const client = withoutNodeVersionWarning(
    () => new SSMClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } }),
  );
  try {
    const queue = [...params];
    const worker = async () => {
      for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
        await client.send(new PutParameterCommand({ Name: p.name, Value: p.value, Type: p.type ?? 'String', Overwrite: true }));
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
  } finally {
    client.destroy();
  }
}

export interface SeedSecret {
  name: string;
  /** Text, or bytes for a binary secret. */
  value: string | Uint8Array;
  /** Later versions, oldest first: each becomes AWSCURRENT in turn, so the one before the last is AWSPREVIOUS. */
  then?: string[];
}

/** Create secrets in moto with the real SDK (CreateSecret, then PutSecretValue for each later version). */
export async function seedSecrets(endpoint: string, secrets: SeedSecret[]): Promise<void> {
  await waitForMoto(endpoint);
  const client = withoutNodeVersionWarning(
    () => new SecretsManagerClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } }),
  );
  try {
    await Promise.all(
      secrets.map(async (s) => {
        const value = typeof s.value === 'string' ? { SecretString: s.value } : { SecretBinary: s.value };
        await client.send(new CreateSecretCommand({ Name: s.name, ...value }));
        for (const next of s.then ?? []) await client.send(new PutSecretValueCommand({ SecretId: s.name, SecretString: next }));
      }),
    );
  } finally {
    client.destroy();
  }
}

/** Numbered parameters `${prefix}/P00 ...` with values `value-00 ...`. */
export function numberedParameters(prefix: string, count: number): SeedParameter[] {
  return Array.from({ length: count }, (_, i) => {
    const n = String(i).padStart(2, '0');
    return { name: `${prefix}/P${n}`, value: `value-${n}` };
  });
}

/**
 * Environment for anything that runs the SDK in tests: dummy credentials, no shared config files, no instance
 * metadata, no profile, and no endpoint variables unless the caller adds them. Nothing here can reach AWS.
 */
export function dummyAwsEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const nowhere = join(tmpdir(), 'secretrun-test-no-aws-config');
  return {
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_SESSION_TOKEN: undefined,
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: undefined,
    AWS_PROFILE: undefined,
    AWS_CONFIG_FILE: join(nowhere, 'config'),
    AWS_SHARED_CREDENTIALS_FILE: join(nowhere, 'credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_ENDPOINT_URL: undefined,
    AWS_ENDPOINT_URL_SSM: undefined,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: undefined,
    AWS_MAX_ATTEMPTS: undefined,
    AWS_RETRY_MODE: undefined,
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined,
    AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined,
    AWS_WEB_IDENTITY_TOKEN_FILE: undefined,
    ...extra,
  };
}

/**
 * The SDK reads the real `process.env` (as it does inside secretrun), so direct-call tests set it. Each vitest
 * file runs in its own worker, so this stays within the file. Returns the function that restores it.
 */
export function applyProcessEnv(vars: Record<string, string | undefined>): () => void {
  const before = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const set = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  set(vars);
  return () => set(before);
}

/** The error a load failed with; fails the test when the load succeeded. */
export async function failure(promise: Promise<unknown>): Promise<Error> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof Error)) throw new Error('expected the load to fail, but it succeeded');
  return err;
}

/** A source failure as users see it: a SourceError on one line, no stack. */
export function expectOneLine(err: Error): void {
  expect(err).toBeInstanceOf(SourceError);
  expect(err.message).not.toContain('\n');
  expect(err.message).not.toMatch(/\bat .*\.js:\d+/);
}

/** Run the built CLI in a temp project holding `yaml` as secretrun.yaml, with a dummy AWS environment plus `env`. */
export async function runInProject(yaml: string, args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  const project = tmpProject({ 'secretrun.yaml': yaml });
  try {
    return await runCli(args, { cwd: project.dir, env: dummyAwsEnv(env) });
  } finally {
    project.cleanup();
  }
}

export interface TestContext extends SourceContext {
  warnings: string[];
  secrets: string[];
}

/** A SourceContext made by hand, as the core would pass it. */
export function makeContext(overrides: Partial<Pick<SourceContext, 'layer' | 'signal' | 'env'>> = {}): TestContext {
  const warnings: string[] = [];
  const secrets: string[] = [];
  return {
    layer: overrides.layer ?? 'ssm test',
    configDir: process.cwd(),
    keys: {},
    env: overrides.env ?? { ...process.env },
    signal: overrides.signal ?? new AbortController().signal,
    warn: (m) => warnings.push(m),
    secret: (v) => secrets.push(v),
    warnings,
    secrets,
  };
}

function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
}

export interface AwsProxy {
  url: string;
  /** The `X-Amz-Target` of every request that reached the proxy, throttled or not, in order. */
  targets: string[];
  /** The body of every request the proxy forwarded to moto (the requests the backend served), in order. */
  served: string[];
  close(): Promise<void>;
}

export interface AwsErrorReply {
  status: number;
  type: string;
  message: string;
}

export const THROTTLING: AwsErrorReply = { status: 400, type: 'ThrottlingException', message: 'Rate exceeded' };

/**
 * A loopback proxy in front of moto. It records each request's operation and answers the first `failFirst`
 * requests (or those numbered for which `failWhen(n)` is true, counting from 1) with an AWS JSON error (`failWith`, by default a ThrottlingException: HTTP 400 with
 * `{"__type":"ThrottlingException","message":"Rate exceeded"}`), then forwards the rest to moto.
 */
/** What the proxy does with request number `n` (from 1): answer it itself, forward a changed body, or (undefined) forward it as is. */
export type Intercept = (n: number, body: string) => { status: number; json: unknown } | { forwardBody: string } | undefined;

export async function startAwsProxy(
  target: string,
  opts: {
    failFirst?: number;
    failWhen?: (requestNumber: number) => boolean;
    failWith?: AwsErrorReply;
    intercept?: Intercept;
    /** Hold each forwarded answer until this long after the request arrived: a backend slow to answer. */
    delayMs?: number;
  } = {},
): Promise<AwsProxy> {
  const reply = opts.failWith ?? THROTTLING;
  const fails = opts.failWhen ?? ((n: number) => n <= (opts.failFirst ?? 0));
  const intercept: Intercept = opts.intercept ?? ((n) => (fails(n) ? { status: reply.status, json: { __type: reply.type, message: reply.message } } : undefined));
  const targets: string[] = [];
  const served: string[] = [];
  const upstream = new URL(target);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      targets.push(String(req.headers['x-amz-target'] ?? `${req.method} ${req.url}`));
      const action = intercept(targets.length, Buffer.concat(chunks).toString('utf8'));
      if (action && 'status' in action) {
        const body = JSON.stringify(action.json);
        res.writeHead(action.status, { 'content-type': 'application/x-amz-json-1.1', 'content-length': Buffer.byteLength(body), 'x-amzn-requestid': `proxy-${targets.length}` });
        res.end(body);
        return;
      }
      const body = action ? Buffer.from(action.forwardBody) : Buffer.concat(chunks);
      served.push(body.toString('utf8'));
      const arrived = Date.now();
      const headers = { ...req.headers, host: upstream.host, 'content-length': String(body.length) };
      const forward = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers }, (up: IncomingMessage) => {
        const answer = () => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        };
        const wait = (opts.delayMs ?? 0) - (Date.now() - arrived);
        if (wait > 0) setTimeout(answer, wait);
        else answer();
      });
      forward.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      forward.end(body);
    });
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    targets,
    served,
    close: () =>
      new Promise((r) => {
        server.close(() => r());
        server.closeAllConnections(); // the SDK keeps sockets alive; close() alone would wait for them
      }),
  };
}

/** A TCP server that accepts connections and never answers: the "wrong endpoint that hangs" case. */
export async function startSilentServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A loopback port with nothing listening on it (connection refused). */
export async function closedPortUrl(): Promise<string> {
  const server = createTcpServer();
  const port = await listen(server);
  await new Promise<void>((r) => server.close(() => r()));
  return `http://127.0.0.1:${port}`;
}
