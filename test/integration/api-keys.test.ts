import { randomBytes } from 'node:crypto';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import Redis from 'ioredis';
import { localDynamoClient } from '../../infra/local/dynamodb';
import { rateLimitKey } from '../../shared/ports/rate-limiter';
import { hashApiKey } from '../../shared/domain/api-keys';
import { usageCounterId } from '../../shared/domain/usage';
import { cacheKeys } from '../../shared/ports/cache';
import { generationKey } from '../../shared/adapters/redis/cache';
import { signUpAndSignIn, type TestUser } from '../fixtures/cognito';
import { apiEvent, closeLoadedHandlers, loadHandler, noContext } from '../fixtures/handlers';
import { activeSubscriber } from '../fixtures/subscribers';
import { api, localStack } from '../fixtures/stack';
import { documentClient } from '../fixtures/tokens';

const doc = () => documentClient(localDynamoClient(localStack().dynamodbEndpoint));
const env = () => localStack().handlerEnv;
/** A subscriber's allowance period as the webhook stored it (Stripe's item period). */
async function billingPeriodOf(userId: string): Promise<{ start: string; end: string }> {
  const row = (await doc().send(new GetCommand({ TableName: env().TABLE_ENTITLEMENTS, Key: { userId }, ConsistentRead: true }))).Item;
  return { start: row?.currentPeriodStart as string, end: row?.currentPeriodEnd as string };
}
const rotate = (user: TestUser) => api('/me/api-keys', { method: 'POST', headers: { authorization: `Bearer ${user.accessToken}` } });
const verify = (apiKey: unknown) =>
  api('/v1/api-keys/verify', { method: 'POST', headers: { 'x-api-key': localStack().internalApiKey }, json: { apiKey } });
const verifyEvent = (apiKey: string) =>
  apiEvent({
    resource: '/v1/api-keys/verify',
    httpMethod: 'POST',
    headers: { 'x-api-key': localStack().internalApiKey, 'content-type': 'application/json' },
    body: JSON.stringify({ apiKey }),
  });

afterAll(closeLoadedHandlers);

describe('API keys', () => {
  let user: Awaited<ReturnType<typeof activeSubscriber>>;

  beforeAll(async () => {
    user = await activeSubscriber('keys');
  });

  it('shows a new key once, stores only its SHA-256 and prefix, and verifies it with owner, tier and usage', async () => {
    const res = await rotate(user);
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ apiKey: expect.stringMatching(/^evk_live_[A-Za-z0-9_-]{43}$/), prefix: res.body.apiKey.slice(0, 13), createdAt: expect.any(String) });
    const stored = await doc().send(new GetCommand({ TableName: env().TABLE_API_KEYS, Key: { keyHash: hashApiKey(res.body.apiKey) }, ConsistentRead: true }));
    expect(stored.Item).toMatchObject({ userId: user.sub, prefix: res.body.prefix });
    expect(JSON.stringify(stored.Item)).not.toContain(res.body.apiKey);

    const ok = await verify(res.body.apiKey);
    expect(ok.status).toBe(200);
    // The count resets with the paid billing period (Stripe's item period), not on the 1st.
    expect(ok.body).toEqual({ valid: true, userId: user.sub, tier: 'basic', usage: { used: 1, limit: 1000, resetsAt: (await billingPeriodOf(user.sub)).end } });
  });

  it('kills the old key at once: a rotated key fails verify within the same second', async () => {
    const first = (await rotate(user)).body.apiKey as string;
    expect((await verify(first)).body.valid).toBe(true);
    const started = Date.now();
    const second = (await rotate(user)).body.apiKey as string;
    const old = await verify(first);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(old).toMatchObject({ status: 200, body: { valid: false } });
    expect(old.body).toEqual({ valid: false });
    expect((await verify(second)).body.valid).toBe(true);
  });

  it('never verifies 1,000 random strings (well-formed or not)', async () => {
    const handler = loadHandler('api-keys');
    const candidates = Array.from({ length: 1000 }, (_, i) =>
      i % 2 === 0 ? `evk_live_${randomBytes(32).toString('base64url')}` : randomBytes(1 + (i % 80)).toString(i % 3 === 0 ? 'base64' : 'latin1'),
    );
    for (let i = 0; i < candidates.length; i += 100) {
      const answers = await Promise.all(candidates.slice(i, i + 100).map((c) => handler(verifyEvent(c), noContext)));
      for (const answer of answers) expect({ status: answer.statusCode, body: JSON.parse(answer.body) }).toEqual({ status: 200, body: { valid: false } });
    }
  });

  it('refuses rotation without a plan that includes API access, and verification without the internal key', async () => {
    const free = await signUpAndSignIn('keys-free');
    const res = await rotate(free);
    expect(res.status).toBe(403);
    const unauthorised = await api('/v1/api-keys/verify', { method: 'POST', json: { apiKey: 'evk_live_x' } });
    expect(unauthorised.status).toBe(401);
    expect((await verify(42)).status).toBe(400);
  });
});

describe('account deletion', () => {
  it('removes the key, its owner row and the usage counter with the account', async () => {
    const user = await activeSubscriber('keys-delete');
    const apiKey = (await rotate(user)).body.apiKey as string;
    expect((await verify(apiKey)).body.valid).toBe(true);
    const period = await billingPeriodOf(user.sub);
    const res = await api('/me/account', { method: 'DELETE', headers: { authorization: `Bearer ${user.accessToken}` } });
    expect(res.status).toBe(200);
    expect(await verify(apiKey)).toMatchObject({ status: 200, body: { valid: false } });
    const left = async (table: string, key: Record<string, string>) =>
      (await doc().send(new GetCommand({ TableName: env()[table], Key: key, ConsistentRead: true }))).Item;
    expect(await left('TABLE_API_KEYS', { keyHash: `owner#${user.sub}` })).toBeUndefined();
    expect(await left('TABLE_LEDGER', { userId: user.sub, entryId: usageCounterId('api-calls', period.start) })).toBeUndefined();
  });
});

describe('API usage limits', () => {
  let redis: Redis;

  beforeAll(() => {
    redis = new Redis(env().REDIS_URL as string);
  });
  afterAll(async () => {
    await redis.quit();
  });

  it('lets exactly the rate limit through under 100 parallel calls, and counts only those', async () => {
    const user = await activeSubscriber('keys-rate', 'pro');
    const apiKey = (await rotate(user)).body.apiKey as string;
    // A long window so that all 100 calls land in one, however slow the machine.
    const handler = loadHandler('api-keys', { API_KEY_RATE_LIMIT: '10', API_KEY_RATE_WINDOW_MS: '60000', REDIS_COMMAND_TIMEOUT_MS: '2000' });
    const answers = await Promise.all(Array.from({ length: 100 }, () => handler(verifyEvent(apiKey), noContext)));
    const passed = answers.filter((a) => a.statusCode === 200);
    const limited = answers.filter((a) => a.statusCode === 429);
    expect({ passed: passed.length, limited: limited.length }).toEqual({ passed: 10, limited: 90 });
    for (const a of limited) {
      expect(JSON.parse(a.body).error.code).toBe('rate_limited');
      expect(Number(a.headers!['Retry-After'])).toBeGreaterThanOrEqual(1);
    }
    expect(passed.map((a) => JSON.parse(a.body).usage.used).sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await redis.del(rateLimitKey('api-calls', user.sub));
  });

  it('answers 429 until the paid period ends once its limit is used up', async () => {
    const user = await activeSubscriber('keys-monthly');
    const apiKey = (await rotate(user)).body.apiKey as string;
    const period = await billingPeriodOf(user.sub);
    await doc().send(new PutCommand({ TableName: env().TABLE_LEDGER, Item: { userId: user.sub, entryId: usageCounterId('api-calls', period.start), calls: 999 } }));
    const last = await verify(apiKey);
    expect(last.body.usage).toMatchObject({ used: 1000, limit: 1000 });
    const over = await verify(apiKey);
    expect(over.status).toBe(429);
    expect(over.body.error).toMatchObject({ code: 'rate_limited', usage: { used: 1000, limit: 1000 } });
    const retryAfter = Number(over.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(Math.abs(Date.now() + retryAfter * 1000 - Date.parse(period.end))).toBeLessThan(5000);
  });

  it('keeps monthly counts when Redis is flushed mid-month, and shows them in GET /me/entitlements', async () => {
    const user = await activeSubscriber('keys-flush');
    const apiKey = (await rotate(user)).body.apiKey as string;
    for (let i = 0; i < 3; i++) expect((await verify(apiKey)).status).toBe(200);
    const me = () => api('/me/entitlements', { headers: { authorization: `Bearer ${user.accessToken}` } });
    expect((await me()).body.usage).toMatchObject({ used: 3, limit: 1000 });

    // Everything Redis holds for this user (other tests share this Redis: no FLUSHALL).
    const entitlementKey = cacheKeys.entitlement(user.sub);
    await redis.del(rateLimitKey('api-calls', user.sub), entitlementKey, generationKey(entitlementKey));
    expect(await redis.exists(rateLimitKey('api-calls', user.sub), entitlementKey)).toBe(0);

    const after = await verify(apiKey);
    expect(after.body.usage).toMatchObject({ used: 4, limit: 1000 });
    const view = await me();
    expect(view.body).toMatchObject({ status: 'active', tier: 'basic', usage: { used: 4, limit: 1000, resetsAt: after.body.usage.resetsAt } });
  });
});
