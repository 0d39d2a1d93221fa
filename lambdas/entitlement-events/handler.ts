import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { ChangedRow, RowChange } from '../../shared/domain/entitlement-events';
import { logger } from '../../shared/observability/logger';
import { publishEntitlementChanges, type PublishChangesDeps } from '../../shared/use-cases/publish-entitlement-changes';
import { access } from '../../shared/wiring/access';
import { entitlementEvents } from '../../shared/wiring/entitlement-events';

export type StreamHandler = (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse>;

type Image = NonNullable<NonNullable<DynamoDBRecord['dynamodb']>['NewImage']>;

/** The stream's images use the low-level attribute format (the aws-lambda typings and the SDK's differ only in name). */
const rowOf = (image: Image | undefined): ChangedRow | undefined => (image ? (unmarshall(image as Record<string, AttributeValue>) as ChangedRow) : undefined);

function rowChangeOf(record: DynamoDBRecord): RowChange | undefined {
  const stream = record.dynamodb;
  if (!record.eventID || !record.eventName || !stream) return undefined;
  const oldImage = rowOf(stream.OldImage);
  const newImage = rowOf(stream.NewImage);
  return {
    id: record.eventID,
    kind: record.eventName,
    // Seconds: both images are decided at this instant.
    occurredAt: new Date((stream.ApproximateCreationDateTime ?? Date.now() / 1000) * 1000),
    ...(oldImage ? { oldImage } : {}),
    ...(newImage ? { newImage } : {}),
  };
}

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
    }
  };
}

export const handler = createEntitlementEventsHandler({ publisher: entitlementEvents(), decide: access().decide });
