import type { AwsConfig, CognitoConfig, DeletionConfig, RedisConfig, StripeConfig, TablesConfig } from '../config';
import { awsSection, cognitoSection, deletionSection, redisSection, stripeSection, tablesSection } from '../config';
import type { DeletionQueue } from '../ports/account-deletion';
import type { DeletionDeps } from '../use-cases/delete-account';
import { createSqsClient } from './clients';
import { DynamoProfileSweep } from './dynamodb/account-deletion';
import { SqsDeletionQueue } from './sqs/deletion-queue';
import { wireStripe } from './stripe/wiring';
import { wireAws, wireCache, wireIdentity, wireStores } from './wiring';

/** The configuration every runner of the deletion saga loads: `loadConfig(DELETION_CONFIG)`. */
export const DELETION_CONFIG = {
  aws: awsSection,
  tables: tablesSection,
  redis: redisSection,
  stripe: stripeSection,
  cognito: cognitoSection,
  deletion: deletionSection,
};

/**
 * What the account deletion saga needs, built once per process: the same for
 * DELETE /me/account and the deletion worker, so both run the same code.
 */
export function wireDeletion(config: {
  aws: AwsConfig;
  tables: TablesConfig;
  redis: RedisConfig;
  stripe: StripeConfig;
  cognito: CognitoConfig;
  deletion: DeletionConfig;
}): { deps: DeletionDeps; queue: DeletionQueue; profiles: DynamoProfileSweep; aws: ReturnType<typeof wireAws> } {
  const aws = wireAws(config.aws);
  const stores = wireStores(aws, config.tables);
  const deps: DeletionDeps = {
    users: stores.users,
    entitlements: stores.entitlements,
    billing: wireStripe(aws, config.stripe).billing,
    cache: wireCache(aws, config.redis),
    purger: stores.purger,
    identity: wireIdentity(config.aws, config.cognito),
    jobs: stores.deletionJobs,
    now: () => new Date(),
    batchSize: config.deletion.DELETION_BATCH_SIZE,
  };
  const queue = new SqsDeletionQueue(createSqsClient(config.aws, config.deletion.SQS_ENDPOINT), config.deletion.DELETION_QUEUE_URL);
  return { deps, queue, profiles: new DynamoProfileSweep(aws.dynamo.doc, config.tables.TABLE_USERS), aws };
}

/**
 * A run's budget: work until `DELETION_TIME_BUDGET_MS` (or until 5 s before
 * the function times out, whichever is first), and hold the job's lease until
 * the function can no longer be running.
 */
export function deletionBudget(budgetMs: number, remainingMs: number | undefined, now = Date.now()): { deadline: Date; leaseUntil: Date } {
  const remaining = remainingMs ?? budgetMs + 30_000;
  return { deadline: new Date(now + Math.max(0, Math.min(budgetMs, remaining - 5000))), leaseUntil: new Date(now + remaining + 1000) };
}
