import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { countRequests } from '../../bench/harness';
import { localDynamoClient } from '../../infra/local/dynamodb';
import { DynamoEntitlementStore } from '../../shared/adapters/dynamodb/entitlements-store';
import { DynamoTokenStore } from '../../shared/adapters/dynamodb/token-store';
import { DynamoUserStore } from '../../shared/adapters/dynamodb/users-store';
import { DEFAULT_ACCESS_POLICY, adminTierFields, decideAccess } from '../../shared/domain/access';
import { NO_SUBSCRIPTION, type EntitlementRecord, type SubscriptionState } from '../../shared/domain/entitlement';
import { catalogueFileSchema, resolveCatalogue, type Catalogue } from '../../shared/domain/catalogue';
import { readCatalogueFile } from '../../shared/config/catalogue';
import { catalogueWith, defaultCatalogue } from '../fixtures/catalogue';
import { LEDGER_RETENTION_DAYS } from '../../shared/domain/token-ledger';
import { describeTokens } from '../../shared/domain/token-views';
import type { MeteredUsage } from '../../shared/domain/token-balances';
import type { ConsumeTokensResult } from '../../shared/ports/tokens';
import { localStack } from '../fixtures/stack';
import { BILLING_PERIOD_MS, SMALL_CATALOGUE, documentClient, initialRow, ledgerOf, nextBoundary, putEntitlement, tokenHistory, tokenTablesFromEnv } from '../fixtures/tokens';

/**
 * The DynamoDB adapter against the local stack's DynamoDB Local: the atomic
 * consume, its races, the month boundary on a fake clock, top-ups and tier
 * overrides. Several store instances stand for several Lambda containers.
 */
const raw = localDynamoClient(localStack().dynamodbEndpoint);
const doc = documentClient(raw);
const tables = tokenTablesFromEnv(localStack().handlerEnv);
const usersTable = localStack().handlerEnv.TABLE_USERS!;
const catalogue = defaultCatalogue();

afterAll(() => raw.destroy());

function clockAt(iso: string) {
  const clock = { now: new Date(iso), set: (next: string) => (clock.now = new Date(next)) };
  return clock;
}

/** A store as one Lambda container would hold it, on the given clock, counting its DynamoDB requests. */
function container(clock: { now: Date }, options: { catalogue?: Catalogue; raceBudgetMs?: number } = {}) {
  const client = localDynamoClient(localStack().dynamodbEndpoint);
  const counter = countRequests(client);
  containers.push(client);
  const store = new DynamoTokenStore(documentClient(client), {
    tables,
    catalogue: options.catalogue ?? catalogue,
    now: () => clock.now,
    ...(options.raceBudgetMs ? { raceBudgetMs: options.raceBudgetMs } : {}),
  });
  return { store, counter };
}
const containers: Array<{ destroy(): void }> = [];
afterAll(() => containers.splice(0).forEach((c) => c.destroy()));

const newUser = () => `tok-${randomUUID()}`;
/** The id of a calendar period: its start (rows written before billing periods held 'YYYY-MM'). */
const month = (m: string) => `${m.slice(0, 7)}-01T00:00:00.000Z`;
const row = async (userId: string) => (await doc.send(new GetCommand({ TableName: tables.entitlements, Key: { userId }, ConsistentRead: true }))).Item as EntitlementRecord;
const idempotencyRecord = async (key: string) => (await doc.send(new GetCommand({ TableName: tables.idempotency, Key: { key }, ConsistentRead: true }))).Item;

describe('consuming tokens', () => {
  it('spends the allowance first, then purchased tokens, each consume with its ledger entry and idempotency record', async () => {
    const clock = clockAt('2026-05-10T12:00:00.000Z');
    const { store } = container(clock);
    const userId = newUser();
    await putEntitlement(doc, tables.entitlements, userId, clock.now, { ...adminTierFields('tester', NO_SUBSCRIPTION), tokenPeriod: '2026-05', tokensUsedThisPeriod: 990, tokensAllowanceUsed: 990, tokensPurchased: 20 });

    expect(await store.consume({ userId, amount: 15, idempotencyKey: 'req-1' })).toEqual({ outcome: 'consumed', consumed: 15, remaining: 15, replayed: false });

    expect(await row(userId)).toMatchObject({ tokenPeriod: month('2026-05'), tokensUsedThisPeriod: 1005, tokensAllowanceUsed: 1000, tokensPurchased: 15 });
    const [entry, ...rest] = await ledgerOf(doc, tables.ledger, userId);
    expect(rest).toEqual([]);
    expect(entry).toEqual({
      userId,
      entryId: expect.stringMatching(/^2026-05-10T12:00:00\.000Z#0#consume#[0-9a-f]{12}$/),
      kind: 'consume',
      amount: 15,
      fromAllowance: 10,
      fromPurchased: 5,
      balanceAfter: 15,
      period: month('2026-05'),
      idempotencyKey: 'req-1',
      at: '2026-05-10T12:00:00.000Z',
      expiresAt: Date.parse('2026-05-10T12:00:00.000Z') / 1000 + LEDGER_RETENTION_DAYS * 86400,
    });
    expect(await idempotencyRecord(`consume:${userId}:req-1`)).toMatchObject({ userId, operation: 'tokens-consume', response: { consumed: 15, remaining: 15 }, expiresAt: expect.any(Number) });
  });

  it('refuses to go below zero (with the remaining balance) and writes nothing', async () => {
    const clock = clockAt('2026-05-10T12:00:00.000Z');
    const { store } = container(clock);
    const userId = newUser();
    await putEntitlement(doc, tables.entitlements, userId, clock.now, { ...adminTierFields('free', NO_SUBSCRIPTION), tokensPurchased: 3 });
    const before = await row(userId);

    expect(await store.consume({ userId, amount: 4, idempotencyKey: 'too-much' })).toEqual({ outcome: 'insufficient', remaining: 3 });
    expect(await row(userId)).toEqual(before);
    expect(await ledgerOf(doc, tables.ledger, userId)).toEqual([]);
    expect(await idempotencyRecord(`consume:${userId}:too-much`)).toBeUndefined();
  });

  it('never charges a key twice: a repeat gets the first answer (even once the balance is gone), another amount is a conflict', async () => {
    const clock = clockAt('2026-05-10T12:00:00.000Z');
    const [a, b] = [container(clock), container(clock)];
    const userId = newUser();
    await putEntitlement(doc, tables.entitlements, userId, clock.now, { ...adminTierFields('free', NO_SUBSCRIPTION), tokensPurchased: 5 });

    expect(await a.store.consume({ userId, amount: 5, idempotencyKey: 'once' })).toMatchObject({ outcome: 'consumed', remaining: 0, replayed: false });
    expect(await a.store.consume({ userId, amount: 5, idempotencyKey: 'once' })).toEqual({ outcome: 'consumed', consumed: 5, remaining: 0, replayed: true });
    // Another container, which has never seen this user, answers the same.
    expect(await b.store.consume({ userId, amount: 5, idempotencyKey: 'once' })).toEqual({ outcome: 'consumed', consumed: 5, remaining: 0, replayed: true });
    expect(await b.store.consume({ userId, amount: 4, idempotencyKey: 'once' })).toEqual({ outcome: 'conflict' });
    expect(await a.store.consume({ userId, amount: 1, idempotencyKey: 'twice' })).toEqual({ outcome: 'insufficient', remaining: 0 });
    expect((await ledgerOf(doc, tables.ledger, userId)).map((e) => e.kind)).toEqual(['consume']);
  });

  it('counts admin usage although it is unlimited', async () => {
    const clock = clockAt('2026-05-10T12:00:00.000Z');
    const { store } = container(clock);
    const userId = newUser();
    await putEntitlement(doc, tables.entitlements, userId, clock.now, { ...adminTierFields('admin', NO_SUBSCRIPTION) });
    for (const key of ['a', 'b']) expect(await store.consume({ userId, amount: 1_000_000, idempotencyKey: key })).toMatchObject({ outcome: 'consumed', remaining: null });
    const stored = await row(userId);
    expect(describeTokens(stored, decideAccess(stored, catalogue, DEFAULT_ACCESS_POLICY, clock.now))).toMatchObject({ remaining: null, usedThisPeriod: 2_000_000, purchased: 0 });
  });

  it('writes nothing for a user whose account deletion has started: consume, grant, top-up and refund, warm or cold', async () => {
    const clock = clockAt('2026-05-10T12:00:00.000Z');
    const warm = container(clock);
    const userId = newUser();
    const users = new DynamoUserStore(doc, usersTable, localStack().handlerEnv.TABLE_EMAIL_OWNERS!);
    const entitlements = new DynamoEntitlementStore(doc, { entitlements: tables.entitlements, users: usersTable });
    await users.createIfAbsent({ userId, email: `${userId}@example.com`, createdAt: clock.now.toISOString() });
    await putEntitlement(doc, tables.entitlements, userId, clock.now, { ...adminTierFields('tester', NO_SUBSCRIPTION), tokensPurchased: 50 });
    // The warm process has seen the row: its next write is planned on that, without a read.
    expect(await warm.store.consume({ userId, amount: 1, idempotencyKey: 'before' })).toMatchObject({ outcome: 'consumed' });
    const before = await row(userId);

    // What the deletion's first step does (runAccountDeletion, step 'marked').
    await users.markDeleting(userId, clock.now.toISOString());
    await entitlements.markDeleting(userId, clock.now.toISOString());

    warm.counter.requests = 0;
    expect(await warm.store.consume({ userId, amount: 1, idempotencyKey: 'after' })).toEqual({ outcome: 'unknown-user' });
    // Refused by the row's own condition and given up at once: no retry loop on the returned row.
    expect(warm.counter.requests).toBe(1);
    const cold = container(clock);
    expect(await cold.store.consume({ userId, amount: 1, idempotencyKey: 'after-cold' })).toEqual({ outcome: 'unknown-user' });
    expect(await warm.store.addPurchasedTokens({ userId, tokens: 5, idempotencyKey: 'grant-late', reason: 'late grant' })).toEqual({ outcome: 'unknown-user' });
    expect(await cold.store.addPurchasedTokens({ userId, tokens: 5, idempotencyKey: 'topup:cs_late', reason: 'late top-up', kind: 'top-up' })).toEqual({ outcome: 'unknown-user' });
    expect(
      await warm.store.adjustPurchasedTokens({ userId, idempotencyKey: 'refund:re_late', kind: 'refund', direction: 'take', tokens: 5, stripeId: 're_late', reason: 'late refund' }),
    ).toEqual({ outcome: 'unknown-user' });

    expect((await ledgerOf(doc, tables.ledger, userId)).map((e) => e.idempotencyKey)).toEqual(['before']);
    for (const key of [`consume:${userId}:after`, `consume:${userId}:after-cold`]) expect(await idempotencyRecord(key)).toBeUndefined();
    const { deletingAt, ...after } = await row(userId);
    expect(deletingAt).toBe(clock.now.toISOString());
    expect(after).toEqual(before);
    // A retry of a consume made before the deletion started still gets its first answer (nothing written).
    expect(await cold.store.consume({ userId, amount: 1, idempotencyKey: 'before' })).toMatchObject({ outcome: 'consumed', replayed: true });
  });

  it('marking the entitlement row never creates one, and keeps the first mark', async () => {
    const entitlements = new DynamoEntitlementStore(doc, { entitlements: tables.entitlements, users: usersTable });
    const absent = newUser();
    await entitlements.markDeleting(absent, '2026-05-10T12:00:00.000Z');
    expect(await row(absent)).toBeUndefined();
    const present = newUser();
    await putEntitlement(doc, tables.entitlements, present, new Date('2026-05-10T12:00:00.000Z'), {});
    await entitlements.markDeleting(present, '2026-05-10T12:00:00.000Z');
    await entitlements.markDeleting(present, '2026-05-11T12:00:00.000Z');
    expect(await row(present)).toMatchObject({ deletingAt: '2026-05-10T12:00:00.000Z' });
  });

  it('knows no user without an entitlement row, and writes nothing for them', async () => {
    const { store } = container(clockAt('2026-05-10T12:00:00.000Z'));
    const userId = newUser();
    expect(await store.consume({ userId, amount: 1, idempotencyKey: 'k' })).toEqual({ outcome: 'unknown-user' });
    expect(await store.addPurchasedTokens({ userId, tokens: 1, idempotencyKey: 'k', reason: 'test' })).toEqual({ outcome: 'unknown-user' });
    expect(await row(userId)).toBeUndefined();
    expect(await idempotencyRecord(`consume:${userId}:k`)).toBeUndefined();
  });

  it('spends one DynamoDB request per consume in the steady state, the month reset included', async () => {
    const clock = clockAt('2026-05-31T23:59:59.000Z');
    const { store, counter } = container(clock);
    const userId = newUser();
    await putEntitlement(doc, tables.entitlements, userId, clock.now, { ...adminTierFields('tester', NO_SUBSCRIPTION) });
    const requestsFor = async (key: string) => {
      counter.requests = 0;
      expect(await store.consume({ userId, amount: 1, idempotencyKey: key })).toMatchObject({ outcome: 'consumed' });
      return counter.requests;
    };
    expect(await requestsFor('cold')).toBe(2); // first sight of the user in this process: read, then write
    expect(await requestsFor('warm-1')).toBe(1);
    clock.set('2026-06-01T00:00:00.000Z');
    expect(await requestsFor('first-of-june')).toBe(1);
    expect(await requestsFor('warm-2')).toBe(1);
  });
});

describe('racing consumes (several containers, one DynamoDB row)', () => {
  // DynamoDB Local serves one request on the row at a time (~10 ms here), so a
  // request may wait seconds behind the others: the contention budget is
  // raised so this test is about the counts, not the machine's speed.
  const patient = { raceBudgetMs: 30_000 };

  it('200 parallel consumes of 1 on a balance of 50: exactly 50 succeed, 150 get 402, 50 ledger entries', async () => {
    const clock = clockAt('2026-05-10T12:00:00.000Z');
    const fleet = Array.from({ length: 4 }, () => container(clock, patient));
    const userId = newUser();
    await putEntitlement(doc, tables.entitlements, userId, clock.now, { ...adminTierFields('free', NO_SUBSCRIPTION), tokensPurchased: 50 });

    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => fleet[i % fleet.length]!.store.consume({ userId, amount: 1, idempotencyKey: `par-${i}` })),
    );

    const by = (outcome: ConsumeTokensResult['outcome']) => results.filter((r) => r.outcome === outcome);
    expect(by('consumed')).toHaveLength(50);
    expect(by('insufficient')).toHaveLength(150);
    expect(by('insufficient').every((r) => r.outcome === 'insufficient' && r.remaining === 0)).toBe(true);
    // Each success saw a distinct balance: 49, 48, ... 0.
    expect(by('consumed').map((r) => (r.outcome === 'consumed' ? r.remaining : -1)).sort((x, y) => x! - y!)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    const ledger = await ledgerOf(doc, tables.ledger, userId);
    expect(ledger).toHaveLength(50);
    expect(new Set(ledger.map((e) => e.idempotencyKey)).size).toBe(50);
    expect(await row(userId)).toMatchObject({ tokensPurchased: 0, tokensUsedThisPeriod: 50 });
  });

  it('the same key sent to several containers at once is charged once', async () => {
    const clock = clockAt('2026-05-10T12:00:00.000Z');
    const fleet = Array.from({ length: 4 }, () => container(clock, patient));
    const userId = newUser();
    await putEntitlement(doc, tables.entitlements, userId, clock.now, { ...adminTierFields('free', NO_SUBSCRIPTION), tokensPurchased: 100 });
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => fleet[i % 4]!.store.consume({ userId, amount: 7, idempotencyKey: 'same' })));
    expect(results.every((r) => r.outcome === 'consumed' && r.consumed === 7 && r.remaining === 93)).toBe(true);
    expect(results.filter((r) => r.outcome === 'consumed' && !r.replayed)).toHaveLength(1);
    expect(await ledgerOf(doc, tables.ledger, userId)).toHaveLength(1);
  });
});

describe('racing uses of a metered feature (several containers, one DynamoDB row)', () => {
  // One store queues a user's requests (serial), so only separate instances
  // make the conditional write on meteredUsage lose races, as Lambda
  // containers do. The same patience as above: this is about counts.
  const patient = { raceBudgetMs: 30_000 };
  const LIMIT = 10;
  /** The custom catalogue with the team plan's report-exports limit at LIMIT. */
  const metered = (() => {
    const file = structuredClone(readCatalogueFile(resolve(__dirname, '..', 'fixtures', 'catalogues', 'custom.config.json')).file);
    file.plans.find((p) => p.name === 'team')!.features['report-exports'] = { monthlyLimit: LIMIT };
    return resolveCatalogue(catalogueFileSchema.parse(file), 'unpriced');
  })();

  /** The feature's count on the row (the entitlement record type does not name the token fields). */
  const usesOf = async (userId: string) => ((await row(userId)) as { meteredUsage?: MeteredUsage }).meteredUsage?.['report-exports'];

  async function teamUser(clock: { now: Date }): Promise<string> {
    const userId = newUser();
    await putEntitlement(doc, tables.entitlements, userId, clock.now, { ...adminTierFields('team', NO_SUBSCRIPTION), tokensPurchased: 5 });
    return userId;
  }

  it(`60 parallel uses across 4 containers with a limit of ${LIMIT}: exactly ${LIMIT} succeed, no overdraft, a complete ledger`, async () => {
    const clock = clockAt('2026-05-10T12:00:00.000Z');
    const fleet = Array.from({ length: 4 }, () => container(clock, { ...patient, catalogue: metered }));
    const userId = await teamUser(clock);

    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => fleet[i % fleet.length]!.store.consume({ userId, amount: 1, idempotencyKey: `use-${i}`, feature: 'report-exports' })),
    );

    const consumed = results.filter((r) => r.outcome === 'consumed');
    expect(consumed).toHaveLength(LIMIT);
    expect(results.filter((r) => r.outcome === 'insufficient' && r.remaining === 0)).toHaveLength(60 - LIMIT);
    // Each success saw a distinct count: LIMIT-1 ... 0 uses left.
    expect(consumed.map((r) => (r.outcome === 'consumed' ? r.remaining : -1)).sort((x, y) => x! - y!)).toEqual(Array.from({ length: LIMIT }, (_, i) => i));
    expect(await usesOf(userId)).toMatchObject({ used: LIMIT });
    // Tokens are another allowance: the feature's uses never touch them.
    expect(await row(userId)).toMatchObject({ tokensPurchased: 5, tokensUsedThisPeriod: 0 });
    const ledger = await ledgerOf(doc, tables.ledger, userId);
    expect(ledger).toHaveLength(LIMIT);
    expect(ledger.every((e) => e.feature === 'report-exports' && e.amount === 1)).toBe(true);
    expect(new Set(ledger.map((e) => e.idempotencyKey)).size).toBe(LIMIT);
  });

  it('retries of one use sent to several containers at once are charged once', async () => {
    const clock = clockAt('2026-05-10T12:00:00.000Z');
    const fleet = Array.from({ length: 4 }, () => container(clock, { ...patient, catalogue: metered }));
    const userId = await teamUser(clock);

    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => fleet[i % 4]!.store.consume({ userId, amount: 3, idempotencyKey: 'export-once', feature: 'report-exports' })),
    );

    expect(results.every((r) => r.outcome === 'consumed' && r.consumed === 3 && r.remaining === LIMIT - 3)).toBe(true);
    expect(results.filter((r) => r.outcome === 'consumed' && !r.replayed)).toHaveLength(1);
    expect(await usesOf(userId)).toMatchObject({ used: 3 });
    expect(await ledgerOf(doc, tables.ledger, userId)).toHaveLength(1);
  });
});

describe('the monthly reset on a fake clock', () => {
  async function tester(clock: { now: Date }, fields: Partial<EntitlementRecord> = {}) {
    const userId = newUser();
    await putEntitlement(doc, tables.entitlements, userId, clock.now, { ...adminTierFields('tester', NO_SUBSCRIPTION), tokensPurchased: 5, ...fields });
    return userId;
  }

  it.each([
    ['31 -> 1', '2026-01-31T23:59:59.999Z', '2026-02-01T00:00:00.000Z'],
    ['a year end', '2026-12-31T23:59:59.999Z', '2027-01-01T00:00:00.000Z'],
    ['a leap February, 29 -> 1', '2028-02-29T23:59:59.999Z', '2028-03-01T00:00:00.000Z'],
    ['a common February, 28 -> 1', '2027-02-28T23:59:59.999Z', '2027-03-01T00:00:00.000Z'],
  ])('resets at 00:00 UTC on the 1st (%s), in the same write as the first consume, purchased tokens kept', async (_name, lastMoment, firstMoment) => {
    const clock = clockAt(lastMoment);
    const { store } = container(clock);
    const userId = await tester(clock);

    // The last millisecond still spends the old month's allowance, purchased tokens after it.
    expect(await store.consume({ userId, amount: 1000, idempotencyKey: 'old-1' })).toMatchObject({ outcome: 'consumed', remaining: 5 });
    expect(await store.consume({ userId, amount: 6, idempotencyKey: 'old-2' })).toEqual({ outcome: 'insufficient', remaining: 5 });
    clock.set(firstMoment);
    expect(await store.consume({ userId, amount: 6, idempotencyKey: 'new-1' })).toMatchObject({ outcome: 'consumed', remaining: 999 });

    const newPeriod = month(firstMoment);
    expect(await row(userId)).toMatchObject({ tokenPeriod: newPeriod, tokensUsedThisPeriod: 6, tokensAllowanceUsed: 6, tokensPurchased: 5 });
    const ledger = await ledgerOf(doc, tables.ledger, userId);
    expect(ledger.map((e) => [e.kind, e.period, e.amount, e.balanceAfter])).toEqual([
      ['consume', month(lastMoment), 1000, 5],
      ['reset', newPeriod, 1000, 1005],
      ['consume', newPeriod, 6, 999],
    ]);
    expect(ledger[1]!.at).toBe(firstMoment);
  });

  it('does not reset inside a leap February (28 -> 29)', async () => {
    const clock = clockAt('2028-02-28T23:59:59.999Z');
    const { store } = container(clock);
    const userId = await tester(clock);
    await store.consume({ userId, amount: 10, idempotencyKey: 'a' });
    clock.set('2028-02-29T00:00:00.000Z');
    expect(await store.consume({ userId, amount: 10, idempotencyKey: 'b' })).toMatchObject({ remaining: 985 });
    expect((await ledgerOf(doc, tables.ledger, userId)).filter((e) => e.kind === 'reset')).toEqual([]);
  });

  it('resets once for months without activity', async () => {
    const clock = clockAt('2026-09-15T00:00:00.000Z');
    const { store } = container(clock);
    const userId = await tester(clock);
    await store.consume({ userId, amount: 400, idempotencyKey: 'sept' });
    clock.set('2026-12-02T08:00:00.000Z');
    expect(await store.consume({ userId, amount: 1, idempotencyKey: 'dec' })).toMatchObject({ remaining: 1004 });
    expect((await ledgerOf(doc, tables.ledger, userId)).filter((e) => e.kind === 'reset').map((e) => [e.period, e.reason])).toEqual([
      [month('2026-12'), `allowance reset (calendar period; was ${month('2026-09')})`],
    ]);
  });

  it('gives one allowance, and loses no debit, when consumes from several containers race the boundary', async () => {
    const clock = clockAt('2026-03-31T23:59:59.900Z');
    const fleet = Array.from({ length: 4 }, () => container(clock));
    const userId = await tester(clock);
    // Every container has seen the row in March.
    for (const [i, c] of fleet.entries()) await c.store.consume({ userId, amount: 100, idempotencyKey: `march-${i}` });
    clock.set('2026-04-01T00:00:00.000Z');
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => fleet[i % 4]!.store.consume({ userId, amount: 3, idempotencyKey: `april-${i}` })));
    expect(results.every((r) => r.outcome === 'consumed')).toBe(true);
    expect(await row(userId)).toMatchObject({ tokenPeriod: month('2026-04'), tokensUsedThisPeriod: 60, tokensAllowanceUsed: 60, tokensPurchased: 5 });
    const ledger = await ledgerOf(doc, tables.ledger, userId);
    expect(ledger.filter((e) => e.kind === 'reset')).toHaveLength(1);
    expect(ledger.filter((e) => e.kind === 'consume' && e.period === month('2026-04'))).toHaveLength(20);
  });

  it('never moves a period backwards when a container clock is a little behind', async () => {
    const ahead = clockAt('2026-04-01T00:00:00.010Z');
    const behind = clockAt('2026-03-31T23:59:59.990Z');
    const userId = await tester(ahead, { tokenPeriod: '2026-03', tokensUsedThisPeriod: 1000, tokensAllowanceUsed: 1000 });
    await container(ahead).store.consume({ userId, amount: 1, idempotencyKey: 'april' });
    expect(await container(behind).store.consume({ userId, amount: 1, idempotencyKey: 'late' })).toMatchObject({ outcome: 'consumed', remaining: 1003 });
    expect(await row(userId)).toMatchObject({ tokenPeriod: month('2026-04'), tokensUsedThisPeriod: 2 });
  });
});

describe('adding tokens', () => {
  it('credits a Stripe top-up exactly once, with its reason in the ledger', async () => {
    const clock = clockAt('2026-05-10T12:00:00.000Z');
    const [a, b] = [container(clock), container(clock)];
    const userId = newUser();
    await putEntitlement(doc, tables.entitlements, userId, clock.now, { ...adminTierFields('basic', NO_SUBSCRIPTION) });
    const topUp = { userId, tokens: 500, idempotencyKey: 'topup:cs_test_123', reason: 'Stripe checkout cs_test_123', kind: 'top-up' as const };

    expect(await a.store.addPurchasedTokens(topUp)).toEqual({ outcome: 'added', applied: true, remaining: 1500 });
    expect(await b.store.addPurchasedTokens(topUp)).toEqual({ outcome: 'added', applied: false, remaining: 1500 });
    expect(await a.store.addPurchasedTokens({ ...topUp, tokens: 600 })).toEqual({ outcome: 'conflict' });

    expect(await row(userId)).toMatchObject({ tokensPurchased: 500 });
    expect((await ledgerOf(doc, tables.ledger, userId)).map((e) => [e.kind, e.amount, e.balanceAfter, e.reason, e.idempotencyKey])).toEqual([
      ['top-up', 500, 1500, 'Stripe checkout cs_test_123', 'topup:cs_test_123'],
    ]);
  });
});

describe('tier overrides', () => {
  async function signedUpUser(clock: { now: Date }) {
    const userId = newUser();
    await new DynamoUserStore(doc, usersTable, localStack().handlerEnv.TABLE_EMAIL_OWNERS!).createIfAbsent({ userId, email: `${userId}@example.com`, createdAt: clock.now.toISOString() });
    await putEntitlement(doc, tables.entitlements, userId, clock.now, { ...adminTierFields('free', NO_SUBSCRIPTION) });
    return userId;
  }
  const proState = { ...NO_SUBSCRIPTION, status: 'active' as const, plan: 'price_pro', tier: 'pro' as const, subscriptionId: 'sub_1' };

  it('keeps a sticky tier through Stripe updates; a plain override lasts until the Stripe state changes', async () => {
    const clock = clockAt('2026-05-10T12:00:00.000Z');
    const { store } = container(clock);
    const entitlements = new DynamoEntitlementStore(doc, { entitlements: tables.entitlements, users: usersTable });
    const accessOf = async (userId: string) => decideAccess(await row(userId), catalogue, DEFAULT_ACCESS_POLICY, clock.now);
    const stripeWrite = (userId: string, state: SubscriptionState) => entitlements.applySubscriptionState(userId, state, Date.now(), { kind: 'stripe' });

    const sticky = await signedUpUser(clock);
    expect(await store.setTier({ userId: sticky, tier: 'tester', sticky: true })).toMatchObject({ tierStickyValue: 'tester' });
    expect(await stripeWrite(sticky, proState)).toBe('written');
    expect(await row(sticky)).toMatchObject({ tier: 'pro', status: 'active', tierStickyValue: 'tester' });
    expect(await accessOf(sticky)).toMatchObject({ tier: 'tester', reason: 'admin-tier' });

    const plain = await signedUpUser(clock);
    await stripeWrite(plain, proState);
    await store.setTier({ userId: plain, tier: 'admin', sticky: true });
    const override = await store.setTier({ userId: plain, tier: 'basic', sticky: false });
    expect(override).toMatchObject({ adminTier: 'basic', adminTierSetOn: 'active|price_pro|sub_1' });
    expect(override?.tierStickyValue).toBeUndefined();
    // The same Stripe state written again (a top-up checkout, an invoice event): the admin tier stays.
    await stripeWrite(plain, proState);
    expect(await accessOf(plain)).toMatchObject({ tier: 'basic', reason: 'admin-tier' });
    // A real change (another plan): Stripe decides again.
    await stripeWrite(plain, { ...proState, plan: 'price_enterprise', tier: 'enterprise' });
    expect(await accessOf(plain)).toMatchObject({ tier: 'enterprise', reason: 'subscription-active' });

    expect(await store.setTier({ userId: newUser(), tier: 'pro', sticky: false })).toBeUndefined();
  });

  it('applies a tier changed by another writer to the next consume (the write is conditioned on the tier)', async () => {
    const clock = clockAt('2026-05-10T12:00:00.000Z');
    const [consumer, admin] = [container(clock), container(clock)];
    const userId = await signedUpUser(clock);
    await admin.store.addPurchasedTokens({ userId, tokens: 10, idempotencyKey: 'seed', reason: 'test' });
    expect(await consumer.store.consume({ userId, amount: 1, idempotencyKey: 'free-1' })).toMatchObject({ remaining: 9 });
    await admin.store.setTier({ userId, tier: 'tester', sticky: false });
    expect(await consumer.store.consume({ userId, amount: 1, idempotencyKey: 'tester-1' })).toMatchObject({ remaining: 1008 });
  });
});

/** A subscriber's period is over: write the next one (the fields a Stripe sync writes), conditioned on the one that ended. */
async function renewIfEnded(userId: string, now: Date): Promise<void> {
  const current = await row(userId);
  if (current.status !== 'active' || !current.currentPeriodEnd || now.getTime() < Date.parse(current.currentPeriodEnd)) return;
  const next = new Date(Date.parse(current.currentPeriodEnd) + BILLING_PERIOD_MS).toISOString();
  await doc
    .send(
      new UpdateCommand({
        TableName: tables.entitlements,
        Key: { userId },
        UpdateExpression: 'SET currentPeriodStart = :start, currentPeriodEnd = :end',
        ConditionExpression: 'currentPeriodEnd = :start',
        ExpressionAttributeValues: { ':start': current.currentPeriodEnd, ':end': next },
      }),
    )
    .catch((err: unknown) => {
      // Two renewals of one user in the same batch: the other one already wrote the next period.
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    });
}

describe('random interleavings against DynamoDB Local (fast-check, fewer runs)', () => {
  it('never go negative, never charge a key twice, and the ledger explains every balance', async () => {
    await fc.assert(
      fc.asyncProperty(tokenHistory({ maxUsers: 3, maxOps: 30, tierChanges: false }), fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 30, maxLength: 30 }), async (history, batchSizes) => {
        const clock = { now: history.start };
        const fleet = Array.from({ length: 3 }, () => container(clock, { catalogue: SMALL_CATALOGUE }));
        const ids = history.users.map(() => newUser());
        await Promise.all(history.users.map((u, i) => putEntitlement(doc, tables.entitlements, ids[i]!, clock.now, initialRow(u, history.start))));
        const answers = new Map<string, ConsumeTokensResult[]>();
        const added = history.users.map((u) => u.purchased);

        // Ops between two clock moves run concurrently, in random batches, on random containers.
        let pending = [...history.ops];
        let batch = 0;
        while (pending.length > 0) {
          const op = pending[0]!;
          if (op.kind === 'wait' || op.kind === 'boundary') {
            clock.now = op.kind === 'wait' ? new Date(clock.now.getTime() + op.ms) : nextBoundary(clock.now, op.offsetMs);
            pending = pending.slice(1);
            continue;
          }
          const size = batchSizes[batch++ % batchSizes.length]!;
          const group = [];
          while (group.length < size && pending[0] && pending[0].kind !== 'wait' && pending[0].kind !== 'boundary') group.push(pending.shift()!);
          await Promise.all(
            group.map(async (o, i) => {
              const { store } = fleet[(batch + i) % fleet.length]!;
              if (o.kind === 'consume') {
                const result = await store.consume({ userId: ids[o.user]!, amount: o.amount, idempotencyKey: o.key });
                const id = `${o.user}:${o.key}`;
                answers.set(id, [...(answers.get(id) ?? []), result]);
                if (result.outcome === 'consumed') expect(result.remaining === null || result.remaining >= 0).toBe(true);
              } else if (o.kind === 'add') {
                const result = await store.addPurchasedTokens({ userId: ids[o.user]!, tokens: o.amount, idempotencyKey: o.key, reason: 'property' });
                if (result.outcome === 'added' && result.applied) added[o.user]! += o.amount;
              } else if (o.kind === 'renew') {
                // Stripe's renewal lands while consumes race: the next paid period, written as the sync writes it.
                await renewIfEnded(ids[o.user]!, clock.now);
              }
            }),
          );
        }

        for (const [i, userId] of ids.entries()) {
          const stored = await row(userId);
          const ledger = await ledgerOf(doc, tables.ledger, userId);
          const consumes = ledger.filter((e) => e.kind === 'consume');
          expect(stored.tokensPurchased).toBeGreaterThanOrEqual(0);
          // One charge per key, and every charged key answered the same to every caller.
          expect(new Set(consumes.map((e) => e.idempotencyKey)).size).toBe(consumes.length);
          for (const e of consumes) {
            const seen = (answers.get(`${i}:${e.idempotencyKey}`) ?? []).filter((r) => r.outcome === 'consumed');
            expect(seen.length).toBeGreaterThan(0);
            expect(new Set(seen.map((r) => JSON.stringify({ ...r, replayed: undefined }))).size).toBe(1);
            expect(seen.filter((r) => r.outcome === 'consumed' && !r.replayed)).toHaveLength(1);
          }
          // Balance = credited - spent, as the ledger tells it.
          expect(stored.tokensPurchased).toBe(added[i]! - consumes.reduce((s, e) => s + (e.fromPurchased ?? 0), 0));
          const period = stored.tokenPeriod;
          const inPeriod = consumes.filter((e) => e.period === period);
          expect(stored.tokensUsedThisPeriod ?? 0).toBe(period ? inPeriod.reduce((s, e) => s + (e.amount ?? 0), 0) : 0);
          expect(stored.tokensAllowanceUsed ?? 0).toBe(period ? inPeriod.reduce((s, e) => s + (e.fromAllowance ?? 0), 0) : 0);
          const allowance = decideAccess(stored, SMALL_CATALOGUE, DEFAULT_ACCESS_POLICY, clock.now).monthlyTokens;
          if (allowance !== null) expect(stored.tokensAllowanceUsed ?? 0).toBeLessThanOrEqual(allowance);
        }
      }),
      { numRuns: 15 },
    );
  }, 60_000);
});
