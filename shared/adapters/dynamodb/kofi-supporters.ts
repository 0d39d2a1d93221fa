import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, GetCommand, PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { KofiGrant, KofiPaymentRecord } from '../../domain/kofi';
import type { KofiSupporters } from '../../ports/kofi';

const GRANT = 'grant';
const paymentEntry = (messageId: string) => `payment#${messageId}`;

/** The `kofi` table (shared/adapters/dynamodb/tables.ts): partition = supporter email, sort = `grant` | `payment#<message id>`. */
export class DynamoKofiSupporters implements KofiSupporters {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async grantOf(email: string): Promise<KofiGrant | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { email, entryId: GRANT }, ConsistentRead: true }));
    if (!out.Item) return undefined;
    return { plan: out.Item.plan as string, paidThrough: out.Item.paidThrough as string, paymentId: out.Item.paymentId as string };
  }

  async extendGrant(email: string, grant: KofiGrant): Promise<'extended' | 'unchanged'> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { email, entryId: GRANT, plan: grant.plan, paidThrough: grant.paidThrough, paymentId: grant.paymentId, updatedAt: this.now().toISOString() },
          // ISO texts of one format compare in time order: the grant only ever runs longer.
          ConditionExpression: 'attribute_not_exists(paidThrough) OR paidThrough < :through',
          ExpressionAttributeValues: { ':through': grant.paidThrough },
        }),
      );
      return 'extended';
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return 'unchanged';
      throw err;
    }
  }

  async recordPayment(email: string, payment: KofiPaymentRecord): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.tableName, Item: { email, entryId: paymentEntry(payment.messageId), ...payment } }));
  }

  async purge(email: string): Promise<void> {
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'email = :e',
          ExpressionAttributeValues: { ':e': email },
          ProjectionExpression: 'email, entryId',
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
          Limit: 25,
        }),
      );
      const keys = (page.Items ?? []).map((item) => ({ email: item.email as string, entryId: item.entryId as string }));
      let pending = keys.map((Key) => ({ DeleteRequest: { Key } }));
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 5) throw new Error(`could not delete ${pending.length} Ko-fi items`);
        const out = await this.doc.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: pending } }));
        pending = (out.UnprocessedItems?.[this.tableName] ?? []) as typeof pending;
        if (pending.length > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  }
}
