import { freePort } from '../../infra/local/processes';
import { startLocalQueue } from '../../infra/local/queue';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { GetCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import Stripe from 'stripe';
import { cognitoUserExists, signUpAndSignIn, type TestUser } from '../fixtures/cognito';
import { apiEvent, closeLoadedHandlers, loadHandler as loadWithEnv, noContext } from '../fixtures/handlers';
import { api, localStack } from '../fixtures/stack';
import { control, eventually, stripeClient } from '../fixtures/stripe';
import { startOwnedDynamo, startOwnedRedis, startOwnedSts } from '../fixtures/paused-process';
import { activeSubscriber, entitlementsOf, stsCallsOf } from '../fixtures/subscribers';
import { claimsOf, closedPort, contractViolation, destroyDoc, env, getRow, snapshotUser, throttlingDynamo } from './support';

/**
 * Fault injection on every handler, run in-process against the local stack
 * with one dependency broken, and the outcome the contract states: Redis down
 * or paused (answers from DynamoDB, never premium by default, credentials fail
 * closed), DynamoDB throttled or paused (503 generic, within a few seconds,
 * never a partial write), Stripe failing or hanging (503, also to Stripe so it
 * retries; resumable deletion), STS and Secrets Manager hanging (503), Cognito
 * down on deletion (503, resumable). A 500 is never the answer to a dependency
 * failure: the error policy maps every one of them to 503.
 *
 * "Paused" is SIGSTOP on a real process the test starts for itself (its own
 * DynamoDB Local, redis-server, STS emulator), so the shared stack other
 * suites use in parallel is never touched.
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

/** Parses an answer and checks it against the contract (503 allowed: a dependency is down here; never a 500). */
function answer(res: APIGatewayProxyResult) {
  const problem = contractViolation(res.statusCode, res.body, { dependencyDown: true });
  if (problem) throw new Error(`not a contract answer: ${problem}`);
  return { status: res.statusCode, body: JSON.parse(res.body) as Record<string, any>, headers: res.headers ?? {} };
}

const me = entitlementsOf;
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
  await control('POST', '/faults/reset');
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

  it('stripe-webhook: an event whose cache invalidation fails is 503 (Stripe retries) and not recorded; the retry applies it', async () => {
    const handler = load('stripe-webhook');
    const event = { id: `evt_redis_down_${Date.now()}`, object: 'event', type: 'customer.subscription.updated', data: { object: { id: active.subscriptionId, customer: await customerOf(active) } } };
    const res = answer(await handler(webhookEvent(event), noContext));
    expect([200, 503]).toContain(res.status);
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
  /**
   * Asks to be deleted while DynamoDB throttles: a request that failed is
   * still resumed by the deletion worker a minute later (README, lifecycle
   * guarantees), so it is a user of its own, never one later tests rely on.
   */
  let leaving: User;
  beforeAll(async () => {
    proxy = await throttlingDynamo(/.*/);
    leaving = await signUpAndSignIn('fault-throttle-leaving');
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
    ['delete-account', 'DELETE /me/account', () => meEvent(leaving, '/me/account', 'DELETE'), 'write'],
  ];

  /**
   * Every handler at once (each waits out the SDK's throttling back-off), then no partial write anywhere.
   * Health is asked once the others have answered: its pings have sub-second budgets (Redis's is the
   * client's 50 ms command timeout), which thirteen handlers loading and retrying on one loop of a
   * loaded 2-core machine exhaust whether or not DynamoDB answers (it failed so on the old code too).
   */
  async function run(mode: 'all' | 'writes') {
    const before = { active: await snapshotUser(active.sub), free: await snapshotUser(free.sub), leaving: await snapshotUser(leaving.sub) };
    const ask = async ([name, what, event, kind]: ReturnType<typeof cases>[number]) => ({ name, what, kind, res: await loadHandler(name, { DYNAMODB_ENDPOINT: proxy.url })(event(), noContext) });
    const [health, ...others] = cases();
    const results = await Promise.all(others.map(ask));
    results.unshift(await ask(health!));
    const problems: string[] = [];
    for (const { name, what, kind, res } of results) {
      if (name === 'health') {
        // Health's 503 carries its checks beside the error body (its documented shape); it only reads.
        const body = JSON.parse(res.body);
        const ok = mode === 'all' ? res.statusCode === 503 && body.error?.code === 'dependency_unavailable' : res.statusCode === 200;
        if (!ok) problems.push(`${mode} ${what}: ${res.statusCode} ${res.body}`);
        continue;
      }
      const problem = contractViolation(res.statusCode, res.body, { dependencyDown: true });
      const code = JSON.parse(res.body)?.error?.code;
      if (problem) problems.push(`${mode} ${name} ${what}: ${problem}`);
      // With every call throttled nothing can succeed; with writes throttled, no write may claim success.
      else if ((mode === 'all' || kind === 'write') && res.statusCode < 500) problems.push(`${mode} ${name} ${what}: answered ${res.statusCode} ${res.body.slice(0, 200)} while DynamoDB throttled it`);
      // Throttling is a dependency failure: 503 dependency_unavailable, never a 500.
      else if (res.statusCode >= 500 && (res.statusCode !== 503 || code !== 'dependency_unavailable')) problems.push(`${mode} ${name} ${what}: ${res.statusCode} ${code}, not 503 dependency_unavailable`);
    }
    expect(problems).toEqual([]);
    // Never a partial write.
    expect(await snapshotUser(active.sub)).toBe(before.active);
    expect(await snapshotUser(free.sub)).toBe(before.free);
    expect(await snapshotUser(leaving.sub)).toBe(before.leaving);
  }

  it('every handler answers 503 dependency_unavailable with the generic body when every call is throttled, and writes nothing', async () => {
    proxy.setThrottle(/.*/);
    await run('all');
    expect(proxy.throttled.length).toBeGreaterThan(10);
  }, 60_000);

  it('every handler answers 503 and leaves no partial write when only writes are throttled', async () => {
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
    expect(await cognitoUserExists(leaving)).toBe(true);
  }, 60_000);
});

describe('Stripe failing and hanging (emulator faults)', () => {
  const fast = { STRIPE_TIMEOUT_MS: '300' };
  // Webhooks still in flight from earlier tests would use the faults up: let them land first.
  beforeEach(() => control('POST', '/delivery/flush'));
  afterEach(() => control('POST', '/faults/reset'));

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
  ] as const)('stripe-webhook: 503 for Stripe to retry when the re-read gets %s, event not recorded, the retry applies it', async (_name, status) => {
    const handler = loadHandler('stripe-webhook', fast);
    const event = { id: `evt_stripe_${status}_${Date.now()}`, object: 'event', type: 'customer.subscription.updated', data: { object: { id: active.subscriptionId, customer: await customerOf(active) } } };
    await control('POST', '/faults', { method: 'GET', path: '^/v1/subscriptions', status, count: 4, hangMs: 2000 });
    const res = answer(await handler(webhookEvent(event), noContext));
    expect(res).toMatchObject({ status: 503, body: { error: { code: 'dependency_unavailable' } } });
    await control('POST', '/faults/reset');
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
    await control('POST', '/faults/reset');
    expect(answer(await handler(meEvent(victim, '/me/account', 'DELETE'), noContext))).toMatchObject({ status: 200, body: { deleted: true } });
    expect((await stripeClient().customers.retrieve(customerId)).deleted).toBe(true);
    expect(await getRow('TABLE_ENTITLEMENTS', victim.sub)).toBeUndefined();
    expect(await cognitoUserExists(victim)).toBe(false);
  });
});

describe('Cognito down on account deletion (COGNITO_ENDPOINT to a closed port, or to a paused process)', () => {
  let paused: Awaited<ReturnType<typeof startOwnedSts>> | undefined;
  afterAll(() => paused?.stop());

  it.each(['closed port', 'paused process'] as const)('%s: answers 503 after the data is gone, keeps the Cognito user, and the next call finishes', async (how) => {
    const victim = await signUpAndSignIn('fault-cognito-delete');
    let endpoint = `http://127.0.0.1:${await closedPort()}`;
    if (how === 'paused process') {
      paused = await startOwnedSts();
      paused.pause();
      endpoint = paused.url;
    }
    // A queue of the test's own: the failed run must hand the job to the worker (the profile is gone,
    // so the sweep could no longer find it, and the caller may never call again).
    const queue = await startLocalQueue({ name: 'deletion-fault', port: await freePort(), deliver: async () => undefined });
    try {
      const started = Date.now();
      const res = answer(
        await loadHandler('delete-account', { COGNITO_ENDPOINT: endpoint, SQS_ENDPOINT: queue.endpoint, DELETION_QUEUE_URL: queue.url })(meEvent(victim, '/me/account', 'DELETE'), noContext),
      );
      expect(res).toMatchObject({ status: 503, body: { error: { code: 'dependency_unavailable' } } });
      expect(Date.now() - started).toBeLessThan(DEPENDENCY_BOUND_MS * 2);
      expect(queue.pending()).toBe(1);
    } finally {
      await queue.stop();
    }
    expect(await cognitoUserExists(victim)).toBe(true);
    const done = await api('/me/account', { method: 'DELETE', headers: { authorization: `Bearer ${victim.accessToken}` } });
    expect(done).toMatchObject({ status: 200, body: { deleted: true } });
    expect(await getRow('TABLE_USERS', victim.sub)).toBeUndefined();
    expect(await cognitoUserExists(victim)).toBe(false);
  });
});

/* ------------------------------------------------------------------------------------------------
 * Hung dependencies: a paused process accepts the connection (the kernel does) and never answers.
 * With the default client timeouts (AWS_*, STRIPE_*, REDIS_* in shared/config) every route must
 * answer 503 dependency_unavailable within a few seconds: 2 attempts x 2 s request timeout plus
 * the SDK's back-off for AWS, 2 x 2 s plus ~0.5 s for Stripe. Never a 500, never the function's
 * own timeout, never a default answer, never a partial write.
 * ---------------------------------------------------------------------------------------------- */

/** Upper bound for one hung dependency to become a 503 with the default timeouts. */
const DEPENDENCY_BOUND_MS = 6000;
// FAULTS_TIMINGS=1 prints each route's measured time (the figures in README "Errors and timeouts").

async function timed(call: () => Promise<APIGatewayProxyResult>): Promise<{ res: APIGatewayProxyResult; ms: number }> {
  const started = Date.now();
  const res = await call();
  return { res, ms: Date.now() - started };
}

/** Every problem with an answer that should be a prompt 503 dependency_unavailable. */
function promptUnavailable(what: string, { res, ms }: { res: APIGatewayProxyResult; ms: number }, boundMs = DEPENDENCY_BOUND_MS): string[] {
  const problems: string[] = [];
  const body = JSON.parse(res.body);
  if (res.statusCode !== 503 || body.error?.code !== 'dependency_unavailable') problems.push(`${what}: ${res.statusCode} ${res.body.slice(0, 200)}`);
  else if (what.startsWith('health')) {
    if (body.checks?.dynamodb !== 'down') problems.push(`${what}: ${res.body}`);
  } else {
    const problem = contractViolation(res.statusCode, res.body, { dependencyDown: true });
    if (problem) problems.push(`${what}: ${problem}`);
  }
  if (ms > boundMs) problems.push(`${what}: took ${ms} ms (bound ${boundMs} ms)`);
  return problems;
}

describe('DynamoDB paused (SIGSTOP on a DynamoDB Local of the test\'s own)', () => {
  let dynamo: Awaited<ReturnType<typeof startOwnedDynamo>>;
  let redis: Awaited<ReturnType<typeof startOwnedRedis>>;
  let payer: User;
  let unpaid: TestUser;
  let payerKey: string;
  /** Handlers on the owned DynamoDB and an owned, empty Redis: every read reaches DynamoDB. */
  const load = (name: string, extra: Record<string, string> = {}) => loadHandler(name, { ...dynamo.env, REDIS_URL: redis.url, ...extra });
  const ownedRows = async (userId: string) => {
    const rows: string[] = [];
    for (const [variable, table] of Object.entries(dynamo.env)) {
      if (!variable.startsWith('TABLE_')) continue;
      const out = await dynamo.doc.send(new ScanCommand({ TableName: table, ConsistentRead: true }));
      for (const item of out.Items ?? []) if (JSON.stringify(item).includes(userId)) rows.push(`${variable} ${JSON.stringify(item, Object.keys(item).sort())}`);
    }
    return rows.sort();
  };

  beforeAll(async () => {
    [payer, unpaid] = await Promise.all([activeSubscriber('pause-ddb-active', 'basic'), signUpAndSignIn('pause-ddb-free')]);
    const rotated = await api('/me/api-keys', { method: 'POST', headers: { authorization: `Bearer ${payer.accessToken}` } });
    expect(rotated.status).toBe(201);
    payerKey = rotated.body.apiKey;
    [dynamo, redis] = await Promise.all([startOwnedDynamo(), startOwnedRedis()]);
    await dynamo.copyUsers([payer.sub, unpaid.sub]);
  }, 90_000);
  afterEach(() => dynamo.resume());
  afterAll(async () => {
    await dynamo?.stop();
    await redis?.stop();
  });

  it('every route answers 503 dependency_unavailable within a few seconds, premium is never defaulted on, nothing is written', async () => {
    const cases: Array<[string, string, () => APIGatewayProxyEvent]> = [
      ['health', 'health GET /v1/health', () => apiEvent({ resource: '/v1/health', httpMethod: 'GET' })],
      ['premium-check', 'premium-check (paying user)', () => internalEvent('/v1/premium/check', 'POST', undefined, { email: payer.email })],
      ['premium-check', 'premium-check (free user)', () => internalEvent('/v1/premium/check', 'POST', undefined, { email: unpaid.email })],
      ['tokens-admin', 'tokens-admin GET status', () => internalEvent('/v1/users/{userId}/status', 'GET', payer.sub)],
      ['tokens-admin', 'tokens-admin POST add', () => internalEvent('/v1/users/{userId}/tokens/add', 'POST', payer.sub, { amount: 3, reason: 'paused', idempotencyKey: 'paused-add' })],
      ['tokens-admin', 'tokens-admin PUT tier', () => internalEvent('/v1/users/{userId}/tier', 'PUT', payer.sub, { tier: 'pro' })],
      ['token-consume', 'token-consume internal', () => internalEvent('/v1/users/{userId}/tokens/consume', 'POST', payer.sub, { amount: 1, idempotencyKey: 'paused-c' })],
      ['token-consume', 'token-consume /me', () => meEvent(payer, '/me/tokens/consume', 'POST', { amount: 1, idempotencyKey: 'paused-m' })],
      ['entitlements', 'entitlements GET /me/entitlements', () => meEvent(payer, '/me/entitlements', 'GET')],
      ['billing', 'billing POST /me/checkout', () => meEvent(unpaid, '/me/checkout', 'POST', { topUp: 100 })],
      ['billing', 'billing POST /me/billing-portal', () => meEvent(payer, '/me/billing-portal', 'POST')],
      ['sts-credentials', 'sts-credentials POST /me/aws-credentials', () => meEvent(payer, '/me/aws-credentials', 'POST')],
      ['api-keys', 'api-keys POST /me/api-keys', () => meEvent(payer, '/me/api-keys', 'POST')],
      ['api-keys', 'api-keys POST verify', () => internalEvent('/v1/api-keys/verify', 'POST', undefined, { apiKey: payerKey })],
      ['delete-account', 'delete-account DELETE /me/account', () => meEvent(unpaid, '/me/account', 'DELETE')],
      ['stripe-webhook', 'stripe-webhook', () => webhookEvent(stripeEvent)],
    ];
    const stripeEvent = { id: `evt_paused_dynamo_${Date.now()}`, object: 'event', type: 'customer.subscription.updated', data: { object: { id: payer.subscriptionId, customer: await customerOf(payer) } } };
    const handlers = cases.map(([name]) => load(name));
    const before = { payer: await ownedRows(payer.sub), unpaid: await ownedRows(unpaid.sub) };
    const stsBefore = (await stsCallsOf(payer.sub)).length;

    dynamo.pause();
    const results = await Promise.all(cases.map(([, what, event], i) => timed(() => handlers[i]!(event(), noContext)).then((r) => ({ what, ...r }))));
    dynamo.resume();

    const problems = results.flatMap((r) => promptUnavailable(r.what, r));
    expect(problems).toEqual([]);
    if (process.env.FAULTS_TIMINGS) console.log(results.map((r) => `${r.what}: ${r.res.statusCode} in ${r.ms} ms`).join('\n'));
    // Whatever reached the paused process ran after SIGCONT. The routes read first, so sent nothing
    // else, but for two single writes that may land whole (never in part), whose 503 means "may or may
    // not be applied; repeat it": the tier override (its compare-and-set after the read), whose repeat
    // completes it, cache invalidation included; and the deletion job's lease (a lock that expires, no
    // job data), which the repeated DELETE takes over.
    await new Promise((r) => setTimeout(r, 500));
    const afterPause = await ownedRows(payer.sub);
    const withoutLease = (rows: string[]) => rows.filter((row) => !/^TABLE_IDEMPOTENCY \{"expiresAt":\d+,"key":"account-deletion:[^"]+","leaseOwner":"[^"]+","leaseUntil":\d+\}$/.test(row));
    expect(withoutLease(await ownedRows(unpaid.sub))).toEqual(before.unpaid);
    expect((await stsCallsOf(payer.sub)).length).toBe(stsBefore);
    expect(await cognitoUserExists(unpaid)).toBe(true);

    // And once DynamoDB answers again, the same (warm) handlers serve normally: nothing stays wedged.
    const tier = answer(await handlers[5]!(cases[5]![2](), noContext));
    expect(tier).toMatchObject({ status: 200, body: { tier: 'pro' } });
    const final = await ownedRows(payer.sub);
    const entitlement = (rows: string[]) => {
      const row = rows.find((r) => r.startsWith('TABLE_ENTITLEMENTS '));
      const { updatedAt: _ignored, ...item } = JSON.parse(row!.slice('TABLE_ENTITLEMENTS '.length)) as Record<string, unknown>;
      return item;
    };
    const others = (rows: string[]) => rows.filter((r) => !r.startsWith('TABLE_ENTITLEMENTS '));
    expect(others(afterPause)).toEqual(others(before.payer));
    // The entitlement row is what it was, or exactly what the completed override writes: never something in between.
    expect([entitlement(before.payer), entitlement(final)]).toContainEqual(entitlement(afterPause));

    const premium = answer(await handlers[1]!(cases[1]![2](), noContext));
    expect(premium).toMatchObject({ status: 200, body: { premium: true } });
    const consumed = answer(await handlers[6]!(cases[6]![2](), noContext));
    expect(consumed).toMatchObject({ status: 200, body: { consumed: 1 } });
    // The webhook's 503 did not record the event, so Stripe's redelivery applies it.
    const redelivered = answer(await handlers[cases.length - 1]!(webhookEvent(stripeEvent), noContext));
    expect(redelivered).toMatchObject({ status: 200, body: { received: true } });
    const recorded = await dynamo.doc.send(new GetCommand({ TableName: dynamo.env.TABLE_IDEMPOTENCY, Key: { key: `stripe-event:${stripeEvent.id}` }, ConsistentRead: true }));
    expect(recorded.Item).toBeDefined();
  }, 60_000);

  it('a consume whose write reached the paused process: 503 within a few seconds, then at most one atomic charge, and the retry charges exactly once', async () => {
    const handler = load('token-consume');
    const consume = (key: string) => handler(internalEvent('/v1/users/{userId}/tokens/consume', 'POST', payer.sub, { amount: 2, idempotencyKey: key }), noContext);
    // Warm: the handler now knows the row, so the next consume goes straight to its one TransactWriteItems.
    const warm = answer(await consume(`warm-${Date.now()}`));
    expect(warm).toMatchObject({ status: 200 });
    const balance = async () => (await dynamo.doc.send(new GetCommand({ TableName: dynamo.env.TABLE_ENTITLEMENTS, Key: { userId: payer.sub }, ConsistentRead: true }))).Item!;
    const before = await balance();
    const key = `paused-write-${Date.now()}`;

    dynamo.pause();
    const hung = await timed(() => consume(key));
    dynamo.resume();
    if (process.env.FAULTS_TIMINGS) console.log(`token-consume (write in flight): ${hung.res.statusCode} in ${hung.ms} ms`);
    expect(promptUnavailable('token-consume (write in flight)', hung)).toEqual([]);

    // The write may have been applied after SIGCONT (DynamoDB cannot un-receive it): all of it or none of it.
    await new Promise((r) => setTimeout(r, 500));
    const ledgerFor = async () => {
      const out = await dynamo.doc.send(new QueryCommand({ TableName: dynamo.env.TABLE_LEDGER, KeyConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': payer.sub }, ConsistentRead: true }));
      return (out.Items ?? []).filter((e) => e.idempotencyKey === key);
    };
    const afterPause = await balance();
    const entries = (await ledgerFor()).length;
    expect(entries).toBeLessThanOrEqual(1);
    if (entries === 0) expect(afterPause).toEqual(before);

    // The caller retries with the same key: exactly one charge in all.
    const retry = answer(await consume(key));
    expect(retry).toMatchObject({ status: 200, body: { consumed: 2, remaining: warm.body.remaining - 2 } });
    expect(await ledgerFor()).toHaveLength(1);
  }, 60_000);
});

describe('Redis paused (SIGSTOP on a redis-server of the test\'s own)', () => {
  let redis: Awaited<ReturnType<typeof startOwnedRedis>>;
  const load = (name: string) => loadHandler(name, { REDIS_URL: redis.url });
  beforeAll(async () => {
    redis = await startOwnedRedis();
  }, 30_000);
  afterEach(() => redis.resume());
  afterAll(() => redis?.stop());

  it('reads answer from DynamoDB (premium never defaulted on), credentials fail closed with 503, a grant is 503 and idempotent, all within a few seconds', async () => {
    const names = ['health', 'premium-check', 'entitlements', 'token-consume', 'sts-credentials', 'tokens-admin', 'api-keys'] as const;
    const h = Object.fromEntries(names.map((n) => [n, load(n)])) as Record<(typeof names)[number], Handler>;
    const check = (email: string) => h['premium-check'](internalEvent('/v1/premium/check', 'POST', undefined, { email }), noContext);
    // Warm: every client connected, the paying user's answer cached.
    expect(answer(await check(active.email))).toMatchObject({ status: 200, body: { premium: true } });
    // Health pings with a 250 ms budget: on a loaded machine the first ping may still be connecting.
    await eventually(async () => {
      expect(answer(await h.health(apiEvent({ resource: '/v1/health', httpMethod: 'GET' }), noContext))).toMatchObject({ status: 200, body: { status: 'ok' } });
    });
    const snapshot = await snapshotUser(active.sub);
    const stsBefore = (await stsCallsOf(active.sub)).length;
    const grant = { amount: 5, reason: 'redis paused', idempotencyKey: `redis-paused-grant-${Date.now()}` };

    redis.pause();
    const [health, paying, unpaying, nobody, entitlements, credentials] = await Promise.all([
      timed(() => h.health(apiEvent({ resource: '/v1/health', httpMethod: 'GET' }), noContext)),
      timed(() => check(active.email)),
      timed(() => check(free.email)),
      timed(() => check(`nobody-${Date.now()}@example.com`)),
      timed(() => h.entitlements(meEvent(free, '/me/entitlements', 'GET'), noContext)),
      timed(() => h['sts-credentials'](meEvent(active, '/me/aws-credentials', 'POST'), noContext)),
    ]);
    // Writes after the reads, so the snapshot comparison above covers exactly the refused credentials.
    expect(await snapshotUser(active.sub)).toBe(snapshot);
    const granted = await timed(() => h['tokens-admin'](internalEvent('/v1/users/{userId}/tokens/add', 'POST', active.sub, grant), noContext));
    const consumed = await timed(() => h['token-consume'](meEvent(active, '/me/tokens/consume', 'POST', { amount: 1, idempotencyKey: `redis-paused-${Date.now()}` }), noContext));
    const verified = await timed(() => h['api-keys'](internalEvent('/v1/api-keys/verify', 'POST', undefined, { apiKey }), noContext));
    redis.resume();

    const fast = 2000;
    for (const r of [health, paying, unpaying, nobody, entitlements, consumed, verified]) expect(r.ms).toBeLessThan(fast);
    expect(answer(health.res)).toMatchObject({ status: 200, body: { status: 'degraded', checks: { redis: 'down', dynamodb: 'ok' } } });
    expect(answer(paying.res)).toMatchObject({ status: 200, body: { premium: true, source: 'db' } });
    expect(answer(unpaying.res)).toMatchObject({ status: 200, body: { premium: false } });
    expect(answer(nobody.res)).toMatchObject({ status: 200, body: { premium: false } });
    expect(answer(entitlements.res)).toMatchObject({ status: 200, body: { userId: free.sub, premium: false } });
    expect(answer(consumed.res)).toMatchObject({ status: 200, body: { consumed: 1 } });
    expect(answer(verified.res)).toMatchObject({ status: 200, body: { valid: true } });
    expect(promptUnavailable('sts-credentials', credentials, fast)).toEqual([]);
    expect((await stsCallsOf(active.sub)).length).toBe(stsBefore);
    // The grant is written, its cache invalidation could not be: 503, and the retry is a replay (one ledger entry).
    expect(promptUnavailable('tokens-admin add', granted, fast)).toEqual([]);
    const retry = answer(await h['tokens-admin'](internalEvent('/v1/users/{userId}/tokens/add', 'POST', active.sub, grant), noContext));
    expect(retry).toMatchObject({ status: 200 });
    expect(retry.headers['Idempotent-Replayed']).toBe('true');
    const ledger = (JSON.parse(await snapshotUser(active.sub)) as { ledger: string[] }).ledger;
    expect(ledger.filter((e) => e.includes(`"${grant.idempotencyKey}"`))).toHaveLength(1);
    // Redis back: the cache serves again (the breaker closes after its cooldown).
    await eventually(async () => {
      const again = answer(await check(active.email));
      if (again.body.source !== 'cache') throw new Error(`still ${again.body.source}`);
    }, 15_000);
  }, 60_000);
});

describe('STS and Secrets Manager hung (SIGSTOP on a process of the test\'s own)', () => {
  let hung: Awaited<ReturnType<typeof startOwnedSts>>;
  beforeAll(async () => {
    hung = await startOwnedSts();
  }, 30_000);
  afterEach(() => hung.resume());
  afterAll(() => hung?.stop());

  it('sts-credentials: 503 within a few seconds, no credentials, no grant logged', async () => {
    const handler = loadHandler('sts-credentials', { STS_ENDPOINT: hung.url });
    const before = await snapshotUser(active.sub);
    hung.pause();
    const res = await timed(() => handler(meEvent(active, '/me/aws-credentials', 'POST'), noContext));
    hung.resume();
    expect(promptUnavailable('sts-credentials', res)).toEqual([]);
    expect(res.res.body).not.toMatch(/ASIA|secretAccessKey|sessionToken/);
    expect(await snapshotUser(active.sub)).toBe(before);
  }, 30_000);

  it('a secrets read that hangs (internal API keys, Stripe keys) is 503 within a few seconds on every route that needs it', async () => {
    hung.pause();
    const secrets = {
      SECRETS_MANAGER_ENDPOINT: hung.url,
      INTERNAL_API_KEYS_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:internal-api-keys',
      STRIPE_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:stripe',
    };
    const cases: Array<[string, string, () => APIGatewayProxyEvent]> = [
      ['premium-check', 'premium-check', () => internalEvent('/v1/premium/check', 'POST', undefined, { email: active.email })],
      ['tokens-admin', 'tokens-admin GET status', () => internalEvent('/v1/users/{userId}/status', 'GET', active.sub)],
      ['token-consume', 'token-consume internal', () => internalEvent('/v1/users/{userId}/tokens/consume', 'POST', active.sub, { amount: 1, idempotencyKey: `secrets-${Date.now()}` })],
      ['api-keys', 'api-keys verify', () => internalEvent('/v1/api-keys/verify', 'POST', undefined, { apiKey })],
      ['billing', 'billing POST /me/checkout', () => meEvent(free, '/me/checkout', 'POST', { topUp: 100 })],
      ['stripe-webhook', 'stripe-webhook', () => webhookEvent({ id: `evt_secrets_${Date.now()}`, object: 'event', type: 'customer.subscription.updated', data: { object: { id: active.subscriptionId } } })],
    ];
    const before = await snapshotUser(active.sub);
    const handlers = cases.map(([name]) => loadHandler(name, secrets));
    const results = await Promise.all(cases.map(([, what, event], i) => timed(() => handlers[i]!(event(), noContext)).then((r) => ({ what, ...r }))));
    hung.resume();
    expect(results.flatMap((r) => promptUnavailable(r.what, r))).toEqual([]);
    expect(await snapshotUser(active.sub)).toBe(before);
  }, 60_000);
});

describe('Stripe hung with the default client settings', () => {
  beforeEach(() => control('POST', '/delivery/flush'));
  afterEach(() => control('POST', '/faults/reset'));

  it('billing checkout answers 503 within a few seconds (STRIPE_TIMEOUT_MS x (1 + STRIPE_MAX_NETWORK_RETRIES) + back-off)', async () => {
    const handler = loadHandler('billing');
    await control('POST', '/faults', { method: 'POST', path: '^/v1/checkout/sessions', status: 'hang', count: 4, hangMs: 15_000 });
    const res = await timed(() => handler(meEvent(free, '/me/checkout', 'POST', { topUp: 100 }), noContext));
    expect(promptUnavailable('billing checkout', res)).toEqual([]);
    expect(res.ms).toBeGreaterThanOrEqual(2 * 2000);
  }, 30_000);
});
