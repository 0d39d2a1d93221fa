import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { RedisReadThroughCache, generationKey } from '../../shared/adapters/redis/cache';
import { closeRedisClients, createRedisClient } from '../../shared/adapters/redis/client';
import type { RedisConnection } from '../../shared/adapters/redis/connection';
import { CacheInvalidationError, cacheKeys } from '../../shared/ports/cache';
import { localStack } from '../fixtures/stack';
import { blackHolePort, closedPort, startTcpProxy, type TcpProxy } from '../fixtures/tcp-proxy';

/**
 * The cache layer against the real Redis the local stack uses. Each test has
 * its own keys; "Redis down" is a client pointed at a closed or silent port,
 * or at a proxy in front of the real Redis that the test stops and restarts.
 */
const COMMAND_TIMEOUT_MS = 50;
const redisUrl = () => {
  const url = localStack().handlerEnv.REDIS_URL;
  if (!url) throw new Error('the local stack runs without Redis; integration tests need it');
  return url;
};
const client = (url: string) =>
  createRedisClient({ REDIS_URL: url, REDIS_DISABLED: false, REDIS_CONNECT_TIMEOUT_MS: 1000, REDIS_COMMAND_TIMEOUT_MS: COMMAND_TIMEOUT_MS })!;
/**
 * A client to the healthy Redis, connected: a process's first connection can take longer than the
 * 50 ms command timeout (the cache then answers from the source, by design, as at a Lambda's cold
 * start); these tests are about what the cache does once it can talk to Redis.
 */
async function connected(url: string): Promise<RedisConnection> {
  const redis = client(url);
  if (redis.status !== 'ready') await new Promise<void>((resolve, reject) => redis.once('ready', resolve).once('end', () => reject(new Error('redis closed before ready'))));
  return redis;
}
const cacheOn = (redis: RedisConnection | undefined, breaker = { failureThreshold: 3, cooldownMs: 60_000 }) =>
  new RedisReadThroughCache(redis, { ttlSeconds: 300, breaker });
const key = () => cacheKeys.premium(`cache-${randomUUID()}@example.com`);

async function waitFor(what: string, probe: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function timed<T>(run: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  const result = await run();
  return { result, ms: performance.now() - started };
}

describe('read-through cache on the real Redis', () => {
  let inspector: Redis;
  const proxies: TcpProxy[] = [];
  const holes: Array<{ close: () => Promise<void> }> = [];

  beforeAll(() => {
    inspector = new Redis(redisUrl(), { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    await closeRedisClients();
    await Promise.all([...proxies.map((p) => p.close()), ...holes.map((h) => h.close())]);
    await inspector.quit();
  });

  it('misses, then hits, with a TTL of 5 minutes ±10%', async () => {
    // Arrange
    const cache = cacheOn(await connected(redisUrl()));
    const k = key();
    const load = jest.fn(async () => true);
    // Act
    const first = await cache.read(k, load);
    const second = await cache.read(k, load);
    // Assert
    expect(first).toEqual({ value: true, source: 'db' });
    expect(second).toEqual({ value: true, source: 'cache' });
    expect(load).toHaveBeenCalledTimes(1);
    const ttl = await inspector.pttl(k);
    expect(ttl).toBeGreaterThan(270_000 - 5_000);
    expect(ttl).toBeLessThanOrEqual(330_000);
    expect(await inspector.get(k)).toBe(JSON.stringify({ v: true }));
  });

  it('jitters TTLs so keys written together do not expire together', async () => {
    const cache = cacheOn(await connected(redisUrl()));
    const keys = Array.from({ length: 20 }, key);
    await Promise.all(keys.map((k) => cache.read(k, async () => false)));
    const ttls = await Promise.all(keys.map((k) => inspector.pttl(k)));
    expect(new Set(ttls.map((t) => Math.round(t / 1000))).size).toBeGreaterThan(5);
  });

  it('drops the value on invalidation, so the next read loads the new truth', async () => {
    const reader = cacheOn(await connected(redisUrl()));
    const writer = cacheOn(await connected(redisUrl())); // another Lambda: the webhook
    const k = key();
    await reader.read(k, async () => true);

    await writer.invalidate([k, cacheKeys.entitlement(randomUUID())]);

    expect(await inspector.get(k)).toBeNull();
    await expect(reader.read(k, async () => false)).resolves.toEqual({ value: false, source: 'db' });
    await expect(reader.read(k, async () => true)).resolves.toEqual({ value: false, source: 'cache' });
  });

  it('never lets a slow read write old data back after an invalidation', async () => {
    // Arrange: a reader whose DynamoDB read returned the OLD truth but is slow to come back.
    const reader = cacheOn(await connected(redisUrl()));
    const writer = cacheOn(await connected(redisUrl()));
    const k = key();
    let loaded!: () => void;
    const loaderRan = new Promise<void>((r) => (loaded = r));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slowRead = reader.read(k, async () => {
      loaded();
      await gate;
      return 'old';
    });
    await loaderRan;
    // Act: the write lands and invalidates while the read is in flight; then the late write-back.
    await writer.invalidate([k]);
    release();
    const answer = await slowRead;
    // Assert: the slow reader answers what it read (it started before the write), but it is not cached...
    expect(answer).toEqual({ value: 'old', source: 'db' });
    expect(await inspector.get(k)).toBeNull();
    // ...so the next read gets the new truth, and caches that.
    await expect(reader.read(k, async () => 'new')).resolves.toEqual({ value: 'new', source: 'db' });
    await expect(reader.read(k, async () => 'stale again?')).resolves.toEqual({ value: 'new', source: 'cache' });
  });

  it('does not write back when the generation key vanished during the load (expired or evicted)', async () => {
    const cache = cacheOn(await connected(redisUrl()));
    const k = key();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started!: () => void;
    const loaderRan = new Promise<void>((r) => (started = r));
    const read = cache.read(k, async () => (started(), await gate, 'value'));
    await loaderRan;
    await inspector.del(generationKey(k));
    release();
    await read;
    expect(await inspector.get(k)).toBeNull();
  });

  it('makes one load for 500 concurrent misses on one key', async () => {
    // Arrange
    const cache = cacheOn(await connected(redisUrl()));
    const k = key();
    let loads = 0;
    const load = async () => {
      loads += 1;
      await new Promise((r) => setTimeout(r, 20)); // a DynamoDB round trip
      return true;
    };
    // Act
    const answers = await Promise.all(Array.from({ length: 500 }, () => cache.read(k, load)));
    // Assert
    expect(loads).toBeGreaterThanOrEqual(1);
    expect(loads).toBeLessThanOrEqual(3);
    expect(answers.every((a) => a.value === true)).toBe(true);
  });

  it('answers from the loader within the timeout budget when Redis refuses connections, and opens the breaker', async () => {
    const cache = cacheOn(client(`redis://127.0.0.1:${await closedPort()}`));
    const k = key();
    const { result, ms } = await timed(() => Promise.all(Array.from({ length: 10 }, async () => cache.read(k, async () => false)).map((p) => p)));
    expect(result.every((a) => a.value === false && a.source === 'db')).toBe(true);
    expect(ms).toBeLessThan(COMMAND_TIMEOUT_MS * 10);
    expect(cache.state).toBe('open');
  });

  it('pays the command timeout only until the breaker opens when Redis accepts but never answers', async () => {
    const hole = await blackHolePort();
    holes.push(hole);
    const cache = cacheOn(client(`redis://127.0.0.1:${hole.port}`));
    const k = key();

    // Three sequential reads each wait for the command timeout...
    const before = await timed(async () => {
      for (let i = 0; i < 3; i += 1) expect(await cache.read(k, async () => false)).toEqual({ value: false, source: 'db' });
    });
    expect(cache.state).toBe('open');
    // ...then nobody waits for Redis any more.
    const after = await timed(async () => {
      for (let i = 0; i < 50; i += 1) expect(await cache.read(k, async () => false)).toEqual({ value: false, source: 'db' });
    });

    expect(before.ms).toBeGreaterThanOrEqual(COMMAND_TIMEOUT_MS * 0.9);
    expect(before.ms).toBeLessThan(3 * COMMAND_TIMEOUT_MS + 500);
    expect(after.ms).toBeLessThan(COMMAND_TIMEOUT_MS);
  });

  it('falls back when Redis goes away mid-test, then reconnects and serves from the cache again', async () => {
    // Arrange: a warm key, read through a proxy in front of the real Redis.
    const [host, port] = new URL(redisUrl()).host.split(':');
    const proxy = await startTcpProxy({ host: host!, port: Number(port ?? 6379) });
    proxies.push(proxy);
    const redis = client(proxy.url);
    const cache = cacheOn(redis, { failureThreshold: 3, cooldownMs: 200 });
    const k = key();
    await cache.read(k, async () => true);
    await expect(cache.read(k, async () => false)).resolves.toEqual({ value: true, source: 'cache' });

    // Act 1: Redis disappears.
    await proxy.stop();
    const during = [];
    for (let i = 0; i < 5; i += 1) during.push(await cache.read(k, async () => true));
    // Assert 1: the truth, from the loader, and the breaker is open.
    expect(during.every((a) => a.value === true && a.source === 'db')).toBe(true);
    expect(['open', 'half-open']).toContain(cache.state);

    // Act 2: Redis comes back on the same address.
    await proxy.start();
    // Assert 2: the client reconnects by itself and the half-open probe closes the breaker.
    await waitFor('the cache to answer again', async () => (await cache.read(k, async () => true)).source === 'cache');
    expect(cache.state).toBe('closed');
    expect(redis.status).toBe('ready');
  });

  it('attempts invalidation even while the breaker is open, and reports when it cannot', async () => {
    const [host, port] = new URL(redisUrl()).host.split(':');
    const proxy = await startTcpProxy({ host: host!, port: Number(port ?? 6379) });
    proxies.push(proxy);
    const redis = client(proxy.url);
    const cache = cacheOn(redis, { failureThreshold: 1, cooldownMs: 60_000 });
    const k = key();
    await cache.read(k, async () => true);

    await proxy.stop();
    await cache.read(k, async () => true);
    expect(cache.state).toBe('open');
    await expect(cache.invalidate([k])).rejects.toBeInstanceOf(CacheInvalidationError);

    await proxy.start();
    await waitFor('the client to reconnect', () => redis.status === 'ready');
    await cache.invalidate([k]);

    expect(cache.state).toBe('open'); // reads still wait for the cooldown...
    expect(await inspector.get(k)).toBeNull(); // ...but the invalidation went through
  });
});
