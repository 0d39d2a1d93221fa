import { CircuitBreaker } from '../adapters/redis/circuit-breaker';
import { RedisRateLimiter } from '../adapters/redis/rate-limiter';
import { logger } from '../observability/logger';
import { cacheConfig, redisConnection } from './cache';
import { perProcess } from './process';

/**
 * The Redis-backed rate limiter, on its own client and breaker (a slow cache
 * read must not open the limiter's breaker, nor the reverse).
 */
export const rateLimiter = perProcess(() => {
  const config = cacheConfig();
  const breaker = new CircuitBreaker({
    failureThreshold: config.CACHE_BREAKER_FAILURES,
    cooldownMs: config.CACHE_BREAKER_COOLDOWN_MS,
    onStateChange: (to, from) => logger.warn('rate limiter circuit breaker changed state', { from, to }),
  });
  return new RedisRateLimiter(redisConnection(), breaker);
});
