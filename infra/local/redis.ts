import { RespClient } from '../../shared/adapters/redis/resp-client';
import { onPath, startProcess, waitUntil, type OwnedProcess } from './processes';

export interface LocalRedis {
  /** undefined when the stack runs without a cache. */
  url?: string;
  source: 'REDIS_URL' | 'redis-server' | 'none';
  process?: OwnedProcess;
}

/** True when the Redis at `url` answers PING within a second (setup checks share it). */
export async function answersPing(url: string): Promise<boolean> {
  // One attempt, no reconnecting: a refused or silent port answers false within the second.
  const client = new RespClient(url, { connectTimeoutMs: 500, commandTimeoutMs: 1000, maxRetriesPerRequest: 0, retryDelayMs: () => null });
  try {
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/**
 * The contract's order: `REDIS_URL` if set, else a `redis-server` on PATH that
 * the stack starts (and stops) itself, else no cache with a warning, unless
 * the caller requires Redis (the tests do).
 */
export async function startRedis(options: { port: number; required: boolean; url?: string }): Promise<LocalRedis> {
  if (options.url) {
    if (!(await answersPing(options.url))) {
      throw new Error(
        `REDIS_URL=${options.url} does not answer PING. Start Redis (redis-server --daemonize yes --port 6379 --save "" --appendonly no) or unset REDIS_URL.`,
      );
    }
    return { url: options.url, source: 'REDIS_URL' };
  }
  const binary = onPath('redis-server');
  if (!binary) {
    if (options.required) {
      throw new Error('Redis is required: set REDIS_URL or install redis-server (e.g. apt-get install redis-server) so it is on PATH.');
    }
    return { source: 'none' };
  }
  const url = `redis://127.0.0.1:${options.port}`;
  const proc = startProcess('redis-server', binary, ['--port', String(options.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  await waitUntil('redis-server', () => answersPing(url), 10_000, proc);
  return { url, source: 'redis-server', process: proc };
}
