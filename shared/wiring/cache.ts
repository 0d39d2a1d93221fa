import { cacheSection, loadConfig, redisSection } from '../config';
import { createReadThroughCache } from '../adapters/redis/cache';
import { connectRedis } from '../adapters/redis/client';
import { once } from '../adapters/secrets';
import { logger } from '../observability/logger';
import type { ReadThroughCache } from '../ports/cache';
import { aws } from './aws';
import { perProcess } from './process';

export const redisConfig = perProcess(() => loadConfig({ redis: redisSection }).redis);
export const cacheConfig = perProcess(() => loadConfig({ cache: cacheSection }).cache);

/** A Redis connection opened at cold start (the first request awaits the same promise); a failed connect is retried by the next call. */
export function redisConnection() {
  const redis = once(() => connectRedis(redisConfig(), aws().readSecret));
  redis().catch((err: unknown) => logger.warn('redis connect failed at cold start', { reason: String(err) }));
  return redis;
}

/** The cache's connection; the health check pings this one. */
export const cacheRedis = perProcess(redisConnection);

/** Read-through cache of entitlement rows and premium answers (TTL and breaker: CACHE_*). */
export const cache = perProcess((): ReadThroughCache => createReadThroughCache(cacheRedis(), cacheConfig()));
