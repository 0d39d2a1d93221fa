import { randomUUID } from 'node:crypto';
import { freePort } from '../../infra/local/processes';
import { CircuitBreaker } from '../../shared/adapters/redis/circuit-breaker';
import { RedisRateLimiter } from '../../shared/adapters/redis/rate-limiter';
import { RespClient, type RespClientOptions } from '../../shared/adapters/redis/resp-client';
import { rateLimitKey } from '../../shared/ports/rate-limiter';
import { RateLimiterUnavailableError } from '../../shared/ports/rate-limiter';
import { localStack } from '../fixtures/stack';

const clients: RespClient[] = [];
const client = (url: string, options: Partial<RespClientOptions> = {}) => {
  const c = new RespClient(url, { connectTimeoutMs: 1000, commandTimeoutMs: 1000, maxRetriesPerRequest: 1, ...options });
  clients.push(c);
  return c;
};
const breaker = () => new CircuitBreaker({ failureThreshold: 3, cooldownMs: 5000 });

afterAll(async () => {
  await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
});

describe('RedisRateLimiter (sliding window in one Lua script)', () => {
  it('lets exactly the limit through in a window, then again once the window has slid', async () => {
    const redis = client(localStack().handlerEnv.REDIS_URL as string);
    const limiter = new RedisRateLimiter(async () => redis, breaker());
    const key = rateLimitKey('test', randomUUID());
    const first = await Promise.all(Array.from({ length: 20 }, () => limiter.take(key, 5, 400)));
    expect(first.filter((d) => d.allowed)).toHaveLength(5);
    for (const d of first.filter((x) => !x.allowed)) expect(d).toEqual({ allowed: false, retryAfterMs: expect.any(Number) });
    const waits = first.flatMap((d) => (d.allowed ? [] : [d.retryAfterMs]));
    expect(Math.max(...waits)).toBeLessThanOrEqual(400);
    await new Promise((r) => setTimeout(r, 450));
    const second = await Promise.all(Array.from({ length: 10 }, () => limiter.take(key, 5, 400)));
    expect(second.filter((d) => d.allowed)).toHaveLength(5);
    // The key expires with its window: nothing is left behind in a shared Redis.
    expect(await redis.pttl(key)).toBeLessThanOrEqual(400);
  });

  it('reports Redis being unreachable as RateLimiterUnavailableError, then stops asking (breaker)', async () => {
    const dead = client(`redis://127.0.0.1:${await freePort()}`, { connectTimeoutMs: 100, commandTimeoutMs: 100, retryDelayMs: () => null });
    const limiterBreaker = breaker();
    const limiter = new RedisRateLimiter(async () => dead, limiterBreaker);
    for (let i = 0; i < 3; i++) await expect(limiter.take('k', 1, 1000)).rejects.toBeInstanceOf(RateLimiterUnavailableError);
    expect(limiterBreaker.state).toBe('open');
    await expect(limiter.take('k', 1, 1000)).rejects.toBeInstanceOf(RateLimiterUnavailableError);
  });
});
