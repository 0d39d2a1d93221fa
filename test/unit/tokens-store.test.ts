import { TransactionCanceledException, type CancellationReason } from '@aws-sdk/client-dynamodb';
import { TransactGetCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { DynamoTokenStore } from '../../shared/adapters/dynamodb/token-store';
import { catalogueWith, defaultCatalogue } from '../fixtures/catalogue';
import { consumeFingerprint } from '../../shared/domain/token-idempotency';
import { TokenContentionError } from '../../shared/ports/tokens';

/**
 * The adapter's reading of DynamoDB's answers, against a scripted client:
 * which condition refused a transaction, and when to retry.
 */
const NOW = new Date('2026-05-10T12:00:00.000Z');
const ROW = { userId: 'u1', tier: 'tester', status: 'active', tokenPeriod: '2026-05', tokensUsedThisPeriod: 10, tokensAllowanceUsed: 10, tokensPurchased: 0 };

type Script = Array<(command: unknown) => unknown>;

function fakeClient(script: Script) {
  const sent: unknown[] = [];
  const doc = {
    send: async (command: unknown) => {
      sent.push(command);
      const step = script.shift();
      if (!step) throw new Error(`unexpected call: ${(command as object).constructor.name}`);
      return step(command);
    },
  } as unknown as DynamoDBDocumentClient;
  return { doc, sent };
}

const read = (row: object | undefined, record?: object) => (command: unknown) => {
  expect(command).toBeInstanceOf(TransactGetCommand);
  return { Responses: [{ Item: row }, { Item: record }] };
};
const commit = () => (command: unknown) => {
  expect(command).toBeInstanceOf(TransactWriteCommand);
  return {};
};
const cancel = (...reasons: CancellationReason[]) => (command: unknown) => {
  expect(command).toBeInstanceOf(TransactWriteCommand);
  throw new TransactionCanceledException({ message: 'Transaction cancelled', $metadata: {}, CancellationReasons: reasons });
};
const none: CancellationReason = { Code: 'None' };
const conflict: CancellationReason = { Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' };
/** What DynamoDB returns with a refusal: the item as raw attribute values. */
const refusedWith = (item: Record<string, unknown>): CancellationReason => ({ Code: 'ConditionalCheckFailed', Item: marshall(item) });

function storeWith(script: Script, options: { maxRaces?: number } = {}) {
  const client = fakeClient(script);
  const sleeps: number[] = [];
  const store = new DynamoTokenStore(client.doc, {
    tables: { entitlements: 'ent', ledger: 'led', idempotency: 'idem' },
    catalogue: defaultCatalogue(),
    now: () => NOW,
    sleep: async (ms) => void sleeps.push(ms),
    ...options,
  });
  return { store, sent: client.sent, sleeps };
}

const consume = { userId: 'u1', amount: 5, idempotencyKey: 'req-1' };

describe('DynamoTokenStore reading DynamoDB answers', () => {
  it('plans on a fresh read the first time, then on what it wrote (one request per consume)', async () => {
    const { store, sent } = storeWith([read(ROW), commit(), commit()]);
    expect(await store.consume(consume)).toEqual({ outcome: 'consumed', consumed: 5, remaining: 985, replayed: false });
    expect(await store.consume({ ...consume, idempotencyKey: 'req-2' })).toEqual({ outcome: 'consumed', consumed: 5, remaining: 980, replayed: false });
    expect(sent).toHaveLength(3);
    // The second write is conditioned on the state the first one left.
    const update = (sent[2] as TransactWriteCommand).input.TransactItems![0]!.Update!;
    expect(update.ExpressionAttributeValues).toMatchObject({ ':was_tokensUsedThisPeriod': 15, ':was_tier': 'tester', ':tokensUsedThisPeriod': 20 });
    expect(update.ReturnValuesOnConditionCheckFailure).toBe('ALL_OLD');
  });

  it('writes three items: the row (its condition refusing a row marked by account deletion), the ledger entry, the idempotency record', async () => {
    const { store, sent } = storeWith([read(ROW), commit()]);
    await store.consume(consume);
    const items = (sent[1] as TransactWriteCommand).input.TransactItems!;
    expect(items.map((item) => Object.keys(item)[0])).toEqual(['Update', 'Put', 'Put']);
    expect(items.map((item) => Object.values(item)[0]!.TableName)).toEqual(['ent', 'led', 'idem']);
    expect(items[0]!.Update!.ConditionExpression).toContain('attribute_not_exists(deletingAt)');
  });

  it('retries a TransactionConflict a few times with back-off, then gives up with TokenContentionError', async () => {
    const retried = storeWith([read(ROW), cancel(conflict, none, none), cancel(none, conflict, none), commit()]);
    expect(await retried.store.consume(consume)).toMatchObject({ outcome: 'consumed', remaining: 985 });
    expect(retried.sleeps).toHaveLength(2);

    const busy = storeWith([read(ROW), ...Array.from({ length: 4 }, () => cancel(conflict, none, none))]);
    await expect(busy.store.consume(consume)).rejects.toBeInstanceOf(TokenContentionError);
    expect(busy.sent).toHaveLength(5);
  });

  it('re-plans on the row DynamoDB returns when another writer changed it, without another read', async () => {
    const { store, sent } = storeWith([read(ROW), cancel(refusedWith({ ...ROW, tokensUsedThisPeriod: 990, tokensAllowanceUsed: 990 }), none, none), commit()]);
    expect(await store.consume(consume)).toMatchObject({ outcome: 'consumed', remaining: 5 });
    expect(sent.map((c) => (c as object).constructor.name)).toEqual(['TransactGetCommand', 'TransactWriteCommand', 'TransactWriteCommand']);
  });

  it('re-plans on a returned row holding NULL and boolean attributes, conditioned on them as they are', async () => {
    const returned = { ...ROW, plan: null, premiumOverride: true, tokensUsedThisPeriod: 20, tokensAllowanceUsed: 20 };
    const { store, sent } = storeWith([read(ROW), cancel(refusedWith(returned), none, none), commit()]);
    expect(await store.consume(consume)).toMatchObject({ outcome: 'consumed' });
    const update = (sent[2] as TransactWriteCommand).input.TransactItems![0]!.Update!;
    expect(update.ConditionExpression).toContain('attribute_type(#plan, :nullType)');
    expect(update.ExpressionAttributeValues).toMatchObject({ ':nullType': 'NULL', ':was_premiumOverride': true, ':was_tokensUsedThisPeriod': 20 });
  });

  it('answers 402 only from a fresh read, never from what it last saw', async () => {
    // The returned row says 3 left; a fresh read finds a grant arrived meanwhile.
    const { store } = storeWith([
      read(ROW),
      cancel(refusedWith({ ...ROW, tokensUsedThisPeriod: 997, tokensAllowanceUsed: 997 }), none, none),
      read({ ...ROW, tokensUsedThisPeriod: 997, tokensAllowanceUsed: 997, tokensPurchased: 100 }),
      commit(),
    ]);
    expect(await store.consume(consume)).toMatchObject({ outcome: 'consumed', remaining: 98 });

    const short = storeWith([read({ ...ROW, tokensUsedThisPeriod: 998, tokensAllowanceUsed: 998 })]);
    expect(await short.store.consume(consume)).toEqual({ outcome: 'insufficient', remaining: 2 });
  });

  it('answers a repeated key from its record: the first answer, or a conflict for another amount', async () => {
    const record = (amount: number) => refusedWith({ key: 'consume:u1:req-1', fingerprint: consumeFingerprint(amount), response: { consumed: amount, remaining: 42 } });
    const same = storeWith([read(ROW), cancel(none, none, record(5))]);
    expect(await same.store.consume(consume)).toEqual({ outcome: 'consumed', consumed: 5, remaining: 42, replayed: true });
    const other = storeWith([read(ROW), cancel(refusedWith(ROW), none, record(7))]);
    expect(await other.store.consume(consume)).toEqual({ outcome: 'conflict' });
  });

  it("a period's first write has four items: the record is found after the reset and consume entries, a ledger id collision re-plans", async () => {
    // The row's period is April: this consume opens May, so the write carries a reset entry too.
    const april = { ...ROW, tokenPeriod: '2026-04' };
    const record = refusedWith({ key: 'consume:u1:req-1', fingerprint: consumeFingerprint(5), response: { consumed: 5, remaining: 995 } });
    const repeat = storeWith([read(april), cancel(none, none, none, record)]);
    expect(await repeat.store.consume(consume)).toEqual({ outcome: 'consumed', consumed: 5, remaining: 995, replayed: true });
    expect((repeat.sent[1] as TransactWriteCommand).input.TransactItems).toHaveLength(4);

    const collided = storeWith([read(april), cancel(none, none, { Code: 'ConditionalCheckFailed' }, none), commit()]);
    expect(await collided.store.consume(consume)).toMatchObject({ outcome: 'consumed', replayed: false });
    expect(collided.sent).toHaveLength(3);
  });

  it('reports an unknown user when the row is missing, and rethrows anything else', async () => {
    expect(await storeWith([read(undefined)]).store.consume(consume)).toEqual({ outcome: 'unknown-user' });
    const deleted = storeWith([read(ROW), cancel({ Code: 'ConditionalCheckFailed' }, none, none)]);
    expect(await deleted.store.consume(consume)).toEqual({ outcome: 'unknown-user' });
    // The account deletion marked the row after this process read it: gone, not a race to retry on the returned row.
    const deleting = storeWith([read(ROW), cancel(refusedWith({ ...ROW, deletingAt: '2026-05-10T11:00:00.000Z' }), none, none)]);
    expect(await deleting.store.consume(consume)).toEqual({ outcome: 'unknown-user' });
    expect(deleting.sent).toHaveLength(2);
    // Marked before the read: nothing is even tried.
    const marked = storeWith([read({ ...ROW, deletingAt: '2026-05-10T11:00:00.000Z' })]);
    expect(await marked.store.addPurchasedTokens({ userId: 'u1', tokens: 5, idempotencyKey: 'g', reason: 'grant' })).toEqual({ outcome: 'unknown-user' });
    expect(marked.sent).toHaveLength(1);
    const broken = storeWith([read(ROW), cancel({ Code: 'ValidationError', Message: 'bad' }, none, none)]);
    await expect(broken.store.consume(consume)).rejects.toBeInstanceOf(TransactionCanceledException);
  });

  it('gives up after losing too many races to other writers', async () => {
    const races = Array.from({ length: 10 }, (_, i) => cancel(refusedWith({ ...ROW, tokensUsedThisPeriod: 11 + i, tokensAllowanceUsed: 11 + i }), none, none));
    const { store, sent, sleeps } = storeWith([read(ROW), ...races], { maxRaces: 10 });
    await expect(store.consume(consume)).rejects.toBeInstanceOf(TokenContentionError);
    expect(sent).toHaveLength(11);
    // A lost race comes with the winner's state: the retry needs no pause.
    expect(sleeps).toEqual([]);
  });
});
