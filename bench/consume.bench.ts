import { randomBytes, randomUUID } from 'node:crypto';
import { DynamoDBDocumentClient, PutCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { createTables, LOCAL_AWS, localDynamoClient, startDynamoDbLocal } from '../infra/local/dynamodb';
import { freePort } from '../infra/local/processes';
import { DynamoTokenStore, type TokenTables } from '../shared/adapters/dynamodb/token-store';
import { adminTierFields } from '../shared/domain/access';
import { NO_SUBSCRIPTION, newEntitlement, type EntitlementRecord } from '../shared/domain/entitlement';
import { recordedChange } from '../shared/domain/entitlement-events';
import { loadCatalogue } from '../shared/config/catalogue';
import { STORE_CONSUME_DESIGN, USERS_ROW_CHECK_DESIGN } from './cost-model';
import { countCapacity, countRequests, ratioVerdict, row, summariseRatios, type BenchContext, type BenchRow } from './harness';

const CONCURRENCY = 16;
/** Short alternating rounds: each consume round is compared with the raw round beside it. */
const ROUND_PAIRS = Number(process.env.BENCH_CONSUME_PAIRS ?? 40);
const THROUGHPUT_GOAL = 0.85;

/**
 * Token consumption against DynamoDB Local:
 * - write units per consume, measured (measureWriteUnits), for the store and
 *   for the earlier design with the users-row check, side by side;
 * - DynamoDB requests per consume, counted by an SDK middleware on the client
 *   (goal: 1 in the steady state, at most 2 at the month's first consume);
 * - consume throughput at concurrency 16 (one user per worker) beside a raw
 *   TransactWriteItems of the same shape (conditional Update of the row,
 *   Put of a ledger entry, conditional Put of an idempotency record, with the
 *   same attributes) through the
 *   same client, in alternating rounds so drift hits both alike
 *   (goal: at least 0.85 of the raw rate).
 */
export async function run(ctx: Pick<BenchContext, 'dynamodbEndpoint' | 'tables' | 'iterations' | 'log'>): Promise<BenchRow[]> {
  const raw = localDynamoClient(ctx.dynamodbEndpoint);
  const counter = countRequests(raw);
  const doc = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  // The users table only for the earlier design's check (measureWriteUnits); the store writes the other three.
  const tables: TokenTables & { users: string } = { entitlements: ctx.tables.entitlements, ledger: ctx.tables.ledger, idempotency: ctx.tables.idempotency, users: ctx.tables.users };
  const catalogue = loadCatalogue('local');
  const clock = { now: new Date('2026-01-15T12:00:00.000Z') };
  const store = () => new DynamoTokenStore(doc, { tables, catalogue, now: () => clock.now });
  const seed = async (userId: string, fields: Record<string, unknown>) => {
    await doc.send(new PutCommand({ TableName: tables.entitlements, Item: { ...newEntitlement(userId, clock.now), ...fields } }));
  };
  let key = 0;
  const nextKey = () => `bench-${(key++).toString(36)}`;

  try {
    // Requests per consume.
    const requestsOf = async (consume: () => Promise<unknown>) => {
      counter.requests = 0;
      await consume();
      return counter.requests;
    };
    const cold: number[] = [];
    const steady: number[] = [];
    const firstOfMonth: number[] = [];
    for (let u = 0; u < 3; u++) {
      const userId = randomUUID();
      await seed(userId, { ...adminTierFields('tester', NO_SUBSCRIPTION), tokensPurchased: 1_000_000 });
      const s = store();
      clock.now = new Date('2026-01-15T12:00:00.000Z');
      cold.push(await requestsOf(() => s.consume({ userId, amount: 1, idempotencyKey: nextKey() })));
      for (let month = 0; month < 12; month++) {
        for (let i = 0; i < 20; i++) steady.push(await requestsOf(() => s.consume({ userId, amount: 3, idempotencyKey: nextKey() })));
        clock.now = new Date(Date.UTC(2026, month + 1, 1));
        firstOfMonth.push(await requestsOf(() => s.consume({ userId, amount: 3, idempotencyKey: nextKey() })));
      }
    }
    ctx.log(`consume: ${steady.length} steady-state and ${firstOfMonth.length} first-of-month consumes counted`);
    const units = await measureWriteUnits(ctx.dynamodbEndpoint, tables, ctx.log);

    // Throughput at concurrency 16: consume vs the raw transaction.
    clock.now = new Date('2026-01-15T12:00:00.000Z');
    const perRound = Math.max(CONCURRENCY * 4, Math.floor(Math.min(ctx.iterations, 12_800) / (2 * ROUND_PAIRS)));
    const consumers = await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        const userId = randomUUID();
        await seed(userId, { tier: 'free', tokensPurchased: 1_000_000_000 });
        return { userId, store: store() };
      }),
    );
    const rawUsers = await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        const userId = randomUUID();
        await seed(userId, { tier: 'free', tokensPurchased: 1_000_000_000, tokenPeriod: '2026-01', tokensUsedThisPeriod: 0, tokensAllowanceUsed: 0 });
        return userId;
      }),
    );
    const consumeOnce = (worker: number) => {
      const c = consumers[worker]!;
      return c.store.consume({ userId: c.userId, amount: 1, idempotencyKey: nextKey() });
    };
    // The same items with the same attributes, written blind: a relative
    // update guarded by the balance, no planning, no hint, no idempotency logic.
    const rawOnce = (worker: number) => {
      const userId = rawUsers[worker]!;
      const now = new Date();
      const at = now.toISOString();
      const idempotencyKey = nextKey();
      const expiresAt = Math.floor(now.getTime() / 1000) + 86400;
      return doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: tables.entitlements,
                Key: { userId },
                UpdateExpression:
                  'SET tokensPurchased = tokensPurchased - :amount, tokensUsedThisPeriod = tokensUsedThisPeriod + :amount, tokensAllowanceUsed = :zero, tokenPeriod = :period, updatedAt = :now',
                ConditionExpression:
                  'attribute_exists(userId) AND attribute_not_exists(deletingAt) AND #tier = :tier AND tokenPeriod = :period AND tokensAllowanceUsed = :zero AND tokensPurchased >= :amount',
                ExpressionAttributeNames: { '#tier': 'tier' },
                ExpressionAttributeValues: { ':amount': 1, ':zero': 0, ':now': at, ':period': '2026-01', ':tier': 'free' },
                ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
              },
            },
            {
              Put: {
                TableName: tables.ledger,
                Item: {
                  userId,
                  entryId: `${at}#0#consume#${randomBytes(6).toString('hex')}`,
                  kind: 'consume',
                  amount: 1,
                  balanceAfter: 0,
                  period: '2026-01',
                  idempotencyKey,
                  fromAllowance: 0,
                  fromPurchased: 1,
                  at,
                  expiresAt,
                },
                ConditionExpression: 'attribute_not_exists(entryId)',
              },
            },
            {
              Put: {
                TableName: tables.idempotency,
                Item: {
                  key: `consume:${userId}:${idempotencyKey}`,
                  operation: 'tokens-consume',
                  userId,
                  fingerprint: 'f'.repeat(64),
                  response: { consumed: 1, remaining: 0 },
                  createdAt: at,
                  expiresAt,
                },
                ConditionExpression: 'attribute_not_exists(#key)',
                ExpressionAttributeNames: { '#key': 'key' },
                ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
              },
            },
          ],
        }),
      );
    };
    /** `total` operations by CONCURRENCY workers; ops/s and per-op latencies (ms). */
    const drive = async (op: (worker: number) => Promise<unknown>, total: number) => {
      let issued = 0;
      const latencies: number[] = [];
      const started = process.hrtime.bigint();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async (_, worker) => {
          while (issued < total) {
            issued += 1;
            const t0 = process.hrtime.bigint();
            await op(worker);
            latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
          }
        }),
      );
      return { rate: total / (Number(process.hrtime.bigint() - started) / 1e9), latencies };
    };

    // Warm up both paths (hints, connections, and above all the JIT) before measuring.
    for (let i = 0; i < 3; i++) {
      await drive(consumeOnce, CONCURRENCY * 16);
      await drive(rawOnce, CONCURRENCY * 16);
    }
    const rates = { consume: [] as number[], raw: [] as number[] };
    const latencies = { consume: [] as number[], raw: [] as number[] };
    const pairRatios: number[] = [];
    for (let pair = 0; pair < ROUND_PAIRS; pair++) {
      const order = pair % 2 === 0 ? (['raw', 'consume'] as const) : (['consume', 'raw'] as const);
      const rate: Record<string, number> = {};
      for (const which of order) {
        const result = await drive(which === 'raw' ? rawOnce : consumeOnce, perRound);
        rate[which] = result.rate;
        rates[which].push(result.rate);
        latencies[which].push(...result.latencies);
      }
      pairRatios.push(rate.consume! / rate.raw!);
    }
    // The median of side-by-side ratios: a slow spell of the machine hits both rounds of a pair.
    const ratios = summariseRatios(pairRatios);
    ctx.log(`consume: ${ROUND_PAIRS} pairs of rounds of ${perRound} operations at concurrency ${CONCURRENCY}; pair ratios ${pairRatios.map((r) => r.toFixed(2)).join(' ')}`);

    const maxOf = (xs: number[]) => Math.max(...xs);
    const unitRows = (Object.keys(CONSUME_DESIGNS) as Array<keyof typeof CONSUME_DESIGNS>).flatMap((design) => [
      row(`consume: write units per consume (${CONSUME_DESIGNS[design]}), steady state`, units[design].steady, 'WRU'),
      row(`consume: write units per consume (${CONSUME_DESIGNS[design]}), first of a period`, units[design].firstOfPeriod, 'WRU'),
    ]);
    return [
      ...unitRows,
      row('consume: DynamoDB requests, steady state', steady, 'requests', { goal: '1', pass: maxOf(steady) === 1 }),
      row('consume: DynamoDB requests, first consume of a month', firstOfMonth, 'requests', { goal: '<= 2', pass: maxOf(firstOfMonth) <= 2 }),
      row('consume: DynamoDB requests, first consume for a user in a process', cold, 'requests', { goal: '<= 2', pass: maxOf(cold) <= 2 }),
      row(`raw TransactWriteItems (same shape), concurrency ${CONCURRENCY}: latency`, latencies.raw, 'ms'),
      row(`consume, concurrency ${CONCURRENCY}: latency`, latencies.consume, 'ms'),
      row(`raw TransactWriteItems (same shape), concurrency ${CONCURRENCY}: throughput`, rates.raw, 'ops/s'),
      row(`consume, concurrency ${CONCURRENCY}: throughput`, rates.consume, 'ops/s', ratioVerdict(ratios, { atLeast: THROUGHPUT_GOAL })),
    ];
  } finally {
    raw.destroy();
  }
}

/**
 * An item's size as DynamoDB bills it, approximately: attribute names and
 * strings in UTF-8 bytes, a number 1 byte plus 1 per 2 significant digits,
 * booleans and nulls 1, maps and lists 3 plus 1 per element (and the names).
 */
export function approximateItemBytes(value: unknown, nested = false): number {
  if (value === null || typeof value === 'boolean') return 1;
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (typeof value === 'number') return 1 + Math.ceil(String(Math.abs(value)).replace(/[.-]/g, '').replace(/^0+/, '').length / 2);
  if (Array.isArray(value)) return 3 + value.reduce((sum: number, v) => sum + 1 + approximateItemBytes(v, true), 0);
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return (nested ? 3 + entries.length : 0) + entries.reduce((sum, [k, v]) => sum + Buffer.byteLength(k) + approximateItemBytes(v, true), 0);
  }
  return 0;
}

/** The two consume designs whose write units the bench measures side by side (names used in the rows and the cost model). */
export const CONSUME_DESIGNS = {
  /** Before issue 14: the store's transaction plus a ConditionCheck of the users row (`deletingAt`). */
  usersRowCheck: USERS_ROW_CHECK_DESIGN,
  /** Now: the deletion mark is on the entitlement row, checked by the Update's own condition. */
  entitlementRowMark: STORE_CONSUME_DESIGN,
} as const;

/** Write units per consume, by design: the steady state and the first consume of a billing period. */
export type MeasuredWriteUnits = Record<keyof typeof CONSUME_DESIGNS, { steady: number[]; firstOfPeriod: number[] }>;

/**
 * Write units per consume, measured: DynamoDB Local reports the capacity
 * each request consumed (`countCapacity`). On rows the size of a real
 * subscriber's (Stripe fields, lastChange, metered uses, a bought token
 * balance), since an item over 1 KB costs 2 units per KB in a transaction.
 * The store is measured as it is; the earlier design is the same store with
 * the users-row ConditionCheck put back into each of its transactions by an
 * SDK middleware, so both write exactly the same items otherwise.
 */
export async function measureWriteUnits(endpoint: string, tables: TokenTables & { users: string }, log: (message: string) => void): Promise<MeasuredWriteUnits> {
  const catalogue = loadCatalogue('local');
  const start = Date.parse('2026-01-07T09:12:44.000Z');
  const DAY = 86_400_000;
  const clock = { now: new Date(start + DAY) };
  const subscriber = (userId: string, periodStart: number): EntitlementRecord & Record<string, unknown> => {
    const at = clock.now.toISOString();
    return {
      ...newEntitlement(userId, new Date(start - 200 * DAY)),
      status: 'active',
      plan: 'price_pro_monthly',
      tier: 'pro',
      subscriptionId: 'sub_1QbR7kLkdIwHu7ixZ4N8d2Ty',
      currentPeriodStart: new Date(periodStart).toISOString(),
      currentPeriodEnd: new Date(periodStart + 31 * DAY).toISOString(),
      trialEndsAt: null,
      cancelAtPeriodEnd: false,
      stripeSyncedAt: clock.now.getTime(),
      tokensPurchased: 2500,
      // What a catalogue with metered features leaves on the row (the default catalogue meters none).
      meteredUsage: { 'transcription-minutes': { period: new Date(periodStart).toISOString(), used: 118 }, 'exports': { period: new Date(periodStart).toISOString(), used: 7 } },
      lastChange: recordedChange({ kind: 'stripe', ref: 'evt_1QbR7mLkdIwHu7ixq2Vn0sXa' }, at),
      updatedAt: at,
    };
  };
  const profile = (userId: string) => ({
    userId,
    email: `${userId.slice(0, 12)}@customer-example.com`,
    createdAt: new Date(start - 200 * DAY).toISOString(),
    stripeCustomerId: 'cus_RbQ3mZkdIwHu7i',
    stripeCustomerGeneration: 1,
  });

  const measure = async (design: keyof typeof CONSUME_DESIGNS) => {
    const client = localDynamoClient(endpoint);
    const capacity = countCapacity(client);
    if (design === 'usersRowCheck') {
      client.middlewareStack.add(
        (next) => async (args) => {
          const input = args.input as { TransactItems?: Array<Record<string, unknown>> };
          const update = input.TransactItems?.[0]?.Update as { Key?: { userId?: string } } | undefined;
          const checked = input.TransactItems?.some((item) => 'ConditionCheck' in item);
          if (update?.Key?.userId && !checked) {
            input.TransactItems!.splice(1, 0, { ConditionCheck: { TableName: tables.users, Key: { userId: update.Key.userId }, ConditionExpression: 'attribute_not_exists(deletingAt)' } });
          }
          return next(args);
        },
        { step: 'initialize', name: 'usersRowCheck' },
      );
    }
    const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
    const userId = randomUUID();
    clock.now = new Date(start + DAY);
    const row = subscriber(userId, start);
    await doc.send(new PutCommand({ TableName: tables.users, Item: profile(userId) }));
    capacity.writeUnits = 0;
    await doc.send(new PutCommand({ TableName: tables.entitlements, Item: row }));
    const rowUnits = capacity.writeUnits;
    const store = () => new DynamoTokenStore(doc, { tables, catalogue, now: () => clock.now });
    const unitsOf = async (consume: () => Promise<unknown>) => {
      capacity.writeUnits = 0;
      const result = (await consume()) as { outcome: string };
      if (result.outcome !== 'consumed') throw new Error(`bench consume answered ${result.outcome}`);
      return capacity.writeUnits;
    };
    const steady: number[] = [];
    const firstOfPeriod: number[] = [];
    let s = store();
    let key = 0;
    await unitsOf(() => s.consume({ userId, amount: 1, idempotencyKey: `wru-${design}-${key++}` }));
    for (let period = 0; period < 3; period++) {
      for (let i = 0; i < 10; i++) steady.push(await unitsOf(() => s.consume({ userId, amount: 3, idempotencyKey: `wru-${design}-${key++}` })));
      // Stripe renews: the webhook writes the next paid period (as applySubscriptionState does); a
      // fresh process reads the row, then the period's first consume stores the reset and its entry.
      const next = start + (period + 1) * 31 * DAY;
      clock.now = new Date(next + 3_600_000);
      const renewed = subscriber(userId, next);
      await doc.send(
        new UpdateCommand({
          TableName: tables.entitlements,
          Key: { userId },
          UpdateExpression: 'SET currentPeriodStart = :start, currentPeriodEnd = :end, stripeSyncedAt = :synced, lastChange = :change, updatedAt = :at',
          ExpressionAttributeValues: { ':start': renewed.currentPeriodStart, ':end': renewed.currentPeriodEnd, ':synced': renewed.stripeSyncedAt, ':change': renewed.lastChange, ':at': renewed.updatedAt },
        }),
      );
      s = store();
      firstOfPeriod.push(await unitsOf(() => s.consume({ userId, amount: 3, idempotencyKey: `wru-${design}-${key++}` })));
    }
    log(`consume (${CONSUME_DESIGNS[design]}): the subscriber row (about ${approximateItemBytes(row)} bytes) PutItem consumed ${rowUnits} WRU (1 per KB started); steady ${steady.join(' ')}; first of a period ${firstOfPeriod.join(' ')}`);
    client.destroy();
    return { steady, firstOfPeriod };
  };
  return { usersRowCheck: await measure('usersRowCheck'), entitlementRowMark: await measure('entitlementRowMark') };
}

/** `npx tsx bench/consume.bench.ts`: the same benchmark on its own DynamoDB Local. */
async function standalone(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  process.env.AWS_REGION ??= LOCAL_AWS.region;
  const dynamo = await startDynamoDbLocal(await freePort());
  try {
    const admin = localDynamoClient(dynamo.endpoint);
    const { names } = await createTables(admin, `bench-consume-${randomBytes(3).toString('hex')}`);
    admin.destroy();
    const rows = await run({
      dynamodbEndpoint: dynamo.endpoint,
      tables: names,
      iterations: Number(process.env.BENCH_ITERATIONS ?? 3000),
      log: (message) => process.stderr.write(`[bench] ${message}\n`),
    });
    for (const r of rows) {
      const extra = r.goal ? `  ${r.ratio !== undefined ? `ratio ${r.ratio.toFixed(2)}  ` : ''}goal ${r.goal}: ${r.pass ? 'pass' : 'MISSED'}` : '';
      process.stdout.write(`${r.name.padEnd(70)} median ${r.median.toFixed(2).padStart(9)}  p99 ${r.p99.toFixed(2).padStart(9)} ${r.unit}${extra}\n`);
    }
  } finally {
    await dynamo.process.stop();
  }
}

if (require.main === module) {
  standalone().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  });
}
