import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DependencyProbe } from '../../ports/dependency-probe';
import { TABLES } from './tables';

/**
 * Pings DynamoDB with a GetItem on a key that never exists: the cheapest call
 * that proves the table answers, with the read permission the function already has.
 */
export class DynamoDbProbe implements DependencyProbe {
  readonly name = 'dynamodb';
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async ping(timeoutMs: number): Promise<void> {
    await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { [TABLES.users.partitionKey.name]: { S: '__health__' } },
        ProjectionExpression: TABLES.users.partitionKey.name,
      }),
      { abortSignal: AbortSignal.timeout(timeoutMs) },
    );
  }
}
