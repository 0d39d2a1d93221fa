import type { MiddlewareStack } from '@smithy/types';
import { dependencyFailure, type Dependency, type DependencyFailure, type DependencyUnavailable } from '../ports/errors';

/**
 * The one classifier of AWS SDK v3 errors. An error that means "the service
 * could not serve this call" (throttled, 5xx, retryable, no HTTP answer at
 * all, timed out, a network error) becomes a port-level DependencyUnavailable
 * naming the dependency; everything else (conditional check failures,
 * validation errors, access denied: answers about the request itself) passes
 * through untouched for the adapter to interpret. Classification reads the
 * error's type, code and HTTP status, never its message.
 */

/** Error names the SDK's own retry strategy treats as throttling (@smithy/core retry constants), plus DynamoDB's. */
const THROTTLING = new Set([
  'BandwidthLimitExceeded',
  'EC2ThrottledException',
  'LimitExceededException',
  'PriorRequestNotComplete',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ThrottledException',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'TransactionInProgressException',
]);

/** DynamoDB transaction cancellation reasons that are capacity, not the request. */
const THROTTLED_CANCELLATION = new Set(['ThrottlingError', 'ProvisionedThroughputExceeded', 'RequestLimitExceeded']);

const TIMEOUT_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'ESOCKETTIMEDOUT']);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);

interface SdkErrorShape {
  name?: unknown;
  code?: unknown;
  $fault?: unknown;
  $retryable?: { throttling?: boolean };
  $metadata?: { httpStatusCode?: number };
  CancellationReasons?: Array<{ Code?: string }>;
}

/** What kind of dependency failure `err` is, or undefined when it is an answer about the request. */
export function awsFailureKind(err: unknown): DependencyFailure | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as SdkErrorShape;
  const name = typeof e.name === 'string' ? e.name : '';
  const code = typeof e.code === 'string' ? e.code : '';
  // The caller aborted: not the dependency's fault, and nobody is waiting for an answer.
  if (name === 'AbortError') return undefined;
  if (TIMEOUT_NAMES.has(name) || TIMEOUT_CODES.has(code)) return 'timeout';
  const status = e.$metadata?.httpStatusCode;
  if (THROTTLING.has(name) || status === 429 || e.$retryable?.throttling === true) return 'throttled';
  if (name === 'TransactionCanceledException' && isThrottledCancellation(e.CancellationReasons)) return 'throttled';
  if (NETWORK_CODES.has(code)) return 'unreachable';
  if (status !== undefined && status >= 500) return 'failing';
  if (e.$fault === 'server' || e.$retryable !== undefined) return 'failing';
  // The SDK gave up without any HTTP answer (connection refused, reset, DNS...).
  if (e.$metadata !== undefined && status === undefined) return 'unreachable';
  return undefined;
}

/** Every reason is either "None" or capacity, and at least one is capacity: nothing about the request failed. */
function isThrottledCancellation(reasons: Array<{ Code?: string }> | undefined): boolean {
  if (!reasons || reasons.length === 0) return false;
  let throttled = false;
  for (const r of reasons) {
    if (r.Code && THROTTLED_CANCELLATION.has(r.Code)) throttled = true;
    else if (r.Code && r.Code !== 'None') return false;
  }
  return throttled;
}

/** The port-level error for `err`, or undefined when it is not a dependency failure. */
export function classifyAwsError(dependency: Dependency, err: unknown): DependencyUnavailable | undefined {
  const kind = awsFailureKind(err);
  return kind ? dependencyFailure(dependency, kind, err) : undefined;
}

/**
 * Installs the classifier on a client, outside the SDK's retry loop: after the
 * bounded retries are spent, a dependency failure leaves `send` as a
 * DependencyUnavailable, so every adapter built on the client (and every
 * DynamoDBDocumentClient made from it, which shares its middleware stack)
 * throws port-level errors without a try/catch of its own.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any client's input/output types
export function classifyErrorsOf<C extends { middlewareStack: MiddlewareStack<any, any> }>(client: C, dependency: Dependency): C {
  client.middlewareStack.add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (err) {
        throw classifyAwsError(dependency, err) ?? err;
      }
    },
    { step: 'initialize', priority: 'high', name: `classify-${dependency}-errors`, override: true },
  );
  return client;
}
