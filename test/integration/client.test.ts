import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createEntitlementsClient, EntitlementsApiError, type EntitlementsClient } from '@entitlements-backend/client';
import { localDynamoClient } from '../../infra/local/dynamodb';
import { createGateway } from '../../infra/local/gateway';
import { signUpAndSignIn, type TestUser } from '../fixtures/cognito';
import { startFaultProxy, type FaultProxy } from '../fixtures/fault-proxy';
import { closeLoadedHandlers, loadHandler } from '../fixtures/handlers';
import { startOwnedDynamo } from '../fixtures/paused-process';
import { localStack } from '../fixtures/stack';
import { activeSubscriber } from '../fixtures/subscribers';
import { documentClient, ledgerOf, putEntitlement, tokenTablesFromEnv } from '../fixtures/tokens';

/**
 * The typed client (clients/typescript) against the running local stack, the
 * way an app backend (x-api-key) and a signed-in app (bearer token) use it:
 * the premium check, the status, consume with its 402, and consumes answered
 * 503 (by the real handler with its DynamoDB paused, or by a proxy after the
 * charge landed), retried by the client with the same idempotency key and
 * charged once.
 */
const raw = localDynamoClient(localStack().dynamodbEndpoint);
const doc = documentClient(raw);
const tables = tokenTablesFromEnv(localStack().handlerEnv);
afterAll(() => raw.destroy());

const backend = (baseUrl = localStack().gatewayUrl, retries?: number) =>
  createEntitlementsClient({ baseUrl, apiKey: localStack().internalApiKey, retries: { retries: retries ?? 2, baseDelayMs: 20 } });

/** A user with an active basic plan (1000 tokens a month), written straight to the table: no Stripe round trip needed. */
async function basicUser(): Promise<string> {
  const userId = randomUUID();
  await putEntitlement(doc, tables.entitlements, userId, new Date(), { tier: 'basic', status: 'active' });
  return userId;
}

const consumes = async (userId: string) => (await ledgerOf(doc, tables.ledger, userId)).filter((e) => e.kind === 'consume').map((e) => e.amount);

async function apiError(promise: Promise<unknown>): Promise<EntitlementsApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof EntitlementsApiError)) throw new Error(`expected an EntitlementsApiError, got ${String(error)}`);
  return error;
}

describe('an app backend through the client (x-api-key)', () => {
  let subscriber: TestUser & { subscriptionId: string };
  let client: EntitlementsClient;
  beforeAll(async () => {
    subscriber = await activeSubscriber('client-premium', 'pro');
    client = backend();
  });

  it('premium check: a paying user, a free user and an email without an account', async () => {
    const free = await signUpAndSignIn('client-free');
    await expect(client.checkPremium(`  ${subscriber.email.toUpperCase()} `)).resolves.toMatchObject({ email: subscriber.email, premium: true });
    await expect(client.checkPremium(free.email)).resolves.toMatchObject({ email: free.email, premium: false });
    await expect(client.checkPremium(`nobody-${randomUUID()}@example.com`)).resolves.toMatchObject({ premium: false });
  });

  it('user status, typed from the generated document', async () => {
    const status = await client.getUserStatus(subscriber.sub);
    expect(status).toMatchObject({ userId: subscriber.sub, tier: 'pro', status: 'active', premium: true, canMakeRequest: true });
    expect(status.tokens.monthlyAllowance).toBe(5000);
  });

  it('consume, then a 402 as a typed error carrying the body (remaining) and nothing charged', async () => {
    const userId = await basicUser();
    const spent = await client.consumeTokens(userId, { amount: 990 });
    expect(spent).toMatchObject({ consumed: 990, remaining: 10, replayed: false });

    const refused = await apiError(client.consumeTokens(userId, { amount: 11 }));
    expect(refused).toMatchObject({ status: 402, code: 'insufficient_tokens', attempts: 1 });
    expect(refused.body.error.remaining).toBe(10);
    expect(await consumes(userId)).toEqual([990]);
  });

  it('a repeated call with the caller’s key is a replay, not a second charge', async () => {
    const userId = await basicUser();
    const first = await client.consumeTokens(userId, { amount: 5, idempotencyKey: 'llm-call-1' });
    const again = await client.consumeTokens(userId, { amount: 5, idempotencyKey: 'llm-call-1' });
    expect([first.replayed, again.replayed]).toEqual([false, true]);
    expect(again).toMatchObject({ consumed: 5, remaining: 995, idempotencyKey: 'llm-call-1' });
    expect(await consumes(userId)).toEqual([5]);
  });

  it('400 with the field named, 401 without the key, 404 for an unknown user: typed errors, not retried', async () => {
    const userId = await basicUser();
    const invalid = await apiError(client.consumeTokens(userId, { amount: 0 }));
    expect(invalid).toMatchObject({ status: 400, code: 'validation_failed', attempts: 1 });
    expect(invalid.message).toMatch(/amount/);
    const anonymous = createEntitlementsClient({ baseUrl: localStack().gatewayUrl });
    await expect(anonymous.getUserStatus(userId)).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
    await expect(client.getUserStatus(randomUUID())).rejects.toMatchObject({ status: 404, attempts: 1 });
  });

  it('grants tokens and sets the tier', async () => {
    const userId = await basicUser();
    await expect(client.addTokens(userId, { amount: 50, reason: 'client test' })).resolves.toMatchObject({ remaining: 1050, replayed: false });
    await expect(client.setTier(userId, { tier: 'pro', sticky: true })).resolves.toMatchObject({ userId, tier: 'pro', tierSticky: true });
    await expect(client.getTiers()).resolves.toMatchObject({ tiers: expect.arrayContaining([expect.objectContaining({ name: 'pro', monthlyTokens: 5000 })]) });
  });
});

describe('the signed-in app through the client (bearer token)', () => {
  it('reads its entitlements and consumes its own tokens', async () => {
    const user = await activeSubscriber('client-me', 'basic');
    const app = createEntitlementsClient({ baseUrl: localStack().gatewayUrl, accessToken: () => user.accessToken });
    await expect(app.me.entitlements()).resolves.toMatchObject({ userId: user.sub, status: 'active', tier: 'basic', premium: true });
    await expect(app.me.consumeTokens({ amount: 7 })).resolves.toMatchObject({ consumed: 7, remaining: 993 });
    expect(await consumes(user.sub)).toEqual([7]);
  });
});

describe('a consume whose answer is lost', () => {
  let proxy: FaultProxy;
  beforeEach(async () => {
    proxy = await startFaultProxy(localStack().gatewayUrl);
  });
  afterEach(() => proxy.close());
  const consumePath = /\/tokens\/consume$/;

  it('charged, then answered 503: the client retries with the same key and the user is charged once', async () => {
    const userId = await basicUser();
    proxy.failNext({ method: 'POST', path: consumePath, status: 503, forward: true });

    const answer = await backend(proxy.url).consumeTokens(userId, { amount: 40 });

    expect(proxy.requests.map((r) => [r.upstreamStatus, r.answeredStatus])).toEqual([
      [200, 503], // the charge landed, its answer did not
      [200, 200], // the retry: answered from the first result
    ]);
    const keys = proxy.requests.map((r) => r.body.idempotencyKey);
    expect(keys).toEqual([answer.idempotencyKey, answer.idempotencyKey]);
    expect(answer).toMatchObject({ consumed: 40, remaining: 960, replayed: true });
    expect(await consumes(userId)).toEqual([40]);
    await expect(backend().getUserStatus(userId)).resolves.toMatchObject({ tokens: { remaining: 960, usedThisPeriod: 40 } });
  });

  it('refused with 503 and Retry-After before it reached the API: retried once, charged once', async () => {
    const userId = await basicUser();
    proxy.failNext({ method: 'POST', path: consumePath, status: 503, forward: false, headers: { 'retry-after': '1' } });
    const started = Date.now();
    const answer = await backend(proxy.url).consumeTokens(userId, { amount: 3 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(answer).toMatchObject({ consumed: 3, remaining: 997, replayed: false });
    expect(proxy.requests.map((r) => [r.upstreamStatus, r.answeredStatus])).toEqual([
      [undefined, 503],
      [200, 200],
    ]);
    expect(await consumes(userId)).toEqual([3]);
  });

  it('with retries off the caller gets the 503 and the key: repeating with it completes the change once', async () => {
    const userId = await basicUser();
    proxy.failNext({ method: 'POST', path: consumePath, status: 503, forward: true });
    const error = await apiError(backend(proxy.url, 0).consumeTokens(userId, { amount: 8 }));
    expect(error).toMatchObject({ status: 503, code: 'dependency_unavailable', attempts: 1 });
    expect(error.idempotencyKey).toEqual(expect.any(String));

    const repeated = await backend(proxy.url, 0).consumeTokens(userId, { amount: 8, idempotencyKey: error.idempotencyKey });
    expect(repeated).toMatchObject({ consumed: 8, remaining: 992, replayed: true });
    expect(await consumes(userId)).toEqual([8]);
  });
});

describe('a consume answered 503 by the real handler (SIGSTOP on a DynamoDB Local of the test’s own)', () => {
  let dynamo: Awaited<ReturnType<typeof startOwnedDynamo>>;
  let gateway: Server;
  let gatewayUrl: string;

  beforeAll(async () => {
    dynamo = await startOwnedDynamo();
    // The real consume handler and gateway, on the owned DynamoDB: pausing it never touches the shared stack.
    const consume = loadHandler('token-consume', { ...dynamo.env, POWERTOOLS_LOG_LEVEL: 'SILENT', POWERTOOLS_METRICS_DISABLED: 'true' });
    gateway = createGateway({ handlers: { 'token-consume': consume }, authorize: async () => ({ ok: false, reason: 'no /me route in this test' }) });
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
    gatewayUrl = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
  }, 90_000);
  afterAll(async () => {
    gateway?.closeAllConnections();
    await new Promise((resolve) => gateway?.close(resolve));
    await closeLoadedHandlers();
    await dynamo?.stop();
  });
  afterEach(() => dynamo.resume());

  it('the client waits, repeats with the same key once DynamoDB answers again, and the user is charged once', async () => {
    const userId = randomUUID();
    const owned = tokenTablesFromEnv(dynamo.env);
    await putEntitlement(dynamo.doc, owned.entitlements, userId, new Date(), { tier: 'basic', status: 'active' });
    const sent: Array<{ key: string; status: number }> = [];
    const client = createEntitlementsClient({
      baseUrl: gatewayUrl,
      apiKey: localStack().internalApiKey,
      retries: { retries: 3, baseDelayMs: 200 },
      // Watches each attempt on the wire, and brings DynamoDB back once the handler has answered 503.
      fetch: async (request, init) => {
        const { idempotencyKey } = (await request.clone().json()) as { idempotencyKey: string };
        const response = await fetch(request, init);
        sent.push({ key: idempotencyKey, status: response.status });
        if (response.status === 503) dynamo.resume();
        return response;
      },
    });

    dynamo.pause();
    const answer = await client.consumeTokens(userId, { amount: 25 });

    expect(sent[0]?.status).toBe(503);
    expect(sent.at(-1)?.status).toBe(200);
    expect(new Set(sent.map((s) => s.key))).toEqual(new Set([answer.idempotencyKey]));
    expect(answer).toMatchObject({ consumed: 25, remaining: 975 });
    const ledger = await ledgerOf(dynamo.doc, owned.ledger, userId);
    expect(ledger.filter((e) => e.kind === 'consume').map((e) => e.amount)).toEqual([25]);
  }, 60_000);
});
