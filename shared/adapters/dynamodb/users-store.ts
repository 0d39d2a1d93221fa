import { ConditionalCheckFailedException, type CancellationReason } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { EmailTakenError, type EmailOwnership, type UserProfile, type UserStore } from '../../ports/users';
import { liveUserCheck, transactWithConflictRetries } from './live-user';
import { USERS_BY_STRIPE_CUSTOMER_INDEX } from './tables';

type TransactItems = NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']>;

// Two writers on one ownership item at once: DynamoDB cancels one (TransactionConflict); its retry
// (transactWithConflictRetries) then meets the winner's condition.

/** An attribute of a cancellation reason's old item (raw or unmarshalled, depending on the client). */
function oldAttribute(reason: CancellationReason | undefined, name: string): string | undefined {
  const item = reason?.Item as Record<string, unknown> | undefined;
  const value = item?.[name] as { S?: string } | string | undefined;
  return typeof value === 'string' ? value : value?.S;
}

const emailTaken = (email: string, reason: CancellationReason | undefined) =>
  new EmailTakenError(email, oldAttribute(reason, 'userId') ?? 'unknown', oldAttribute(reason, 'claimedAt'));

/**
 * Profiles (users table) and email ownership (emailOwners table, one item per
 * address keyed by the address): every write that changes which address a
 * profile holds changes its ownership item in the same transaction, so the
 * two never disagree and two live profiles never hold one address.
 */
export class DynamoUserStore implements UserStore, EmailOwnership {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly emailOwnersTable: string,
  ) {}

  private ownerClaim(userId: string, email: string): TransactItems[number] {
    return {
      Put: {
        TableName: this.emailOwnersTable,
        Item: { email, userId, claimedAt: new Date().toISOString() },
        ConditionExpression: 'attribute_not_exists(email) OR userId = :u',
        ExpressionAttributeValues: { ':u': userId },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    };
  }

  private transact(items: TransactItems): Promise<CancellationReason[] | undefined> {
    return transactWithConflictRetries(this.doc, items);
  }

  async createIfAbsent(profile: UserProfile): Promise<boolean> {
    const reasons = await this.transact([
      { Put: { TableName: this.tableName, Item: profile, ConditionExpression: 'attribute_not_exists(userId)' } },
      this.ownerClaim(profile.userId, profile.email),
    ]);
    if (!reasons) return true;
    // The profile exists: a retried trigger (its first run claimed the address in the same write).
    if (reasons[0]?.Code === 'ConditionalCheckFailed') return false;
    throw emailTaken(profile.email, reasons[1]);
  }

  async ownerOf(email: string): Promise<string | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.emailOwnersTable, Key: { email }, ConsistentRead: true }));
    return out.Item?.userId as string | undefined;
  }

  async claim(userId: string, email: string): Promise<'claimed' | 'gone'> {
    const reasons = await this.transact([
      this.ownerClaim(userId, email),
      // Never for an account being deleted: its purge may already have released everything it held.
      liveUserCheck(this.tableName, userId),
    ]);
    if (!reasons) return 'claimed';
    if (reasons[1]?.Code === 'ConditionalCheckFailed') return 'gone';
    throw emailTaken(email, reasons[0]);
  }

  async setPendingEmail(userId: string, email: string): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { userId },
        UpdateExpression: 'SET pendingEmail = :e',
        ConditionExpression: 'attribute_exists(userId) AND attribute_not_exists(deletingAt)',
        ExpressionAttributeValues: { ':e': email },
      }),
    );
  }

  async moveEmail(userId: string, from: string | undefined, to: string): Promise<void> {
    const items: TransactItems = [
      {
        Update: {
          TableName: this.tableName,
          Key: { userId },
          UpdateExpression: 'SET email = :to REMOVE pendingEmail',
          ConditionExpression: `${from ? 'email = :from' : 'attribute_not_exists(email)'} AND attribute_not_exists(deletingAt)`,
          ExpressionAttributeValues: { ':to': to, ...(from ? { ':from': from } : {}) },
        },
      },
      { ConditionCheck: { TableName: this.emailOwnersTable, Key: { email: to }, ConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': userId } } },
    ];
    if (from) {
      items.push({
        Delete: {
          TableName: this.emailOwnersTable,
          Key: { email: from },
          ConditionExpression: 'attribute_not_exists(email) OR userId = :u',
          ExpressionAttributeValues: { ':u': userId },
        },
      });
    }
    const reasons = await this.transact(items);
    if (reasons) throw new Error(`the email move of ${userId} was refused: the profile or the ownership changed meanwhile`);
  }

  async takeOver(email: string, from: string, to: string): Promise<boolean> {
    const holder = await this.get(from, { consistent: true });
    const items: TransactItems = [
      {
        Update: {
          TableName: this.emailOwnersTable,
          Key: { email },
          UpdateExpression: 'SET userId = :to, claimedAt = :at',
          ConditionExpression: 'userId = :from',
          ExpressionAttributeValues: { ':to': to, ':from': from, ':at': new Date().toISOString() },
        },
      },
    ];
    if (holder?.email === email) {
      items.push({
        Update: {
          TableName: this.tableName,
          Key: { userId: from },
          UpdateExpression: 'REMOVE email',
          ConditionExpression: 'email = :e',
          ExpressionAttributeValues: { ':e': email },
        },
      });
    }
    return (await this.transact(items)) === undefined;
  }

  async releaseClaim(userId: string, email: string): Promise<void> {
    await this.transact([
      { ConditionCheck: { TableName: this.tableName, Key: { userId }, ConditionExpression: 'attribute_not_exists(email) OR email <> :e', ExpressionAttributeValues: { ':e': email } } },
      {
        Delete: {
          TableName: this.emailOwnersTable,
          Key: { email },
          ConditionExpression: 'userId = :u',
          ExpressionAttributeValues: { ':u': userId },
        },
      },
    ]);
  }

  async release(userId: string, email: string): Promise<void> {
    await this.doc
      .send(
        new DeleteCommand({
          TableName: this.emailOwnersTable,
          Key: { email },
          ConditionExpression: 'userId = :u',
          ExpressionAttributeValues: { ':u': userId },
        }),
      )
      .catch((err: unknown) => {
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
      });
  }

  async get(userId: string, options: { consistent?: boolean } = {}): Promise<UserProfile | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { userId }, ConsistentRead: options.consistent ?? false }));
    return out.Item as UserProfile | undefined;
  }

  private async findOne(indexName: string, attribute: string, value: string): Promise<UserProfile | undefined> {
    const out = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: indexName,
        KeyConditionExpression: '#k = :v',
        ExpressionAttributeNames: { '#k': attribute },
        ExpressionAttributeValues: { ':v': value },
        Limit: 2,
      }),
    );
    return out.Items?.[0] as UserProfile | undefined;
  }

  async findByEmail(email: string): Promise<UserProfile | undefined> {
    // Not the byEmail index: it is eventually consistent and may list a profile that no longer owns the address.
    const owner = await this.ownerOf(email);
    if (!owner) return undefined;
    const profile = await this.get(owner, { consistent: true });
    return profile?.email === email ? profile : undefined;
  }

  findByStripeCustomer(customerId: string): Promise<UserProfile | undefined> {
    return this.findOne(USERS_BY_STRIPE_CUSTOMER_INDEX, 'stripeCustomerId', customerId);
  }

  async attachStripeCustomer(userId: string, customerId: string): Promise<string | undefined> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { userId },
          UpdateExpression: 'SET stripeCustomerId = :c',
          // Never onto a profile whose deletion has started: its billing step may already have run.
          ConditionExpression: 'attribute_exists(userId) AND attribute_not_exists(deletingAt) AND (attribute_not_exists(stripeCustomerId) OR stripeCustomerId = :c)',
          ExpressionAttributeValues: { ':c': customerId },
        }),
      );
      return customerId;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      const current = await this.get(userId, { consistent: true });
      if (!current || current.deletingAt) return undefined;
      return current.stripeCustomerId ?? customerId;
    }
  }

  async detachStripeCustomer(userId: string, customerId: string): Promise<void> {
    await this.doc
      .send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { userId },
          // Same write, same condition: the generation moves exactly once per deleted customer.
          UpdateExpression: 'REMOVE stripeCustomerId ADD stripeCustomerGeneration :one',
          ConditionExpression: 'stripeCustomerId = :c',
          ExpressionAttributeValues: { ':c': customerId, ':one': 1 },
        }),
      )
      .catch((err: unknown) => {
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
      });
  }

  async markDeleting(userId: string, at: string): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { userId },
        UpdateExpression: 'SET deletingAt = if_not_exists(deletingAt, :at)',
        ConditionExpression: 'attribute_exists(userId)',
        ExpressionAttributeValues: { ':at': at },
      }),
    ).catch((err: unknown) => {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    });
  }

  async delete(userId: string): Promise<void> {
    const profile = await this.get(userId, { consistent: true });
    if (!profile) return;
    const items: TransactItems = [{ Delete: { TableName: this.tableName, Key: { userId } } }];
    if (profile.email) {
      items.push({
        Delete: {
          TableName: this.emailOwnersTable,
          Key: { email: profile.email },
          ConditionExpression: 'attribute_not_exists(email) OR userId = :u',
          ExpressionAttributeValues: { ':u': userId },
        },
      });
    }
    const reasons = await this.transact(items);
    // Someone else owns the address already (taken over): delete the profile alone.
    if (reasons) await this.doc.send(new DeleteCommand({ TableName: this.tableName, Key: { userId } }));
    // A change that never finished may hold the address it was moving to: release it too (only if still ours).
    if (profile.pendingEmail && profile.pendingEmail !== profile.email) {
      await this.doc
        .send(
          new DeleteCommand({
            TableName: this.emailOwnersTable,
            Key: { email: profile.pendingEmail },
            ConditionExpression: 'userId = :u',
            ExpressionAttributeValues: { ':u': userId },
          }),
        )
        .catch((err: unknown) => {
          if (!(err instanceof ConditionalCheckFailedException)) throw err;
        });
    }
  }
}
