import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import Stripe from 'stripe';
import { localDynamoClient } from '../../infra/local/dynamodb';
import { signUpAndSignIn, type TestUser } from '../fixtures/cognito';
import { apiEvent, closeLoadedHandlers, loadHandler, noContext } from '../fixtures/handlers';
import { api, localStack } from '../fixtures/stack';
import { control, eventually, stripeClient } from '../fixtures/stripe';
import { LOCAL_PRICES } from '../fixtures/catalogue';

const env = () => localStack().handlerEnv;
const doc = () => DynamoDBDocumentClient.from(localDynamoClient(localStack().dynamodbEndpoint));
const sign = (payload: string, secret = env().STRIPE_WEBHOOK_SECRET as string, timestamp?: number) =>
  Stripe.webhooks.generateTestHeaderString({ payload, secret, ...(timestamp ? { timestamp } : {}) });

const webhook = (payload: string, signature?: string) =>
  api('/stripe/webhook', { method: 'POST', headers: { 'content-type': 'application/json', ...(signature ? { 'stripe-signature': signature } : {}) }, body: payload });

async function entitlementRow(userId: string) {
  return (await doc().send(new GetCommand({ TableName: env().TABLE_ENTITLEMENTS, Key: { userId }, ConsistentRead: true }))).Item;
}

afterAll(closeLoadedHandlers);

describe('webhook signature', () => {
  const payload = JSON.stringify({ id: 'evt_sig_test', object: 'event', type: 'customer.subscription.updated', data: { object: { id: 'sub_x', customer: 'cus_nobody' } } });

  it('accepts a correctly signed event (unknown customer: ignored, 200)', async () => {
    const res = await webhook(payload, sign(payload));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ received: true });
  });

  it.each([
    ['no signature', undefined],
    ['a tampered body', 'tamper'],
    ['the wrong secret', 'wrong'],
    ['an expired timestamp', 'expired'],
  ])('refuses %s with 400 and writes nothing', async (_name, variant) => {
    const original = payload.replace('evt_sig_test', `evt_sig_${variant}`);
    const body = variant === 'tamper' ? original.replace('sub_x', 'sub_y') : original;
    const signature =
      variant === undefined
        ? undefined
        : variant === 'tamper'
          ? sign(original)
          : variant === 'wrong'
            ? sign(body, 'whsec_not_the_secret')
            : sign(body, undefined, Math.floor(Date.now() / 1000) - 600);
    const res = await webhook(body, signature);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_signature');
    const key = `stripe-event:${JSON.parse(body).id}`;
    expect((await doc().send(new GetCommand({ TableName: env().TABLE_IDEMPOTENCY, Key: { key } }))).Item).toBeUndefined();
  });

  it('verifies a base64-encoded body over its exact bytes', async () => {
    const handler = loadHandler('stripe-webhook');
    const body = payload.replace('evt_sig_test', 'evt_sig_b64');
    const event = apiEvent({ resource: '/stripe/webhook', httpMethod: 'POST', headers: { 'Stripe-Signature': sign(body) }, body: Buffer.from(body).toString('base64'), isBase64Encoded: true });
    expect((await handler(event, noContext)).statusCode).toBe(200);
    const tampered = { ...event, body: Buffer.from(body.replace('sub_x', 'sub_z')).toString('base64') };
    expect((await handler(tampered, noContext)).statusCode).toBe(400);
  });
});

describe('order-proof application of Stripe state', () => {
  let user: TestUser;
  let events: Array<{ id: string; type: string; data: unknown }>;

  beforeAll(async () => {
    user = await signUpAndSignIn('order');
    await control('POST', '/delivery', { paused: true });
    try {
      await control('POST', '/subscribe', { email: user.email, tier: 'basic' });
      const customerId = (await doc().send(new GetCommand({ TableName: env().TABLE_USERS, Key: { userId: user.sub }, ConsistentRead: true }))).Item!.stripeCustomerId as string;
      const stripe = stripeClient();
      const [sub] = (await stripe.subscriptions.list({ customer: customerId })).data;
      await stripe.subscriptions.update(sub!.id, { items: [{ id: sub!.items.data[0]!.id, price: LOCAL_PRICES.pro }] });
      await control('POST', `/subscriptions/${sub!.id}/fail-payment`);
      await control('POST', `/subscriptions/${sub!.id}/recover`);
      await stripe.subscriptions.update(sub!.id, { cancel_at_period_end: true });
      const log = await control<Array<{ event: { id: string; type: string; data: { object: { customer?: unknown } } } }>>('GET', '/events');
      events = log.map((entry) => entry.event).filter((e) => e.data.object.customer === customerId);
    } finally {
      // What was held is delivered now; the rounds below replay the same events under new ids.
      await control('POST', '/delivery', { paused: false });
      await control('POST', '/delivery/flush');
    }
  });

  it('ends in Stripe final state whatever the order, with duplicates and concurrency', async () => {
    expect(events.length).toBeGreaterThanOrEqual(5);
    const handler = loadHandler('stripe-webhook');
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let round = 0; round < 20; round++) {
      // Start from a blank row: every round must reach the final state on its own.
      await doc().send(new DeleteCommand({ TableName: env().TABLE_ENTITLEMENTS, Key: { userId: user.sub } }));
      const order = [...events, ...events.filter(() => random() < 0.3)].sort(() => random() - 0.5);
      for (let i = 0; i < order.length; i += 2) {
        const batch = order.slice(i, i + 2);
        const results = await Promise.all(
          batch.map((e, j) => {
            const body = JSON.stringify({ ...e, id: `${e.id}_r${round}_${i + j}` });
            return handler(apiEvent({ resource: '/stripe/webhook', httpMethod: 'POST', headers: { 'stripe-signature': sign(body) }, body }), noContext);
          }),
        );
        for (const r of results) expect(r.statusCode).toBe(200);
      }
      expect(await entitlementRow(user.sub)).toMatchObject({ status: 'active', tier: 'pro', plan: LOCAL_PRICES.pro, cancelAtPeriodEnd: true });
    }
  });

  it('treats a redelivered event id as a no-op', async () => {
    const handler = loadHandler('stripe-webhook');
    const body = JSON.stringify({ ...events[0], id: 'evt_duplicate_check' });
    const first = await handler(apiEvent({ resource: '/stripe/webhook', httpMethod: 'POST', headers: { 'stripe-signature': sign(body) }, body }), noContext);
    expect(first.statusCode).toBe(200);
    await doc().send(new PutCommand({ TableName: env().TABLE_ENTITLEMENTS, Item: { ...(await entitlementRow(user.sub)), status: 'canceled' } }));
    const again = await handler(apiEvent({ resource: '/stripe/webhook', httpMethod: 'POST', headers: { 'stripe-signature': sign(body) }, body }), noContext);
    expect(again.statusCode).toBe(200);
    // The duplicate was not applied: the row keeps what was written in between.
    expect(await entitlementRow(user.sub)).toMatchObject({ status: 'canceled' });
  });

  it('answers 503 (so Stripe retries) when Stripe is down during the re-read, and does not record the event', async () => {
    const handler = loadHandler('stripe-webhook');
    const body = JSON.stringify({ ...events[0], id: 'evt_transient' });
    await control('POST', '/delivery/flush');
    await control('POST', '/faults', { method: 'GET', path: '^/v1/subscriptions', status: 500, count: 5 });
    try {
      const res = await handler(apiEvent({ resource: '/stripe/webhook', httpMethod: 'POST', headers: { 'stripe-signature': sign(body) }, body }), noContext);
      expect(res.statusCode).toBe(503);
      expect(JSON.parse(res.body).error.code).toBe('dependency_unavailable');
    } finally {
      await control('POST', '/faults/reset');
    }
    expect((await doc().send(new GetCommand({ TableName: env().TABLE_IDEMPOTENCY, Key: { key: 'stripe-event:evt_transient' } }))).Item).toBeUndefined();
    await eventually(async () => {
      const retry = await handler(apiEvent({ resource: '/stripe/webhook', httpMethod: 'POST', headers: { 'stripe-signature': sign(body) }, body }), noContext);
      expect(retry.statusCode).toBe(200);
    });
  });
});
