import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import Stripe from 'stripe';
import { localDynamoClient } from '../../infra/local/dynamodb';
import { signUpAndSignIn, type TestUser } from '../fixtures/cognito';
import { apiEvent, closeLoadedHandlers, loadHandler, noContext } from '../fixtures/handlers';
import { api, localStack } from '../fixtures/stack';
import { control, eventually, stripeClient } from '../fixtures/stripe';
import { activeSubscriber, entitlementsOf, expectEntitlement } from '../fixtures/subscribers';
import { LOCAL_PRICES } from '../fixtures/catalogue';

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

const me = entitlementsOf;
const checkout = (user: TestUser, json: unknown) => api('/me/checkout', { method: 'POST', headers: { authorization: `Bearer ${user.accessToken}` }, json });
const sessionOf = (url: string) => /\/checkout\/([^/?#]+)/.exec(url)?.[1] as string;


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
    const basicPrice = await stripe.prices.retrieve(LOCAL_PRICES.basic);
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

describe('refunds and disputes of top-ups', () => {
  const purchased = async (user: TestUser) => ((await row('TABLE_ENTITLEMENTS', user.sub))?.tokensPurchased as number | undefined) ?? 0;
  const ledger = async (user: TestUser) =>
    ((await doc().send(new QueryCommand({ TableName: env().TABLE_LEDGER, KeyConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': user.sub } }))).Items ?? []) as Array<Record<string, any>>;

  async function toppedUp(prefix: string, tokens: number): Promise<{ user: TestUser; sessionId: string }> {
    const user = await signUpAndSignIn(prefix);
    const sessionId = sessionOf((await checkout(user, { topUp: tokens })).body.url);
    await control('POST', `/checkout/${sessionId}/complete`);
    await eventually(async () => expect(await purchased(user)).toBe(tokens));
    return { user, sessionId };
  }

  it('a full refund takes the tokens back once, with a ledger entry naming the refund', async () => {
    const { user, sessionId } = await toppedUp('refund-full', 200);
    const { refund, charge } = await control<{ refund: { id: string }; charge: { id: string } }>('POST', '/refunds', { session: sessionId });
    await eventually(async () => expect(await purchased(user)).toBe(0));
    const entries = (await ledger(user)).filter((e) => e.kind === 'refund');
    expect(entries).toEqual([expect.objectContaining({ amount: -200, stripeId: refund.id, idempotencyKey: `refund:${refund.id}`, balanceAfter: 0 })]);
    // Every refund event again under new ids, and a new top-up meanwhile: nothing taken twice.
    await control('POST', '/delivery/flush');
    const handler = loadHandler('stripe-webhook');
    const mine = (await control<Array<{ event: LoggedEvent }>>('GET', '/events'))
      .map((e) => e.event)
      .filter((e) => (e.type === 'charge.refunded' && e.data.object.id === charge.id) || (e.type === 'refund.created' && e.data.object.id === refund.id));
    expect(mine.map((e) => e.type).sort()).toEqual(['charge.refunded', 'refund.created']);
    const again = await toppedUp('refund-full-again', 100);
    for (const [i, event] of mine.entries()) expect((await deliverInProcess(handler, event, `again${i}`)).statusCode).toBe(200);
    expect(await purchased(user)).toBe(0);
    expect((await ledger(user)).filter((e) => e.kind === 'refund')).toHaveLength(1);
    expect(await purchased(again.user)).toBe(100);
  });

  it('a refund still takes the tokens after the customer that paid was deleted in Stripe and replaced', async () => {
    // Regression (review): the top-up's owner was looked up through the customer, which the profile no longer pointed at.
    const { user, sessionId } = await toppedUp('refund-recreated', 100);
    const first = (await row('TABLE_USERS', user.sub))?.stripeCustomerId as string;
    await control('POST', `/customers/${first}/delete`);
    await eventually(async () => expect((await row('TABLE_USERS', user.sub))?.stripeCustomerId).toBeUndefined());
    const second = sessionOf((await checkout(user, { topUp: 100 })).body.url);
    await control('POST', `/checkout/${second}/complete`);
    await eventually(async () => expect(await purchased(user)).toBe(200));
    expect((await row('TABLE_USERS', user.sub))?.stripeCustomerId).not.toBe(first);

    await control('POST', '/refunds', { session: sessionId });
    await eventually(async () => expect(await purchased(user)).toBe(100));
    expect((await ledger(user)).filter((e) => e.kind === 'refund')).toEqual([expect.objectContaining({ amount: -100 })]);
  });

  it('tokens already spent cannot be taken back: the balance stops at zero and the shortfall is recorded and counted', async () => {
    const { user, sessionId } = await toppedUp('refund-spent', 500);
    const consume = await api('/me/tokens/consume', { method: 'POST', headers: { authorization: `Bearer ${user.accessToken}` }, json: { amount: 450, idempotencyKey: `spend-${user.sub}` } });
    expect(consume.status).toBe(200);
    expect(await purchased(user)).toBe(50);
    const handler = loadHandler('stripe-webhook');
    // Two of five packs refunded (200 tokens), 50 left to take.
    // The refund's events are held so that this process handles the first one (and its metric is seen here).
    const { refund, counted } = await withDeliveryPaused(async () => {
      const made = await control<{ refund: { id: string }; charge: { id: string } }>('POST', '/refunds', { session: sessionId, amount: 1000 });
      const [refunded] = (await control<Array<{ event: LoggedEvent }>>('GET', '/events?type=charge.refunded')).map((e) => e.event).filter((e) => e.data.object.id === made.charge.id);
      const metrics = await metricsDuring(async () => expect((await deliverInProcess(handler, refunded!, 'spent')).statusCode).toBe(200));
      return { refund: made.refund, counted: metrics };
    });
    expect(counted.TokenClawbackShortfall).toBe(1);
    expect(await purchased(user)).toBe(0);
    expect((await ledger(user)).filter((e) => e.kind === 'refund')).toEqual([expect.objectContaining({ amount: -50, shortfall: 150, stripeId: refund.id, balanceAfter: 0 })]);
    await control('POST', '/delivery/flush');
    expect(await purchased(user)).toBe(0);
  });

  it('a dispute takes the tokens; won gives them back; lost keeps them taken', async () => {
    const won = await toppedUp('dispute-won', 100);
    const { dispute } = await control<{ dispute: { id: string } }>('POST', '/disputes', { session: won.sessionId });
    await eventually(async () => expect(await purchased(won.user)).toBe(0));
    await control('POST', '/disputes/close', { dispute: dispute.id, outcome: 'won' });
    await eventually(async () => expect(await purchased(won.user)).toBe(100));
    expect((await ledger(won.user)).filter((e) => e.stripeId === dispute.id).map((e) => [e.kind, e.amount]).sort()).toEqual([
      ['dispute', -100],
      ['dispute-reversal', 100],
    ]);

    const lost = await toppedUp('dispute-lost', 100);
    await control('POST', '/disputes', { session: lost.sessionId });
    await eventually(async () => expect(await purchased(lost.user)).toBe(0));
    await control('POST', '/disputes/close', { session: lost.sessionId, outcome: 'lost' });
    await control('POST', '/delivery/flush');
    expect(await purchased(lost.user)).toBe(0);
  });

  it('a dispute closed (won) before its opening is seen: nothing is taken, whatever the order', async () => {
    const { user, sessionId } = await toppedUp('dispute-order', 100);
    const handler = loadHandler('stripe-webhook');
    const { dispute } = await withDeliveryPaused(async () => {
      const opened = await control<{ dispute: { id: string } }>('POST', '/disputes', { session: sessionId });
      await control('POST', '/disputes/close', { dispute: opened.dispute.id, outcome: 'won' });
      return opened;
    });
    // The held events were delivered after the close: both re-read "won". Replay them again, closed first.
    const events = (await control<Array<{ event: LoggedEvent }>>('GET', '/events')).map((e) => e.event).filter((e) => e.data.object.id === dispute.id);
    for (const [i, event] of [...events].sort((a) => (a.type === 'charge.dispute.closed' ? -1 : 1)).entries()) {
      expect((await deliverInProcess(handler, event, `order${i}`)).statusCode).toBe(200);
    }
    expect(await purchased(user)).toBe(100);
  });
});
