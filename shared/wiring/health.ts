import { DynamoDbProbe } from '../adapters/dynamodb/probe';
import { RedisProbe } from '../adapters/redis/probe';
import type { HealthDeps } from '../use-cases/check-health';
import { aws, tables } from './aws';
import { cacheRedis, redisConfig } from './cache';
import { perProcess } from './process';

/** What GET /v1/health pings: DynamoDB (the users table) and the cache's Redis connection. */
export const healthProbes = perProcess(
  (): HealthDeps => ({
    dynamodb: new DynamoDbProbe(aws().dynamo.raw, tables().TABLE_USERS),
    redis: redisConfig().REDIS_DISABLED ? undefined : new RedisProbe(cacheRedis()),
  }),
);
