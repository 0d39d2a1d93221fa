import { GetCommand, PutCommand, ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ReconcileProgress, ReconcileProgressStore, ReconcileSweep, SubscribedUsers } from '../../ports/reconcile';

/**
 * The entitlement rows whose status is not `none`, by a Scan (the sweep is
 * not a request path; it reads the user ids only). Any user id is a valid
 * ExclusiveStartKey, so a run cut short resumes after the last user it checked.
 */
export class DynamoSubscribedUsers implements SubscribedUsers {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly entitlementsTable: string,
  ) {}

  async page(input: { after?: string; limit: number }): Promise<{ userIds: string[]; next?: string }> {
    const out = await this.doc.send(
      new ScanCommand({
        TableName: this.entitlementsTable,
        ProjectionExpression: 'userId',
        FilterExpression: 'attribute_exists(#status) AND #status <> :none',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':none': 'none' },
        Limit: input.limit,
        ...(input.after ? { ExclusiveStartKey: { userId: input.after } } : {}),
      }),
    );
    const userIds = (out.Items ?? []).map((item) => item.userId as string);
    const next = out.LastEvaluatedKey?.userId as string | undefined;
    return next ? { userIds, next } : { userIds };
  }
}

/** One item per sweep in the idempotency table (`reconcile:<sweep>`); it never expires. */
export class DynamoReconcileProgress implements ReconcileProgressStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async get(sweep: ReconcileSweep): Promise<ReconcileProgress> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { key: `reconcile:${sweep}` }, ConsistentRead: true }));
    const item = out.Item ?? {};
    return {
      ...(typeof item.cursor === 'string' ? { cursor: item.cursor } : {}),
      ...(typeof item.highWaterMark === 'number' ? { highWaterMark: item.highWaterMark } : {}),
      ...(typeof item.pendingHighWaterMark === 'number' ? { pendingHighWaterMark: item.pendingHighWaterMark } : {}),
    };
  }

  async save(sweep: ReconcileSweep, progress: ReconcileProgress): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.tableName, Item: { key: `reconcile:${sweep}`, ...progress, savedAt: this.now().toISOString() } }));
  }
}
