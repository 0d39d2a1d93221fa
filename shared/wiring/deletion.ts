import { deletionSection, loadConfig } from '../config';
import { createSqsClient } from '../adapters/clients';
import { SqsDeletionQueue } from '../adapters/sqs/deletion-queue';
import type { DeletionWorkDeps } from '../use-cases/deletion-work';
import { aws, awsConfig } from './aws';
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
  return {
    saga: {
      users: s.users,
      entitlements: s.entitlements,
      billing: stripe().billing,
      cache: cache(),
      purger: s.purger,
      identity: identity(),
      jobs: s.deletionJobs,
      now: () => new Date(),
      batchSize: config.DELETION_BATCH_SIZE,
    },
    queue: new SqsDeletionQueue(createSqsClient(awsConfig(), config.SQS_ENDPOINT), config.DELETION_QUEUE_URL),
    profiles: s.profiles,
    budgetMs: config.DELETION_TIME_BUDGET_MS,
    stallAfterMs: config.DELETION_STALL_AFTER_MS,
    closeClients: () => aws().dynamo.raw.destroy(),
  };
});
