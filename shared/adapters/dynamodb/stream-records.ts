import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import type { ChangedRow, RowChange } from '../../domain/entitlement-events';

type Image = NonNullable<NonNullable<DynamoDBRecord['dynamodb']>['NewImage']>;

/** The stream's images use the low-level attribute format (the aws-lambda typings and the SDK's differ only in name). */
const rowOf = (image: Image | undefined): ChangedRow | undefined => (image ? (unmarshall(image as Record<string, AttributeValue>) as ChangedRow) : undefined);

/** A stream record as the domain's row change: undefined when it lacks its id, kind or images. */
export function rowChangeOf(record: DynamoDBRecord): RowChange | undefined {
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

