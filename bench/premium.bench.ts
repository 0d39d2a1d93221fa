import { randomUUID } from 'node:crypto';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { createPremiumCheckHandler } from '../lambdas/premium-check/handler';
import { createDynamoClients } from '../shared/adapters/clients';
import { DynamoEntitlementStore } from '../shared/adapters/dynamodb/entitlements-store';
import { DynamoKofiSupporters } from '../shared/adapters/dynamodb/kofi-supporters';
import { DynamoUserStore } from '../shared/adapters/dynamodb/users-store';
import { createReadThroughCache, generationKey } from '../shared/adapters/redis/cache';
import { createRedisClient } from '../shared/adapters/redis/client';
import { awsSection, cacheSection, loadConfig, redisSection, tablesSection } from '../shared/config';
import { newEntitlement } from '../shared/domain/entitlement';
import { loadCatalogue } from '../shared/config/catalogue';
import { accessDecider } from '../shared/wiring/access';
import { InternalApiKeys } from '../shared/http/auth';
import { cacheKeys } from '../shared/ports/cache';
import { blockRatios, interleaved, ratioVerdict, row, summariseRatios, type BenchContext, type BenchRow } from './harness';

const HIT_GOAL = 1.3;
/** Each series is cut into this many consecutive blocks; each block's ratio of medians is one pair. */
const BLOCKS = 40;

/**
 * The premium check, in-process against the real Redis: the handler built by
 * the same factory as `handler`, with a Redis client the benchmark holds too,
 * so the raw GET baseline goes through the very same client and connection.
 */
export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const config = loadConfig({ aws: awsSection, tables: tablesSection, redis: redisSection, cache: cacheSection});
  const dynamo = createDynamoClients(config.aws);
  const redis = createRedisClient(config.redis);
  if (!redis) throw new Error('the premium benchmark needs Redis');
  await redis.ping();
  const cache = createReadThroughCache(redis, config.cache);
  const users = new DynamoUserStore(dynamo.doc, config.tables.TABLE_USERS, config.tables.TABLE_EMAIL_OWNERS);
  const entitlements = new DynamoEntitlementStore(dynamo.doc, { entitlements: config.tables.TABLE_ENTITLEMENTS, users: config.tables.TABLE_USERS });
  const kofi = new DynamoKofiSupporters(dynamo.doc, config.tables.TABLE_KOFI);
  const keys = InternalApiKeys.parse(ctx.internalApiKey);
  const handler = createPremiumCheckHandler({
    apiKeys: async () => keys,
    premium: { users, entitlements, kofi, cache, decide: accessDecider(loadCatalogue('local')).decide, now: () => new Date() },
  });

  // A premium user (admin override), with a unique email so runs never share keys.
  const userId = randomUUID();
  const email = `bench-${userId}@example.com`;
  await users.createIfAbsent({ userId, email, createdAt: new Date().toISOString() });
  await entitlements.createIfAbsent(newEntitlement(userId, new Date()));
  await entitlements.setPremiumOverride(userId, true);
  const key = cacheKeys.premium(email);
  const event = {
    resource: '/v1/premium/check',
    path: '/v1/premium/check',
    httpMethod: 'POST',
    headers: { 'x-api-key': ctx.internalApiKey, 'content-type': 'application/json' },
    multiValueHeaders: {},
    body: JSON.stringify({ email }),
    isBase64Encoded: false,
    pathParameters: null,
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    requestContext: { requestId: 'bench' },
  } as unknown as APIGatewayProxyEvent;
  const context = {} as Context;
  const unexpectedSource = { cache: 0, db: 0 };
  // The raw baselines share the handlers' client and its 50 ms command timeout; a stall is counted, not fatal.
  let redisTimeouts = 0;
  const tolerant = (command: Promise<unknown>) => command.catch(() => (redisTimeouts += 1));
  const check = () => handler(event, context);
  /** Untimed, after each check: the answer must be right; its source is counted. */
  const verifyAnswer = (expected: 'cache' | 'db') => (operation: number, result: unknown) => {
    if (operation !== 0) return;
    const res = result as { statusCode: number; body: string };
    if (res.statusCode !== 200 || !res.body.includes('"premium":true')) throw new Error(`unexpected answer: ${res.statusCode} ${res.body}`);
    // A 50 ms command timeout can fire when the event loop stalls (GC, JIT): counted, not fatal.
    if (!res.body.includes(`"source":"${expected}"`)) unexpectedSource[expected] += 1;
  };

  try {
    const n = ctx.iterations;
    const warmup = Math.min(2000, Math.ceil(n / 10));

    ctx.log(`cache hit: ${n} premium checks, ${n} cache.read calls and ${2 * n} raw GETs...`);
    for (let i = 0; i < 100; i += 1) await check(); // cold paths compiled, the answer cached
    const hitSamples = await interleaved(n, warmup, [check, () => tolerant(redis.get(key))], { verify: verifyAnswer('cache') });
    const layerSamples = await interleaved(n, warmup, [() => tolerant(redis.get(key)), () => cache.read(key, async () => true)]);

    const missN = Number(process.env.BENCH_MISS_ITERATIONS ?? Math.min(2000, n));
    ctx.log(`cache miss: ${missN} premium checks beside raw DynamoDB + Redis SET...`);
    const value = JSON.stringify({ v: true });
    const getItemSet = async () => {
      await dynamo.doc.send(new GetCommand({ TableName: config.tables.TABLE_ENTITLEMENTS, Key: { userId }, ConsistentRead: true }));
      await tolerant(redis.set(`${key}:bench-baseline`, value, 'PX', 300_000));
    };
    /** The miss's DynamoDB work: the address's ownership item, the profile it names, then the entitlement row. */
    const ownerProfileGetItemSet = async () => {
      await dynamo.doc.send(new GetCommand({ TableName: config.tables.TABLE_EMAIL_OWNERS, Key: { email }, ConsistentRead: true }));
      await dynamo.doc.send(new GetCommand({ TableName: config.tables.TABLE_USERS, Key: { userId }, ConsistentRead: true }));
      await getItemSet();
    };
    // Untimed before each operation: drop the cached answer so every check misses.
    const missSamples = await interleaved(missN, Math.min(200, missN), [check, getItemSet, ownerProfileGetItemSet], {
      beforeEach: () => tolerant(redis.del(key)),
      verify: verifyAnswer('db'),
    });

    if (unexpectedSource.cache + unexpectedSource.db > 0) {
      ctx.log(`answers not from the expected source: ${unexpectedSource.cache} of the hits, ${unexpectedSource.db} of the misses`);
    }
    if (redisTimeouts > 0) ctx.log(`raw Redis commands that hit the ${config.redis.REDIS_COMMAND_TIMEOUT_MS} ms command timeout: ${redisTimeouts}`);
    const all = [...hitSamples, ...layerSamples, ...missSamples];
    const [hit, rawGet, rawGet2, layer, miss, rawMiss, rawMissWithQuery] = all.map((_, i) => all[i] ?? []) as [number[], number[], number[], number[], number[], number[], number[]];
    // Paired: the blocks of each series were measured side by side (interleaved), so drift hits both halves of a pair.
    const hitRatios = summariseRatios(blockRatios(hit, rawGet, BLOCKS));
    const layerRatios = summariseRatios(blockRatios(layer, rawGet2, BLOCKS));
    const missRatios = summariseRatios(blockRatios(miss, rawMiss, BLOCKS));
    const spreadOf = ({ median, ...spread }: typeof hitRatios) => ({ ratio: median, spread });
    return [
      row('Redis GET, raw (same client)', rawGet, 'µs'),
      row('premium check, cache hit (handler in-process)', hit, 'µs', ratioVerdict(hitRatios, { atMost: HIT_GOAL })),
      row('cache.read hit (cache layer alone)', layer, 'µs', spreadOf(layerRatios)),
      row('DynamoDB GetItem (consistent) + Redis SET, raw', rawMiss, 'µs'),
      row('DynamoDB GetItem owner + profile + entitlement + SET, raw', rawMissWithQuery, 'µs'),
      row('premium check, cache miss (handler in-process)', miss, 'µs', spreadOf(missRatios)),
    ];
  } finally {
    await redis.del(key, generationKey(key), `${key}:bench-baseline`);
    dynamo.raw.destroy();
  }
}
