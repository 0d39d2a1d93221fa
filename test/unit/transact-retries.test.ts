import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoEntitlementStore } from '../../shared/adapters/dynamodb/entitlements-store';
import { newEntitlement } from '../../shared/domain/entitlement';

/** Error paths only: DynamoDB's answers scripted; the happy paths run against DynamoDB Local in test/integration. */
const canceled = (...codes: string[]) =>
  new TransactionCanceledException({ message: 'Transaction cancelled', $metadata: {}, CancellationReasons: codes.map((Code) => ({ Code })) });

function storeAnswering(...answers: Array<Error | undefined>) {
  const send = jest.fn(async () => {
    const next = answers.shift();
    if (next) throw next;
    return {};
  });
  const store = new DynamoEntitlementStore({ send } as unknown as DynamoDBDocumentClient, { entitlements: 'entitlements', users: 'users' });
  return { store, send };
}

describe("the sign-up's entitlement row (behind the live-user check)", () => {
  const row = newEntitlement('u1', new Date('2026-11-30T00:00:00Z'));

  it('retries a TransactionConflict (another transaction on the profile, the trigger invoked twice) instead of failing the sign-up', async () => {
    const { store, send } = storeAnswering(canceled('None', 'TransactionConflict'), canceled('TransactionConflict', 'None'), undefined);
    await expect(store.createIfAbsent(row)).resolves.toBe('created');
    expect(send).toHaveBeenCalledTimes(3);
  });

  it('tells a gone or deleting user (the profile check failed) from a row that exists (the Put failed)', async () => {
    await expect(storeAnswering(canceled('ConditionalCheckFailed', 'None')).store.createIfAbsent(row)).resolves.toBe('gone');
    await expect(storeAnswering(canceled('None', 'ConditionalCheckFailed')).store.createIfAbsent(row)).resolves.toBe('exists');
  });

  it('gives up after a few conflicts, and passes on what is not a cancellation', async () => {
    const conflict = canceled('None', 'TransactionConflict');
    await expect(storeAnswering(conflict, conflict, conflict, conflict).store.createIfAbsent(row)).rejects.toBe(conflict);
    const outage = new Error('socket hang up');
    await expect(storeAnswering(outage).store.createIfAbsent(row)).rejects.toBe(outage);
  });
});
