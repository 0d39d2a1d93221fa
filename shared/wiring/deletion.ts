import { deletionSection, loadConfig } from '../config';
import { createSqsClient } from '../adapters/sqs/client';
import { DynamoDeletionJobs, DynamoProfileSweep, DynamoUserDataPurger } from '../adapters/dynamodb/account-deletion';
import { SqsDeletionQueue } from '../adapters/sqs/deletion-queue';
import type { DeletionWorkDeps } from '../use-cases/deletion-work';
import { aws, awsConfig, tables } from './aws';
import { cache } from './cache';
import { identity } from './identity';
import { perProcess } from './process';
import { stores } from './stores';
import { stripe } from './stripe';

export const deletionConfig = perProcess(() => loadConfig({ deletion: deletionSection }).deletion);

/**
 * What the account deletion saga needs, built once per process: the same for
 * DELETE /me/account, the deletion worker and `npm run admin -- reconcile`,
 * so all of them run the same code.
 */
export const deletion = perProcess((): DeletionWorkDeps & { closeClients: () => void } => {
  const config = deletionConfig();
  const s = stores();
  const doc = aws().dynamo.doc;
  const t = tables();
  return {
    saga: {
      users: s.users,
      entitlements: s.entitlements,
      billing: stripe().billing,
      cache: cache(),
      purger: new DynamoUserDataPurger(doc, { ledger: t.TABLE_LEDGER, apiKeys: t.TABLE_API_KEYS }),
      kofi: s.kofi,
      identity: identity(),
      jobs: new DynamoDeletionJobs(doc, t.TABLE_IDEMPOTENCY),
      now: () => new Date(),
      batchSize: config.DELETION_BATCH_SIZE,
    },
    queue: new SqsDeletionQueue(createSqsClient(awsConfig(), config.SQS_ENDPOINT), config.DELETION_QUEUE_URL),
    profiles: new DynamoProfileSweep(doc, t.TABLE_USERS),
    budgetMs: config.DELETION_TIME_BUDGET_MS,
    stallAfterMs: config.DELETION_STALL_AFTER_MS,
    closeClients: () => aws().dynamo.raw.destroy(),
  };
});
