import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { localDynamoClient } from '../../infra/local/dynamodb';
import { DynamoEntitlementStore } from '../../shared/adapters/dynamodb/entitlements-store';
import { DynamoUserStore } from '../../shared/adapters/dynamodb/users-store';
import { createReadThroughCache } from '../../shared/adapters/redis/cache';
import { closeRedisClients, createRedisClient } from '../../shared/adapters/redis/client';
import { accessDecider } from '../../shared/wiring/access';
import { type PlanName } from '../../shared/domain/catalogue';
import { catalogueWith, defaultCatalogue } from '../fixtures/catalogue';
import { setPremiumOverride } from '../../shared/use-cases/premium-override';
import { signUpAndSignIn, type TestUser } from '../fixtures/cognito';
import { api, localStack } from '../fixtures/stack';
import { control, eventually, stripeClient } from '../fixtures/stripe';
import { activeSubscriber, entitlementsOf, expectEntitlement } from '../fixtures/subscribers';

/**
 * Every route follows the one access decision (shared/domain/access.ts), with
 * users brought into each state the way real ones get there: Stripe changes
 * through the emulator and signed webhooks, admin overrides through the same
 * use case as `npm run admin -- set-premium`.
 */
const raw = localDynamoClient(localStack().dynamodbEndpoint);
const doc = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
const env = () => localStack().handlerEnv;
const redis = createRedisClient({ REDIS_URL: env().REDIS_URL as string, REDIS_DISABLED: false, REDIS_CONNECT_TIMEOUT_MS: 1000, REDIS_COMMAND_TIMEOUT_MS: 1000 });
const cache = createReadThroughCache(redis, { CACHE_TTL_SECONDS: 300, CACHE_BREAKER_FAILURES: 3, CACHE_BREAKER_COOLDOWN_MS: 5000 });
const users = new DynamoUserStore(doc, env().TABLE_USERS as string, env().TABLE_EMAIL_OWNERS as string);
const entitlements = new DynamoEntitlementStore(doc, { entitlements: env().TABLE_ENTITLEMENTS as string, users: env().TABLE_USERS as string });
const { decide } = accessDecider(defaultCatalogue());

afterAll(async () => {
  raw.destroy();
  await closeRedisClients();
});

const bearer = (user: TestUser) => ({ authorization: `Bearer ${user.accessToken}` });
const key = () => ({ 'x-api-key': localStack().internalApiKey });
const me = entitlementsOf;
const status = (user: TestUser) => api(`/v1/users/${user.sub}/status`, { headers: key() });
const consumeMine = (user: TestUser, amount: number, idempotencyKey: string) => api('/me/tokens/consume', { method: 'POST', headers: bearer(user), json: { amount, idempotencyKey } });
const consumeFor = (user: TestUser, amount: number, idempotencyKey: string) =>
  api(`/v1/users/${user.sub}/tokens/consume`, { method: 'POST', headers: key(), json: { amount, idempotencyKey } });
const grantTokens = (user: TestUser, amount: number, idempotencyKey: string) =>
  api(`/v1/users/${user.sub}/tokens/add`, { method: 'POST', headers: key(), json: { amount, idempotencyKey, reason: 'access test' } });
const credentials = (user: TestUser) => api('/me/aws-credentials', { method: 'POST', headers: bearer(user) });
const rotateKey = (user: TestUser) => api('/me/api-keys', { method: 'POST', headers: bearer(user) });
const verifyKey = (apiKey: string) => api('/v1/api-keys/verify', { method: 'POST', headers: key(), json: { apiKey } });
const premium = async (user: TestUser) => (await api('/v1/premium/check', { method: 'POST', headers: key(), json: { email: user.email } })).body.premium as boolean;

async function adminOverride(user: TestUser, value: boolean | undefined, tier?: PlanName) {
  const result = await setPremiumOverride({ users, entitlements, cache, decide, now: () => new Date() }, user.email, value, tier);
  expect(result).toMatchObject({ outcome: 'written', cacheInvalidated: true });
}

/** The renewal payment fails in Stripe: past_due reaches us through the signed webhook. */
async function failPayment(user: TestUser & { subscriptionId: string }) {
  await control('POST', `/subscriptions/${user.subscriptionId}/fail-payment`, {});
  await expectEntitlement(user, { status: 'past_due' });
}

const FREE_FEATURES = ['token-top-ups'];

describe('past_due without grace (the default): no paid capability on any route', () => {
  let user: TestUser & { subscriptionId: string };
  let apiKey: string;

  beforeAll(async () => {
    user = await activeSubscriber('access-pastdue', 'pro');
    apiKey = (await rotateKey(user)).body.apiKey;
    expect((await verifyKey(apiKey)).status).toBe(200);
    await failPayment(user);
  });

  it('GET /me/entitlements and the status route say free, with the reason', async () => {
    expect((await me(user)).body).toMatchObject({ status: 'past_due', tier: 'free', premium: false, accessReason: 'past-due', features: FREE_FEATURES, tokens: { monthlyAllowance: 0, remaining: 0 } });
    expect((await status(user)).body).toMatchObject({ status: 'past_due', tier: 'free', premium: false, accessReason: 'past-due', canMakeRequest: false });
  });

  it('consume refuses the plan allowance (402) on both consume routes, but purchased tokens stay spendable', async () => {
    // Regression: the allowance used to follow the stored tier only, so past_due pro kept spending 5,000 tokens.
    expect(await consumeMine(user, 1, 'pd-1')).toMatchObject({ status: 402, body: { error: { code: 'insufficient_tokens' } } });
    expect(await consumeFor(user, 1, 'pd-2')).toMatchObject({ status: 402 });
    expect((await grantTokens(user, 3, 'pd-grant')).status).toBe(200);
    expect(await consumeMine(user, 3, 'pd-3')).toMatchObject({ status: 200, body: { consumed: 3, remaining: 0 } });
    expect(await consumeMine(user, 1, 'pd-4')).toMatchObject({ status: 402 });
  });

  it('AWS credentials, API keys and the premium check are refused', async () => {
    expect(await credentials(user)).toMatchObject({ status: 403, body: { error: { message: expect.stringContaining('past due') } } });
    expect((await rotateKey(user)).status).toBe(403);
    expect(await verifyKey(apiKey)).toMatchObject({ status: 429, body: { error: { code: 'rate_limited' } } });
    expect(await premium(user)).toBe(false);
  });
});

describe('past_due enterprise: not unlimited while unpaid', () => {
  it('refuses consumes beyond purchased tokens', async () => {
    // Regression: a past_due enterprise user had unlimited tokens while premium was false.
    const user = await activeSubscriber('access-pastdue-ent', 'enterprise');
    expect(await consumeMine(user, 100_000, 'ent-1')).toMatchObject({ status: 200, body: { remaining: null } });
    await failPayment(user);
    expect(await consumeMine(user, 1, 'ent-2')).toMatchObject({ status: 402, body: { error: { remaining: 0 } } });
  });
});

describe('admin revoke beats an active subscription on every route', () => {
  let user: TestUser & { subscriptionId: string };

  beforeAll(async () => {
    user = await activeSubscriber('access-revoke', 'basic');
    expect((await credentials(user)).status).toBe(200);
    expect((await consumeMine(user, 1, 'rv-0')).status).toBe(200);
    await adminOverride(user, false);
  });

  it('takes credentials, the allowance, API keys and premium away at once', async () => {
    // Regression: credentials followed the status only, and the allowance the tier only.
    expect(await credentials(user)).toMatchObject({ status: 403, body: { error: { message: expect.stringContaining('revoked') } } });
    expect(await consumeMine(user, 1, 'rv-1')).toMatchObject({ status: 402 });
    expect((await rotateKey(user)).status).toBe(403);
    expect(await premium(user)).toBe(false);
    expect((await me(user)).body).toMatchObject({ status: 'active', tier: 'free', premium: false, accessReason: 'admin-revoke', features: FREE_FEATURES });
  });

  it('clear returns to what billing says', async () => {
    await adminOverride(user, undefined);
    expect((await me(user)).body).toMatchObject({ tier: 'basic', premium: true, accessReason: 'subscription-active' });
    expect((await credentials(user)).status).toBe(200);
    expect(await consumeMine(user, 1, 'rv-2')).toMatchObject({ status: 200, body: { remaining: 998 } });
  });
});

describe('admin grant gives the override tier without a subscription', () => {
  it('premium, credentials, API keys and the tier allowance, on a calendar month', async () => {
    // Regression: a granted user was premium but got no credentials (status none) and no allowance (tier free).
    const user = await signUpAndSignIn('access-grant');
    expect(await premium(user)).toBe(false);
    await adminOverride(user, true, 'basic');

    expect(await premium(user)).toBe(true);
    expect((await credentials(user)).status).toBe(200);
    expect((await rotateKey(user)).status).toBe(201);
    expect(await consumeMine(user, 10, 'gr-1')).toMatchObject({ status: 200, body: { remaining: 990 } });
    const now = new Date();
    expect((await me(user)).body).toMatchObject({
      status: 'none',
      tier: 'basic',
      premium: true,
      accessReason: 'admin-grant',
      tokens: { monthlyAllowance: 1000, periodAnchor: 'calendar', resetsAt: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString() },
    });
  });
});

describe('allowances of Stripe plans follow the paid billing period', () => {
  it('stores the item period from the webhook and resets with it, not on the 1st', async () => {
    const user = await activeSubscriber('access-period', 'pro');
    const item = (await stripeClient().subscriptions.retrieve(user.subscriptionId)).items.data[0]!;
    const end = new Date(item.current_period_end * 1000).toISOString();
    expect((await me(user)).body.tokens).toMatchObject({ periodAnchor: 'billing', resetsAt: end, monthlyAllowance: 5000 });
    expect((await status(user)).body.tokens).toMatchObject({ periodAnchor: 'billing', resetsAt: end });
    const row = await entitlements.get(user.sub, { consistent: true });
    expect(row).toMatchObject({ currentPeriodStart: new Date(item.current_period_start * 1000).toISOString(), currentPeriodEnd: end });
    // And what the access decision makes of that row is what the routes served.
    expect(decide(row, new Date()).period).toMatchObject({ anchor: 'billing', id: row!.currentPeriodStart });
  });
});

describe('a renewal reported by Stripe starts the next allowance, once', () => {
  it('spends the whole allowance, then gets a new one when the webhook brings the next paid period', async () => {
    const user = await activeSubscriber('access-renewal', 'basic');
    expect(await consumeMine(user, 1000, 'rn-1')).toMatchObject({ status: 200, body: { remaining: 0 } });
    expect(await consumeMine(user, 1, 'rn-2')).toMatchObject({ status: 402 });
    const before = (await me(user)).body.tokens.resetsAt as string;

    await control('POST', `/subscriptions/${user.subscriptionId}/advance`, {});
    await eventually(async () => {
      const tokens = (await me(user)).body.tokens;
      if (tokens.resetsAt === before) throw new Error('renewal not applied yet');
    });
    expect(await consumeMine(user, 1, 'rn-3')).toMatchObject({ status: 200, body: { remaining: 999 } });
    // A redelivered renewal webhook changes nothing: still one allowance for the period.
    const renewed = await control<Array<{ id: string; type: string }>>('GET', '/events?type=invoice.paid');
    await control('POST', `/events/${renewed[renewed.length - 1]!.id}/resend`, {});
    expect(await consumeMine(user, 1, 'rn-4')).toMatchObject({ status: 200, body: { remaining: 998 } });
  });
});

describe('a renewal whose payment fails brings no new allowance', () => {
  it('keeps the last paid period while the renewal invoice is open, and adopts the next once it is paid', async () => {
    // Regression (review): Stripe moves the period at renewal and charges later; the unpaid period's allowance was granted at once.
    const user = await activeSubscriber('access-unpaid-renewal', 'basic');
    expect(await consumeMine(user, 1000, 'ur-1')).toMatchObject({ status: 200, body: { remaining: 0 } });
    const paidEnd = (await me(user)).body.tokens.resetsAt as string;

    await failPayment(user);
    expect((await me(user)).body.tokens).toMatchObject({ resetsAt: paidEnd, monthlyAllowance: 0 });
    expect(await consumeMine(user, 1, 'ur-2')).toMatchObject({ status: 402 });

    await control('POST', `/subscriptions/${user.subscriptionId}/recover`, {});
    await eventually(async () => {
      const body = (await me(user)).body;
      if (body.status !== 'active' || body.tokens.resetsAt === paidEnd) throw new Error(`not recovered yet: ${JSON.stringify(body.tokens)}`);
    });
    expect(await consumeMine(user, 1, 'ur-3')).toMatchObject({ status: 200, body: { remaining: 999 } });
  });
});

describe('PUT /v1/users/{id}/tier changes the premium answer at once', () => {
  it('invalidates the cached premium check of the user', async () => {
    // Regression (review): only the entitlement cache key was dropped; premium:<email> kept the old answer for the TTL.
    const user = await activeSubscriber('access-tier-cache', 'basic');
    expect(await premium(user)).toBe(true);
    expect(await premium(user)).toBe(true); // cached now
    const res = await api(`/v1/users/${user.sub}/tier`, { method: 'PUT', headers: key(), json: { tier: 'free' } });
    expect(res).toMatchObject({ status: 200, body: { tier: 'free', accessReason: 'admin-tier', premium: false } });
    expect(await premium(user)).toBe(false);
  });
});
