import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import Stripe from 'stripe';
import { cognitoUserExists, signUpAndSignIn, type TestUser } from '../fixtures/cognito';
import { apiEvent, closeLoadedHandlers, loadHandler as loadWithEnv, noContext } from '../fixtures/handlers';
import { api, localStack } from '../fixtures/stack';
import { control, stripeClient } from '../fixtures/stripe';
import { activeSubscriber, stsCallsOf } from '../fixtures/subscribers';
import { claimsOf, closedPort, contractViolation, destroyDoc, env, getRow, snapshotUser, throttlingDynamo } from './support';

/**
 * Fault injection on every handler, run in-process against the local stack
 * with one dependency broken, and the outcome the contract states: Redis down
 * (answers from DynamoDB, never premium by default, credentials fail closed),
 * DynamoDB throttled (503/500 generic, never a partial write), Stripe failing
 * or hanging (503, 500 for Stripe to retry, resumable deletion), Cognito down
 * on deletion (503, resumable).
 */

/** A handler with one dependency broken; its (expected) error logs are silenced. */
const loadHandler = (name: string, overrides: Record<string, string> = {}) => loadWithEnv(name, { POWERTOOLS_LOG_LEVEL: 'SILENT', ...overrides });

type User = TestUser & { subscriptionId?: string };
type Handler = (event: APIGatewayProxyEvent, context: typeof noContext) => Promise<APIGatewayProxyResult>;

/** The event API Gateway's authorizer hands a /me handler: the token's real claims, as strings. */
function meEvent(user: TestUser, resource: string, method: string, body?: unknown): APIGatewayProxyEvent {
  const claims = Object.fromEntries(Object.entries(claimsOf(user.accessToken)).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
  const event = apiEvent({ resource, httpMethod: method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? null : JSON.stringify(body) });
  return { ...event, requestContext: { ...event.requestContext, authorizer: { claims } } } as APIGatewayProxyEvent;
}

function internalEvent(resource: string, method: string, userId?: string, body?: unknown): APIGatewayProxyEvent {
  return apiEvent({
    resource,
    httpMethod: method,
    headers: { 'x-api-key': localStack().internalApiKey, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    pathParameters: userId ? { userId } : null,
    body: body === undefined ? null : JSON.stringify(body),
  });
}

function webhookEvent(payload: unknown): APIGatewayProxyEvent {
  const body = JSON.stringify(payload);
  return apiEvent({ resource: '/stripe/webhook', httpMethod: 'POST', headers: { 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload: body, secret: env().STRIPE_WEBHOOK_SECRET as string }) }, body });
}

/** Parses an answer and checks it against the contract (503 allowed: a dependency is down here). */
function answer(res: APIGatewayProxyResult, options: { allow500?: boolean } = {}) {
  const problem = contractViolation(res.statusCode, res.body, { dependencyDown: true, ...options });
  if (problem) throw new Error(`not a contract answer: ${problem}`);
  return { status: res.statusCode, body: JSON.parse(res.body) as Record<string, any>, headers: res.headers ?? {} };
}

const me = (user: TestUser) => api('/me/entitlements', { headers: { authorization: `Bearer ${user.accessToken}` } });
const customerOf = async (user: TestUser) => (await getRow('TABLE_USERS', user.sub))!.stripeCustomerId as string;

let active: User;
let free: User;
let apiKey: string;

beforeAll(async () => {
  [active, free] = await Promise.all([activeSubscriber('fault-active', 'basic'), signUpAndSignIn('fault-free')]);
  const rotated = await api('/me/api-keys', { method: 'POST', headers: { authorization: `Bearer ${active.accessToken}` } });
  expect(rotated.status).toBe(201);
  apiKey = rotated.body.apiKey;
});

afterAll(async () => {
  await control('POST', '/reset-faults');
  await closeLoadedHandlers();
  destroyDoc();
});

describe('Redis down (REDIS_URL to a closed port)', () => {
  let redisUrl: string;
  const load = (name: string) => loadHandler(name, { REDIS_URL: redisUrl });
  beforeAll(async () => {
    redisUrl = `redis://127.0.0.1:${await closedPort()}`;
  });

  it('health: 200 degraded', async () => {
    const res = answer(await load('health')(apiEvent({ resource: '/v1/health', httpMethod: 'GET' }), noContext));
    expect(res).toMatchObject({ status: 200, body: { status: 'degraded', checks: { dynamodb: 'ok', redis: 'down' } } });
  });

  it('premium-check: answers from DynamoDB, and premium is never defaulted on', async () => {
    const handler = load('premium-check');
    const check = (email: string) => handler(internalEvent('/v1/premium/check', 'POST', undefined, { email }), noContext).then((r) => answer(r));
    expect(await check(active.email)).toMatchObject({ status: 200, body: { premium: true, source: 'db' } });
    expect(await check(free.email)).toMatchObject({ status: 200, body: { premium: false, source: 'db' } });
    expect(await check('nobody-at-all@example.com')).toMatchObject({ status: 200, body: { premium: false } });
  });

  it('entitlements: answers from DynamoDB, paid features only for the paying user', async () => {
    const handler = load('entitlements');
    const paid = answer(await handler(meEvent(active, '/me/entitlements', 'GET'), noContext));
    expect(paid).toMatchObject({ status: 200, body: { userId: active.sub, status: 'active', premium: true } });
    expect(paid.headers['x-entitlements-source']).toBe('db');
    const unpaid = answer(await handler(meEvent(free, '/me/entitlements', 'GET'), noContext));
    expect(unpaid).toMatchObject({ status: 200, body: { userId: free.sub, premium: false } });
    expect(unpaid.body.features).not.toContain('api-access');
  });

  it('token-consume: consumes from DynamoDB (Redis is not on the consume path)', async () => {
    const handler = load('token-consume');
    const res = answer(await handler(meEvent(active, '/me/tokens/consume', 'POST', { amount: 1, idempotencyKey: 'redis-down-consume' }), noContext));
    expect(res).toMatchObject({ status: 200, body: { consumed: 1 } });
  });

  it('tokens-admin: a grant is written, answers 503 (cache not invalidated), and the idempotent retry succeeds once', async () => {
    const handler = load('tokens-admin');
    const grant = { amount: 7, reason: 'redis outage test', idempotencyKey: 'redis-down-grant' };
    const status = answer(await handler(internalEvent('/v1/users/{userId}/status', 'GET', active.sub), noContext));
    expect(status.status).toBe(200);
    const res = answer(await handler(internalEvent('/v1/users/{userId}/tokens/add', 'POST', active.sub, grant), noContext));
    expect(res).toMatchObject({ status: 503, body: { error: { code: 'dependency_unavailable' } } });
    const retry = await api(`/v1/users/${active.sub}/tokens/add`, { method: 'POST', headers: { 'x-api-key': localStack().internalApiKey }, json: grant });
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    const snapshot = JSON.parse(await snapshotUser(active.sub)) as { ledger: string[] };
    expect(snapshot.ledger.filter((e) => e.includes('"redis-down-grant"'))).toHaveLength(1);
  });

  it('api-keys verify: the per-second limit fails open, the monthly count (DynamoDB) still counts', async () => {
    const handler = load('api-keys');
    const verify = () => handler(internalEvent('/v1/api-keys/verify', 'POST', undefined, { apiKey }), noContext).then((r) => answer(r));
    const first = await verify();
    expect(first).toMatchObject({ status: 200, body: { valid: true, userId: active.sub } });
    const second = await verify();
    expect(second.body.usage.used).toBe(first.body.usage.used + 1);
  });

  it('sts-credentials: fails closed (503), STS never called, nothing logged', async () => {
    const before = await snapshotUser(active.sub);
    const calls = (await stsCallsOf(active.sub)).length;
    const res = answer(await load('sts-credentials')(meEvent(active, '/me/aws-credentials', 'POST'), noContext));
    expect(res).toMatchObject({ status: 503, body: { error: { code: 'dependency_unavailable' } } });
    expect(JSON.stringify(res.body)).not.toMatch(/ASIA|secretAccessKey|sessionToken/);
    expect((await stsCallsOf(active.sub)).length).toBe(calls);
    expect(await snapshotUser(active.sub)).toBe(before);
  });

  it('stripe-webhook: an event whose cache invalidation fails is 500 (Stripe retries) and not recorded; the retry applies it', async () => {
    const handler = load('stripe-webhook');
    const event = { id: `evt_redis_down_${Date.now()}`, object: 'event', type: 'customer.subscription.updated', data: { object: { id: active.subscriptionId, customer: await customerOf(active) } } };
    const res = answer(await handler(webhookEvent(event), noContext), { allow500: true });
    expect([200, 500]).toContain(res.status);
    const retry = answer(await loadHandler('stripe-webhook')(webhookEvent(event), noContext));
    expect(retry).toMatchObject({ status: 200, body: { received: true } });
    expect(await getRow('TABLE_ENTITLEMENTS', active.sub)).toMatchObject({ status: 'active', tier: 'basic' });
  });

  it('delete-account: 503 while the cache cannot be invalidated, then resumes and finishes', async () => {
    const victim = await signUpAndSignIn('fault-redis-delete');
    const res = answer(await load('delete-account')(meEvent(victim, '/me/account', 'DELETE'), noContext));
    expect(res).toMatchObject({ status: 503, body: { error: { code: 'dependency_unavailable' } } });
    expect(await cognitoUserExists(victim)).toBe(true);
    const done = await api('/me/account', { method: 'DELETE', headers: { authorization: `Bearer ${victim.accessToken}` } });
    expect(done).toMatchObject({ status: 200, body: { deleted: true } });
    expect(await getRow('TABLE_USERS', victim.sub)).toBeUndefined();
    expect(await cognitoUserExists(victim)).toBe(false);
  });
});

describe('DynamoDB throttled (ProvisionedThroughputExceededException)', () => {
  let proxy: Awaited<ReturnType<typeof throttlingDynamo>>;
  beforeAll(async () => {
    proxy = await throttlingDynamo(/.*/);
  });
  afterAll(() => proxy.close());

  /** Every HTTP handler, with what it is asked. */
  const cases = (): Array<[string, string, () => APIGatewayProxyEvent, 'read' | 'write']> => [
    ['health', 'GET /v1/health', () => apiEvent({ resource: '/v1/health', httpMethod: 'GET' }), 'read'],
    ['tokens-admin', 'GET status', () => internalEvent('/v1/users/{userId}/status', 'GET', active.sub), 'read'],
    ['tokens-admin', 'POST add', () => internalEvent('/v1/users/{userId}/tokens/add', 'POST', active.sub, { amount: 3, reason: 'throttle', idempotencyKey: `thr-add-${Date.now()}` }), 'write'],
    ['tokens-admin', 'PUT tier', () => internalEvent('/v1/users/{userId}/tier', 'PUT', active.sub, { tier: 'admin' }), 'write'],
    ['token-consume', 'POST internal consume', () => internalEvent('/v1/users/{userId}/tokens/consume', 'POST', active.sub, { amount: 1, idempotencyKey: `thr-c-${Date.now()}` }), 'write'],
    ['token-consume', 'POST /me consume', () => meEvent(active, '/me/tokens/consume', 'POST', { amount: 1, idempotencyKey: `thr-m-${Date.now()}` }), 'write'],
    ['premium-check', 'POST check', () => internalEvent('/v1/premium/check', 'POST', undefined, { email: free.email }), 'read'],
    ['entitlements', 'GET /me/entitlements', () => meEvent(free, '/me/entitlements', 'GET'), 'read'],
    ['billing', 'POST /me/checkout', () => meEvent(free, '/me/checkout', 'POST', { topUp: 100 }), 'read'],
    ['billing', 'POST /me/billing-portal', () => meEvent(free, '/me/billing-portal', 'POST'), 'read'],
    ['sts-credentials', 'POST /me/aws-credentials', () => meEvent(active, '/me/aws-credentials', 'POST'), 'write'],
    ['api-keys', 'POST /me/api-keys', () => meEvent(active, '/me/api-keys', 'POST'), 'write'],
    ['api-keys', 'POST verify', () => internalEvent('/v1/api-keys/verify', 'POST', undefined, { apiKey }), 'write'],
    ['delete-account', 'DELETE /me/account', () => meEvent(free, '/me/account', 'DELETE'), 'write'],
  ];

  /** Every handler at once (each waits out the SDK's throttling back-off), then no partial write anywhere. */
  async function run(mode: 'all' | 'writes') {
    const before = { active: await snapshotUser(active.sub), free: await snapshotUser(free.sub) };
    const results = await Promise.all(
      cases().map(async ([name, what, event, kind]) => ({ name, what, kind, res: await loadHandler(name, { DYNAMODB_ENDPOINT: proxy.url })(event(), noContext) })),
    );
    const problems: string[] = [];
    for (const { name, what, kind, res } of results) {
      if (name === 'health') {
        // Health's 503 carries its checks beside the error body (its documented shape); it only reads.
        const body = JSON.parse(res.body);
        const ok = mode === 'all' ? res.statusCode === 503 && body.error?.code === 'dependency_unavailable' : res.statusCode === 200;
        if (!ok) problems.push(`${mode} ${what}: ${res.statusCode} ${res.body}`);
        continue;
      }
      const problem = contractViolation(res.statusCode, res.body, { dependencyDown: true, allow500: true });
      if (problem) problems.push(`${mode} ${name} ${what}: ${problem}`);
      // With every call throttled nothing can succeed; with writes throttled, no write may claim success.
      else if ((mode === 'all' || kind === 'write') && res.statusCode < 500) problems.push(`${mode} ${name} ${what}: answered ${res.statusCode} ${res.body.slice(0, 200)} while DynamoDB throttled it`);
    }
    expect(problems).toEqual([]);
    // Never a partial write.
    expect(await snapshotUser(active.sub)).toBe(before.active);
    expect(await snapshotUser(free.sub)).toBe(before.free);
  }

  it('every handler answers 503/500 with the generic body when every call is throttled, and writes nothing', async () => {
    proxy.setThrottle(/.*/);
    await run('all');
    expect(proxy.throttled.length).toBeGreaterThan(10);
  }, 60_000);

  it('every handler answers 503/500 and leaves no partial write when only writes are throttled', async () => {
    proxy.setThrottle(/PutItem|UpdateItem|DeleteItem|TransactWriteItems|BatchWriteItem/);
    proxy.throttled.length = 0;
    const stsBefore = (await stsCallsOf(active.sub)).length;
    await run('writes');
    expect(proxy.forwarded.length).toBeGreaterThan(0);
    expect(proxy.throttled.length).toBeGreaterThan(5);
    // Credentials that could not be logged were not handed out (STS may have been asked).
    expect((await stsCallsOf(active.sub)).length).toBeGreaterThanOrEqual(stsBefore);
    // The users are intact and served normally afterwards.
    expect((await me(active)).body).toMatchObject({ status: 'active', tier: 'basic' });
    expect(await cognitoUserExists(free)).toBe(true);
  }, 60_000);
});

describe('Stripe failing and hanging (emulator faults)', () => {
  const fast = { STRIPE_TIMEOUT_MS: '300' };
  // Webhooks still in flight from earlier tests would use the faults up: let them land first.
  beforeEach(() => control('POST', '/delivery/flush'));
  afterEach(() => control('POST', '/reset-faults'));

  it.each([
    ['500', 500],
    ['hang', 'hang'],
  ] as const)('billing: checkout and portal answer 503 when Stripe answers %s', async (_name, status) => {
    const handler = loadHandler('billing', fast);
    await control('POST', '/faults', { method: 'POST', path: '^/v1/checkout/sessions', status, count: 4, hangMs: 2000 });
    const checkout = answer(await handler(meEvent(free, '/me/checkout', 'POST', { topUp: 100 }), noContext));
    expect(checkout).toMatchObject({ status: 503, body: { error: { code: 'dependency_unavailable' } } });
    await control('POST', '/faults', { method: 'POST', path: '^/v1/billing_portal', status, count: 4, hangMs: 2000 });
    const portal = answer(await handler(meEvent(free, '/me/billing-portal', 'POST'), noContext));
    expect(portal).toMatchObject({ status: 503, body: { error: { code: 'dependency_unavailable' } } });
  });

  it.each([
    ['500', 500],
    ['hang', 'hang'],
  ] as const)('stripe-webhook: 500 for Stripe to retry when the re-read gets %s, event not recorded, the retry applies it', async (_name, status) => {
    const handler = loadHandler('stripe-webhook', fast);
    const event = { id: `evt_stripe_${status}_${Date.now()}`, object: 'event', type: 'customer.subscription.updated', data: { object: { id: active.subscriptionId, customer: await customerOf(active) } } };
    await control('POST', '/faults', { method: 'GET', path: '^/v1/subscriptions', status, count: 4, hangMs: 2000 });
    const res = answer(await handler(webhookEvent(event), noContext), { allow500: true });
    expect(res).toMatchObject({ status: 500, body: { error: { code: 'internal_error' } } });
    await control('POST', '/reset-faults');
    expect(answer(await handler(webhookEvent(event), noContext))).toMatchObject({ status: 200, body: { received: true } });
    expect(await getRow('TABLE_ENTITLEMENTS', active.sub)).toMatchObject({ status: 'active', tier: 'basic' });
  });

  it('delete-account: 503 when Stripe hangs on the customer deletion, then resumes and finishes', async () => {
    const victim = await activeSubscriber('fault-stripe-delete', 'basic');
    const customerId = await customerOf(victim);
    const handler = loadHandler('delete-account', fast);
    await control('POST', '/faults', { method: 'DELETE', path: '^/v1/customers/', status: 'hang', count: 4, hangMs: 2000 });
    const res = answer(await handler(meEvent(victim, '/me/account', 'DELETE'), noContext));
    expect(res).toMatchObject({ status: 503, body: { error: { code: 'dependency_unavailable' } } });
    expect(await cognitoUserExists(victim)).toBe(true);
    await control('POST', '/reset-faults');
    expect(answer(await handler(meEvent(victim, '/me/account', 'DELETE'), noContext))).toMatchObject({ status: 200, body: { deleted: true } });
    expect((await stripeClient().customers.retrieve(customerId)).deleted).toBe(true);
    expect(await getRow('TABLE_ENTITLEMENTS', victim.sub)).toBeUndefined();
    expect(await cognitoUserExists(victim)).toBe(false);
  });
});

describe('Cognito down on account deletion (COGNITO_ENDPOINT to a closed port)', () => {
  it('answers 503 after the data is gone, keeps the Cognito user, and the next call finishes', async () => {
    const victim = await signUpAndSignIn('fault-cognito-delete');
    const res = answer(await loadHandler('delete-account', { COGNITO_ENDPOINT: `http://127.0.0.1:${await closedPort()}` })(meEvent(victim, '/me/account', 'DELETE'), noContext));
    expect(res).toMatchObject({ status: 503, body: { error: { code: 'dependency_unavailable' } } });
    expect(await cognitoUserExists(victim)).toBe(true);
    const done = await api('/me/account', { method: 'DELETE', headers: { authorization: `Bearer ${victim.accessToken}` } });
    expect(done).toMatchObject({ status: 200, body: { deleted: true } });
    expect(await getRow('TABLE_USERS', victim.sub)).toBeUndefined();
    expect(await cognitoUserExists(victim)).toBe(false);
  });
});
