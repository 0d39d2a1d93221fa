import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import Stripe from 'stripe';
import { signUpAndSignIn, type TestUser } from '../fixtures/cognito';
import { control, eventually, stripeClient } from '../fixtures/stripe';
import { destroyDoc, doc, env, getRow, prng, rawApi } from './support';
import { LOCAL_PRICES } from '../fixtures/catalogue';

/**
 * A subscription's real event stream, captured from the Stripe emulator, is
 * replayed through the gateway shuffled, duplicated, concurrently and mixed
 * with stale and forged signatures. Whatever the order, the entitlement row
 * must end equal to Stripe's current state; duplicates are no-ops; a refused
 * delivery records nothing.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 7);

type StripeEvent = { id: string; type: string; created: number; data: { object: Record<string, unknown> } };

const secret = () => env().STRIPE_WEBHOOK_SECRET as string;
const sign = (payload: string, timestamp?: number, key = secret()) => Stripe.webhooks.generateTestHeaderString({ payload, secret: key, ...(timestamp ? { timestamp } : {}) });
const deliver = (payload: string, signature: string) => rawApi('/stripe/webhook', { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': signature }, body: payload });

let user: TestUser;
let customerId: string;
let subscriptionId: string;
let events: StripeEvent[];

/** The entitlement Stripe's current state implies (what the row must equal). */
async function stripeTruth() {
  const sub = await stripeClient().subscriptions.retrieve(subscriptionId);
  const price = sub.items.data[0]!.price.id;
  const tiers: Record<string, string> = { [LOCAL_PRICES.basic]: 'basic', [LOCAL_PRICES.pro]: 'pro', [LOCAL_PRICES.enterprise]: 'enterprise' };
  return { status: sub.status, plan: price, tier: tiers[price], cancelAtPeriodEnd: sub.cancel_at_period_end };
}

async function rowState() {
  const row = await getRow('TABLE_ENTITLEMENTS', user.sub);
  return row && { status: row.status, plan: row.plan, tier: row.tier, cancelAtPeriodEnd: row.cancelAtPeriodEnd };
}

const resetRow = () => doc().send(new DeleteCommand({ TableName: env().TABLE_ENTITLEMENTS, Key: { userId: user.sub } }));

beforeAll(async () => {
  user = await signUpAndSignIn('replay');
  customerId = (await getRow('TABLE_USERS', user.sub))!.stripeCustomerId as string;
  await control('POST', '/delivery', { paused: true });
  try {
    const { subscription } = await control<{ subscription: { id: string } }>('POST', '/subscribe', { email: user.email, tier: 'basic' });
    subscriptionId = subscription.id;
    const stripe = stripeClient();
    const itemId = async () => (await stripe.subscriptions.retrieve(subscriptionId)).items.data[0]!.id;
    await stripe.subscriptions.update(subscriptionId, { items: [{ id: await itemId(), price: LOCAL_PRICES.pro }] });
    await control('POST', `/subscriptions/${subscriptionId}/fail-payment`);
    await control('POST', `/subscriptions/${subscriptionId}/recover`);
    await stripe.subscriptions.update(subscriptionId, { cancel_at_period_end: true });
    await stripe.subscriptions.update(subscriptionId, { cancel_at_period_end: false });
    await stripe.subscriptions.update(subscriptionId, { items: [{ id: await itemId(), price: LOCAL_PRICES.enterprise }] });
    const log = await control<Array<{ event: StripeEvent }>>('GET', '/events');
    events = log.map((e) => e.event).filter((e) => e.data.object.customer === customerId || e.data.object.id === customerId);
  } finally {
    await control('POST', '/delivery', { paused: false });
    await control('POST', '/delivery/flush');
  }
  // The live delivery (in order) reached Stripe's state: the baseline the replays must reproduce.
  const truth = await stripeTruth();
  await eventually(async () => expect(await rowState()).toEqual(truth));
});

afterAll(() => destroyDoc());

describe('replayed and reordered webhook streams', () => {
  it('captured a real stream with every kind of change', () => {
    expect(events.length).toBeGreaterThanOrEqual(7);
    expect(events.some((e) => e.type.startsWith('customer.subscription.'))).toBe(true);
    expect(events.some((e) => e.type.startsWith('invoice.'))).toBe(true);
  });

  it('redelivered original events are no-ops: the row, deleted meanwhile, is not recreated', async () => {
    await resetRow();
    const rng = prng(SEED);
    const order = [...events].sort(() => rng.next() - 0.5);
    for (const e of order) {
      const payload = JSON.stringify(e);
      const res = await deliver(payload, sign(payload));
      expect(res.status).toBe(200);
    }
    expect(await getRow('TABLE_ENTITLEMENTS', user.sub)).toBeUndefined();
  });

  it("ends in Stripe's state whatever the order, with duplicates, concurrency and refused deliveries mixed in", async () => {
    const truth = await stripeTruth();
    expect(truth).toMatchObject({ status: 'active', tier: 'enterprise', cancelAtPeriodEnd: false });
    const rng = prng(SEED + 1);
    const stale = Math.floor(Date.now() / 1000) - 600;
    let delivered = 0;
    let refused = 0;
    for (let round = 0; round < 6; round++) {
      await resetRow();
      // New ids per round (a fresh stream for the handler), then duplicates of some of them.
      const fresh = events.map((e, i) => ({ ...e, id: `${e.id}_adv${SEED}_${round}_${i}` }));
      const stream = [...fresh, ...fresh.filter(() => rng.chance(0.35))].sort(() => rng.next() - 0.5);
      for (let i = 0; i < stream.length; i += 3) {
        const batch = stream.slice(i, i + 3);
        await Promise.all(
          batch.map(async (e) => {
            const payload = JSON.stringify(e);
            // A stale or forged copy first: refused with 400, and it must not mark the id as processed.
            if (rng.chance(0.4)) {
              const forged = rng.chance(0.5) ? sign(payload, stale) : sign(payload, undefined, 'whsec_forged');
              const bad = await deliver(payload, forged);
              refused++;
              expect(bad.status).toBe(400);
              expect(JSON.parse(bad.text)).toEqual({ error: { code: 'invalid_signature', message: expect.any(String) } });
            }
            const res = await deliver(payload, sign(payload));
            delivered++;
            expect(res.status).toBe(200);
            expect(JSON.parse(res.text)).toEqual({ received: true });
          }),
        );
      }
      expect({ round, ...(await rowState()) }).toEqual({ round, ...truth });
    }
    process.stdout.write(`[webhook-replay] ${delivered} signed deliveries, ${refused} stale/forged refused, ${events.length} captured events x 6 rounds\n`);
  }, 60_000);

  it('a stream replayed with only stale signatures writes nothing', async () => {
    await resetRow();
    const stale = Math.floor(Date.now() / 1000) - 3600;
    for (const e of events) {
      const payload = JSON.stringify({ ...e, id: `${e.id}_stale_only` });
      const res = await deliver(payload, sign(payload, stale));
      expect(res.status).toBe(400);
    }
    expect(await getRow('TABLE_ENTITLEMENTS', user.sub)).toBeUndefined();
    // The same events, correctly signed, are then applied (the refusals did not mark them as seen).
    for (const e of events) {
      const payload = JSON.stringify({ ...e, id: `${e.id}_stale_only` });
      expect((await deliver(payload, sign(payload))).status).toBe(200);
    }
    expect(await rowState()).toEqual(await stripeTruth());
  });
});
