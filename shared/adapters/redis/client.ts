import type { RedisConfig } from '../../config';
import { logger } from '../../observability/logger';
import type { RedisConnection } from './connection';
import { RespClient, cappedBackOff } from './resp-client';

/**
 * Builds the process's one Redis client. Commands time out after tens of
 * milliseconds (the cache must never make a request slower than DynamoDB
 * would), and the client keeps reconnecting in the background with capped
 * back-off, so a Lambda recovers by itself when Redis comes back.
 */
const openClients = new Set<RedisConnection>();

/**
 * Closes every client this module built. Lambda never needs it (the process
 * is frozen, not exited); the local stack and tests call it on shutdown.
 */
export async function closeRedisClients(): Promise<void> {
  const clients = [...openClients];
  openClients.clear();
  await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
}

/** The Redis section; the retry bound may be left out by tools that build a client by hand (default 1). */
export type RedisClientSettings = Omit<RedisConfig, 'REDIS_MAX_RETRIES_PER_REQUEST'> & { REDIS_MAX_RETRIES_PER_REQUEST?: number };

export function createRedisClient(config: RedisClientSettings, authToken?: string): RedisConnection | undefined {
  if (config.REDIS_DISABLED || !config.REDIS_URL) return undefined;
  // Connects as it is built (during the cold start's init, which is not billed on
  // the request); a failed connect only logs and retries: reads are optional.
  const client = new RespClient(config.REDIS_URL, {
    ...(authToken ? { password: authToken } : {}),
    connectTimeoutMs: config.REDIS_CONNECT_TIMEOUT_MS,
    // Also bounds commands queued while (re)connecting: a paused Redis fails fast.
    commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: config.REDIS_MAX_RETRIES_PER_REQUEST ?? 1,
    retryDelayMs: cappedBackOff,
  });
  client.on('error', (err: Error) => {
    logger.warn('redis client error', { reason: err.message });
  });
  openClients.add(client);
  return client;
}

/** Races a promise against a timer; the timer never keeps the process alive. */
export function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The process's Redis client, with the AUTH token read from Secrets Manager
 * when configured (on AWS). Resolves to undefined when the cache is disabled.
 */
export async function connectRedis(
  config: RedisConfig,
  readSecret: (arn: string) => Promise<string>,
): Promise<RedisConnection | undefined> {
  if (config.REDIS_DISABLED) {
    logger.warn('Redis is disabled (REDIS_DISABLED=true): every read goes to DynamoDB');
    return undefined;
  }
  const token = config.REDIS_AUTH_SECRET_ARN ? await readSecret(config.REDIS_AUTH_SECRET_ARN) : undefined;
  return createRedisClient(config, token);
}
