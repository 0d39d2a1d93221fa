import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, GetCommand, QueryCommand, ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  DeletionLeaseLostError,
  type DeletionJob,
  type DeletionJobs,
  type ProfileSweep,
  type UserDataPurger,
} from '../../ports/account-deletion';
import { API_KEYS_BY_USER_INDEX, TABLES } from './tables';

/** Finished deletions are remembered for 90 days so a repeated call still answers `deleted: true`. */
const JOB_RETENTION_SECONDS = 90 * 24 * 3600;

/**
 * One item per job in the idempotency table: `job` (the progress), and the
 * lease (`leaseOwner`, `leaseUntil` in epoch ms) that keeps a second runner
 * (a repeated DELETE, the worker, the sweep) off a job while one works on it.
 */
export class DynamoDeletionJobs implements DeletionJobs {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private key(userId: string) {
    return { key: `account-deletion:${userId}` };
  }

  async get(userId: string): Promise<DeletionJob | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: this.key(userId), ConsistentRead: true }));
    return out.Item?.job as DeletionJob | undefined;
  }

  async acquire(userId: string, owner: string, until: Date) {
    const nowMs = this.now().getTime();
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(userId),
          UpdateExpression: 'SET leaseOwner = :owner, leaseUntil = :until, expiresAt = if_not_exists(expiresAt, :expires)',
          ConditionExpression: 'attribute_not_exists(leaseUntil) OR leaseUntil < :now',
          ExpressionAttributeValues: { ':owner': owner, ':until': until.getTime(), ':now': nowMs, ':expires': Math.floor(nowMs / 1000) + JOB_RETENTION_SECONDS },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return { acquired: true as const, job: out.Attributes?.job as DeletionJob | undefined };
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      const held = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: this.key(userId), ConsistentRead: true }));
      const item = held.Item ?? {};
      return { acquired: false as const, job: item.job as DeletionJob | undefined, leaseUntil: new Date(Number(item.leaseUntil ?? 0)) };
    }
  }

  async save(job: DeletionJob, owner: string): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(job.userId),
          UpdateExpression: 'SET job = :job, expiresAt = :expires',
          ConditionExpression: 'leaseOwner = :owner',
          ExpressionAttributeValues: { ':job': job, ':owner': owner, ':expires': Math.floor(Date.parse(job.updatedAt) / 1000) + JOB_RETENTION_SECONDS },
        }),
      );
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) throw new DeletionLeaseLostError(job.userId);
      throw err;
    }
  }

  async release(userId: string, owner: string): Promise<void> {
    await this.doc
      .send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(userId),
          UpdateExpression: 'REMOVE leaseOwner, leaseUntil',
          ConditionExpression: 'leaseOwner = :owner',
          ExpressionAttributeValues: { ':owner': owner },
        }),
      )
      .catch((err: unknown) => {
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
      });
  }
}

/**
 * Deletes a user's rows a batch at a time, without reading them all first:
 * each batch is a consistent Query of the first keys still there, then their
 * deletion, so the purge resumes anywhere by simply running again.
 * API keys go first: once they are gone, verify can no longer reach the user.
 */
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

  private async firstKeys(input: { tableName: string; indexName?: string; userId: string; keyNames: string[]; limit: number }) {
    const out = await this.doc.send(
      new QueryCommand({
        TableName: input.tableName,
        IndexName: input.indexName,
        KeyConditionExpression: 'userId = :u',
        ExpressionAttributeValues: { ':u': input.userId },
        // Indexes cannot be read consistently; the table can.
        ...(input.indexName ? {} : { ConsistentRead: true }),
        Limit: input.limit,
      }),
    );
    return (out.Items ?? []).map((item) => Object.fromEntries(input.keyNames.map((k) => [k, item[k]])));
  }

  async purgeBatch(userId: string, batchSize: number): Promise<{ ledgerEntries: number; apiKeys: number; done: boolean }> {
    // The owner row names the current key and is read consistently: a key rotated just before
    // deletion started is found even while the byUser index still lags.
    const owner = await this.doc.send(new GetCommand({ TableName: this.tables.apiKeys, Key: { keyHash: `owner#${userId}` }, ConsistentRead: true }));
    const keyHash = TABLES.apiKeys.partitionKey.name;
    const apiKeys = await this.firstKeys({ tableName: this.tables.apiKeys, indexName: API_KEYS_BY_USER_INDEX, userId, keyNames: [keyHash], limit: batchSize });
    if (owner.Item) {
      for (const hash of [owner.Item.currentKeyHash as string | undefined, owner.Item.keyHash as string]) {
        if (hash && !apiKeys.some((k) => k[keyHash] === hash)) apiKeys.push({ [keyHash]: hash });
      }
    }
    if (apiKeys.length > 0) {
      await this.deleteAll(this.tables.apiKeys, apiKeys);
      return { ledgerEntries: 0, apiKeys: apiKeys.length, done: false };
    }
    const ledger = TABLES.ledger;
    const ledgerKeys = await this.firstKeys({
      tableName: this.tables.ledger,
      userId,
      keyNames: [ledger.partitionKey.name, ledger.sortKey!.name],
      limit: batchSize,
    });
    await this.deleteAll(this.tables.ledger, ledgerKeys);
    return { ledgerEntries: ledgerKeys.length, apiKeys: 0, done: ledgerKeys.length === 0 };
  }
}

/**
 * Profiles page by page for the reconcile sweep. A Scan, deliberately: the
 * sweep is an operator/scheduled job over every profile, never a request path.
 */
export class DynamoProfileSweep implements ProfileSweep {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly usersTable: string,
    private readonly pageSize = 100,
  ) {}

  async page(cursor?: string) {
    const out = await this.doc.send(
      new ScanCommand({
        TableName: this.usersTable,
        ProjectionExpression: 'userId, createdAt, deletingAt',
        // Profiles only (any other kind of row has no createdAt, or a composite id). Not on `email`: a
        // profile whose address another account took over has none, and must still be swept.
        FilterExpression: 'attribute_exists(createdAt)',
        Limit: this.pageSize,
        ...(cursor ? { ExclusiveStartKey: JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Record<string, unknown> } : {}),
      }),
    );
    const profiles = (out.Items ?? [])
      .filter((item) => typeof item.userId === 'string' && !(item.userId as string).includes('#'))
      .map((item) => ({ userId: item.userId as string, createdAt: item.createdAt as string | undefined, deletingAt: item.deletingAt as string | undefined }));
    return { profiles, cursor: out.LastEvaluatedKey ? Buffer.from(JSON.stringify(out.LastEvaluatedKey)).toString('base64url') : undefined };
  }
}
