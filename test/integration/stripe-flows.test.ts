import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import Stripe from 'stripe';
import { localDynamoClient } from '../../infra/local/dynamodb';
import { signUpAndSignIn, type TestUser } from '../fixtures/cognito';
import { apiEvent, closeLoadedHandlers, loadHandler, noContext } from '../fixtures/handlers';
import { api, localStack } from '../fixtures/stack';
import { control, eventually, stripeClient } from '../fixtures/stripe';
import { activeSubscriber } from '../fixtures/subscribers';

/**
 * Stripe flows real Stripe has and the product must survive: a second
 * subscription, a customer deleted in the dashboard, an unknown price,
 * delayed payment methods, refunds and disputes of top-ups.
 */

const env = () => localStack().handlerEnv;
const doc = () => DynamoDBDocumentClient.from(localDynamoClient(localStack().dynamodbEndpoint));

async function row(table: 'TABLE_USERS' | 'TABLE_ENTITLEMENTS', userId: string) {
  return (await doc().send(new GetCommand({ TableName: env()[table], Key: { userId }, ConsistentRead: true }))).Item;
}

const me = (user: TestUser) => api('/me/entitlements', { headers: { authorization: `Bearer ${user.accessToken}` } });
const checkout = (user: TestUser, json: unknown) => api('/me/checkout', { method: 'POST', headers: { authorization: `Bearer ${user.accessToken}` }, json });
const sessionOf = (url: string) => /\/checkout\/([^/?#]+)/.exec(url)?.[1] as string;

async function expectEntitlement(user: TestUser, expected: Record<string, unknown>) {
  return eventually(async () => {
    const res = await me(user);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject(expected);
    return res.body;
  });
}

type LoggedEvent = { id: string; type: string; data: { object: Record<string, any> } };

/** The emulator's events about `objectId` (the object itself, its customer or its subscription). */
async function eventsAbout(objectId: string, type?: string): Promise<LoggedEvent[]> {
  const log = await control<Array<{ event: LoggedEvent }>>('GET', `/events${type ? `?type=${encodeURIComponent(type)}` : ''}`);
  return log
    .map((e) => e.event)
    .filter((e) => {
      const o = e.data.object;
      return o.id === objectId || o.customer === objectId || o.subscription === objectId || o.parent?.subscription_details?.subscription === objectId;
    });
}

/** Runs a (re-signed, renamed) event through an in-process webhook handler, so what it logs and counts is visible here. */
async function deliverInProcess(handler: ReturnType<typeof loadHandler>, event: LoggedEvent, suffix: string) {
  const body = JSON.stringify({ ...event, id: `${event.id}_${suffix}` });
  const signature = Stripe.webhooks.generateTestHeaderString({ payload: body, secret: env().STRIPE_WEBHOOK_SECRET as string });
  return handler(apiEvent({ resource: '/stripe/webhook', httpMethod: 'POST', headers: { 'stripe-signature': signature }, body }), noContext);
}

/** CloudWatch EMF lines (Powertools Metrics) written to stdout while `run` runs. */
async function metricsDuring(run: () => Promise<unknown>): Promise<Record<string, number>> {
  const lines: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: any) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    await run();
  } finally {
    spy.mockRestore();
  }
  const counts: Record<string, number> = {};
  for (const line of lines.flatMap((l) => l.split('\n')).filter((l) => l.includes('"_aws"'))) {
    const emf = JSON.parse(line) as { _aws: { CloudWatchMetrics: Array<{ Metrics: Array<{ Name: string }> }> } } & Record<string, unknown>;
    for (const { Name } of emf._aws.CloudWatchMetrics.flatMap((m) => m.Metrics)) counts[Name] = (counts[Name] ?? 0) + Number(emf[Name]);
  }
  return counts;
}

/** Holds webhooks while `run` runs; everything held is delivered afterwards. */
async function withDeliveryPaused<T>(run: () => Promise<T>): Promise<T> {
  await control('POST', '/delivery/flush');
  await control('POST', '/delivery', { paused: true });
  try {
    return await run();
  } finally {
    await control('POST', '/delivery', { paused: false });
    await control('POST', '/delivery/flush');
  }
}

afterAll(closeLoadedHandlers);

describe('one paid subscription per user', () => {
  it('returns the open Checkout again for the same tier instead of a second one', async () => {
    const user = await signUpAndSignIn('one-sub-same');
    const first = await checkout(user, { tier: 'basic' });
    const second = await checkout(user, { tier: 'basic' });
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.body.url).toBe(first.body.url);
  });

  it('concurrent first clicks share one Checkout', async () => {
    const user = await signUpAndSignIn('one-sub-race');
    const results = await Promise.all([checkout(user, { tier: 'pro' }), checkout(user, { tier: 'pro' }), checkout(user, { tier: 'pro' })]);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(new Set(results.map((r) => r.body.url)).size).toBe(1);
  });

  it('another tier expires the open Checkout, so two can never both be paid; 409 once paid, before the webhook lands', async () => {
    const user = await signUpAndSignIn('one-sub-switch');
    const basic = await checkout(user, { tier: 'basic' });
    const pro = await checkout(user, { tier: 'pro' });
    expect(pro.status).toBe(200);
    expect(pro.body.url).not.toBe(basic.body.url);
    expect((await stripeClient().checkout.sessions.retrieve(sessionOf(basic.body.url))).status).toBe('expired');
    await expect(control('POST', `/checkout/${sessionOf(basic.body.url)}/complete`)).rejects.toThrow(/expired/);

    await withDeliveryPaused(async () => {
      await control('POST', `/checkout/${sessionOf(pro.body.url)}/complete`);
      // Our row still says none (the webhook is held): Stripe is asked.
      expect(await row('TABLE_ENTITLEMENTS', user.sub)).toMatchObject({ status: 'none' });
      const again = await checkout(user, { tier: 'basic' });
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('conflict');
    });
    await expectEntitlement(user, { status: 'active', tier: 'pro' });
    expect((await checkout(user, { tier: 'enterprise' })).status).toBe(409);
    const customerId = (await row('TABLE_USERS', user.sub))!.stripeCustomerId as string;
    expect((await stripeClient().subscriptions.list({ customer: customerId })).data).toHaveLength(1);
  });

  it('a second subscription made in the dashboard: the best one decides, it is logged and counted, neither is canceled', async () => {
    const user = await activeSubscriber('dup-sub', 'basic');
    const handler = loadHandler('stripe-webhook');
    const { subscription } = await withDeliveryPaused(() => control<{ subscription: { id: string } }>('POST', '/subscribe', { email: user.email, tier: 'pro', another: true }));
    const [created] = await eventsAbout(subscription.id, 'customer.subscription.created');
    expect(created).toBeDefined();
    let status = 0;
    const counted = await metricsDuring(async () => {
      status = (await deliverInProcess(handler, created!, 'dup')).statusCode;
    });
    expect(status).toBe(200);
    expect(counted.DuplicateSubscriptions).toBe(1);
    await expectEntitlement(user, { status: 'active', tier: 'pro' });
    const customerId = (await row('TABLE_USERS', user.sub))!.stripeCustomerId as string;
    const live = await stripeClient().subscriptions.list({ customer: customerId });
    expect(live.data.map((s) => s.status)).toEqual(['active', 'active']);
  });
});

describe('customer deleted in the Stripe dashboard, then needed again', () => {
  const customerOf = async (user: TestUser) => (await row('TABLE_USERS', user.sub))?.stripeCustomerId as string | undefined;

  it('after customer.deleted, checkout creates a new customer (the idempotency key has a new generation)', async () => {
    const user = await activeSubscriber('cus-deleted', 'basic');
    const first = (await customerOf(user)) as string;
    await control('POST', `/customers/${first}/delete`);
    await expectEntitlement(user, { status: 'canceled', tier: 'free' });
    await eventually(async () => expect(await customerOf(user)).toBeUndefined());

    const res = await checkout(user, { tier: 'pro' });
    expect(res.status).toBe(200);
    const second = await customerOf(user);
    expect(second).toMatch(/^cus_/);
    expect(second).not.toBe(first);
    expect((await stripeClient().checkout.sessions.retrieve(sessionOf(res.body.url))).customer).toBe(second);
    await control('POST', `/checkout/${sessionOf(res.body.url)}/complete`);
    await expectEntitlement(user, { status: 'active', tier: 'pro' });

    // Deleted again: the next generation again.
    await control('POST', `/customers/${second}/delete`);
    await eventually(async () => expect(await customerOf(user)).toBeUndefined());
    expect((await api('/me/billing-portal', { method: 'POST', headers: { authorization: `Bearer ${user.accessToken}` } })).status).toBe(200);
    const third = await customerOf(user);
    expect([first, second]).not.toContain(third);
  });

  it('before customer.deleted arrives, checkout sees the customer is gone and replaces it', async () => {
    const user = await signUpAndSignIn('cus-deleted-early');
    const first = (await customerOf(user)) as string;
    const res = await withDeliveryPaused(async () => {
      await control('POST', `/customers/${first}/delete`);
      return checkout(user, { topUp: 100 });
    });
    expect(res.status).toBe(200);
    const second = await customerOf(user);
    expect(second).toMatch(/^cus_/);
    expect(second).not.toBe(first);
    // The late customer.deleted of the old customer leaves the new one alone.
    await control('POST', '/delivery/flush');
    expect(await customerOf(user)).toBe(second);
  });
});

describe('a price missing from the catalogue', () => {
  it('keeps the paying customer on the tier they had, logs and counts the price', async () => {
    const user = await activeSubscriber('unknown-price', 'basic');
    const handler = loadHandler('stripe-webhook');
    const stripe = stripeClient();
    const customerId = (await row('TABLE_USERS', user.sub))!.stripeCustomerId as string;
    const [sub] = (await stripe.subscriptions.list({ customer: customerId })).data;
    const basicPrice = await stripe.prices.retrieve(env().STRIPE_PRICE_BASIC as string);
    const updated = await withDeliveryPaused(() =>
      stripe.subscriptions.update(sub!.id, {
        items: [{ id: sub!.items.data[0]!.id, price_data: { currency: 'usd', product: basicPrice.product as string, unit_amount: 1234, recurring: { interval: 'month' } } }],
      }),
    );
    const unknownPrice = updated.items.data[0]!.price.id;
    const [event] = (await eventsAbout(sub!.id, 'customer.subscription.updated')).filter((e) => e.data.object.items?.data?.[0]?.price?.id === unknownPrice);
    expect(event).toBeDefined();
    const counted = await metricsDuring(async () => expect((await deliverInProcess(handler, event!, 'unknown')).statusCode).toBe(200));
    expect(counted.UnknownStripePrice).toBe(1);
    expect(await row('TABLE_ENTITLEMENTS', user.sub)).toMatchObject({ status: 'active', plan: unknownPrice, tier: 'basic' });
    await expectEntitlement(user, { status: 'active', tier: 'basic', premium: true });
  });
});

describe('delayed payment methods (bank debits)', () => {
  const purchased = async (user: TestUser) => ((await row('TABLE_ENTITLEMENTS', user.sub))?.tokensPurchased as number | undefined) ?? 0;

  it('a top-up is credited once, when the bank debit settles, not when Checkout completes unpaid', async () => {
    const user = await signUpAndSignIn('delayed-topup');
    const res = await checkout(user, { topUp: 200 });
    const sessionId = sessionOf(res.body.url);
    await control('POST', `/checkout/${sessionId}/complete`, { delayed: true });
    await control('POST', '/delivery/flush');
    const [completed] = await eventsAbout(sessionId, 'checkout.session.completed');
    expect(completed?.data.object.payment_status).toBe('unpaid');
    expect(await purchased(user)).toBe(0);

    await control('POST', `/checkout/${sessionId}/async-payment`, { outcome: 'succeeded' });
    await expectEntitlement(user, { tokens: expect.objectContaining({ purchased: 200 }) });
    // Every event of the session again, under new ids: still credited once.
    const handler = loadHandler('stripe-webhook');
    for (const [i, event] of (await eventsAbout(sessionId)).entries()) expect((await deliverInProcess(handler, event, `again${i}`)).statusCode).toBe(200);
    expect(await purchased(user)).toBe(200);
  });

  it('a bounced bank debit credits nothing', async () => {
    const user = await signUpAndSignIn('delayed-topup-fail');
    const sessionId = sessionOf((await checkout(user, { topUp: 100 })).body.url);
    await control('POST', `/checkout/${sessionId}/complete`, { delayed: true });
    await control('POST', `/checkout/${sessionId}/async-payment`, { outcome: 'failed' });
    await control('POST', '/delivery/flush');
    expect((await eventsAbout(sessionId)).map((e) => e.type).sort()).toEqual(['checkout.session.async_payment_failed', 'checkout.session.completed']);
    expect(await purchased(user)).toBe(0);
  });

  it('a subscription paid by bank debit gives nothing while incomplete, and the plan once its invoice is paid', async () => {
    const user = await signUpAndSignIn('delayed-sub');
    const sessionId = sessionOf((await checkout(user, { tier: 'pro' })).body.url);
    await control('POST', `/checkout/${sessionId}/complete`, { delayed: true });
    await control('POST', '/delivery/flush');
    const pending = await me(user);
    expect(pending.body).toMatchObject({ status: 'none', premium: false, tier: 'free' });
    // The pending payment is a subscription: no second one meanwhile.
    expect((await checkout(user, { tier: 'basic' })).status).toBe(409);
    await control('POST', `/checkout/${sessionId}/async-payment`, { outcome: 'succeeded' });
    await expectEntitlement(user, { status: 'active', tier: 'pro', premium: true });
  });

  it('a bounced first payment cancels the incomplete subscription, so the user can pay another way', async () => {
    const user = await signUpAndSignIn('delayed-sub-fail');
    const sessionId = sessionOf((await checkout(user, { tier: 'basic' })).body.url);
    const { subscription } = await control<{ subscription: { id: string } }>('POST', `/checkout/${sessionId}/complete`, { delayed: true });
    await control('POST', `/checkout/${sessionId}/async-payment`, { outcome: 'failed' });
    await eventually(async () => expect((await stripeClient().subscriptions.retrieve(subscription.id)).status).toBe('canceled'));
    await control('POST', '/delivery/flush');
    expect((await me(user)).body).toMatchObject({ premium: false, tier: 'free' });
    const again = await checkout(user, { tier: 'basic' });
    expect(again.status).toBe(200);
    await control('POST', `/checkout/${sessionOf(again.body.url)}/complete`);
    await expectEntitlement(user, { status: 'active', tier: 'basic' });
  });
});
