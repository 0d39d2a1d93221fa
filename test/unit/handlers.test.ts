import type { APIGatewayProxyEvent } from 'aws-lambda';
import { InternalApiKeys } from '../../shared/http/auth';
import { catalogueWith, defaultCatalogue } from '../fixtures/catalogue';
import { DEFAULT_ACCESS_POLICY, decideAccess } from '../../shared/domain/access';
import { catalogueOf } from '../../shared/domain/catalogue';
import type { DependencyProbe } from '../../shared/ports/dependency-probe';
import { cacheKeys, type ReadThroughCache } from '../../shared/ports/cache';
import { metrics } from '../../shared/observability/metrics';
import { apiEvent, noContext, UNIT_HANDLER_ENV } from '../fixtures/handlers';
import { InMemoryTokenStore } from '../fixtures/tokens';

/**
 * Every function exports a factory taking its dependencies: here the
 * handlers are built from plain fakes (the integration tests load the same
 * modules against the local stack). Importing a handler module also builds
 * its default instance, so the environment names what it reads; nothing
 * connects (Redis disabled, plain internal keys, SDK clients are lazy).
 */
Object.assign(process.env, {
  ...UNIT_HANDLER_ENV,
  INTERNAL_API_KEYS: 'unit-key',
  COGNITO_USER_POOL_ID: 'us-east-1_unit',
  COGNITO_CLIENT_IDS: 'app',
  CREDENTIALS_ROLE_ARN: 'arn:aws:iam::123456789012:role/unit',
});

/* eslint-disable @typescript-eslint/no-require-imports -- after the environment above */
const { createTokenConsumeHandler } = require('../../lambdas/token-consume/handler') as typeof import('../../lambdas/token-consume/handler');
const { createHealthHandler } = require('../../lambdas/health/handler') as typeof import('../../lambdas/health/handler');
const { createTokensAdminHandler } = require('../../lambdas/tokens-admin/handler') as typeof import('../../lambdas/tokens-admin/handler');
const { createStsCredentialsHandler } = require('../../lambdas/sts-credentials/handler') as typeof import('../../lambdas/sts-credentials/handler');
/* eslint-enable @typescript-eslint/no-require-imports */

const catalogue = defaultCatalogue();
const now = () => new Date('2026-11-30T12:00:00Z');
const decide = (state: Parameters<typeof decideAccess>[0], at: Date) => decideAccess(state, catalogue, DEFAULT_ACCESS_POLICY, at);
const keys = async () => new InternalApiKeys(['unit-key']);

/** A cache that records what was dropped. */
function recordingCache(): ReadThroughCache & { dropped: string[] } {
  const dropped: string[] = [];
  return {
    dropped,
    read: async <T>(_key: string, load: () => Promise<T>) => ({ value: await load(), source: 'db' as const }),
    invalidate: async (k) => void dropped.push(...k),
    invalidateBestEffort: async (k) => void dropped.push(...k),
  };
}

const internal = (resource: string, httpMethod: string, userId: string, body?: unknown): APIGatewayProxyEvent =>
  apiEvent({ resource, httpMethod, pathParameters: { userId }, headers: { 'x-api-key': 'unit-key' }, body: body === undefined ? null : JSON.stringify(body) });
const me = (resource: string, sub: string, body?: unknown): APIGatewayProxyEvent =>
  apiEvent({
    resource,
    httpMethod: 'POST',
    requestContext: { requestId: 'r', authorizer: { claims: { sub, client_id: 'app' } } } as unknown as APIGatewayProxyEvent['requestContext'],
    body: body === undefined ? null : JSON.stringify(body),
  });

describe('token-consume from fakes', () => {
  function build() {
    const tokens = new InMemoryTokenStore(catalogue, now);
    const cache = recordingCache();
    tokens.createUser('u1', { tokensPurchased: 5 });
    return { tokens, cache, handler: createTokenConsumeHandler({ consume: { tokens, cache, catalogue }, internalKeys: keys, cognitoClientIds: ['app'] }) };
  }

  it('charges once per key, drops the cached row once, and replays the first answer', async () => {
    const { handler, cache } = build();
    const event = internal('/v1/users/{userId}/tokens/consume', 'POST', 'u1', { amount: 2, idempotencyKey: 'k1' });
    const first = await handler(event, noContext);
    expect([first.statusCode, JSON.parse(first.body)]).toEqual([200, { remaining: 3, consumed: 2 }]);
    const again = await handler(event, noContext);
    expect([again.statusCode, again.headers?.['Idempotent-Replayed'], JSON.parse(again.body)]).toEqual([200, 'true', { remaining: 3, consumed: 2 }]);
    expect(cache.dropped).toEqual([cacheKeys.entitlement('u1')]);
  });

  it('answers 402 with the balance, 409 for a reused key, 404 for an unknown user (internal) and 402 (own tokens)', async () => {
    const { handler, tokens } = build();
    const consume = (userId: string, amount: number, idempotencyKey: string) => handler(internal('/v1/users/{userId}/tokens/consume', 'POST', userId, { amount, idempotencyKey }), noContext);
    const poor = await consume('u1', 50, 'big');
    expect([poor.statusCode, JSON.parse(poor.body).error.code]).toEqual([402, 'insufficient_tokens']);
    await consume('u1', 1, 'same');
    expect((await consume('u1', 2, 'same')).statusCode).toBe(409);
    expect((await consume('nobody', 1, 'x')).statusCode).toBe(404);
    expect((await handler(me('/me/tokens/consume', 'nobody', { amount: 1, idempotencyKey: 'x' }), noContext)).statusCode).toBe(402);
    expect(tokens.ledger.filter((e) => e.userId === 'u1')).toHaveLength(1);
  });

  it('answers a metered feature over its limit with feature_limit_reached (not insufficient_tokens), and a key reused for another request with a 409 saying so', async () => {
    const metered = catalogueOf({ plans: [{ name: 'free', displayName: 'Free', monthlyTokens: 0, monthlyApiCalls: 0, features: { exports: { monthlyLimit: 1 } } }] });
    const tokens = new InMemoryTokenStore(metered, now);
    tokens.createUser('u1', { tokensPurchased: 5 });
    const handler = createTokenConsumeHandler({ consume: { tokens, cache: recordingCache(), catalogue: metered }, internalKeys: keys, cognitoClientIds: ['app'] });
    const consume = (body: Record<string, unknown>) => handler(internal('/v1/users/{userId}/tokens/consume', 'POST', 'u1', body), noContext);
    expect((await consume({ amount: 1, idempotencyKey: 'first', feature: 'exports' })).statusCode).toBe(200);
    const over = await consume({ amount: 1, idempotencyKey: 'second', feature: 'exports' });
    expect([over.statusCode, JSON.parse(over.body).error]).toEqual([402, { code: 'feature_limit_reached', message: expect.any(String), feature: 'exports', remaining: 0 }]);
    // Same amount, tokens instead of the feature: the amount is not what differs.
    const reused = await consume({ amount: 1, idempotencyKey: 'first' });
    expect([reused.statusCode, JSON.parse(reused.body).error.message]).toEqual([409, 'idempotencyKey was already used with a different request']);
  });

  it('publishes what an invocation counted once, at its end (consumed tokens, 402s)', async () => {
    const { handler } = build();
    const published = jest.spyOn(metrics, 'publishStoredMetrics').mockImplementation(() => (metrics.clearMetrics(), metrics));
    try {
      await handler(internal('/v1/users/{userId}/tokens/consume', 'POST', 'u1', { amount: 2, idempotencyKey: 'm1' }), noContext);
      expect(published).toHaveBeenCalledTimes(1);
      await handler(internal('/v1/users/{userId}/tokens/consume', 'POST', 'u1', { amount: 50, idempotencyKey: 'm2' }), noContext);
      expect(published).toHaveBeenCalledTimes(2);
      // A request that counted nothing publishes nothing.
      await handler(apiEvent({ resource: '/elsewhere', httpMethod: 'GET' }), noContext);
      expect(published).toHaveBeenCalledTimes(2);
    } finally {
      published.mockRestore();
      metrics.clearMetrics();
    }
  });

  it('checks the internal key before reading anything, and answers 404 for a route it does not serve', async () => {
    const { handler, tokens } = build();
    const noKey = internal('/v1/users/{userId}/tokens/consume', 'POST', 'u1', { amount: 1, idempotencyKey: 'k' });
    noKey.headers = {};
    expect((await handler(noKey, noContext)).statusCode).toBe(401);
    expect((await handler(apiEvent({ resource: '/elsewhere', httpMethod: 'GET' }), noContext)).statusCode).toBe(404);
    expect(tokens.ledger).toHaveLength(0);
  });
});

describe('health from fakes', () => {
  const probe = (name: string, up: boolean): DependencyProbe => ({ name, ping: async () => (up ? undefined : Promise.reject(new Error('down'))) });

  it('DynamoDB down is 503 down; Redis down is 200 degraded; Redis disabled is reported so', async () => {
    const down = await createHealthHandler({ dynamodb: probe('dynamodb', false), redis: probe('redis', true) })(apiEvent({ resource: '/v1/health', httpMethod: 'GET' }), noContext);
    expect([down.statusCode, JSON.parse(down.body).status, JSON.parse(down.body).error.code]).toEqual([503, 'down', 'dependency_unavailable']);
    const degraded = await createHealthHandler({ dynamodb: probe('dynamodb', true), redis: probe('redis', false) })(apiEvent({ resource: '/v1/health', httpMethod: 'GET' }), noContext);
    expect([degraded.statusCode, JSON.parse(degraded.body)]).toEqual([200, { status: 'degraded', checks: { dynamodb: 'ok', redis: 'down' } }]);
    const disabled = await createHealthHandler({ dynamodb: probe('dynamodb', true) })(apiEvent({ resource: '/v1/health', httpMethod: 'GET' }), noContext);
    expect(JSON.parse(disabled.body).checks).toEqual({ dynamodb: 'ok', redis: 'disabled' });
  });
});

describe('tokens-admin from fakes', () => {
  it('refuses an unknown tier with 400 and writes nothing; a tier change drops the row and the premium answer', async () => {
    const tokens = new InMemoryTokenStore(catalogue, now);
    tokens.createUser('u1');
    const cache = recordingCache();
    const users = { get: async () => ({ userId: 'u1', email: 'a@example.com', createdAt: now().toISOString() }) };
    const handler = createTokensAdminHandler({ admin: { tokens, users: users as never, cache, catalogue, decide, now }, internalKeys: keys });
    const bad = await handler(internal('/v1/users/{userId}/tier', 'PUT', 'u1', { tier: 'platinum' }), noContext);
    expect([bad.statusCode, cache.dropped]).toEqual([400, []]);
    const set = await handler(internal('/v1/users/{userId}/tier', 'PUT', 'u1', { tier: 'pro' }), noContext);
    expect([set.statusCode, JSON.parse(set.body).tier]).toEqual([200, 'pro']);
    expect(cache.dropped).toHaveLength(2);
    expect((await handler(internal('/v1/users/{userId}/status', 'GET', 'nobody'), noContext)).statusCode).toBe(404);
  });
});

describe('features/check from fakes', () => {
  it('answers 404 for a user whose account is being deleted, as consume does, and allowed otherwise', async () => {
    const tokens = new InMemoryTokenStore(catalogue, now);
    tokens.createUser('u1', { tierStickyValue: 'pro' });
    let deletingAt: string | undefined;
    const users = { get: async () => ({ userId: 'u1', email: 'a@example.com', createdAt: now().toISOString(), ...(deletingAt ? { deletingAt } : {}) }) };
    const handler = createTokensAdminHandler({ admin: { tokens, users: users as never, cache: recordingCache(), catalogue, decide, now }, internalKeys: keys });
    const check = () => handler(internal('/v1/users/{userId}/features/check', 'POST', 'u1', { feature: 'premium' }), noContext);
    const live = await check();
    expect([live.statusCode, JSON.parse(live.body)]).toEqual([200, { allowed: true }]);
    deletingAt = now().toISOString();
    const deleting = await check();
    expect([deleting.statusCode, JSON.parse(deleting.body).error.code]).toEqual([404, 'not_found']);
  });
});

describe('sts-credentials from fakes', () => {
  it('refuses a free user with 403 before the rate limiter, STS or the usage log are asked', async () => {
    const asked: string[] = [];
    const handler = createStsCredentialsHandler({
      credentials: {
        entitlements: { get: async () => undefined },
        usage: { logCredentialGrant: async () => (asked.push('log'), 'logged') },
        limiter: { take: async () => (asked.push('limiter'), { allowed: true, remaining: 1 }) },
        vendor: { assumeRole: async () => (asked.push('sts'), Promise.reject(new Error('never'))) },
        decide,
        grant: { policy: { Version: '2012-10-17', Statement: [] } as never, durationSeconds: 900, actions: [] },
        now,
      },
      cognitoClientIds: ['app'],
      region: 'us-east-1',
    });
    const res = await handler(me('/me/aws-credentials', 'u1'), noContext);
    expect([res.statusCode, JSON.parse(res.body).error.code, asked]).toEqual([403, 'forbidden', []]);
  });
});
