import type { DependencyProbe } from '../../ports/dependency-probe';
import { withTimeout } from './client';
import type { RedisConnection } from './connection';

export class RedisProbe implements DependencyProbe {
  readonly name = 'redis';
  /** `connection`: the process's lazily opened client (undefined, or a rejection, when it could not be opened). */
  constructor(private readonly connection: () => Promise<RedisConnection | undefined>) {}

  async connect(): Promise<void> {
    await this.connection().catch(() => undefined);
  }

  async ping(timeoutMs: number): Promise<void> {
    const redis = await this.connection().catch(() => undefined);
    if (!redis) throw new Error('redis client unavailable');
    const answer = await withTimeout(redis.ping(), timeoutMs, 'redis PING');
    if (answer !== 'PONG') throw new Error(`unexpected PING answer ${answer}`);
  }
}
