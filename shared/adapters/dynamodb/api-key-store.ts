import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, TransactWriteCommand, UpdateCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ApiKeyStore, StoredApiKey, UsageStore } from '../../ports/api-keys';
import type { CredentialGrantEntry, UsageKind } from '../../domain/usage';
import { usageCounterId } from '../../domain/usage';
import { liveUserCheck } from './entitlements-store';

/**
 * The apiKeys table holds, per user, the key row (`keyHash` = SHA-256 hex of
 * the key) and one owner row (`keyHash` = `owner#<userId>`, never a hex
 * digest) that names the current key. Rotation reads the owner row strongly
 * consistently and swaps both in one transaction conditioned on it, so the old
 * key is deleted in the same write that creates the new one (no reliance on
 * the eventually consistent `byUser` index), and two concurrent rotations
 * cannot leave two live keys. Both rows carry `userId`, so account deletion
 * purges them through `byUser`.
 */
const ownerKey = (userId: string) => `owner#${userId}`;
const ROTATE_ATTEMPTS = 3;

export class DynamoApiKeyStore implements ApiKeyStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tables: { apiKeys: string; users: string },
  ) {}

  async rotate(userId: string, next: Omit<StoredApiKey, 'userId'>): Promise<'rotated' | 'gone' | 'contended'> {
    for (let attempt = 1; ; attempt += 1) {
      const owner = await this.doc.send(new GetCommand({ TableName: this.tables.apiKeys, Key: { keyHash: ownerKey(userId) }, ConsistentRead: true }));
      const previous = owner.Item?.currentKeyHash as string | undefined;
      try {
        await this.doc.send(
          new TransactWriteCommand({
            TransactItems: [
              liveUserCheck(this.tables.users, userId),
              {
                Put: {
                  TableName: this.tables.apiKeys,
                  Item: { keyHash: next.keyHash, userId, prefix: next.prefix, createdAt: next.createdAt, rowType: 'key' },
                  ConditionExpression: 'attribute_not_exists(keyHash)',
                },
              },
              {
                Put: {
                  TableName: this.tables.apiKeys,
                  Item: { keyHash: ownerKey(userId), userId, currentKeyHash: next.keyHash, prefix: next.prefix, createdAt: next.createdAt, rowType: 'owner' },
                  ...(previous
                    ? { ConditionExpression: 'currentKeyHash = :previous', ExpressionAttributeValues: { ':previous': previous } }
                    : { ConditionExpression: 'attribute_not_exists(keyHash)' }),
                },
              },
              ...(previous ? [{ Delete: { TableName: this.tables.apiKeys, Key: { keyHash: previous } } }] : []),
            ],
          }),
        );
        return 'rotated';
      } catch (err) {
        if (!(err instanceof TransactionCanceledException)) throw err;
        const [user, , ownerRow] = err.CancellationReasons ?? [];
        if (user?.Code === 'ConditionalCheckFailed') return 'gone';
        // Another rotation won the owner row (or a transaction conflict): read it again.
        const retryable = ownerRow?.Code === 'ConditionalCheckFailed' || (err.CancellationReasons ?? []).some((r) => r.Code === 'TransactionConflict');
        if (!retryable) throw err;
        // Several rotations at once for one user: the ones that kept losing are told so (never two live keys).
        if (attempt >= ROTATE_ATTEMPTS) return 'contended';
        await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 40));
      }
    }
  }

  async findByHash(keyHash: string): Promise<StoredApiKey | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tables.apiKeys, Key: { keyHash }, ConsistentRead: true }));
    const item = out.Item;
    if (!item || item.rowType === 'owner') return undefined;
    return { keyHash: item.keyHash as string, userId: item.userId as string, prefix: item.prefix as string, createdAt: item.createdAt as string };
  }
}

/** Monthly usage counters and the credential-grant log, in the ledger table (see shared/domain/usage.ts). */
export class DynamoUsageStore implements UsageStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly ledgerTable: string,
  ) {}

  async count(userId: string, kind: UsageKind, period: string, limit: number | null, expiresAt: number): Promise<{ counted: boolean; used: number }> {
    if (limit !== null && limit <= 0) return { counted: false, used: await this.used(userId, kind, period) };
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.ledgerTable,
          Key: { userId, entryId: usageCounterId(kind, period) },
          UpdateExpression: 'ADD #calls :one SET #kind = :kind, #period = :period, #expiresAt = :expiresAt',
          ...(limit === null ? {} : { ConditionExpression: 'attribute_not_exists(#calls) OR #calls < :limit' }),
          ExpressionAttributeNames: { '#calls': 'calls', '#kind': 'kind', '#period': 'period', '#expiresAt': 'expiresAt' },
          ExpressionAttributeValues: { ':one': 1, ':kind': `usage:${kind}`, ':period': period, ':expiresAt': expiresAt, ...(limit === null ? {} : { ':limit': limit }) },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      return { counted: true, used: Number(out.Attributes?.calls ?? 0) };
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return { counted: false, used: await this.used(userId, kind, period) };
      throw err;
    }
  }

  async used(userId: string, kind: UsageKind, period: string): Promise<number> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.ledgerTable, Key: { userId, entryId: usageCounterId(kind, period) }, ConsistentRead: true }),
    );
    return Number(out.Item?.calls ?? 0);
  }

  async logCredentialGrant(entry: CredentialGrantEntry): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.ledgerTable, Item: entry, ConditionExpression: 'attribute_not_exists(entryId)' }));
  }
}
