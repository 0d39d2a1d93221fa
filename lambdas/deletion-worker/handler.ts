import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { loadConfig } from '../../shared/config';
import { DELETION_CONFIG, deletionBudget, wireDeletion } from '../../shared/adapters/deletion-wiring';
import { logger } from '../../shared/observability/logger';
import type { DeletionWork } from '../../shared/ports/account-deletion';
import { parseDeletionWork } from '../../shared/adapters/sqs/deletion-queue';
import { runAccountDeletion } from '../../shared/use-cases/delete-account';
import { reconcileIdentities } from '../../shared/use-cases/reconcile-identities';

const config = loadConfig(DELETION_CONFIG);
const { deps, queue, profiles } = wireDeletion(config);

async function perform(work: DeletionWork, context: Context | undefined): Promise<void> {
  const budget = deletionBudget(config.deletion.DELETION_TIME_BUDGET_MS, context?.getRemainingTimeInMillis?.());
  if (work.kind === 'continue-deletion') {
    const progress = await runAccountDeletion(deps, { userId: work.userId, source: work.source ?? 'api' }, budget);
    if (progress.state === 'deleted') return;
    // Out of time: the next invocation goes on from the checkpoint.
    if (!progress.busy) await queue.send({ kind: 'continue-deletion', userId: work.userId });
    // Busy: the runner holding the job queues its own continuation when it runs out of time, and
    // if it dies, its lease ends with it (SQS redelivers a worker's message; the sweep resumes a route's).
    return;
  }
  const report = await reconcileIdentities(
    {
      profiles,
      identity: deps.identity,
      jobs: deps.jobs,
      now: deps.now,
      stallAfterMs: config.deletion.DELETION_STALL_AFTER_MS,
      startDeletion: (userId) => queue.send({ kind: 'continue-deletion', userId, source: 'sweep' }),
    },
    { cursor: work.cursor, deadline: budget.deadline },
  );
  logger.info('identity sweep', { checked: report.checked, identityGone: report.identityGone.length, stalled: report.stalled.length, more: Boolean(report.cursor) });
  if (report.cursor) await queue.send({ kind: 'reconcile-identities', cursor: report.cursor });
}

/** SQS event source (batch size 1, partial batch responses): a failed message is retried, then lands in the DLQ. */
export const handler = async (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> => {
  const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
  for (const record of event.Records) {
    try {
      const work = parseDeletionWork(record.body);
      if (!work) {
        logger.error('deletion worker: unknown message dropped', { messageId: record.messageId });
        continue;
      }
      await perform(work, context);
    } catch (err) {
      logger.error('deletion worker: message failed; SQS retries it', { messageId: record.messageId, error: err as Error });
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures };
};
