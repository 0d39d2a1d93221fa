/** What a health check found: answered, did not, or not configured. */
export type CheckStatus = 'ok' | 'down' | 'disabled';

export interface HealthChecks {
  dynamodb: CheckStatus;
  redis: CheckStatus;
}

export interface HealthReport {
  status: 'ok' | 'degraded' | 'down';
  httpStatus: 200 | 503;
  checks: HealthChecks;
}

/**
 * DynamoDB is the truth: without it nothing works (503). Redis is only a
 * cache: without it answers are slower but correct (`degraded`).
 */
export function assessHealth(checks: HealthChecks): HealthReport {
  if (checks.dynamodb !== 'ok') return { status: 'down', httpStatus: 503, checks };
  if (checks.redis !== 'ok') return { status: 'degraded', httpStatus: 200, checks };
  return { status: 'ok', httpStatus: 200, checks };
}
