import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ProcessedEvents } from '../../ports/events';

/** Stripe retries for up to 3 days; ids are kept for 30. */
const RETENTION_SECONDS = 30 * 24 * 3600;

export class DynamoProcessedEvents implements ProcessedEvents {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly namespace = 'stripe-event',
    private readonly now: () => Date = () => new Date(),
  ) {}

  async seen(eventId: string): Promise<boolean> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: { key: `${this.namespace}:${eventId}` }, ConsistentRead: true, ProjectionExpression: '#k', ExpressionAttributeNames: { '#k': 'key' } }),
    );
    return out.Item !== undefined;
  }

  async record(eventId: string, type: string): Promise<void> {
    const now = this.now();
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { key: `${this.namespace}:${eventId}`, type, processedAt: now.toISOString(), expiresAt: Math.floor(now.getTime() / 1000) + RETENTION_SECONDS },
      }),
    );
  }
}
