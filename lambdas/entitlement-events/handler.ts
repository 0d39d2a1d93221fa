import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { rowChangeOf } from '../../shared/adapters/dynamodb/stream-records';
import type { RowChange } from '../../shared/domain/entitlement-events';
import { logger } from '../../shared/observability/logger';
import { flushMetrics } from '../../shared/observability/metrics';
import { publishEntitlementChanges, type PublishChangesDeps } from '../../shared/use-cases/publish-entitlement-changes';
import { access } from '../../shared/wiring/access';
import { entitlementEvents } from '../../shared/wiring/entitlement-events';

export type StreamHandler = (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse>;

/**
 * DynamoDB Streams event source of the entitlements table (NEW_AND_OLD_IMAGES,
 * partial batch responses): a failure reports the first record not published,
 * so Lambda retries from it (bisecting, then the dead-letter queue).
 */
export function createEntitlementEventsHandler(deps: PublishChangesDeps): StreamHandler {
  return async (event) => {
    const changes: Array<{ change: RowChange; sequenceNumber: string }> = [];
    for (const record of event.Records) {
      const change = rowChangeOf(record);
      const sequenceNumber = record.dynamodb?.SequenceNumber;
      if (change && sequenceNumber) changes.push({ change, sequenceNumber });
      else logger.error('entitlement stream record without id, kind or sequence number: skipped', { eventID: record.eventID });
    }
    try {
      const { firstFailedId } = await publishEntitlementChanges(
        deps,
        changes.map((c) => c.change),
      );
      const failed = changes.find((c) => c.change.id === firstFailedId);
      return { batchItemFailures: failed ? [{ itemIdentifier: failed.sequenceNumber }] : [] };
    } catch (err) {
      logger.error('entitlement.changed: publishing failed; the stream retries the batch', { error: err as Error });
      const first = changes[0];
      return { batchItemFailures: first ? [{ itemIdentifier: first.sequenceNumber }] : [] };
    } finally {
      flushMetrics();
    }
  };
}

export const handler = createEntitlementEventsHandler({ publisher: entitlementEvents(), decide: access().decide });
