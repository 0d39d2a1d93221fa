import { EntitlementsApiError, EntitlementsConnectionError, toErrorBody } from './errors';

/**
 * When and how long to wait before repeating a request. Only requests that
 * are safe to repeat are ever retried (the caller of `sendWithRetries` says
 * which); an unsafe one gets exactly one attempt.
 */
export interface RetryPolicy {
  /** Retries after the first attempt (0 = never retry). */
  retries: number;
  /** First back-off step; doubles per retry, with full jitter. */
  baseDelayMs: number;
  /**
   * Longest the client waits before one retry. A `Retry-After` longer than
   * this is not shortened (retrying early would only be refused again, and
   * a monthly limit says "next month"): the error is thrown at once, with
   * `retryAfterMs` for the caller to schedule.
   */
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { retries: 2, baseDelayMs: 200, maxDelayMs: 5_000 };

/** 429 (rate limited) and 503 (a dependency down, a write that lost a race): the API's "repeat the same request". */
const RETRYABLE_STATUSES = new Set([429, 503]);

export function retryPolicyOf(option: number | Partial<RetryPolicy> | undefined): RetryPolicy {
  const policy = typeof option === 'number' ? { ...DEFAULT_RETRY_POLICY, retries: option } : { ...DEFAULT_RETRY_POLICY, ...option };
  for (const [name, value] of Object.entries(policy)) {
    if (!Number.isInteger(value) || value < 0) throw new RangeError(`retries.${name} must be a whole number >= 0, got ${String(value)}`);
  }
  return policy;
}

/**
 * `Retry-After` in milliseconds: delta-seconds (`120`) or an HTTP-date
 * (`Wed, 21 Oct 2015 07:28:00 GMT`, RFC 9110 section 10.2.3); a date in the
 * past is 0. Anything else is ignored (undefined), and the back-off applies.
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value == null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Date.parse also takes ISO strings and bare numbers with signs; RFC 9110 dates always name the weekday or month.
  if (!/[A-Za-z]/.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** "Full jitter" back-off: spreads the retries of many callers hit by the same outage instead of synchronising them. */
export function backoffDelay(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry));
}

/** One attempt's outcome as openapi-fetch returns it. */
export interface AttemptResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

export interface Answer<T> {
  data: T;
  response: Response;
  attempts: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Sends `attempt` until it succeeds, or the answer is final: an error status
 * other than 429/503, a request that is not safe to repeat, the retries used
 * up, or a `Retry-After` beyond `maxDelayMs`. `attempt` must send the SAME
 * request every time (same body, same idempotency key): that is what makes a
 * retried write land once.
 */
export async function sendWithRetries<T>(
  attempt: () => Promise<AttemptResult<T>>,
  safeToRepeat: boolean,
  policy: RetryPolicy,
  idempotencyKey?: string,
): Promise<Answer<T>> {
  for (let attempts = 1; ; attempts++) {
    const retriesLeft = safeToRepeat && attempts <= policy.retries;
    let result: AttemptResult<T>;
    try {
      result = await attempt();
    } catch (cause) {
      // No answer at all: for a request safe to repeat, the same as a 503 without Retry-After.
      if (!retriesLeft || (cause as Error | undefined)?.name === 'AbortError') {
        throw new EntitlementsConnectionError(`No answer from the entitlements API after ${attempts} attempt(s): ${(cause as Error)?.message ?? String(cause)}`, { attempts, idempotencyKey }, { cause });
      }
      await sleep(backoffDelay(attempts - 1, policy));
      continue;
    }
    const { response } = result;
    if (response.ok) return { data: result.data as T, response, attempts };

    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
    const error = new EntitlementsApiError(response.status, toErrorBody(response.status, result.error), retryAfterMs, response.headers.get('x-request-id') ?? undefined, {
      attempts,
      idempotencyKey,
    });
    if (!retriesLeft || !RETRYABLE_STATUSES.has(response.status)) throw error;
    const wait = retryAfterMs ?? backoffDelay(attempts - 1, policy);
    if (wait > policy.maxDelayMs) throw error;
    await sleep(wait);
  }
}
