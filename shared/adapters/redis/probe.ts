import type Redis from 'ioredis';
import type { DependencyProbe } from '../../ports/dependency-probe';
import { withTimeout } from './client';

export class RedisProbe implements DependencyProbe {
  readonly name = 'redis';
  constructor(private readonly redis: Redis) {}

  async ping(timeoutMs: number): Promise<void> {
    const answer = await withTimeout(this.redis.ping(), timeoutMs, 'redis PING');
    if (answer !== 'PONG') throw new Error(`unexpected PING answer ${answer}`);
  }
}
