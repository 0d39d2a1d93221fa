import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { deletion } from '../../shared/wiring/deletion';
import { parseDeletionWork } from '../../shared/adapters/sqs/deletion-queue';
import { logger } from '../../shared/observability/logger';
import { flushMetrics } from '../../shared/observability/metrics';
import { performDeletionWork, type DeletionWorkDeps } from '../../shared/use-cases/deletion-work';

export type SqsHandler = (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;

/** SQS event source (batch size 1, partial batch responses): a failed message is retried, then lands in the DLQ. */
export function createDeletionWorkerHandler(deps: DeletionWorkDeps): SqsHandler {
  return async (event, context) => {
    const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
    for (const record of event.Records) {
      try {
        const work = parseDeletionWork(record.body);
        if (!work) {
          logger.error('deletion worker: unknown message dropped', { messageId: record.messageId });
          continue;
        }
        await performDeletionWork(deps, work, context?.getRemainingTimeInMillis?.());
      } catch (err) {
        logger.error('deletion worker: message failed; SQS retries it', { messageId: record.messageId, error: err as Error });
        batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    }
    flushMetrics();
    return { batchItemFailures };
  };
}

export const handler = createDeletionWorkerHandler(deletion());
