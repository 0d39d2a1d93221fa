import type { RedisConnection } from '../../shared/adapters/redis/connection';
import { CircuitBreaker } from '../../shared/adapters/redis/circuit-breaker';
import { RedisReadThroughCache, generationKey } from '../../shared/adapters/redis/cache';
import { CacheInvalidationError } from '../../shared/ports/cache';

/** Only the failure paths and arithmetic live here; the scripts run against the real Redis in test/integration/cache.test.ts. */
function fakeRedis(overrides: Partial<Record<'get' | 'eval', jest.Mock>> = {}) {
  const redis = {
    get: overrides.get ?? jest.fn<Promise<string | null>, unknown[]>(async () => null),
    eval: overrides.eval ?? jest.fn<Promise<unknown>, unknown[]>(async () => 'gen-1'),
  };
  return { redis, client: redis as unknown as RedisConnection };
}

const settings = { ttlSeconds: 300, breaker: { failureThreshold: 3, cooldownMs: 5000 } };
const down = () => jest.fn(async () => Promise.reject(new Error('Command timed out')));

describe('RedisReadThroughCache (failure paths)', () => {
  it('jitters the TTL by ±10%', () => {
    const at = (r: number) => new RedisReadThroughCache(undefined, { ...settings, random: () => r }).entryTtlMs();
    expect(at(0)).toBe(270_000);
    expect(at(0.5)).toBe(300_000);
    expect(at(0.999999)).toBeCloseTo(330_000, -1);
  });

  it('answers from the loader, with source db, when no Redis is configured', async () => {
    const cache = new RedisReadThroughCache(undefined, settings);
    await expect(cache.read('premium:v1:a@example.com', async () => true)).resolves.toEqual({ value: true, source: 'db' });
    await expect(cache.invalidate(['premium:v1:a@example.com'])).resolves.toBeUndefined();
    expect(cache.state).toBe('disabled');
  });

  it('answers from the loader when Redis fails, and stops asking Redis once the breaker opens', async () => {
    // Arrange
    const { redis, client } = fakeRedis({ get: down() });
    const cache = new RedisReadThroughCache(client, settings);
    const load = jest.fn(async () => false);
    // Act
    for (let i = 0; i < 3; i += 1) await expect(cache.read('premium:v1:b@example.com', load)).resolves.toEqual({ value: false, source: 'db' });
    const callsWhenOpened = redis.get.mock.calls.length;
    await cache.read('premium:v1:b@example.com', load);
    // Assert
    expect(callsWhenOpened).toBe(3);
    expect(redis.get).toHaveBeenCalledTimes(3);
    expect(cache.state).toBe('open');
    expect(load).toHaveBeenCalledTimes(4);
  });

  it('collapses a burst of reads into one load while the breaker is open', async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1, cooldownMs: 60_000 });
    breaker.recordFailure();
    const { client } = fakeRedis();
    const cache = new RedisReadThroughCache(client, { ...settings, breaker });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const load = jest.fn(async () => (await gate, true));

    const burst = Array.from({ length: 100 }, () => cache.read('premium:v1:c@example.com', load));
    release();
    const answers = await Promise.all(burst);

    expect(load).toHaveBeenCalledTimes(1);
    expect(answers.every((a) => a.value === true && a.source === 'db')).toBe(true);
  });

  it('never serves an unreadable entry: it is a miss, reloaded and written back', async () => {
    const { redis, client } = fakeRedis({ get: jest.fn(async () => 'not json{') });
    redis.eval.mockResolvedValueOnce('gen-7').mockResolvedValueOnce(1);
    const cache = new RedisReadThroughCache(client, settings);

    await expect(cache.read('premium:v1:d@example.com', async () => false)).resolves.toEqual({ value: false, source: 'db' });

    // The write-back carries the generation noted before the load.
    const writeArgs = redis.eval.mock.calls[1] as unknown[];
    expect(writeArgs.slice(1, 5)).toEqual([2, 'premium:v1:d@example.com', generationKey('premium:v1:d@example.com'), 'gen-7']);
    expect(writeArgs[5]).toBe(JSON.stringify({ v: false }));
  });

  it('rejects with CacheInvalidationError after its attempts, even while the breaker is open', async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1, cooldownMs: 60_000 });
    breaker.recordFailure();
    const { redis, client } = fakeRedis({ eval: down() });
    const cache = new RedisReadThroughCache(client, { ...settings, breaker });

    const result = cache.invalidate(['premium:v1:e@example.com', 'entitlement:v1:u1', 'premium:v1:e@example.com']);

    await expect(result).rejects.toBeInstanceOf(CacheInvalidationError);
    await expect(result).rejects.toMatchObject({ keys: ['premium:v1:e@example.com', 'entitlement:v1:u1'] });
    expect(redis.eval).toHaveBeenCalledTimes(3);
  });

  it('answers from the loader while the client factory fails, and uses the client once it resolves', async () => {
    const { redis, client } = fakeRedis({ get: jest.fn(async () => JSON.stringify({ v: true })) });
    const factory = jest.fn<Promise<RedisConnection | undefined>, []>().mockRejectedValueOnce(new Error('secret unreadable')).mockResolvedValue(client);
    const cache = new RedisReadThroughCache(factory, settings);

    await expect(cache.read('premium:v1:f@example.com', async () => false)).resolves.toEqual({ value: false, source: 'db' });
    await expect(cache.read('premium:v1:f@example.com', async () => false)).resolves.toEqual({ value: true, source: 'cache' });
    await cache.read('premium:v1:f@example.com', async () => false);

    expect(factory).toHaveBeenCalledTimes(2);
    expect(redis.get).toHaveBeenCalledTimes(2);
  });
});
