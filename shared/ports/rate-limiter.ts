/**
 * A sliding-window rate limit, atomic in the store (Redis): `limit` calls in
 * any `windowMs`. Rejects with RateLimiterUnavailableError when the store
 * cannot be asked; the caller decides whether to fail closed or open.
 */
export interface RateLimiter {
  take(key: string, limit: number, windowMs: number): Promise<RateDecision>;
}

/** Rate-limit keys: versioned, and never shaped like a cache key. */
export const rateLimitKey = (scope: string, id: string) => `ratelimit:v1:${scope}:${id}`;

export type RateDecision = { allowed: true; remaining: number } | { allowed: false; retryAfterMs: number };

export class RateLimiterUnavailableError extends Error {
  constructor(options?: { cause?: unknown }) {
    super('rate limiter unavailable', options);
    this.name = 'RateLimiterUnavailableError';
  }
}
