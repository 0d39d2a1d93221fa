import { awsSection, loadConfig, redisSection, tablesSection } from '../../shared/config';
import { createDynamoClients, createSecretsClient } from '../../shared/adapters/clients';
import { DynamoDbProbe } from '../../shared/adapters/dynamodb/probe';
import { connectRedis } from '../../shared/adapters/redis/client';
import { RedisProbe } from '../../shared/adapters/redis/probe';
import { once, resolveSecret } from '../../shared/adapters/secrets';
import { assessHealth } from '../../shared/domain/health';
import { httpHandler } from '../../shared/http/handler';
import { errorBody, jsonResponse } from '../../shared/http/response';
import type { CheckStatus, DependencyProbe } from '../../shared/ports/dependency-probe';
import { logger } from '../../shared/observability/logger';

const config = loadConfig({ aws: awsSection, tables: tablesSection, redis: redisSection });
const dynamo = createDynamoClients(config.aws);
const secretsClient = createSecretsClient(config.aws);
const redis = once(() => connectRedis(config.redis, (arn) => resolveSecret({ arn, name: 'redis auth token' }, () => secretsClient)));
// Start connecting at cold start; the first request awaits the same promise.
redis().catch((err: unknown) => logger.warn('redis connect failed at cold start', { reason: String(err) }));

const dynamoProbe = new DynamoDbProbe(dynamo.raw, config.tables.TABLE_USERS);
const DYNAMODB_TIMEOUT_MS = 1000;
// A PING on a connected client answers in about a millisecond; the slack is for a busy host (a 250 ms budget flaked under load).
const REDIS_TIMEOUT_MS = 500;

async function check(probe: DependencyProbe | undefined, timeoutMs: number): Promise<CheckStatus> {
  if (!probe) return 'disabled';
  try {
    await probe.ping(timeoutMs);
    return 'ok';
  } catch (err) {
    logger.warn('health check failed', { dependency: probe.name, reason: (err as Error).message });
    return 'down';
  }
}

export const handler = httpHandler(async () => {
  const client = await redis().catch(() => undefined);
  const [dynamodb, redisStatus] = await Promise.all([
    check(dynamoProbe, DYNAMODB_TIMEOUT_MS),
    config.redis.REDIS_DISABLED ? Promise.resolve<CheckStatus>('disabled') : check(client ? new RedisProbe(client) : failingProbe('redis'), REDIS_TIMEOUT_MS),
  ]);
  const report = assessHealth({ dynamodb, redis: redisStatus });
  const body = { status: report.status, checks: report.checks };
  if (report.httpStatus === 503) {
    return jsonResponse(503, { ...body, ...errorBody('dependency_unavailable', 'DynamoDB is unreachable') });
  }
  return jsonResponse(200, body);
});

function failingProbe(name: string): DependencyProbe {
  return { name, ping: () => Promise.reject(new Error(`${name} client unavailable`)) };
}
