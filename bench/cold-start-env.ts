/**
 * The environment the cold-start bench loads every bundle with: what the CDK
 * stack sets on a function, with local values (secrets given directly, as the
 * local stack does, instead of their Secrets Manager ARNs). A function whose
 * configuration starts to need a new variable fails test/unit/bench-env.test.ts,
 * which imports every handler module with this environment: the bench no
 * longer finds out by failing half-way through `npm run bench`.
 */
import { join } from 'node:path';

export interface ColdStartEnvInput {
  /** The bench's handler environment (region, credentials, DYNAMODB_ENDPOINT, TABLE_*). */
  env: Record<string, string>;
  redisUrl: string;
  internalApiKey: string;
  repoRoot: string;
  /** NODE_OPTIONS as the CDK stack sets it (HOUSE_NODE_OPTIONS). */
  nodeOptions: string;
}

export function coldStartEnv(input: ColdStartEnvInput): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    ...(input.nodeOptions ? { NODE_OPTIONS: input.nodeOptions } : {}),
    // Externals (@aws-sdk/*) come from here, as they come from the runtime's own node_modules on Lambda.
    NODE_PATH: join(input.repoRoot, 'node_modules'),
    POWERTOOLS_SERVICE_NAME: 'entitlements',
    POWERTOOLS_METRICS_NAMESPACE: 'entitlements',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    LOG_LEVEL: 'SILENT',
    ...input.env,
    AWS_REGION: input.env.AWS_REGION ?? 'us-east-1',
    REDIS_URL: input.redisUrl,
    INTERNAL_API_KEYS: input.internalApiKey,
    COGNITO_USER_POOL_ID: 'us-east-1_bench0000',
    COGNITO_CLIENT_IDS: 'benchclient000000000000000',
    STRIPE_SECRET_KEY: 'sk_test_bench',
    STRIPE_WEBHOOK_SECRET: 'whsec_bench',
    KOFI_VERIFICATION_TOKEN: 'kofi-bench-token',
    EVENT_BUS_NAME: 'bench-entitlements',
    APP_BASE_URL: 'https://app.example.com',
    CATALOGUE_ENVIRONMENT: 'local',
    CREDENTIALS_ROLE_ARN: 'arn:aws:iam::123456789012:role/bench-subscriber-credentials',
    STS_ENDPOINT: 'http://127.0.0.1:9',
    DELETION_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/bench-deletion',
  };
}
