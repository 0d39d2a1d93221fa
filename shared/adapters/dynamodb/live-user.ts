import { TransactionCanceledException, type CancellationReason } from '@aws-sdk/client-dynamodb';
import { TransactWriteCommand, type DynamoDBDocumentClient, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';

export type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** Tries of a transaction DynamoDB refuses with TransactionConflict (another transaction on one of its items). */
const CONFLICT_RETRIES = 4;

/**
 * Runs a transaction, retrying DynamoDB's TransactionConflict (the SDK does
 * not) with a short jittered pause; returns the cancellation reasons when a
 * condition failed, undefined when it committed.
 */
export async function transactWithConflictRetries(doc: DynamoDBDocumentClient, items: TransactItem[]): Promise<CancellationReason[] | undefined> {
  for (let attempt = 1; ; attempt++) {
    try {
      await doc.send(new TransactWriteCommand({ TransactItems: items }));
      return undefined;
    } catch (err) {
      if (!(err instanceof TransactionCanceledException)) throw err;
      const reasons = err.CancellationReasons ?? [];
      if (reasons.some((r) => r.Code === 'ConditionalCheckFailed')) return reasons;
      if (attempt >= CONFLICT_RETRIES || !reasons.some((r) => r.Code === 'TransactionConflict')) throw err;
      await new Promise((resolve) => setTimeout(resolve, 10 * attempt + Math.random() * 20));
    }
  }
}

/**
 * The condition every write into a user's rows shares: the user exists and is
 * not being deleted, so a late webhook or admin call never resurrects an
 * account and nothing lands in a partition account deletion has purged.
 * Token writes are the exception: they check the same mark on the
 * entitlement row they update anyway (token-store.ts, NOT_BEING_DELETED),
 * one transaction item less on the hottest write.
 */
export function liveUserCheck(usersTable: string, userId: string) {
  return {
    ConditionCheck: {
      TableName: usersTable,
      Key: { userId },
      ConditionExpression: 'attribute_exists(userId) AND attribute_not_exists(deletingAt)',
    },
  };
}

/**
 * `items` as one transaction behind the live-user check. The check is the
 * first item, so in a cancellation's reasons `items[i]` is at `i + 1`.
 */
export function liveUserWrite(usersTable: string, userId: string, items: TransactItem[]): TransactWriteCommand {
  return new TransactWriteCommand({ TransactItems: [liveUserCheck(usersTable, userId), ...items] });
}

/** The transaction of `liveUserWrite` was refused because the user is gone or being deleted. */
export function refusedForGoneUser(err: unknown): err is TransactionCanceledException {
  return err instanceof TransactionCanceledException && err.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed';
}
