import { randomUUID } from 'node:crypto';
import type { CacheConfig } from '../../config';
import { logger } from '../../observability/logger';
import { countMetric } from '../../observability/metrics';
import { CacheInvalidationError, type CacheSource, type ReadThroughCache } from '../../ports/cache';
import { CircuitBreaker, type BreakerState } from './circuit-breaker';
import { SingleFlight } from './single-flight';
import type { RedisConnection } from './connection';

/**
 * The one cache layer (premium-check, entitlements and every writer use it):
 * cache-aside over Redis with a jittered TTL, invalidation with a stale-write
 * guard, per-process single-flight, and a circuit breaker so a slow or dead
 * Redis costs one short timeout, not one per request.
 *
 * The guard: every cached key has a generation key (`gen:<key>`) holding a
 * random token. A reader that misses notes the token (creating one if there is
 * none) BEFORE its DynamoDB read, and writes its value back only if the token
 * is unchanged, atomically (Lua). Invalidation replaces the token and deletes
 * the value in one script. So a slow read that started before a write can
 * never put the old value back after that write's invalidation; and because
 * the reader always compares against a token it saw, an expired or evicted
 * generation key makes the write-back fail, never succeed wrongly.
 */

/** Where a key's generation token lives. Value keys never start with `gen:`. */
export const generationKey = (key: string): string => `gen:${key}`;

/** KEYS[1] = generation key; ARGV[1] = a fresh token, ARGV[2] = its TTL (ms). Returns the current token. */
const NOTE_GENERATION = `
local g = redis.call('GET', KEYS[1])
if g then return g end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]`;

/** KEYS = value key, generation key; ARGV = token noted before the load, value, TTL (ms). 1 = written. */
const WRITE_IF_GENERATION = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`;

/** KEYS = n value keys then their n generation keys; ARGV = n fresh tokens then the generation TTL (ms). */
const INVALIDATE = `
local n = #KEYS / 2
for i = 1, n do
  redis.call('SET', KEYS[n + i], ARGV[i], 'PX', ARGV[n + 1])
end
redis.call('DEL', unpack(KEYS, 1, n))
return n`;

export interface RedisCacheOptions {
  ttlSeconds: number;
  /** Fraction of the TTL added or removed at random (default 0.1: ±10%). */
  jitterRatio?: number;
  /** The breaker's settings, or a breaker (tests pass one with a fake clock). */
  breaker: CircuitBreaker | { failureThreshold: number; cooldownMs: number };
  /** Invalidation attempts before giving up (default 3, 25 ms then 100 ms apart). */
  invalidateAttempts?: number;
  random?: () => number;
}

/** What health can report: `disabled` = no Redis configured. */
export type CacheState = BreakerState | 'disabled';

/** The kind of a key (`premium`, `entitlement`) for logs: keys can hold emails, which are never logged. */
function kindOf(key: string): string {
  const colon = key.indexOf(':');
  return colon > 0 ? key.slice(0, colon) : 'other';
}

function encode(value: unknown): string {
  // An envelope, so `undefined` and `null` survive the round trip as themselves.
  return JSON.stringify({ v: value });
}

function decode<T>(raw: string): { value: T } | undefined {
  try {
    const parsed: unknown = JSON.parse(raw);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return { value: (parsed as { v?: T }).v as T };
  } catch {
    // unreadable: treated as a miss and overwritten
  }
  return undefined;
}

/** The Redis client, or a promise-returning factory (a client whose AUTH token is still being read). */
export type RedisSource = RedisConnection | undefined | (() => Promise<RedisConnection | undefined>);

export class RedisReadThroughCache implements ReadThroughCache {
  readonly breaker: CircuitBreaker;
  private readonly flights = new SingleFlight();
  private client: RedisConnection | undefined;
  private clientResolved: boolean;
  private readonly clientFactory?: () => Promise<RedisConnection | undefined>;
  private readonly ttlMs: number;
  private readonly jitterRatio: number;
  private readonly generationTtlMs: number;
  private readonly invalidateAttempts: number;
  private readonly random: () => number;

  /**
   * `redis` undefined = no cache: every read is the loader's, `source: "db"`.
   * A factory is awaited until it resolves once (a failure means no cache for
   * that call and a retry on the next).
   */
  constructor(redis: RedisSource, options: RedisCacheOptions) {
    if (typeof redis === 'function') {
      this.clientFactory = redis;
      this.clientResolved = false;
    } else {
      this.client = redis;
      this.clientResolved = true;
    }
    if (!(options.ttlSeconds > 0)) throw new Error('ttlSeconds must be positive');
    this.ttlMs = options.ttlSeconds * 1000;
    this.jitterRatio = Math.min(Math.max(options.jitterRatio ?? 0.1, 0), 0.5);
    // Longer than any value lives; a generation key that expires anyway only makes a write-back fail.
    this.generationTtlMs = Math.max(2 * this.ttlMs, 60_000);
    this.invalidateAttempts = Math.max(1, options.invalidateAttempts ?? 3);
    this.random = options.random ?? Math.random;
    this.breaker =
      options.breaker instanceof CircuitBreaker
        ? options.breaker
        : new CircuitBreaker({
            ...options.breaker,
            onStateChange: (to, from) => logger.warn('cache circuit breaker changed state', { from, to }),
          });
  }

  /** For health: the breaker's state, or `disabled` without Redis. */
  get state(): CacheState {
    return this.clientResolved && !this.client ? 'disabled' : this.breaker.state;
  }

  private async resolveClient(): Promise<RedisConnection | undefined> {
    if (this.clientResolved) return this.client;
    try {
      this.client = await this.clientFactory?.();
      this.clientResolved = true;
      return this.client;
    } catch (err) {
      logger.warn('cache client unavailable; answering from the source', { reason: (err as Error).message });
      return undefined;
    }
  }

  async read<T>(key: string, load: () => Promise<T>): Promise<{ value: T; source: CacheSource }> {
    const redis = this.clientResolved ? this.client : await this.resolveClient();
    if (!redis || !this.breaker.tryAcquire()) return this.loadOnly(key, load);
    let generation: string;
    try {
      const cached = await redis.get(key);
      if (cached !== null) {
        this.breaker.recordSuccess();
        const entry = decode<T>(cached);
        if (entry) {
          countMetric('CacheHit');
          return { value: entry.value, source: 'cache' };
        }
      }
      generation = String(await redis.eval(NOTE_GENERATION, 1, generationKey(key), randomUUID(), this.generationTtlMs));
      this.breaker.recordSuccess();
    } catch (err) {
      this.breaker.recordFailure();
      logger.warn('cache read failed; answering from the source', { kind: kindOf(key), reason: (err as Error).message });
      return this.loadOnly(key, load);
    }
    // Callers that saw the same generation share one load; one that saw a newer
    // generation (an invalidation happened since) starts its own.
    countMetric('CacheMiss');
    return this.flights.run(`${key}\n${generation}`, async () => {
      const value = await load();
      await this.writeBack(redis, key, generation, value);
      return { value, source: 'db' as const };
    });
  }

  async invalidate(keys: readonly string[]): Promise<void> {
    const unique = [...new Set(keys)];
    if (unique.length === 0) return;
    let redis: RedisConnection | undefined;
    try {
      redis = this.clientResolved ? this.client : await this.clientFactory?.();
    } catch (err) {
      throw new CacheInvalidationError(unique, { cause: err });
    }
    if (!redis) return;
    const keyArgs = [...unique, ...unique.map(generationKey)];
    let lastError: unknown;
    // Not gated by the breaker: a skipped invalidation would leave stale data
    // for every other process, so it is always attempted, and retried: a write
    // is rare and worth a few more milliseconds (one event-loop stall can make
    // a 50 ms command timeout fire).
    for (let attempt = 1; attempt <= this.invalidateAttempts; attempt += 1) {
      if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, attempt === 2 ? 25 : 100));
      try {
        await redis.eval(INVALIDATE, keyArgs.length, ...keyArgs, ...unique.map(() => randomUUID()), this.generationTtlMs);
        return;
      } catch (err) {
        lastError = err;
      }
    }
    logger.error('cache invalidation failed', { kinds: unique.map(kindOf), reason: (lastError as Error)?.message });
    throw new CacheInvalidationError(unique, { cause: lastError });
  }

  async invalidateBestEffort(keys: readonly string[]): Promise<void> {
    const unique = [...new Set(keys)];
    if (unique.length === 0 || this.breaker.state === 'open') return;
    try {
      const redis = await this.resolveClient();
      if (!redis) return;
      const keyArgs = [...unique, ...unique.map(generationKey)];
      await redis.eval(INVALIDATE, keyArgs.length, ...keyArgs, ...unique.map(() => randomUUID()), this.generationTtlMs);
      this.breaker.recordSuccess();
    } catch (err) {
      this.breaker.recordFailure();
      logger.warn('best-effort cache invalidation failed', { kinds: unique.map(kindOf), reason: (err as Error).message });
    }
  }

  /** What is cached under `key` and for how long (ops tooling; reads never use it). */
  async peek(key: string): Promise<{ value: unknown; ttlMs: number } | undefined> {
    const redis = await this.resolveClient();
    if (!redis) return undefined;
    const [raw, ttlMs] = await Promise.all([redis.get(key), redis.pttl(key)]);
    const entry = raw === null ? undefined : decode<unknown>(raw);
    return entry ? { value: entry.value, ttlMs } : undefined;
  }

  /** The jittered TTL of one write, in ms. */
  entryTtlMs(): number {
    const factor = 1 + this.jitterRatio * (2 * this.random() - 1);
    return Math.max(1, Math.round(this.ttlMs * factor));
  }

  private loadOnly<T>(key: string, load: () => Promise<T>): Promise<{ value: T; source: CacheSource }> {
    countMetric('CacheMiss');
    return this.flights.run(`${key}\ndb`, async () => ({ value: await load(), source: 'db' as const }));
  }

  private async writeBack(redis: RedisConnection, key: string, generation: string, value: unknown): Promise<void> {
    if (this.breaker.state === 'open') return;
    try {
      const written = await redis.eval(WRITE_IF_GENERATION, 2, key, generationKey(key), generation, encode(value), this.entryTtlMs());
      this.breaker.recordSuccess();
      if (written !== 1) logger.debug('cache write-back skipped: invalidated during the load', { kind: kindOf(key) });
    } catch (err) {
      this.breaker.recordFailure();
      logger.warn('cache write-back failed', { kind: kindOf(key), reason: (err as Error).message });
    }
  }
}

export function createReadThroughCache(redis: RedisSource, config: CacheConfig): RedisReadThroughCache {
  return new RedisReadThroughCache(redis, {
    ttlSeconds: config.CACHE_TTL_SECONDS,
    breaker: { failureThreshold: config.CACHE_BREAKER_FAILURES, cooldownMs: config.CACHE_BREAKER_COOLDOWN_MS },
  });
}
