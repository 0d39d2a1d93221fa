/**
 * The read cache in front of DynamoDB (Redis on AWS). Defined by its users:
 * the entitlements and premium-check handlers read through it; every
 * entitlement write invalidates it. The cache is never the truth.
 */
export type CacheSource = 'cache' | 'db';

export interface ReadThroughCache {
  /**
   * The cached value for `key`, or `load()`'s (then cached with the TTL).
   * When the cache is unavailable, `load` answers and nothing is cached.
   */
  read<T>(key: string, load: () => Promise<T>): Promise<{ value: T; source: CacheSource }>;
  /**
   * Drops the keys so the next read goes to DynamoDB; a slow reader cannot
   * write old data back. Call it after every entitlement write (and for
   * `premium:` keys, after anything that can make an email premium: negative
   * answers are cached too). Rejects with CacheInvalidationError when the
   * cache could not be reached: the write is done, but a stale answer may be
   * served until the TTL ends, so a caller that can retry (a webhook answering
   * 500, a resumable job) should let the error propagate.
   */
  invalidate(keys: readonly string[]): Promise<void>;
  /**
   * One attempt, skipped while the cache is known to be down, never throws:
   * for frequent writes whose staleness is harmless and bounded by the TTL
   * (token balances after a consume), where a retried invalidation would
   * slow every request during an outage.
   */
  invalidateBestEffort(keys: readonly string[]): Promise<void>;
}

export class CacheInvalidationError extends Error {
  constructor(
    readonly keys: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(`cache invalidation failed for ${keys.length} key(s)`, options);
    this.name = 'CacheInvalidationError';
  }
}

/** Versioned keys: bump the version when the cached shape changes. */
export const cacheKeys = {
  entitlement: (userId: string) => `entitlement:v1:${userId}`,
  premium: (email: string) => `premium:v1:${email}`,
};
