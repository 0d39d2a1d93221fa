import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { UserProfile, UserStore } from '../../ports/users';
import { USERS_BY_EMAIL_INDEX, USERS_BY_STRIPE_CUSTOMER_INDEX } from './tables';

export class DynamoUserStore implements UserStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async createIfAbsent(profile: UserProfile): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({ TableName: this.tableName, Item: profile, ConditionExpression: 'attribute_not_exists(userId)' }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
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

  findByEmail(email: string): Promise<UserProfile | undefined> {
    return this.findOne(USERS_BY_EMAIL_INDEX, 'email', email);
  }

  findByStripeCustomer(customerId: string): Promise<UserProfile | undefined> {
    return this.findOne(USERS_BY_STRIPE_CUSTOMER_INDEX, 'stripeCustomerId', customerId);
  }

  async attachStripeCustomer(userId: string, customerId: string): Promise<string> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { userId },
          UpdateExpression: 'SET stripeCustomerId = :c',
          ConditionExpression: 'attribute_exists(userId) AND (attribute_not_exists(stripeCustomerId) OR stripeCustomerId = :c)',
          ExpressionAttributeValues: { ':c': customerId },
        }),
      );
      return customerId;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      const current = await this.get(userId, { consistent: true });
      if (!current) throw new Error(`user ${userId} does not exist`);
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
    await this.doc.send(new DeleteCommand({ TableName: this.tableName, Key: { userId } }));
  }
}
