/**
 * What a failed call throws. Every error the API answers has the body
 * `{"error": {"code", "message", ...}}` (402 adds `remaining`); the client
 * keeps that body as it came, so callers branch on `status` or `code`, never
 * on message text.
 */

/** The contract's error body; extra fields (such as `remaining` on a 402) are kept. */
export interface ApiErrorBody {
  error: { code: string; message: string; [key: string]: unknown };
}

/** What is known about the request that failed, besides the answer. */
export interface FailedRequest {
  /** How many requests were sent before giving up (1 when not retried). */
  attempts: number;
  /**
   * The idempotency key a consume or add sent (the caller's or the generated
   * one). After a 503 or no answer the change may have landed: send the same
   * request with this key again to complete it exactly once.
   */
  idempotencyKey?: string;
}

/** The API answered with an error status (after any retries the request was allowed). */
export class EntitlementsApiError extends Error {
  override readonly name = 'EntitlementsApiError';
  /** Stable machine-readable code from the body, e.g. `insufficient_tokens`, `rate_limited`. */
  readonly code: string;
  readonly attempts: number;
  readonly idempotencyKey: string | undefined;

  constructor(
    readonly status: number,
    readonly body: ApiErrorBody,
    /** From `Retry-After` (429, 503), in milliseconds, when the answer had one. */
    readonly retryAfterMs: number | undefined,
    /** `x-request-id` of the answer: quote it when asking the operator about a 500. */
    readonly requestId: string | undefined,
    request: FailedRequest,
  ) {
    super(`${status} ${body.error.code}: ${body.error.message}`);
    this.code = body.error.code;
    this.attempts = request.attempts;
    this.idempotencyKey = request.idempotencyKey;
  }
}

/** No answer at all (connection refused or reset, DNS, TLS), after any retries the request was allowed. */
export class EntitlementsConnectionError extends Error {
  override readonly name = 'EntitlementsConnectionError';
  readonly attempts: number;
  readonly idempotencyKey: string | undefined;

  constructor(message: string, request: FailedRequest, options: { cause: unknown }) {
    super(message, options);
    this.attempts = request.attempts;
    this.idempotencyKey = request.idempotencyKey;
  }
}

/**
 * Any answer outside the contract (a proxy's HTML page, an empty 502) still
 * becomes the contract's shape, so callers handle one kind of error body.
 */
export function toErrorBody(status: number, payload: unknown): ApiErrorBody {
  const error = (payload as { error?: unknown } | null | undefined)?.error as ApiErrorBody['error'] | undefined;
  if (error && typeof error.code === 'string' && typeof error.message === 'string') return { error };
  const text = typeof payload === 'string' ? payload.slice(0, 200) : '';
  return { error: { code: `http_${status}`, message: text || `HTTP ${status} without the API's error body` } };
}
