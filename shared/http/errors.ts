/**
 * Typed HTTP errors. Each carries the HTTP status and the stable `code` of the
 * contract's error body. Handlers and use cases throw these; adapters never do
 * (they throw the port-level errors of shared/ports/errors.ts). The error
 * policy (`./error-policy.ts`) maps every other error type to one of these,
 * once; `toErrorResponse` renders them. Never pick a status by matching an
 * error's message text.
 */
export abstract class AppError extends Error {
  abstract readonly statusCode: number;
  abstract readonly code: string;
  /** Extra response headers (e.g. Retry-After). */
  readonly headers: Record<string, string> = {};
  /** Extra, safe fields added to the error body (e.g. remaining balance on 402). */
  readonly details?: Record<string, unknown>;

  constructor(message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = new.target.name;
    this.details = details;
  }

  /** 5xx messages are never shown to callers; details go to the logs. */
  get expose(): boolean {
    return this.statusCode < 500;
  }
}

export class ValidationError extends AppError {
  readonly statusCode = 400;
  readonly code: string;
  constructor(message: string, code = 'validation_failed', details?: Record<string, unknown>) {
    super(message, details);
    this.code = code;
  }
}

export class UnauthorizedError extends AppError {
  readonly statusCode = 401;
  readonly code = 'unauthorized';
}

export class ForbiddenError extends AppError {
  readonly statusCode = 403;
  readonly code = 'forbidden';
}

export class PaymentRequiredError extends AppError {
  readonly statusCode = 402;
  readonly code: string;
  constructor(message: string, details?: Record<string, unknown>, code = 'insufficient_tokens') {
    super(message, details);
    this.code = code;
  }
}

/** 402 insufficient_tokens with the balance in the error body. */
export function insufficientTokens(remaining: number): PaymentRequiredError {
  return new PaymentRequiredError(`Not enough tokens: ${remaining} remaining`, { remaining });
}

/**
 * 402 feature_limit_reached for a metered feature: its monthly limit is spent (or the plan does not include it); uses left in the body.
 * Its own code: buying tokens does not help here, so a caller must not answer it with a top-up offer.
 */
export function featureLimitReached(feature: string, remaining: number): PaymentRequiredError {
  return new PaymentRequiredError(`The monthly limit of ${feature} is reached: ${remaining} remaining`, { feature, remaining }, 'feature_limit_reached');
}

export class NotFoundError extends AppError {
  readonly statusCode = 404;
  readonly code: string;
  constructor(message: string, code = 'not_found') {
    super(message);
    this.code = code;
  }
}

export class MethodNotAllowedError extends AppError {
  readonly statusCode = 405;
  readonly code = 'method_not_allowed';
  constructor(message: string, allowed: readonly string[]) {
    super(message);
    this.headers.Allow = allowed.join(', ');
  }
}

export class ConflictError extends AppError {
  readonly statusCode = 409;
  readonly code = 'conflict';
}

export class PayloadTooLargeError extends AppError {
  readonly statusCode = 413;
  readonly code = 'payload_too_large';
}

export class RateLimitedError extends AppError {
  readonly statusCode = 429;
  readonly code = 'rate_limited';
  constructor(message: string, retryAfterSeconds: number, details?: Record<string, unknown>) {
    super(message, details);
    this.headers['Retry-After'] = String(Math.max(1, Math.ceil(retryAfterSeconds)));
  }
}

export class DependencyUnavailableError extends AppError {
  readonly statusCode = 503;
  readonly code = 'dependency_unavailable';
}

export class InternalError extends AppError {
  readonly statusCode = 500;
  readonly code = 'internal_error';
}

/** The one generic message a caller sees for any 5xx. */
export const GENERIC_5XX_MESSAGE = 'Internal error. The request id in the x-request-id header identifies it in our logs.';
export const GENERIC_503_MESSAGE = 'A dependency is unavailable. Retry later.';
