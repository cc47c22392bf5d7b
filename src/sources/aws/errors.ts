/**
 * AWS SDK failures: what the retry loop makes of them (`classifyAwsError`), and one-line messages naming the error,
 * its HTTP status, the region and the attempts; never AWS's own text (it may quote input), never a stack.
 */
import { formatSeconds, parseRetryAfter, type AttemptOutcome, type GaveUp } from '../net/retry.js';

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EPIPE']);
/** A certificate that does not verify, a TLS handshake that fails: final (trying again will not heal it). */
const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH)/;
const EXPIRED_NAMES = new Set(['ExpiredTokenException', 'ExpiredToken', 'RequestExpired']);
const BAD_CREDENTIAL_NAMES = new Set(['UnrecognizedClientException', 'InvalidSignatureException', 'InvalidClientTokenId', 'SignatureDoesNotMatch']);
const ACCESS_DENIED_NAMES = new Set(['AccessDeniedException', 'AccessDenied']);

export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** Where the request went and what was tried, for the message. */
export interface ErrorScene {
  /** `SSM`, `Secrets Manager`. */
  service: string;
  region: string;
  timeoutMs: number;
  /** Shared credentials and config files, as the SDK finds them (AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE). */
  files: string;
  endpoint: string;
  profile: string;
  profileFromOption: boolean;
}

/** The fields of an SDK error we read. */
interface SdkError {
  name?: string;
  message?: string;
  code?: string;
  timeoutMs?: number;
  $fault?: 'client' | 'server';
  $metadata?: { attempts?: number; httpStatusCode?: number };
  $response?: { headers?: Record<string, string | undefined> };
}

/** The throttling error names of AWS services (as the SDK's own classification lists them). */
const THROTTLING_NAMES = new Set([
  'ThrottlingException', 'Throttling', 'ThrottledException', 'RequestThrottledException', 'RequestThrottled', 'TooManyRequestsException',
  'RequestLimitExceeded', 'ProvisionedThroughputExceededException', 'BandwidthLimitExceeded', 'SlowDown', 'PriorRequestNotComplete',
  'EC2ThrottledException', 'TransactionInProgressException', 'LimitExceededException',
]);
const TRANSIENT_NAMES = new Set(['RequestTimeout', 'RequestTimeoutException', 'InternalError', 'InternalFailure', 'InternalServerError', 'InternalServiceError', 'ServiceUnavailable', 'ServiceUnavailableException']);

/** Throttling (retried until the deadline), a connection timeout, a transient failure (bounded by `retries`), or final. */
export function classifyAwsError(err: unknown): AttemptOutcome<never> & { ok: false } {
  const e = (err ?? {}) as SdkError;
  const name = e.name ?? 'Error';
  const status = e.$metadata?.httpStatusCode;
  const retryAfterMs = parseRetryAfter(e.$response?.headers?.['retry-after']);
  const network = e.code !== undefined && NETWORK_CODES.has(e.code);
  const describe = network ? e.code! : name;
  if (THROTTLING_NAMES.has(name) || status === 429 || (status === 503 && retryAfterMs !== undefined)) return { ok: false, kind: 'throttled', error: err, describe, retryAfterMs };
  // The SDK's own connection timeout: no connection was established (retried at `timeout`, no doubling). The SDK
  // also names a reset connection (ECONNRESET, EPIPE, ETIMEDOUT) TimeoutError: that is a failure, by its code.
  if (name === 'TimeoutError' && !network) return { ok: false, kind: /establish a connection/.test(String(e.message)) ? 'unconnected' : 'timeout', error: err, describe };
  const transient = network || e.$fault === 'server' || (status !== undefined && status >= 500) || TRANSIENT_NAMES.has(name);
  return { ok: false, kind: transient ? 'transient' : 'final', error: err, describe };
}

export function awsErrorName(err: unknown): string {
  return ((err ?? {}) as SdkError).name ?? 'Error';
}

export function isAccessDenied(err: unknown): boolean {
  return ACCESS_DENIED_NAMES.has(awsErrorName(err));
}

/** Where credentials were looked for, so "no credentials" says what to fix. */
function credentialSources(scene: ErrorScene): string {
  const fromProfile = `profile "${scene.profile}" (${scene.profileFromOption ? 'layer option `profile`' : scene.profile === 'default' ? 'AWS_PROFILE unset' : 'AWS_PROFILE'}) in ${scene.files}`;
  // The SDK skips the static env pair once a profile is named, so only list it when it was consulted.
  const env = scene.profileFromOption || scene.profile !== 'default' ? '' : 'AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ';
  return `${env}${fromProfile}, AWS_WEB_IDENTITY_TOKEN_FILE, container and instance roles`;
}

/**
 * One line for the user: the AWS error name, the HTTP status, the region, and how the retries ended. Built from
 * names and codes only: AWS's own message is never shown, since it may quote the request (a validation error
 * quotes the value it rejected, an access-denied error the resource name) or whatever a proxy put in its body.
 */
export function describeAwsError(err: unknown, scene: ErrorScene, gaveUp?: GaveUp): string {
  const e = (err ?? {}) as SdkError;
  const name = e.name ?? 'Error';
  const where = `region ${scene.region}`;
  const tries = !gaveUp ? '' : gaveUp.reason === 'deadline' ? `; ${gaveUp.suffix}` : gaveUp.attempts > 1 ? `, ${gaveUp.suffix.replace(/^gave up after /, '')}` : '';
  if (name === 'CredentialsProviderError') {
    // The provider's message is read (never shown) to tell an expired session from no credentials at all.
    return /expired|refresh/i.test(String(e.message))
      ? `AWS credentials have expired; sign in again, e.g. \`aws sso login --profile ${scene.profile}\` (${where})`
      : `no AWS credentials found: looked at ${credentialSources(scene)} (${where})`;
  }
  if (EXPIRED_NAMES.has(name)) return `${name}: AWS credentials have expired: refresh them for profile "${scene.profile}" or renew AWS_SESSION_TOKEN (${where})`;
  if (BAD_CREDENTIAL_NAMES.has(name)) return `${name}: the credentials were rejected (looked at ${credentialSources(scene)}) (${where})`;
  if (name === 'AttemptTimeout') {
    return `cannot reach ${scene.service} at ${scene.endpoint}: no answer within ${formatSeconds(e.timeoutMs ?? 0)} (options \`timeout\` and \`retries\`) (${where}${tries})`;
  }
  if (name === 'AttemptNoConnection') {
    return `cannot reach ${scene.service} at ${scene.endpoint}: no connection within ${formatSeconds(e.timeoutMs ?? 0)} (options \`timeout\` and \`retries\`) (${where}${tries})`;
  }
  if (e.code !== undefined && NETWORK_CODES.has(e.code)) return `cannot reach ${scene.service} at ${scene.endpoint}: ${e.code} (${where}${tries})`;
  if (e.code !== undefined && TLS_CODES.test(e.code)) {
    return `cannot reach ${scene.service} at ${scene.endpoint}: TLS ${e.code} (is the server's CA trusted? NODE_EXTRA_CA_CERTS adds one) (${where}${tries})`;
  }
  // The SDK's deserializer (and ./lean.ts) on a body that is not JSON: a proxy's page, a cut-off answer.
  if (name === 'SyntaxError' && e.$metadata?.httpStatusCode !== undefined) return `the answer of ${scene.service} at ${scene.endpoint} is not AWS JSON (${httpStatus(err)}${where}${tries})`;
  if (name === 'TimeoutError') {
    const phase = /establish a connection/.test(String(e.message)) ? 'no connection' : 'no answer';
    return `cannot reach ${scene.service} at ${scene.endpoint}: ${phase} within ${formatSeconds(scene.timeoutMs)} (option \`timeout\`) (${where}${tries})`;
  }
  return `${name}${awsErrorMeaning(name, scene.service)} (${httpStatus(err)}${where}${tries})`;
}

/** `HTTP 400, ` when the service answered. */
export function httpStatus(err: unknown): string {
  const status = ((err ?? {}) as SdkError).$metadata?.httpStatusCode;
  return status === undefined ? '' : `HTTP ${status}, `;
}

/** A few words on what a common error name means, since AWS's own message is not shown. */
export function awsErrorMeaning(name: string, service: string): string {
  if (ACCESS_DENIED_NAMES.has(name)) return `: the credentials in use may not make this ${service} call`;
  if (THROTTLING_NAMES.has(name)) return `: ${service} throttled the requests`;
  return ` from ${service}`;
}
