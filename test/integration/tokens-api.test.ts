import { randomUUID } from 'node:crypto';
import { DeleteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { localDynamoClient } from '../../infra/local/dynamodb';
import { adminTierFields } from '../../shared/domain/access';
import { NO_SUBSCRIPTION } from '../../shared/domain/entitlement';
import { MAX_TOKEN_AMOUNT } from '../../shared/domain/token-balances';
import { signUpAndSignIn, type TestUser } from '../fixtures/cognito';
import { api, localStack } from '../fixtures/stack';
import { INVALID_CONSUME_BODIES, documentClient, ledgerOf, putEntitlement, tokenTablesFromEnv } from '../fixtures/tokens';

/**
 * The token routes through the local gateway, exactly as callers use them:
 * x-api-key for the app's backends, a Cognito access token for /me.
 */
const raw = localDynamoClient(localStack().dynamodbEndpoint);
const doc = documentClient(raw);
const tables = tokenTablesFromEnv(localStack().handlerEnv);
afterAll(() => raw.destroy());

const key = () => ({ 'x-api-key': localStack().internalApiKey });
const bearer = (user: TestUser) => ({ authorization: `Bearer ${user.accessToken}` });

async function seeded(fields: Parameters<typeof putEntitlement>[4] = {}) {
  const userId = randomUUID();
  await putEntitlement(doc, tables.entitlements, userId, new Date(), fields);
  return userId;
}

const consume = (userId: string, json: unknown, headers: Record<string, string> = key()) =>
  api(`/v1/users/${userId}/tokens/consume`, { method: 'POST', headers, json });
const add = (userId: string, json: unknown, headers: Record<string, string> = key()) => api(`/v1/users/${userId}/tokens/add`, { method: 'POST', headers, json });
const status = (userId: string, headers: Record<string, string> = key()) => api(`/v1/users/${userId}/status`, { headers });
const setTier = (userId: string, json: unknown, headers: Record<string, string> = key()) => api(`/v1/users/${userId}/tier`, { method: 'PUT', headers, json });
const consumeMine = (user: TestUser | undefined, json: unknown) => api('/me/tokens/consume', { method: 'POST', headers: user ? bearer(user) : {}, json });

/** Nothing a refused request could have written: no ledger entry, no idempotency record, the same row. */
async function expectUntouched(userId: string, before: unknown, idempotencyKeys: string[]) {
  expect(await ledgerOf(doc, tables.ledger, userId)).toEqual([]);
  for (const k of idempotencyKeys) {
    for (const prefix of ['consume', 'add']) {
      expect((await doc.send(new GetCommand({ TableName: tables.idempotency, Key: { key: `${prefix}:${userId}:${k}` } }))).Item).toBeUndefined();
    }
  }
  expect((await doc.send(new GetCommand({ TableName: tables.entitlements, Key: { userId }, ConsistentRead: true }))).Item).toEqual(before);
}

describe('internal token routes (x-api-key)', () => {
  it('grant, status, consume: the balance, the ledger and the replay header', async () => {
    const userId = await seeded({ tier: 'basic', status: 'active' });

    const granted = await add(userId, { amount: 50, reason: 'support goodwill', idempotencyKey: 'grant-1' });
    expect(granted).toMatchObject({ status: 200, body: { remaining: 1050 } });
    const again = await add(userId, { amount: 50, reason: 'support goodwill', idempotencyKey: 'grant-1' });
    expect(again).toMatchObject({ status: 200, body: { remaining: 1050 } });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect((await add(userId, { amount: 51, reason: 'support goodwill', idempotencyKey: 'grant-1' })).status).toBe(409);

    const spent = await consume(userId, { amount: 1020, idempotencyKey: 'llm-req-1' });
    expect(spent).toMatchObject({ status: 200, body: { remaining: 30, consumed: 1020 } });
    expect(spent.headers.get('idempotent-replayed')).toBeNull();

    const now = new Date();
    const nextReset = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString();
    expect(await status(userId)).toMatchObject({
      status: 200,
      body: {
        userId,
        tier: 'basic',
        status: 'active',
        accessReason: 'subscription-active',
        premium: true,
        canMakeRequest: true,
        tokens: { remaining: 30, monthlyAllowance: 1000, purchased: 30, usedThisPeriod: 1020, resetsAt: nextReset },
      },
    });
    expect((await ledgerOf(doc, tables.ledger, userId)).map((e) => [e.kind, e.amount, e.balanceAfter, e.reason ?? null])).toEqual([
      ['add', 50, 1050, 'support goodwill'],
      ['consume', 1020, 30, null],
    ]);
  });

  it('402 insufficient_tokens with the remaining balance; 409 for a key reused with another amount', async () => {
    const userId = await seeded({ tier: 'free', tokensPurchased: 4 });
    const short = await consume(userId, { amount: 5, idempotencyKey: 'big' });
    expect(short.status).toBe(402);
    expect(short.body).toEqual({ error: { code: 'insufficient_tokens', message: expect.any(String), remaining: 4 } });

    expect(await consume(userId, { amount: 4, idempotencyKey: 'exact' })).toMatchObject({ status: 200, body: { remaining: 0, consumed: 4 } });
    // A retry of the last successful request still gets its answer, not a 402.
    const retry = await consume(userId, { amount: 4, idempotencyKey: 'exact' });
    expect(retry).toMatchObject({ status: 200, body: { remaining: 0, consumed: 4 } });
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    const conflict = await consume(userId, { amount: 3, idempotencyKey: 'exact' });
    expect(conflict).toMatchObject({ status: 409, body: { error: { code: 'conflict' } } });
    expect(await status(userId)).toMatchObject({ body: { canMakeRequest: false, tokens: { remaining: 0 } } });
  });

  it('sets tiers (aliases accepted, sticky when asked) and answers with the status', async () => {
    const userId = await seeded({ tier: 'free' });
    expect(await setTier(userId, { tier: 'tester' })).toMatchObject({
      status: 200,
      body: { userId, tier: 'tester', tierSticky: false, canMakeRequest: true, tokens: { monthlyAllowance: 1000, remaining: 1000 } },
    });
    expect(await setTier(userId, { tier: 'Creator', sticky: true })).toMatchObject({ status: 200, body: { tier: 'pro', tierSticky: true, tokens: { monthlyAllowance: 5000 } } });
    expect(await setTier(userId, { tier: 'admin', sticky: false })).toMatchObject({ status: 200, body: { tier: 'admin', tierSticky: false, tokens: { remaining: null } } });
    expect(await consume(userId, { amount: MAX_TOKEN_AMOUNT, idempotencyKey: 'admin-big' })).toMatchObject({ status: 200, body: { remaining: null, consumed: MAX_TOKEN_AMOUNT } });
    expect(await status(userId)).toMatchObject({ body: { tokens: { usedThisPeriod: MAX_TOKEN_AMOUNT, remaining: null } } });
  });

  it('404 for a user without an entitlement row, on every route, writing nothing', async () => {
    const nobody = randomUUID();
    for (const res of [
      await status(nobody),
      await consume(nobody, { amount: 1, idempotencyKey: 'k' }),
      await add(nobody, { amount: 1, reason: 'r', idempotencyKey: 'k' }),
      await setTier(nobody, { tier: 'pro' }),
    ]) {
      expect(res).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
    }
    await expectUntouched(nobody, undefined, ['k']);
  });

  it('401 without the key, with a wrong key, or with a Bearer token instead; nothing written', async () => {
    const userId = await seeded({ tier: 'free', tokensPurchased: 10 });
    const before = (await doc.send(new GetCommand({ TableName: tables.entitlements, Key: { userId }, ConsistentRead: true }))).Item;
    const refused: Array<Record<string, string>> = [{}, { 'x-api-key': 'wrong' }, { 'x-api-key': '' }, { authorization: `Bearer ${localStack().internalApiKey}` }];
    for (const headers of refused) {
      expect((await status(userId, headers)).status).toBe(401);
      expect((await consume(userId, { amount: 1, idempotencyKey: 'k' }, headers)).body.error.code).toBe('unauthorized');
      expect((await add(userId, { amount: 1, reason: 'r', idempotencyKey: 'k' }, headers)).status).toBe(401);
      expect((await setTier(userId, { tier: 'admin' }, headers)).status).toBe(401);
    }
    await expectUntouched(userId, before, ['k']);
  });

  it('keeps GET /v1/tiers public', async () => {
    expect(await api('/v1/tiers')).toMatchObject({ status: 200, body: { tiers: expect.arrayContaining([expect.objectContaining({ name: 'admin', monthlyTokens: null })]) } });
  });
});

describe('bad input: the contract 4xx and nothing written', () => {
  const ok = { amount: 1, idempotencyKey: 'fine' };
  const badConsumes: Array<[string, unknown, string]> = [...INVALID_CONSUME_BODIES, ['an array body', [ok], 'body']];

  let userId: string;
  let before: unknown;
  let me: TestUser;
  let mineBefore: unknown;
  beforeAll(async () => {
    userId = await seeded({ ...adminTierFields('tester', NO_SUBSCRIPTION), tokensPurchased: 10 });
    before = (await doc.send(new GetCommand({ TableName: tables.entitlements, Key: { userId }, ConsistentRead: true }))).Item;
    me = await signUpAndSignIn('tokens-bad');
    mineBefore = (await doc.send(new GetCommand({ TableName: tables.entitlements, Key: { userId: me.sub }, ConsistentRead: true }))).Item;
  });

  it.each(badConsumes)('consume with %s: 400 naming the field', async (_name, body, field) => {
    for (const res of [await consume(userId, body), await consumeMine(me, body)]) {
      expect(res.status).toBe(400);
      expect(res.body.error).toEqual({ code: 'validation_failed', message: expect.stringContaining(field) });
    }
  });

  it.each([
    ['zero', { amount: 0, reason: 'r', idempotencyKey: 'fine' }, 'amount'],
    ['a fractional amount', { amount: 2.5, reason: 'r', idempotencyKey: 'fine' }, 'amount'],
    ['a huge amount', { amount: 10 ** 9, reason: 'r', idempotencyKey: 'fine' }, 'amount'],
    ['no reason', { amount: 1, idempotencyKey: 'fine' }, 'reason'],
    ['no idempotency key', { amount: 1, reason: 'r' }, 'idempotencyKey'],
  ])('add with %s: 400 naming the field', async (_name, body, field) => {
    const res = await add(userId, body);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain(field);
  });

  it.each([
    ['an unknown tier', { tier: 'platinum' }, 'tier'],
    ['no tier', {}, 'tier'],
    ['a tier that is not a string', { tier: 3 }, 'tier'],
    ['sticky that is not a boolean', { tier: 'pro', sticky: 'yes' }, 'sticky'],
  ])('tier with %s: 400 naming the field', async (_name, body, field) => {
    const res = await setTier(userId, body);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain(field);
  });

  it('malformed JSON, no body, the wrong content type and an oversized body', async () => {
    const post = (path: string, body: string, headers: Record<string, string>) => api(path, { method: 'POST', headers, body });
    for (const [path, headers] of [
      [`/v1/users/${userId}/tokens/consume`, key()],
      ['/me/tokens/consume', bearer(me)],
    ] as const) {
      expect((await post(path, '{"amount": 1,', { ...headers, 'content-type': 'application/json' })).body.error.code).toBe('invalid_json');
      expect((await post(path, '', { ...headers, 'content-type': 'application/json' })).body.error.code).toBe('invalid_json');
      expect((await post(path, JSON.stringify(ok), { ...headers, 'content-type': 'text/plain' })).status).toBe(400);
      const oversized = await post(path, JSON.stringify({ ...ok, padding: 'x'.repeat(20_000) }), { ...headers, 'content-type': 'application/json' });
      expect(oversized).toMatchObject({ status: 413, body: { error: { code: 'payload_too_large' } } });
    }
  });

  it('a user id that is not one: 400', async () => {
    expect((await status('not%20an%20id')).status).toBe(400);
    expect((await consume('a:b', ok)).status).toBe(400);
  });

  it('left no trace of any refused request', async () => {
    await expectUntouched(userId, before, ['fine', 'not ok', '']);
    await expectUntouched(me.sub, mineBefore, ['fine']);
  });
});

describe('POST /me/tokens/consume (Cognito)', () => {
  let alice: TestUser;
  let bob: TestUser;
  beforeAll(async () => {
    [alice, bob] = await Promise.all([signUpAndSignIn('tokens-alice'), signUpAndSignIn('tokens-bob')]);
  });

  it('a signed-up user without tokens gets 402 with remaining 0', async () => {
    const res = await consumeMine(alice, { amount: 1, idempotencyKey: 'first' });
    expect(res.status).toBe(402);
    expect(res.body.error).toMatchObject({ code: 'insufficient_tokens', remaining: 0 });
  });

  it('a token whose user has no entitlement row is a free user with nothing (402), not a 404', async () => {
    const carol = await signUpAndSignIn('tokens-carol');
    await doc.send(new DeleteCommand({ TableName: tables.entitlements, Key: { userId: carol.sub } }));
    const res = await consumeMine(carol, { amount: 1, idempotencyKey: 'first' });
    expect(res).toMatchObject({ status: 402, body: { error: { code: 'insufficient_tokens', remaining: 0 } } });
    expect((await status(carol.sub)).status).toBe(404);
    await expectUntouched(carol.sub, undefined, ['first']);
  });

  it("spends only the caller's own tokens, whatever the body says", async () => {
    expect((await add(alice.sub, { amount: 10, reason: 'test', idempotencyKey: 'seed' })).status).toBe(200);
    expect((await add(bob.sub, { amount: 10, reason: 'test', idempotencyKey: 'seed' })).status).toBe(200);

    const res = await consumeMine(alice, { amount: 3, idempotencyKey: 'mine-1', userId: bob.sub });
    expect(res).toMatchObject({ status: 200, body: { remaining: 7, consumed: 3 } });
    expect((await status(alice.sub)).body.tokens).toMatchObject({ remaining: 7, usedThisPeriod: 3 });
    expect((await status(bob.sub)).body.tokens).toMatchObject({ remaining: 10, usedThisPeriod: 0 });
    // The same key is per user: Bob's first use of it charges Bob.
    expect(await consumeMine(bob, { amount: 3, idempotencyKey: 'mine-1' })).toMatchObject({ status: 200, body: { remaining: 7 } });
    expect(await consumeMine(alice, { amount: 3, idempotencyKey: 'mine-1' })).toMatchObject({ status: 200, body: { remaining: 7 } });
    expect((await status(alice.sub)).body.tokens.remaining).toBe(7);
  });

  it('GET /me/entitlements shows a tier override and a grant at once (the cached row is invalidated)', async () => {
    const mine = () => api('/me/entitlements', { headers: bearer(bob) });
    await mine();
    expect((await mine()).headers.get('x-entitlements-source')).toBe('cache');
    expect((await setTier(bob.sub, { tier: 'tester' })).status).toBe(200);
    const afterTier = await mine();
    expect(afterTier.body).toMatchObject({ tier: 'tester', tokens: { monthlyAllowance: 1000, purchased: 7, remaining: 1007 } });
    expect((await add(bob.sub, { amount: 5, reason: 'test', idempotencyKey: 'more' })).status).toBe(200);
    expect((await mine()).body.tokens).toMatchObject({ purchased: 12, remaining: 1012, usedThisPeriod: 3 });
  });

  it('401 without a token, with a garbage token, or with an id token', async () => {
    expect((await consumeMine(undefined, { amount: 1, idempotencyKey: 'x' })).status).toBe(401);
    expect((await api('/me/tokens/consume', { method: 'POST', headers: { authorization: 'Bearer nope' }, json: { amount: 1, idempotencyKey: 'x' } })).status).toBe(401);
    expect((await api('/me/tokens/consume', { method: 'POST', headers: { authorization: `Bearer ${alice.idToken}` }, json: { amount: 1, idempotencyKey: 'x' } })).status).toBe(401);
    // The internal key is not a user.
    expect((await api('/me/tokens/consume', { method: 'POST', headers: key(), json: { amount: 1, idempotencyKey: 'x' } })).status).toBe(401);
    expect((await status(alice.sub)).body.tokens.remaining).toBe(7);
  });
});
