import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
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
    return out.Item ? grantFromItem(out.Item) : undefined;
  }

  async extendGrant(email: string, grant: Omit<KofiGrant, 'ownerUserId'>): Promise<'extended' | 'unchanged'> {
    try {
      // An update, not a put: the owner bound by a claim stays.
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { email, entryId: GRANT },
          UpdateExpression: 'SET #plan = :plan, paidThrough = :through, paymentId = :paymentId, updatedAt = :now',
          // ISO texts of one format compare in time order: the grant only ever runs longer.
          ConditionExpression: 'attribute_not_exists(paidThrough) OR paidThrough < :through',
          ExpressionAttributeNames: { '#plan': 'plan' },
          ExpressionAttributeValues: { ':plan': grant.plan, ':through': grant.paidThrough, ':paymentId': grant.paymentId, ':now': this.now().toISOString() },
        }),
      );
      return 'extended';
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return 'unchanged';
      throw err;
    }
  }

  async claimGrant(email: string, userId: string): Promise<{ outcome: 'claimed'; grant: KofiGrant } | { outcome: 'owned'; ownerUserId: string } | { outcome: 'none' }> {
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { email, entryId: GRANT },
          UpdateExpression: 'SET ownerUserId = :user',
          ConditionExpression: 'attribute_exists(paidThrough) AND (attribute_not_exists(ownerUserId) OR ownerUserId = :user)',
          ExpressionAttributeValues: { ':user': userId },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { outcome: 'claimed', grant: grantFromItem(out.Attributes ?? {}) };
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      const owner = err.Item?.ownerUserId?.S;
      return owner ? { outcome: 'owned', ownerUserId: owner } : { outcome: 'none' };
    }
  }

  async recordPayment(email: string, payment: KofiPaymentRecord): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.tableName, Item: { email, entryId: paymentEntry(payment.messageId), ...payment } }));
  }

  async purge(email: string, userId: string): Promise<void> {
    const grant = await this.grantOf(email);
    // Another account's grant (it moved off this address, or owned it first): not this account's to delete.
    if (grant?.ownerUserId && grant.ownerUserId !== userId) return;
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

function grantFromItem(item: Record<string, unknown>): KofiGrant {
  const grant: KofiGrant = { plan: item.plan as string, paidThrough: item.paidThrough as string, paymentId: item.paymentId as string };
  if (typeof item.ownerUserId === 'string') grant.ownerUserId = item.ownerUserId;
  return grant;
}
