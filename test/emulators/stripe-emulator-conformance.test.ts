import Stripe from 'stripe';
import { freePort } from '../../infra/local/processes';
import { StripeEmulatorControl } from '../../infra/local/stripe/control';
import { startStripeEmulator, type StripeEmulator } from '../../infra/local/stripe/emulator';
import { stripeSchemaChecker } from '../fixtures/stripe-schema';

/**
 * Every object and event the emulator serves, checked against the installed
 * `stripe` package's types (the API version it pins). Upgrading the SDK
 * re-runs this against the new shapes, so the emulator cannot drift from it.
 * Bodies are read raw: the SDK would coerce some fields (decimal strings).
 */

let emulator: StripeEmulator;
let control: StripeEmulatorControl;
let stripe: Stripe;

beforeAll(async () => {
  // Deliveries go nowhere (a closed port): only the event log matters here.
  emulator = await startStripeEmulator({ port: await freePort(), webhookUrl: `http://127.0.0.1:${await freePort()}/stripe/webhook`, delivery: { attempts: 1, retryDelayMs: 10 } });
  control = new StripeEmulatorControl(emulator.url);
  stripe = new Stripe(emulator.secretKey, { host: '127.0.0.1', port: emulator.port, protocol: 'http', maxNetworkRetries: 0 });
});

afterAll(async () => {
  await emulator.stop();
});

async function raw(path: string): Promise<any> {
  const res = await fetch(`${emulator.url}${path}`, { headers: { authorization: `Bearer ${emulator.secretKey}` } });
  if (!res.ok) throw new Error(`${path} -> ${res.status} ${await res.text()}`);
  return res.json();
}

/** Every page of a list endpoint. */
async function all(path: string): Promise<any[]> {
  const out: any[] = [];
  let after: string | undefined;
  for (;;) {
    const sep = path.includes('?') ? '&' : '?';
    const page = await raw(`${path}${sep}limit=100${after ? `&starting_after=${after}` : ''}`);
    out.push(page, ...page.data);
    if (!page.has_more) return out;
    after = page.data[page.data.length - 1].id;
  }
}

const email = (prefix: string) => `${prefix}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.test`;

/** Drives every flow the emulator knows, so every object kind and event type exists. */
async function exerciseEverything(): Promise<{ customers: string[]; sessions: string[] }> {
  const customers: string[] = [];
  const sessions: string[] = [];
  const customer = await stripe.customers.create({ email: email('conf'), metadata: { userId: 'u-conf' } });
  customers.push(customer.id);
  await stripe.customers.update(customer.id, { name: 'Conformance' });

  const sub = await stripe.checkout.sessions.create({
    mode: 'subscription',
    customer: customer.id,
    line_items: [{ price: emulator.prices.basic, quantity: 1 }],
    success_url: 'http://app.test/ok',
    metadata: { userId: 'u-conf' },
    subscription_data: { metadata: { userId: 'u-conf' } },
  });
  sessions.push(sub.id);
  const done = await control.completeCheckout(sub.id);
  const subscriptionId = done.subscription?.id as string;
  await control.changePrice(subscriptionId, { tier: 'pro' });
  await control.failPayment(subscriptionId);
  await control.recover(subscriptionId);
  await control.advance(subscriptionId);
  await control.cancel(subscriptionId, { atPeriodEnd: true });
  await control.resume(subscriptionId);
  await stripe.billingPortal.sessions.create({ customer: customer.id, return_url: 'http://app.test/account' });

  const pack = await stripe.checkout.sessions.create({
    mode: 'payment',
    customer: customer.id,
    line_items: [{ price: emulator.prices.tokenPack, quantity: 2 }],
    success_url: 'http://app.test/ok',
    metadata: { userId: 'u-conf', kind: 'top-up', tokens: '200' },
  });
  sessions.push(pack.id);
  await control.completeCheckout(pack.id);

  const trial = await stripe.customers.create({ email: email('conf-trial') });
  customers.push(trial.id);
  await stripe.subscriptions.create({ customer: trial.id, items: [{ price: emulator.prices.enterprise }], trial_period_days: 7 });
  await stripe.subscriptions.create({ customer: trial.id, items: [{ price: emulator.prices.basic }], payment_behavior: 'default_incomplete' });

  const expired = await stripe.checkout.sessions.create({ mode: 'payment', customer: trial.id, line_items: [{ price: emulator.prices.tokenPack, quantity: 1 }], success_url: 'http://app.test/ok' });
  sessions.push(expired.id);
  await stripe.checkout.sessions.expire(expired.id);

  // Delayed (bank debit) payments: one settles, one bounces, in both modes.
  const bank = await stripe.customers.create({ email: email('conf-bank') });
  customers.push(bank.id);
  for (const outcome of ['succeeded', 'failed'] as const) {
    const topUp = await stripe.checkout.sessions.create({ mode: 'payment', customer: bank.id, line_items: [{ price: emulator.prices.tokenPack, quantity: 1 }], success_url: 'http://app.test/ok' });
    sessions.push(topUp.id);
    await control.completeCheckout(topUp.id, { delayed: true });
    await control.asyncPayment(topUp.id, outcome);
  }
  const bankSub = await stripe.checkout.sessions.create({ mode: 'subscription', customer: bank.id, line_items: [{ price: emulator.prices.pro, quantity: 1 }], success_url: 'http://app.test/ok' });
  sessions.push(bankSub.id);
  await control.completeCheckout(bankSub.id, { delayed: true });
  await control.asyncPayment(bankSub.id, 'failed');
  const other = await stripe.customers.create({ email: email('conf-bank2') });
  customers.push(other.id);
  const bankSub2 = await stripe.checkout.sessions.create({ mode: 'subscription', customer: other.id, line_items: [{ price: emulator.prices.basic, quantity: 1 }], success_url: 'http://app.test/ok' });
  sessions.push(bankSub2.id);
  await control.completeCheckout(bankSub2.id, { delayed: true });
  await control.asyncPayment(bankSub2.id, 'succeeded');

  // Refunds (partial, then the rest) and disputes (won, lost).
  await control.refund({ session: pack.id, amount: 300 });
  await stripe.refunds.create({ payment_intent: (await stripe.checkout.sessions.retrieve(pack.id)).payment_intent as string });
  for (const outcome of ['won', 'lost'] as const) {
    const disputed = await stripe.checkout.sessions.create({ mode: 'payment', customer: customer.id, line_items: [{ price: emulator.prices.tokenPack, quantity: 1 }], success_url: 'http://app.test/ok' });
    sessions.push(disputed.id);
    await control.completeCheckout(disputed.id);
    const { dispute } = await control.openDispute({ session: disputed.id });
    await control.closeDispute({ dispute: dispute.id }, outcome);
  }

  const gone = await stripe.customers.create({ email: email('conf-gone') });
  customers.push(gone.id);
  await control.subscribe({ customer: gone.id, tier: 'basic' });
  await stripe.customers.del(gone.id);
  return { customers, sessions };
}

describe('the emulator against the installed stripe types', () => {
  it('renders every object and every event the way the pinned API version does', async () => {
    const { customers, sessions } = await exerciseEverything();
    await control.flush();
    const checker = stripeSchemaChecker();

    const served: Array<[string, any]> = [];
    const add = (label: string, values: any[]) => values.forEach((v, i) => served.push([`${label}#${i}`, v]));
    add('customers', await all('/v1/customers'));
    for (const id of customers) add(`customer ${id}`, [await raw(`/v1/customers/${id}`)]);
    add('subscriptions', await all('/v1/subscriptions?status=all'));
    add('invoices', await all('/v1/invoices'));
    add('checkout sessions', await all('/v1/checkout/sessions'));
    for (const id of sessions) {
      add(`session ${id}`, [await raw(`/v1/checkout/sessions/${id}?expand[]=line_items`)]);
      add(`line items ${id}`, await all(`/v1/checkout/sessions/${id}/line_items`));
    }
    add('charges', await all('/v1/charges'));
    add('refunds', await all('/v1/refunds'));
    add('disputes', await all('/v1/disputes'));
    for (const charge of (await raw('/v1/charges?limit=100')).data) {
      add(`charge ${charge.id}`, [await raw(`/v1/charges/${charge.id}`), await raw(`/v1/payment_intents/${charge.payment_intent}`)]);
    }
    add('prices', await all('/v1/prices'));
    add('products', await all('/v1/products'));
    add('search', [await raw(`/v1/customers/search?query=${encodeURIComponent("metadata['userId']:'u-conf'")}`)]);
    const events = await all('/v1/events');
    add('events', events);

    const kinds = new Set(served.map(([, v]) => (v.deleted ? `deleted ${v.object}` : v.object)));
    const eventTypes = new Set(events.filter((e) => e.object === 'event').map((e) => e.type));
    // The scenario must really reach every kind, or a missing kind would pass unchecked.
    expect([...kinds].sort()).toEqual(
      expect.arrayContaining([
        'charge',
        'checkout.session',
        'customer',
        'dispute',
        'event',
        'invoice',
        'item',
        'list',
        'payment_intent',
        'price',
        'product',
        'refund',
        'search_result',
        'subscription',
      ]),
    );
    expect([...eventTypes].sort()).toEqual(
      expect.arrayContaining([
        'charge.dispute.closed',
        'charge.dispute.created',
        'charge.refunded',
        'checkout.session.async_payment_failed',
        'checkout.session.async_payment_succeeded',
        'checkout.session.completed',
        'checkout.session.expired',
        'customer.created',
        'customer.deleted',
        'customer.subscription.created',
        'customer.subscription.deleted',
        'customer.subscription.updated',
        'customer.updated',
        'invoice.paid',
        'invoice.payment_failed',
        'refund.created',
      ]),
    );

    const problems = served.flatMap(([label, value]) => checker.check(value).map((p) => `${label}: ${p}`));
    expect(problems).toEqual([]);
  });

  it('catches drift: a field the pinned version removed, or a required one missing', async () => {
    const checker = stripeSchemaChecker();
    const customer = await stripe.customers.create({ email: email('conf-drift') });
    const { subscription } = await control.subscribe({ customer: customer.id, tier: 'basic' });
    const body = await raw(`/v1/subscriptions/${subscription.id}`);
    expect(checker.check(body)).toEqual([]);
    expect(checker.check({ ...body, current_period_end: 1 })).toEqual(['subscription.current_period_end: not in Subscription']);
    const { status: _removed, ...withoutStatus } = body;
    expect(checker.check(withoutStatus)).toEqual(['subscription.status: missing']);
    const invoice = await raw(`/v1/invoices/${body.latest_invoice}`);
    expect(checker.check({ ...invoice, subscription: subscription.id })).toEqual(['invoice.subscription: not in Invoice']);
  });
});
