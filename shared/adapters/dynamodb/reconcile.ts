import { BatchGetCommand, GetCommand, PutCommand, ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ReconcileProgress, ReconcileProgressStore, ReconcileSweep, Subscriber, SubscribedUsers } from '../../ports/reconcile';

/**
 * The subscribers: a Scan of the users table for live profiles with a Stripe
 * customer (the identity sweep's own permission; the sweep is not a request
 * path), then their entitlement rows' status in one BatchGetItem per page.
 * Any user id is a valid ExclusiveStartKey, so a run cut short resumes after
 * the last user it checked.
 */
export class DynamoSubscribedUsers implements SubscribedUsers {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tables: { users: string; entitlements: string },
  ) {}

  async page(input: { after?: string; limit: number }): Promise<{ subscribers: Subscriber[]; next?: string }> {
    const out = await this.doc.send(
      new ScanCommand({
        TableName: this.tables.users,
        ProjectionExpression: 'userId, stripeCustomerId',
        FilterExpression: 'attribute_exists(stripeCustomerId) AND attribute_not_exists(deletingAt)',
        Limit: input.limit,
        ...(input.after ? { ExclusiveStartKey: { userId: input.after } } : {}),
      }),
    );
    const customers = new Map((out.Items ?? []).map((item) => [item.userId as string, item.stripeCustomerId as string]));
    const statuses = await this.statuses([...customers.keys()]);
    const subscribers = [...customers].filter(([userId]) => (statuses.get(userId) ?? 'none') !== 'none').map(([userId, customerId]) => ({ userId, customerId }));
    const next = out.LastEvaluatedKey?.userId as string | undefined;
    return next ? { subscribers, next } : { subscribers };
  }

  /** The status of each user's row, in scan order of the keys (BatchGetItem may leave keys unprocessed: asked again). */
  private async statuses(userIds: string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    let keys = userIds.map((userId) => ({ userId }));
    while (keys.length > 0) {
      const out = await this.doc.send(
        new BatchGetCommand({
          RequestItems: { [this.tables.entitlements]: { Keys: keys, ProjectionExpression: 'userId, #status', ExpressionAttributeNames: { '#status': 'status' } } },
        }),
      );
      for (const item of out.Responses?.[this.tables.entitlements] ?? []) found.set(item.userId as string, item.status as string);
      keys = (out.UnprocessedKeys?.[this.tables.entitlements]?.Keys ?? []) as Array<{ userId: string }>;
    }
    return found;
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
