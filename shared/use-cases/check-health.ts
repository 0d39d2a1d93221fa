import { assessHealth, type CheckStatus, type HealthReport } from '../domain/health';
import { logger } from '../observability/logger';
import type { DependencyProbe } from '../ports/dependency-probe';

export interface HealthDeps {
  dynamodb: DependencyProbe;
  /** Undefined when Redis is disabled (REDIS_DISABLED): reported as `disabled`. */
  redis?: DependencyProbe;
}

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

/**
 * GET /v1/health. Primary course:
 * 1. open the Redis connection (a cold start's connect is not the ping's to pay);
 * 2. ping DynamoDB and Redis at once, each within its own budget;
 * 3. assess: DynamoDB down is `down` (503), Redis down is `degraded` (answers stay correct).
 */
export async function checkHealth(deps: HealthDeps): Promise<HealthReport> {
  await deps.redis?.connect?.();
  const [dynamodb, redis] = await Promise.all([check(deps.dynamodb, DYNAMODB_TIMEOUT_MS), check(deps.redis, REDIS_TIMEOUT_MS)]);
  return assessHealth({ dynamodb, redis });
}
