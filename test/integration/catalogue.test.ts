import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { AdminConfirmSignUpCommand, SignUpCommand } from '@aws-sdk/client-cognito-identity-provider';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { localCognitoClient } from '../../infra/local/cognito';
import { api, localStack } from '../fixtures/stack';
import { startStackProcess, stopStackProcess, type StackProcess } from '../fixtures/stack-process';
import { pushedCopy } from '../fixtures/catalogue';
import { documentClient, tokenTablesFromEnv } from '../fixtures/tokens';
import { localDynamoClient } from '../../infra/local/dynamodb';
import { DynamoTokenStore } from '../../shared/adapters/dynamodb/token-store';
import { catalogueFileSchema, resolveCatalogue } from '../../shared/domain/catalogue';
import { consumeTokens } from '../../shared/use-cases/consume-tokens';
import { createEntitlementsClient, EntitlementsApiError } from '@entitlements-backend/client';

/**
 * An operator's own catalogue, end to end: a second local stack started with
 * CATALOGUE_FILE pointing at a fixture with a NEW plan (team: 300 tokens,
 * 14-day trial, its own rate) and a METERED feature (report-exports: 3 a
 * month on team, 100 on pro, unlimited on enterprise). GET /v1/tiers serves
 * it, PUT tier accepts the new plan, consume spends the new plan's tokens and
 * the feature's allowance (never over), features/check answers from the
 * same counters. The shared stack keeps the default file.
 */

jest.setTimeout(120_000);

// As after `npm run catalogue -- push --env local`: the new plan and top-up have their price ids.
const CUSTOM = pushedCopy(resolve(__dirname, '..', 'fixtures', 'catalogues', 'custom.config.json'), ['local']);
let custom: StackProcess;

beforeAll(async () => {
  custom = await startStackProcess({
    stateDirName: `.local/test-catalogue-${process.pid}`,
    redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    env: { CATALOGUE_FILE: CUSTOM },
  });
});

afterAll(async () => {
  if (custom) await stopStackProcess(custom);
});

async function call(path: string, init: { method?: string; json?: unknown; key?: string | null } = {}) {
  const headers: Record<string, string> = {};
  if (init.json !== undefined) headers['content-type'] = 'application/json';
  if (init.key !== null) headers['x-api-key'] = init.key ?? custom.state.internalApiKey;
  const res = await fetch(`${custom.state.gatewayUrl}${path}`, { method: init.method ?? (init.json === undefined ? 'GET' : 'POST'), headers, body: init.json === undefined ? undefined : JSON.stringify(init.json) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** A user of the custom stack (signed up through its cognito-local: the trigger creates the row) on `plan`. */
async function userOn(plan?: string): Promise<string> {
  const { cognito } = custom.state;
  const client = localCognitoClient(cognito.endpoint);
  try {
    const email = `catalogue-${randomUUID()}@example.com`;
    const signUp = await client.send(new SignUpCommand({ ClientId: cognito.clientId, Username: email, Password: 'Correct-Horse-42!', UserAttributes: [{ Name: 'email', Value: email }] }));
    await client.send(new AdminConfirmSignUpCommand({ UserPoolId: cognito.userPoolId, Username: email }));
    const userId = signUp.UserSub!;
    if (plan) expect(await call(`/v1/users/${userId}/tier`, { method: 'PUT', json: { tier: plan, sticky: true } })).toMatchObject({ status: 200, body: { tier: plan } });
    return userId;
  } finally {
    client.destroy();
  }
}

const consume = (userId: string, body: Record<string, unknown>) => call(`/v1/users/${userId}/tokens/consume`, { json: { idempotencyKey: randomUUID(), ...body } });
const check = (userId: string, feature: string) => call(`/v1/users/${userId}/features/check`, { json: { feature } });

describe('GET /v1/tiers serves the file the stack started with', () => {
  it('the custom stack: the new plan in rank order, the metered feature with its limits, the new top-up', async () => {
    const { status, body } = await call('/v1/tiers', { key: null });
    expect(status).toBe(200);
    expect(body.tiers.map((t: { name: string }) => t.name)).toEqual(['free', 'tester', 'basic', 'pro', 'team', 'enterprise', 'admin']);
    const team = body.tiers.find((t: { name: string }) => t.name === 'team');
    expect(team).toMatchObject({ monthlyTokens: 300, monthlyApiCalls: 2000, rateLimitPerSecond: 25, trialDays: 14, price: { amount: 2900, currency: 'usd', interval: 'month' }, purchasable: true });
    expect(team.features).toEqual(
      expect.arrayContaining([
        { key: 'report-exports', kind: 'metered', monthlyLimit: 3 },
        { key: 'team-seats', kind: 'boolean' },
      ]),
    );
    expect(body.tiers.find((t: { name: string }) => t.name === 'enterprise').features).toContainEqual({ key: 'report-exports', kind: 'metered', monthlyLimit: null });
    expect(body.topUps.map((t: { name: string }) => t.name)).toEqual(['tokens-100', 'tokens-500']);
  });

  it('the shared stack: the default file, without the fixture\'s plan', async () => {
    const { body } = await api('/v1/tiers');
    expect(body.tiers.map((t: { name: string }) => t.name)).toEqual(['free', 'tester', 'basic', 'pro', 'enterprise', 'admin']);
  });
});

describe('PUT tier validates against the loaded catalogue', () => {
  it('refuses a plan the file does not have, naming the field and the known plans, and changes nothing', async () => {
    const userId = await userOn();
    const refused = await call(`/v1/users/${userId}/tier`, { method: 'PUT', json: { tier: 'platinum' } });
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toBe('tier: unknown plan "platinum"; one of free, tester, basic, pro, team, enterprise, admin');
    expect((await call(`/v1/users/${userId}/status`)).body).toMatchObject({ tier: 'free' });
  });
});

describe('consume enforces the new plan and the metered feature', () => {
  it('spends the new plan\'s 300 tokens, never more', async () => {
    const userId = await userOn('team');
    expect(await consume(userId, { amount: 300 })).toMatchObject({ status: 200, body: { consumed: 300, remaining: 0 } });
    expect(await consume(userId, { amount: 1 })).toMatchObject({ status: 402, body: { error: { code: 'insufficient_tokens', remaining: 0 } } });
    expect((await call(`/v1/users/${userId}/status`)).body).toMatchObject({ tier: 'team', tokens: { monthlyAllowance: 300, remaining: 0 } });
  });

  it('spends a metered feature up to its limit, once per key, with features/check reading the same counter', async () => {
    const userId = await userOn('team');
    expect((await check(userId, 'report-exports')).body).toEqual({ allowed: true, remaining: 3, limit: 3 });

    const key = randomUUID();
    expect(await consume(userId, { amount: 2, feature: 'report-exports', idempotencyKey: key })).toMatchObject({ status: 200, body: { consumed: 2, remaining: 1 } });
    // A retry with the same key answers the first result and charges nothing.
    expect(await consume(userId, { amount: 2, feature: 'report-exports', idempotencyKey: key })).toMatchObject({ status: 200, body: { consumed: 2, remaining: 1 } });
    // The same key for another feature (or tokens) is another request: a conflict.
    expect((await consume(userId, { amount: 2, idempotencyKey: key })).status).toBe(409);
    expect((await check(userId, 'report-exports')).body).toEqual({ allowed: true, remaining: 1, limit: 3 });

    expect(await consume(userId, { amount: 2, feature: 'report-exports' })).toMatchObject({
      status: 402,
      body: { error: { code: 'feature_limit_reached', feature: 'report-exports', remaining: 1 } },
    });
    expect(await consume(userId, { amount: 1, feature: 'report-exports' })).toMatchObject({ status: 200, body: { remaining: 0 } });
    expect((await check(userId, 'report-exports')).body).toEqual({ allowed: false, remaining: 0, limit: 3 });
    // Tokens are another allowance: untouched by the feature's uses.
    expect((await call(`/v1/users/${userId}/status`)).body.tokens).toMatchObject({ remaining: 300, usedThisPeriod: 0 });
  });

  it('never goes over the limit when uses race', async () => {
    const userId = await userOn('team');
    const results = await Promise.all(Array.from({ length: 8 }, () => consume(userId, { amount: 1, feature: 'report-exports' })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(3);
    expect(results.filter((r) => r.status === 402)).toHaveLength(5);
    expect((await check(userId, 'report-exports')).body).toEqual({ allowed: false, remaining: 0, limit: 3 });
  });

  it('answers a retry whose feature the next deploy removed or made boolean from its key (charged once), not with 404/400', async () => {
    const userId = await userOn('team');
    const key = randomUUID();
    expect(await consume(userId, { amount: 1, feature: 'report-exports', idempotencyKey: key })).toMatchObject({ status: 200, body: { consumed: 1, remaining: 2 } });
    // The next deploy's catalogues, on the same tables: the feature gone, or boolean.
    const redeployed = (grant: (plan: { features: Record<string, unknown> }) => void) => {
      const file = JSON.parse(readFileSync(CUSTOM, 'utf8'));
      for (const plan of file.plans) if ('report-exports' in plan.features) grant(plan);
      return resolveCatalogue(catalogueFileSchema.parse(file), 'local');
    };
    const raw = localDynamoClient(custom.state.dynamodbEndpoint);
    try {
      for (const catalogue of [redeployed((plan) => delete plan.features['report-exports']), redeployed((plan) => (plan.features['report-exports'] = true))]) {
        const deps = { tokens: new DynamoTokenStore(documentClient(raw), { tables: tokenTablesFromEnv(custom.state.handlerEnv), catalogue }), cache: { invalidateBestEffort: async () => undefined }, catalogue };
        await expect(consumeTokens(deps, { userId, amount: 1, idempotencyKey: key, feature: 'report-exports' })).resolves.toEqual({ outcome: 'consumed', consumed: 1, remaining: 2, replayed: true });
        // Another request under the key is still a conflict; a new key meets the catalogue's refusal.
        await expect(consumeTokens(deps, { userId, amount: 2, idempotencyKey: key, feature: 'report-exports' })).resolves.toEqual({ outcome: 'conflict' });
        await expect(consumeTokens(deps, { userId, amount: 1, idempotencyKey: randomUUID(), feature: 'report-exports' })).rejects.toThrow(/report-exports/);
      }
    } finally {
      raw.destroy();
    }
    expect((await check(userId, 'report-exports')).body).toEqual({ allowed: true, remaining: 2, limit: 3 });
  });

  it('refuses a feature no plan names (404), a boolean feature (400), and a plan without the feature (402), changing nothing', async () => {
    const userId = await userOn('basic');
    expect(await consume(userId, { amount: 1, feature: 'report-exprots' })).toMatchObject({ status: 404, body: { error: { code: 'unknown_feature' } } });
    expect(await consume(userId, { amount: 1, feature: 'team-seats' })).toMatchObject({ status: 400, body: { error: { message: expect.stringMatching(/^feature: "team-seats" is not metered/) } } });
    expect(await consume(userId, { amount: 1, feature: 'report-exports' })).toMatchObject({ status: 402, body: { error: { remaining: 0 } } });
    expect((await check(userId, 'report-exports')).body).toEqual({ allowed: false, remaining: 0, limit: 0 });
  });
});

describe('POST /v1/users/{userId}/features/check', () => {
  it('answers a user whose account is being deleted as consume does: 404', async () => {
    const userId = await userOn('team');
    expect(await check(userId, 'report-exports')).toMatchObject({ status: 200, body: { allowed: true } });
    // Deletion's first step marks the profile, then the entitlement row (which consumes check); the rows go later.
    const raw = localDynamoClient(custom.state.dynamodbEndpoint);
    try {
      const at = new Date().toISOString();
      for (const table of [custom.state.handlerEnv.TABLE_USERS!, custom.state.handlerEnv.TABLE_ENTITLEMENTS!]) {
        await documentClient(raw).send(new UpdateCommand({ TableName: table, Key: { userId }, UpdateExpression: 'SET deletingAt = :at', ExpressionAttributeValues: { ':at': at } }));
      }
    } finally {
      raw.destroy();
    }
    expect(await consume(userId, { amount: 1, feature: 'report-exports' })).toMatchObject({ status: 404 });
    expect(await check(userId, 'report-exports')).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
    expect(await check(userId, 'team-seats')).toMatchObject({ status: 404 });
  });

  it('answers boolean features from the plan in force', async () => {
    const team = await userOn('team');
    expect(await check(team, 'team-seats')).toEqual({ status: 200, body: { allowed: true } });
    expect(await check(team, 'priority-support')).toEqual({ status: 200, body: { allowed: false } });
    const enterprise = await userOn('enterprise');
    expect((await check(enterprise, 'report-exports')).body).toEqual({ allowed: true, remaining: null, limit: null });
    expect((await check(enterprise, 'team-seats')).body).toEqual({ allowed: false });
  });

  it('refuses an unknown feature (404), an unknown user (404, like status), a bad body (400) and no key (401)', async () => {
    const userId = await userOn('team');
    expect(await check(userId, 'team-seat')).toMatchObject({ status: 404, body: { error: { code: 'unknown_feature', message: 'feature: no plan of the catalogue names "team-seat" (see GET /v1/tiers)' } } });
    expect(await check(`nobody-${randomUUID()}`, 'team-seats')).toMatchObject({ status: 404, body: { error: { message: 'Unknown user' } } });
    expect(await call(`/v1/users/${userId}/features/check`, { json: {} })).toMatchObject({ status: 400, body: { error: { message: expect.stringMatching(/^feature: /) } } });
    expect((await call(`/v1/users/${userId}/features/check`, { json: { feature: 'team-seats' }, key: null })).status).toBe(401);
  });

  it('serves the default catalogue\'s features on the shared stack', async () => {
    const res = await api(`/v1/users/nobody-${randomUUID()}/features/check`, { method: 'POST', json: { feature: 'report-exports' }, headers: { 'x-api-key': localStack().internalApiKey } });
    expect(res).toMatchObject({ status: 404, body: { error: { code: 'unknown_feature' } } });
  });
});

describe('an app backend gating a metered feature through the typed client', () => {
  it('checkFeature and consumeTokens({feature}) read and spend the same counter; over the limit is a typed 402', async () => {
    const client = createEntitlementsClient({ baseUrl: custom.state.gatewayUrl, apiKey: custom.state.internalApiKey, retries: { retries: 0 } });
    const userId = await userOn('team');

    await expect(client.checkFeature(userId, 'report-exports')).resolves.toEqual({ allowed: true, remaining: 3, limit: 3 });
    await expect(client.checkFeature(userId, 'team-seats')).resolves.toEqual({ allowed: true });

    const first = await client.consumeTokens(userId, { amount: 2, feature: 'report-exports' });
    expect(first).toMatchObject({ replayed: false });
    await expect(client.consumeTokens(userId, { amount: 2, feature: 'report-exports', idempotencyKey: first.idempotencyKey })).resolves.toMatchObject({ replayed: true });
    await expect(client.checkFeature(userId, 'report-exports')).resolves.toEqual({ allowed: true, remaining: 1, limit: 3 });

    const refused = await client.consumeTokens(userId, { amount: 2, feature: 'report-exports' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(EntitlementsApiError);
    expect(refused).toMatchObject({ status: 402, code: 'feature_limit_reached', attempts: 1 });
    await expect(client.checkFeature(userId, 'report-exports')).resolves.toEqual({ allowed: true, remaining: 1, limit: 3 });

    const unknown = await client.checkFeature(userId, 'reports-export').catch((e: unknown) => e);
    expect(unknown).toMatchObject({ status: 404, code: 'unknown_feature' });
  });
});
