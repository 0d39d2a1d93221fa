import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ApiKeyStore, CountResult, StoredApiKey, UsageStore } from '../../ports/api-keys';
import type { CredentialGrantEntry, UsageKind } from '../../domain/usage';
import { usageCounterId } from '../../domain/usage';
import { liveUserWrite, refusedForGoneUser } from './live-user';

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
/** A verify losing this many races in a row (the per-second limit keeps one user's calls far below) gives up. */
const MAX_COUNT_RACES = 50;
const MAX_COUNT_CONFLICTS = 5;

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
          liveUserWrite(this.tables.users, userId, [
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
          ]),
        );
        return 'rotated';
      } catch (err) {
        if (refusedForGoneUser(err)) return 'gone';
        if (!(err instanceof TransactionCanceledException)) throw err;
        const [, , ownerRow] = err.CancellationReasons ?? [];
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

/**
 * Monthly usage counters and the credential-grant log, in the ledger table
 * (see shared/domain/usage.ts). Both are writes into the user's ledger
 * partition, which account deletion purges, so each is one transaction with
 * the live-user check: once deletion has marked the profile, nothing lands
 * in the partition again (a plain ADD would recreate a purged counter).
 */
export class DynamoUsageStore implements UsageStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tables: { ledger: string; users: string },
  ) {}

  /**
   * Compare-and-set, like the token store's consume: the count read, then one
   * transaction of the live-user check and `calls = known + 1` conditioned on
   * `calls` still being `known` (and below the limit). A lost race returns the
   * current row with the refusal and is planned again on it without another
   * read. So each call learns its own position (1, 2, 3... under parallel
   * calls) and nothing is ever written for a user being deleted.
   */
  async count(userId: string, kind: UsageKind, period: string, limit: number | null, expiresAt: number): Promise<CountResult> {
    let known = await this.used(userId, kind, period);
    let conflicts = 0;
    for (let races = 0; ; ) {
      if (limit !== null && known >= limit) return { counted: false, used: known };
      try {
        await this.doc.send(
          liveUserWrite(this.tables.users, userId, [
            {
              Update: {
                TableName: this.tables.ledger,
                Key: { userId, entryId: usageCounterId(kind, period) },
                UpdateExpression: 'SET #calls = :next, #kind = :kind, #period = :period, #expiresAt = :expiresAt',
                ConditionExpression: known === 0 ? 'attribute_not_exists(#calls) OR #calls = :zero' : '#calls = :known',
                ExpressionAttributeNames: { '#calls': 'calls', '#kind': 'kind', '#period': 'period', '#expiresAt': 'expiresAt' },
                ExpressionAttributeValues: {
                  ':next': known + 1,
                  ':kind': `usage:${kind}`,
                  ':period': period,
                  ':expiresAt': expiresAt,
                  ...(known === 0 ? { ':zero': 0 } : { ':known': known }),
                },
                ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
              },
            },
          ]),
        );
        return { counted: true, used: known + 1 };
      } catch (err) {
        if (refusedForGoneUser(err)) return { counted: false, used: 0, userGone: true };
        if (!(err instanceof TransactionCanceledException)) throw err;
        const [, counter] = err.CancellationReasons ?? [];
        if (counter?.Code === 'ConditionalCheckFailed') {
          known = Number(counter.Item?.calls?.N ?? 0);
          if ((races += 1) > MAX_COUNT_RACES) throw err;
          continue;
        }
        if ((err.CancellationReasons ?? []).some((r) => r.Code === 'TransactionConflict') && (conflicts += 1) <= MAX_COUNT_CONFLICTS) {
          await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, 4 * 2 ** conflicts)));
          known = await this.used(userId, kind, period);
          continue;
        }
        throw err;
      }
    }
  }

  async used(userId: string, kind: UsageKind, period: string): Promise<number> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.tables.ledger, Key: { userId, entryId: usageCounterId(kind, period) }, ConsistentRead: true }),
    );
    return Number(out.Item?.calls ?? 0);
  }

  async logCredentialGrant(entry: CredentialGrantEntry): Promise<'logged' | 'gone'> {
    try {
      await this.doc.send(
        liveUserWrite(this.tables.users, entry.userId, [{ Put: { TableName: this.tables.ledger, Item: entry, ConditionExpression: 'attribute_not_exists(entryId)' } }]),
      );
      return 'logged';
    } catch (err) {
      if (refusedForGoneUser(err)) return 'gone';
      throw err;
    }
  }
}
