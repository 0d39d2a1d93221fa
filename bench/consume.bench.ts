import { randomBytes, randomUUID } from 'node:crypto';
import { DynamoDBDocumentClient, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { createTables, LOCAL_AWS, localDynamoClient, startDynamoDbLocal } from '../infra/local/dynamodb';
import { freePort } from '../infra/local/processes';
import { DynamoTokenStore, type TokenTables } from '../shared/adapters/dynamodb/token-store';
import { adminTierFields } from '../shared/domain/access';
import { NO_SUBSCRIPTION, newEntitlement } from '../shared/domain/entitlement';
import { loadCatalogue } from '../shared/config/catalogue';
import { countRequests, ratioVerdict, row, summariseRatios, type BenchContext, type BenchRow } from './harness';

const CONCURRENCY = 16;
/** Short alternating rounds: each consume round is compared with the raw round beside it. */
const ROUND_PAIRS = Number(process.env.BENCH_CONSUME_PAIRS ?? 40);
const THROUGHPUT_GOAL = 0.85;

/**
 * Token consumption against DynamoDB Local:
 * - DynamoDB requests per consume, counted by an SDK middleware on the client
 *   (goal: 1 in the steady state, at most 2 at the month's first consume);
 * - consume throughput at concurrency 16 (one user per worker) beside a raw
 *   TransactWriteItems of the same shape (conditional Update of the row, the
 *   account check, Put of a ledger entry, conditional Put of an idempotency
 *   record, with the same attributes) through the
 *   same client, in alternating rounds so drift hits both alike
 *   (goal: at least 0.85 of the raw rate).
 */
export async function run(ctx: Pick<BenchContext, 'dynamodbEndpoint' | 'tables' | 'iterations' | 'log'>): Promise<BenchRow[]> {
  const raw = localDynamoClient(ctx.dynamodbEndpoint);
  const counter = countRequests(raw);
  const doc = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  const tables: TokenTables = { entitlements: ctx.tables.entitlements, ledger: ctx.tables.ledger, idempotency: ctx.tables.idempotency, users: ctx.tables.users };
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

    // Throughput at concurrency 16: consume vs the raw transaction.
    clock.now = new Date('2026-01-15T12:00:00.000Z');
    const perRound = Math.max(CONCURRENCY * 4, Math.floor(Math.min(ctx.iterations, 4000) / (2 * ROUND_PAIRS)));
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
                ConditionExpression: 'attribute_exists(userId) AND #tier = :tier AND tokenPeriod = :period AND tokensAllowanceUsed = :zero AND tokensPurchased >= :amount',
                ExpressionAttributeNames: { '#tier': 'tier' },
                ExpressionAttributeValues: { ':amount': 1, ':zero': 0, ':now': at, ':period': '2026-01', ':tier': 'free' },
                ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
              },
            },
            { ConditionCheck: { TableName: tables.users, Key: { userId }, ConditionExpression: 'attribute_not_exists(deletingAt)' } },
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
    return [
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
