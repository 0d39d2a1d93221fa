import { randomUUID } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { localDynamoClient } from '../../infra/local/dynamodb';
import { RedisReadThroughCache } from '../../shared/adapters/redis/cache';
import { closeRedisClients, createRedisClient } from '../../shared/adapters/redis/client';
import { DynamoEntitlementStore } from '../../shared/adapters/dynamodb/entitlements-store';
import { DynamoUserStore } from '../../shared/adapters/dynamodb/users-store';
import { DynamoKofiSupporters } from '../../shared/adapters/dynamodb/kofi-supporters';
import { accessDecider } from '../../shared/wiring/access';
import { NO_SUBSCRIPTION, newEntitlement, type EntitlementStatus } from '../../shared/domain/entitlement';
import { catalogueWith, defaultCatalogue } from '../fixtures/catalogue';
import type { BillingProvider } from '../../shared/ports/billing';
import { cacheKeys } from '../../shared/ports/cache';
import { premiumFromSource } from '../../shared/use-cases/premium-check';
import { setPremiumOverride } from '../../shared/use-cases/premium-override';
import { syncCustomer } from '../../shared/use-cases/stripe-sync';
import { signUpAndSignIn } from '../fixtures/cognito';
import { apiEvent, closeLoadedHandlers, loadHandler, noContext } from '../fixtures/handlers';
import { api, localStack } from '../fixtures/stack';
import { blackHolePort, closedPort, startTcpProxy, type TcpProxy } from '../fixtures/tcp-proxy';

/**
 * POST /v1/premium/check against the real local stack: through the gateway
 * for the contract, in-process (loadHandler) to take Redis or DynamoDB away.
 * Users are written straight through the stores, with unique emails.
 */
let docClient: DynamoDBDocumentClient | undefined;
const doc = () =>
  (docClient ??= DynamoDBDocumentClient.from(localDynamoClient(localStack().dynamodbEndpoint), { marshallOptions: { removeUndefinedValues: true } }));
const tables = () => localStack().handlerEnv;
const stores = () => {
  const d = doc();
  const env = tables();
  return {
    users: new DynamoUserStore(d, env.TABLE_USERS!, env.TABLE_EMAIL_OWNERS!),
    entitlements: new DynamoEntitlementStore(d, { entitlements: env.TABLE_ENTITLEMENTS!, users: env.TABLE_USERS! }),
    kofi: new DynamoKofiSupporters(d, env.TABLE_KOFI!),
  };
};
// The functions' own access decision (default policy: no past_due grace).
const { decide } = accessDecider(defaultCatalogue());
const access = { decide, now: () => new Date() };

/** The cache as another Lambda (the webhook, an admin) sees it: same Redis, own client. */
const writerCache = () =>
  new RedisReadThroughCache(
    createRedisClient({ REDIS_URL: tables().REDIS_URL!, REDIS_DISABLED: false, REDIS_CONNECT_TIMEOUT_MS: 1000, REDIS_COMMAND_TIMEOUT_MS: 200 }),
    { ttlSeconds: 300, breaker: { failureThreshold: 3, cooldownMs: 5000 } },
  );

async function seedUser(status: EntitlementStatus = 'active', emailPrefix = 'premium') {
  const { users, entitlements } = stores();
  const userId = randomUUID();
  const email = `${emailPrefix}-${randomUUID()}@example.com`;
  const customerId = `cus_${randomUUID().replace(/-/g, '').slice(0, 14)}`;
  await users.createIfAbsent({ userId, email, stripeCustomerId: customerId, createdAt: new Date().toISOString() });
  await entitlements.createIfAbsent(newEntitlement(userId, new Date()));
  if (status !== 'none') {
    await entitlements.applySubscriptionState(userId, { ...NO_SUBSCRIPTION, status, plan: 'price_pro', tier: 'pro', subscriptionId: 'sub_1' }, Date.now(), { kind: 'stripe' });
  }
  return { userId, email, customerId };
}

/** What the Stripe webhook does on a cancellation: the order-proof sync, then invalidation. */
async function webhookDowngrade(user: { userId: string; customerId: string }) {
  const billing = {
    listSubscriptions: async () => [
      { id: 'sub_1', status: 'canceled', priceId: 'price_pro', created: 1, currentPeriodStart: null, currentPeriodEnd: null, periodPaid: true, trialEnd: null, cancelAtPeriodEnd: false },
    ],
    getCustomer: async () => ({ deleted: false as const, userId: user.userId }),
  } as unknown as BillingProvider;
  const outcome = await syncCustomer({ ...stores(), billing, cache: writerCache(), catalogue: defaultCatalogue(), clock: () => Date.now() + 1000 }, user.customerId, { kind: 'stripe' });
  expect(outcome).toBe('written');
}

const check = (email: unknown, headers: Record<string, string> = { 'x-api-key': localStack().internalApiKey }) =>
  api('/v1/premium/check', { method: 'POST', headers, json: { email } });

afterAll(async () => {
  await closeLoadedHandlers();
  await closeRedisClients();
  docClient?.destroy();
});

describe('POST /v1/premium/check: the contract', () => {
  it('refuses a missing key, a wrong key and a Cognito token with 401', async () => {
    // Arrange
    const key = localStack().internalApiKey;
    const user = await signUpAndSignIn('premium-auth');
    const almost = `${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`;
    // Act
    const answers = await Promise.all([
      check(user.email, {}),
      check(user.email, { 'x-api-key': '' }),
      check(user.email, { 'x-api-key': 'wrong' }),
      check(user.email, { 'x-api-key': almost }),
      check(user.email, { 'x-api-key': key.slice(0, 8) }),
      check(user.email, { Authorization: `Bearer ${user.accessToken}` }),
      check(user.email, { 'x-api-key': user.accessToken }),
    ]);
    // Assert
    for (const res of answers) {
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    }
  });

  it.each([
    ['not an email', 'nope'],
    ['no domain', 'alice@'],
    ['no local part', '@example.com'],
    ['a space inside', 'ali ce@example.com'],
    ['two @', 'a@b@example.com'],
    ['empty', ''],
    ['only spaces', '   '],
    ['longer than 254 characters', `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.com`],
    ['a number', 42],
    ['null', null],
  ])('refuses %s with 400 naming the field', async (_label, email) => {
    const res = await check(email);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.message).toMatch(/^email: /);
  });

  it('refuses a missing field, an empty body and malformed JSON', async () => {
    const headers = { 'x-api-key': localStack().internalApiKey, 'content-type': 'application/json' };
    const missing = await api('/v1/premium/check', { method: 'POST', headers, body: '{}' });
    const empty = await api('/v1/premium/check', { method: 'POST', headers });
    const malformed = await api('/v1/premium/check', { method: 'POST', headers, body: '{"email":' });
    expect([missing.status, missing.body.error.code]).toEqual([400, 'validation_failed']);
    expect(missing.body.error.message).toMatch(/^email: /);
    expect([empty.status, empty.body.error.code]).toEqual([400, 'invalid_json']);
    expect([malformed.status, malformed.body.error.code]).toEqual([400, 'invalid_json']);
  });

  it('refuses an oversized body with 413, and other methods with 405', async () => {
    const big = await check(`${'a'.repeat(20_000)}@example.com`);
    const get = await api('/v1/premium/check', { headers: { 'x-api-key': localStack().internalApiKey } });
    expect([big.status, big.body.error.code]).toEqual([413, 'payload_too_large']);
    expect([get.status, get.body.error.code, get.headers.get('allow')]).toEqual([405, 'method_not_allowed', 'POST']);
  });

  it('trims and lower-cases the email before looking it up and echoes the normalised form', async () => {
    const user = await seedUser('active');
    const unique = randomUUID().replace(/-/g, '');
    const longest = `${unique}${'a'.repeat(64 - unique.length)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(57)}.com`;
    expect(longest).toHaveLength(254);

    const res = await check(`  ${user.email.toUpperCase()}\t`);
    const edge = await check(longest);

    expect(res.status).toBe(200);
    expect(res.body).toEqual({ email: user.email, premium: true, source: 'db' });
    expect(edge.body).toEqual({ email: longest, premium: false, source: 'db' });
  });
});

describe('POST /v1/premium/check: answers and the cache', () => {
  it('answers from DynamoDB on a miss, then from the cache', async () => {
    const user = await seedUser('active');
    const first = await check(user.email);
    const second = await check(user.email);
    expect(first.body).toEqual({ email: user.email, premium: true, source: 'db' });
    expect(second.body).toEqual({ email: user.email, premium: true, source: 'cache' });
  });

  it('answers false for an unknown email (not 404) and caches that too', async () => {
    const email = `nobody-${randomUUID()}@example.com`;
    const first = await check(email);
    const second = await check(email);
    expect([first.status, first.body]).toEqual([200, { email, premium: false, source: 'db' }]);
    expect(second.body).toEqual({ email, premium: false, source: 'cache' });
  });

  it('follows the policy: trialing is premium, past_due (no grace by default), canceled and none are not', async () => {
    const answers: Record<string, boolean> = {};
    for (const status of ['trialing', 'past_due', 'canceled', 'none'] as const) {
      answers[status] = (await check((await seedUser(status)).email)).body.premium;
    }
    expect(answers).toEqual({ trialing: true, past_due: false, canceled: false, none: false });
  });

  it('makes a webhook downgrade visible to the very next check, even with a warm cache', async () => {
    // Arrange: premium, and cached as such.
    const user = await seedUser('active');
    await check(user.email);
    expect((await check(user.email)).body).toMatchObject({ premium: true, source: 'cache' });
    // Act
    await webhookDowngrade(user);
    const next = await check(user.email);
    // Assert
    expect(next.body).toEqual({ email: user.email, premium: false, source: 'db' });
  });

  it('applies an admin override to the very next check, and clearing it follows the subscription again', async () => {
    const user = await seedUser('none');
    await check(user.email); // warm: false
    const deps = { ...stores(), cache: writerCache(), ...access };

    const on = await setPremiumOverride(deps, user.email, true);
    const whileOn = await check(user.email);
    const off = await setPremiumOverride(deps, user.email, undefined);
    const afterClear = await check(user.email);

    expect(on).toMatchObject({ outcome: 'written', premiumOverride: true, premium: true, cacheInvalidated: true });
    expect(whileOn.body).toEqual({ email: user.email, premium: true, source: 'db' });
    expect(off).toMatchObject({ outcome: 'written', premiumOverride: null, premium: false });
    expect(afterClear.body).toEqual({ email: user.email, premium: false, source: 'db' });
  });

  it('an override of false beats an active subscription', async () => {
    const user = await seedUser('active');
    await setPremiumOverride({ ...stores(), cache: writerCache(), ...access }, user.email, false);
    expect((await check(user.email)).body.premium).toBe(false);
  });

  it('a slow check that read the old truth cannot put it back in the cache after a downgrade', async () => {
    // Arrange: a check (another Lambda) whose DynamoDB read saw "premium" and then stalls.
    const user = await seedUser('active');
    const slowLambda = writerCache();
    let readDone!: () => void;
    const sawOldTruth = new Promise<void>((r) => (readDone = r));
    let release!: () => void;
    const stall = new Promise<void>((r) => (release = r));
    const slowCheck = slowLambda.read(cacheKeys.premium(user.email), async () => {
      const premium = await premiumFromSource({ ...stores(), ...access }, user.email);
      readDone();
      await stall;
      return premium;
    });
    await sawOldTruth;
    // Act: the downgrade lands and invalidates; then the stalled check tries its late write.
    await webhookDowngrade(user);
    release();
    expect((await slowCheck).value).toBe(true);
    // Assert: the next check, through the gateway, sees the downgrade; and keeps seeing it.
    expect((await check(user.email)).body).toEqual({ email: user.email, premium: false, source: 'db' });
    expect((await check(user.email)).body).toEqual({ email: user.email, premium: false, source: 'cache' });
  });
});

const event = (email: string, key = localStack().internalApiKey) =>
  apiEvent({ resource: '/v1/premium/check', httpMethod: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: JSON.stringify({ email }) });

describe('premium check when Redis is down', () => {
  const holes: Array<{ close: () => Promise<void> }> = [];
  const proxies: TcpProxy[] = [];
  afterAll(async () => {
    await closeLoadedHandlers();
    await Promise.all([...holes.map((h) => h.close()), ...proxies.map((p) => p.close())]);
  });

  async function answersFromDynamoDb(redisUrl: string) {
    const handler = loadHandler('premium-check', { REDIS_URL: redisUrl });
    const [active, free] = [await seedUser('active'), await seedUser('canceled')];
    const unknown = `nobody-${randomUUID()}@example.com`;
    const started = performance.now();
    const bodies = [];
    for (const email of [active.email, free.email, unknown, active.email, free.email, unknown, active.email, free.email]) {
      const res = await handler(event(email), noContext);
      expect(res.statusCode).toBe(200);
      bodies.push(JSON.parse(res.body));
    }
    return { bodies, ms: performance.now() - started, active, free, unknown };
  }

  it('answers correctly from DynamoDB, quickly, when Redis refuses connections', async () => {
    const { bodies, ms, active } = await answersFromDynamoDb(`redis://127.0.0.1:${await closedPort()}`);
    expect(bodies.map((b) => [b.premium, b.source])).toEqual(
      bodies.map((b) => [b.email === active.email, 'db']),
    );
    expect(ms).toBeLessThan(2000);
  });

  it('answers correctly from DynamoDB within the timeout budget when Redis accepts but never answers', async () => {
    const hole = await blackHolePort();
    holes.push(hole);
    const { bodies, ms, active } = await answersFromDynamoDb(`redis://127.0.0.1:${hole.port}`);
    expect(bodies.every((b) => b.source === 'db' && b.premium === (b.email === active.email))).toBe(true);
    // At most the breaker's threshold of 50 ms timeouts, then DynamoDB only.
    expect(ms).toBeLessThan(2000);
  });

  it('is never premium by default: with DynamoDB unreachable too, it answers 503', async () => {
    const user = await seedUser('active');
    const handler = loadHandler('premium-check', {
      REDIS_URL: `redis://127.0.0.1:${await closedPort()}`,
      DYNAMODB_ENDPOINT: `http://127.0.0.1:${await closedPort()}`,
    });
    const res = await handler(event(user.email), noContext);
    expect(res.statusCode).toBe(503);
    expect(JSON.parse(res.body)).toEqual({ error: { code: 'dependency_unavailable', message: expect.any(String) } });
  });

  it('serves from the cache again once Redis comes back', async () => {
    const [host, port] = new URL(tables().REDIS_URL!).host.split(':');
    const proxy = await startTcpProxy({ host: host!, port: Number(port ?? 6379) });
    proxies.push(proxy);
    const handler = loadHandler('premium-check', { REDIS_URL: proxy.url, CACHE_BREAKER_COOLDOWN_MS: '200' });
    const user = await seedUser('active');
    const body = async () => JSON.parse((await handler(event(user.email), noContext)).body);
    await body();
    expect(await body()).toMatchObject({ premium: true, source: 'cache' });

    await proxy.stop();
    for (let i = 0; i < 4; i += 1) expect(await body()).toMatchObject({ premium: true, source: 'db' });

    await proxy.start();
    const deadline = Date.now() + 10_000;
    let last = await body();
    while (last.source !== 'cache' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      last = await body();
    }
    expect(last).toEqual({ email: user.email, premium: true, source: 'cache' });
  });
});

/** An HTTP proxy in front of DynamoDB Local that counts the operations the handler sends. */
async function countingDynamoProxy(target: string): Promise<{ url: string; counts: Map<string, number>; close: () => Promise<void> }> {
  const counts = new Map<string, number>();
  const upstream = new URL(target);
  const server: Server = createServer((req, res) => {
    const op = String(req.headers['x-amz-target'] ?? '').split('.').pop() ?? 'unknown';
    counts.set(op, (counts.get(op) ?? 0) + 1);
    const forward = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('a burst of misses', () => {
  it('makes a handful of DynamoDB reads at most for 500 concurrent checks of one email', async () => {
    // Arrange
    const proxy = await countingDynamoProxy(localStack().dynamodbEndpoint);
    try {
      const user = await seedUser('active');
      const handler = loadHandler('premium-check', { DYNAMODB_ENDPOINT: proxy.url });
      // Act
      const answers = await Promise.all(Array.from({ length: 500 }, () => handler(event(user.email), noContext)));
      // Assert
      const bodies = answers.map((a) => JSON.parse(a.body));
      expect(bodies.every((b) => b.premium === true)).toBe(true);
      const reads = (proxy.counts.get('Query') ?? 0) + (proxy.counts.get('GetItem') ?? 0);
      expect(reads).toBeGreaterThanOrEqual(3); // the ownership item, the profile and the entitlement row: one load
      expect(reads).toBeLessThanOrEqual(9);
    } finally {
      await proxy.close();
    }
  });
});
