import { BatchWriteCommand, GetCommand, PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { DeletionJob, DeletionJobs, UserDataPurger } from '../../ports/account-deletion';
import { API_KEYS_BY_USER_INDEX, TABLES } from './tables';

/** Finished deletions are remembered for 90 days so a repeated call still answers `deleted: true`. */
const JOB_RETENTION_SECONDS = 90 * 24 * 3600;

export class DynamoDeletionJobs implements DeletionJobs {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  private key(userId: string) {
    return { key: `account-deletion:${userId}` };
  }

  async get(userId: string): Promise<DeletionJob | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: this.key(userId), ConsistentRead: true }));
    return out.Item?.job as DeletionJob | undefined;
  }

  async save(job: DeletionJob): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...this.key(job.userId), job, expiresAt: Math.floor(Date.parse(job.updatedAt) / 1000) + JOB_RETENTION_SECONDS },
      }),
    );
  }
}

export class DynamoUserDataPurger implements UserDataPurger {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tables: { ledger: string; apiKeys: string },
  ) {}

  private async deleteAll(tableName: string, keys: Record<string, unknown>[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 25) {
      let pending: Record<string, unknown>[] = keys.slice(i, i + 25);
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 5) throw new Error(`could not delete ${pending.length} items from ${tableName}`);
        const out = await this.doc.send(
          new BatchWriteCommand({ RequestItems: { [tableName]: pending.map((Key) => ({ DeleteRequest: { Key } })) } }),
        );
        pending = (out.UnprocessedItems?.[tableName] ?? []).map((r) => r.DeleteRequest?.Key as Record<string, unknown>);
        if (pending.length > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
      }
    }
  }

  private async queryKeys(input: { tableName: string; indexName?: string; attribute: string; userId: string; keyNames: string[] }) {
    const keys: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.doc.send(
        new QueryCommand({
          TableName: input.tableName,
          IndexName: input.indexName,
          KeyConditionExpression: '#u = :u',
          ExpressionAttributeNames: { '#u': input.attribute },
          ExpressionAttributeValues: { ':u': input.userId },
          ExclusiveStartKey: start,
        }),
      );
      for (const item of out.Items ?? []) keys.push(Object.fromEntries(input.keyNames.map((k) => [k, item[k]])));
      start = out.LastEvaluatedKey;
    } while (start);
    return keys;
  }

  async purge(userId: string): Promise<{ ledgerEntries: number; apiKeys: number }> {
    const ledger = TABLES.ledger;
    const ledgerKeys = await this.queryKeys({
      tableName: this.tables.ledger,
      attribute: ledger.partitionKey.name,
      userId,
      keyNames: [ledger.partitionKey.name, ledger.sortKey!.name],
    });
    await this.deleteAll(this.tables.ledger, ledgerKeys);
    const apiKeys = await this.queryKeys({
      tableName: this.tables.apiKeys,
      indexName: API_KEYS_BY_USER_INDEX,
      attribute: 'userId',
      userId,
      keyNames: [TABLES.apiKeys.partitionKey.name],
    });
    await this.deleteAll(this.tables.apiKeys, apiKeys);
    return { ledgerEntries: ledgerKeys.length, apiKeys: apiKeys.length };
  }
}
