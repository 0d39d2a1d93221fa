import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { PostConfirmationTriggerEvent } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { localDynamoClient } from '../../infra/local/dynamodb';
import { signUpAndSignIn, type TestUser } from '../fixtures/cognito';
import { closeLoadedHandlers, loadHandler } from '../fixtures/handlers';
import { api, localStack } from '../fixtures/stack';
import { control, customersByEmail, eventually, stripeClient } from '../fixtures/stripe';
import { entitlementsOf, expectEntitlement } from '../fixtures/subscribers';
import { LOCAL_PRICES } from '../fixtures/catalogue';

const doc = () => DynamoDBDocumentClient.from(localDynamoClient(localStack().dynamodbEndpoint));

async function row(table: 'TABLE_USERS' | 'TABLE_ENTITLEMENTS', userId: string) {
  const out = await doc().send(new GetCommand({ TableName: localStack().handlerEnv[table], Key: { userId }, ConsistentRead: true }));
  return out.Item;
}

const me = entitlementsOf;


function postConfirmationEvent(sub: string, email: string, triggerSource: PostConfirmationTriggerEvent['triggerSource']): PostConfirmationTriggerEvent {
  return {
    version: '1',
    region: 'us-east-1',
    userPoolId: localStack().cognito.userPoolId,
    userName: sub,
    triggerSource,
    callerContext: { awsSdkVersion: 'test', clientId: localStack().cognito.clientId },
    request: { userAttributes: { sub, email, email_verified: 'true' } },
    response: {},
  };
}

afterAll(closeLoadedHandlers);

describe('sign-up', () => {
  it('creates one profile, one entitlement row and one Stripe customer, even when the trigger runs three times', async () => {
    const user = await signUpAndSignIn('signup');
    const handler = loadHandler('post-confirmation') as unknown as (e: PostConfirmationTriggerEvent) => Promise<PostConfirmationTriggerEvent>;
    const event = postConfirmationEvent(user.sub, user.email, 'PostConfirmation_ConfirmSignUp');
    // cognito-local already ran it once at confirmation; retry it (Cognito retries on timeouts), twice concurrently.
    const results = await Promise.all([handler(event), handler(event)]);
    expect(results[0]).toEqual(event);
    const profile = await row('TABLE_USERS', user.sub);
    expect(profile).toMatchObject({ userId: user.sub, email: user.email, stripeCustomerId: expect.stringMatching(/^cus_/) });
    expect(await row('TABLE_ENTITLEMENTS', user.sub)).toMatchObject({ status: 'none', tier: 'free' });
    const customers = await customersByEmail(user.email);
    expect(customers).toHaveLength(1);
    await expectEntitlement(user, { userId: user.sub, status: 'none', tier: 'free', premium: false, plan: null });
  });

  it('creates nothing on a password-reset confirmation', async () => {
    const handler = loadHandler('post-confirmation') as unknown as (e: PostConfirmationTriggerEvent) => Promise<PostConfirmationTriggerEvent>;
    const sub = randomUUID();
    const email = `reset-${sub}@example.com`;
    const event = postConfirmationEvent(sub, email, 'PostConfirmation_ConfirmForgotPassword');
    await expect(handler(event)).resolves.toEqual(event);
    expect(await row('TABLE_USERS', sub)).toBeUndefined();
    expect(await row('TABLE_ENTITLEMENTS', sub)).toBeUndefined();
    expect(await customersByEmail(email)).toHaveLength(0);
  });

  it('lets the sign-up succeed when Stripe is down, and checkout creates the customer later', async () => {
    await control('POST', '/faults', { method: 'POST', path: '^/v1/customers$', status: 500, count: 10 });
    let user: TestUser;
    try {
      user = await signUpAndSignIn('stripe-down');
    } finally {
      await control('POST', '/faults/reset');
    }
    expect(await row('TABLE_USERS', user.sub)).not.toHaveProperty('stripeCustomerId');
    const checkout = await api('/me/checkout', { method: 'POST', headers: { authorization: `Bearer ${user.accessToken}` }, json: { tier: 'basic' } });
    expect(checkout.status).toBe(200);
    expect(checkout.body.url).toMatch(/^http/);
    expect(await row('TABLE_USERS', user.sub)).toHaveProperty('stripeCustomerId', expect.stringMatching(/^cus_/));
    expect(await customersByEmail(user.email)).toHaveLength(1);
  });
});

describe('subscription lifecycle through Stripe webhooks', () => {
  let user: TestUser;
  let subscriptionId: string;

  beforeAll(async () => {
    user = await signUpAndSignIn('life');
  });

  it('subscribes through Checkout: active, premium, the tier of the price', async () => {
    const checkout = await api('/me/checkout', { method: 'POST', headers: { authorization: `Bearer ${user.accessToken}` }, json: { tier: 'basic' } });
    expect(checkout.status).toBe(200);
    const sessionId = /\/checkout\/([^/?#]+)/.exec(checkout.body.url)?.[1];
    expect(sessionId).toBeDefined();
    await control('POST', `/checkout/${sessionId}/complete`);
    const body = await expectEntitlement(user, { status: 'active', tier: 'basic', premium: true, plan: LOCAL_PRICES.basic });
    expect(body.currentPeriodEnd).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    const subs = await stripeClient().subscriptions.list({ customer: (await row('TABLE_USERS', user.sub))!.stripeCustomerId, status: 'all' });
    subscriptionId = subs.data[0]!.id;
  });

  it('refuses a second subscription checkout while one is active (409)', async () => {
    const res = await api('/me/checkout', { method: 'POST', headers: { authorization: `Bearer ${user.accessToken}` }, json: { tier: 'pro' } });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('conflict');
  });

  it('upgrades and downgrades with the price', async () => {
    const stripe = stripeClient();
    const sub = await stripe.subscriptions.retrieve(subscriptionId);
    await stripe.subscriptions.update(subscriptionId, { items: [{ id: sub.items.data[0]!.id, price: LOCAL_PRICES.pro }] });
    await expectEntitlement(user, { status: 'active', tier: 'pro', plan: LOCAL_PRICES.pro });
    const again = await stripe.subscriptions.retrieve(subscriptionId);
    await stripe.subscriptions.update(subscriptionId, { items: [{ id: again.items.data[0]!.id, price: LOCAL_PRICES.basic }] });
    await expectEntitlement(user, { status: 'active', tier: 'basic' });
  });

  it('past_due ends premium (no grace by default) and recovery restores it', async () => {
    await control('POST', `/subscriptions/${subscriptionId}/fail-payment`);
    await expectEntitlement(user, { status: 'past_due', premium: false });
    await control('POST', `/subscriptions/${subscriptionId}/recover`);
    await expectEntitlement(user, { status: 'active', premium: true });
  });

  it('cancel at period end keeps access and says so; cancel now ends it', async () => {
    await stripeClient().subscriptions.update(subscriptionId, { cancel_at_period_end: true });
    await expectEntitlement(user, { status: 'active', cancelAtPeriodEnd: true, premium: true });
    await stripeClient().subscriptions.cancel(subscriptionId);
    await expectEntitlement(user, { status: 'canceled', premium: false, tier: 'free', cancelAtPeriodEnd: false });
  });

  it('opens the billing portal', async () => {
    const res = await api('/me/billing-portal', { method: 'POST', headers: { authorization: `Bearer ${user.accessToken}` } });
    expect(res.status).toBe(200);
    expect(res.body.url).toMatch(/^http/);
  });

  it('starts trials as trialing with the trial end', async () => {
    const trial = await signUpAndSignIn('trial');
    await control('POST', '/subscribe', { email: trial.email, tier: 'pro', trialDays: 14 });
    const body = await expectEntitlement(trial, { status: 'trialing', tier: 'pro', premium: true });
    expect(Date.parse(body.trialEndsAt) - Date.now()).toBeGreaterThan(13 * 24 * 3600 * 1000);
  });
});

describe('token top-ups', () => {
  it('credits purchased tokens exactly once per paid checkout, even when the event is delivered again', async () => {
    const user = await signUpAndSignIn('topup');
    const checkout = await api('/me/checkout', { method: 'POST', headers: { authorization: `Bearer ${user.accessToken}` }, json: { topUp: 500 } });
    expect(checkout.status).toBe(200);
    const sessionId = /\/checkout\/([^/?#]+)/.exec(checkout.body.url)?.[1];
    await control('POST', `/checkout/${sessionId}/complete`);
    await expectEntitlement(user, { tokens: expect.objectContaining({ purchased: 500, remaining: 500 }) });
    const log = await control<Array<{ event: { id: string; type: string; data: { object: { id?: string } } } }>>('GET', '/events?type=checkout.session.completed');
    const completed = log.map((e) => e.event).find((e) => e.data.object.id === sessionId);
    expect(completed).toBeDefined();
    // The same event again (a duplicate id), and the same session under a new event id: credited once.
    await control('POST', `/events/${completed!.id}/resend`);
    await control('POST', '/delivery/flush');
    const body = JSON.stringify({ ...completed, id: `${completed!.id}_again` });
    const signature = Stripe.webhooks.generateTestHeaderString({ payload: body, secret: localStack().handlerEnv.STRIPE_WEBHOOK_SECRET as string });
    const res = await api('/stripe/webhook', { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': signature }, body });
    expect(res.status).toBe(200);
    const after = await me(user);
    expect(after.body.tokens).toMatchObject({ purchased: 500, remaining: 500 });
  });
});

describe('entitlements cache', () => {
  it('serves from the cache when warm, and shows the balance right after a consume', async () => {
    const user = await signUpAndSignIn('cached');
    await control('POST', '/subscribe', { email: user.email, tier: 'pro' });
    await expectEntitlement(user, { status: 'active', tokens: expect.objectContaining({ remaining: 5000 }) });
    // Every webhook of the subscription has landed (each one invalidates the cached row), then one read warms it.
    await control('POST', '/delivery/flush');
    await me(user);
    const warm = await me(user);
    expect(warm.headers.get('x-entitlements-source')).toBe('cache');
    const consume = await api('/me/tokens/consume', {
      method: 'POST',
      headers: { authorization: `Bearer ${user.accessToken}` },
      json: { amount: 7, idempotencyKey: `k-${randomUUID()}` },
    });
    expect(consume.status).toBe(200);
    const after = await me(user);
    expect(after.body.tokens).toMatchObject({ remaining: 4993, usedThisPeriod: 7 });
    expect(after.headers.get('x-entitlements-source')).toBe('db');
  });
});

describe('checkout input', () => {
  let user: TestUser;
  beforeAll(async () => {
    user = await signUpAndSignIn('checkout-input');
  });

  it.each([
    [{ tier: 'platinum' }, 'tier'],
    [{ tier: 'admin' }, 'tier'],
    [{ topUp: 150 }, 'topUp'],
    [{ topUp: -100 }, 'topUp'],
    [{ topUp: 1.5 }, 'topUp'],
    [{ tier: 'basic', topUp: 100 }, ''],
    [{}, ''],
  ])('answers 400 to %p', async (json, field) => {
    const res = await api('/me/checkout', { method: 'POST', headers: { authorization: `Bearer ${user.accessToken}` }, json });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain(field);
  });

  it('needs a token', async () => {
    expect((await api('/me/checkout', { method: 'POST', json: { tier: 'basic' } })).status).toBe(401);
    expect((await api('/me/entitlements', { headers: { authorization: `Bearer ${user.idToken}` } })).status).toBe(401);
  });
});
