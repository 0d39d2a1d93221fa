import { randomUUID } from 'node:crypto';
import { logger } from '../../observability/logger';
import { RateLimiterUnavailableError, type RateDecision, type RateLimiter } from '../../ports/rate-limiter';
import { CircuitBreaker } from './circuit-breaker';
import type { RedisConnection } from './connection';

/**
 * Sliding-window log in one Lua script: drop entries older than the window,
 * count, and add this call only when under the limit, all atomically, on
 * Redis's own clock (no skew between Lambda hosts). Exactly `limit` calls pass
 * in any window, however many arrive at once. Refused calls are not recorded,
 * so a client hammering the limit does not extend its own wait.
 *
 * KEYS[1] = the limit's key; ARGV = limit, window (ms), a unique member.
 * Returns {1, remaining} or {0, retryAfterMs}.
 */
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return {1, limit - count - 1}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local retry = window
if oldest[2] then retry = tonumber(oldest[2]) + window - now end
if retry < 1 then retry = 1 end
return {0, retry}`;

export class RedisRateLimiter implements RateLimiter {
  private client: RedisConnection | undefined;
  private resolved = false;

  constructor(
    private readonly redis: () => Promise<RedisConnection | undefined>,
    private readonly breaker: CircuitBreaker,
  ) {}

  async take(key: string, limit: number, windowMs: number): Promise<RateDecision> {
    const client = await this.resolve();
    if (!client || !this.breaker.tryAcquire()) throw new RateLimiterUnavailableError();
    try {
      const [allowed, value] = (await client.eval(TAKE, 1, key, limit, windowMs, randomUUID())) as [number, number];
      this.breaker.recordSuccess();
      return allowed === 1 ? { allowed: true, remaining: value } : { allowed: false, retryAfterMs: value };
    } catch (err) {
      this.breaker.recordFailure();
      logger.warn('rate limiter call failed', { reason: (err as Error).message });
      throw new RateLimiterUnavailableError({ cause: err });
    }
  }

  private async resolve(): Promise<RedisConnection | undefined> {
    if (this.resolved) return this.client;
    try {
      this.client = await this.redis();
      this.resolved = true;
      return this.client;
    } catch (err) {
      throw new RateLimiterUnavailableError({ cause: err });
    }
  }
}
