import { PRICE_IDS } from '../../infra/local/stripe/catalog';
import { StripeApiError } from '../../infra/local/stripe/errors';
import { previousAttributes, StripeState, type Json } from '../../infra/local/stripe/state';
import { renderCheckoutSession, renderCustomer, renderInvoice, renderPrice, renderSubscription } from '../../infra/local/stripe/render';

const START = Date.parse('2025-01-31T12:00:00Z') / 1000;
const iso = (unix: number) => new Date(unix * 1000).toISOString();

function setup() {
  let now = START;
  const events: Array<{ type: string; object: Json; previous?: Json }> = [];
  const state = new StripeState({
    now: () => now,
    emit: (type, object, previous) => events.push({ type, object, previous }),
    baseUrl: () => 'http://127.0.0.1:12111',
  });
  const types = () => events.map((e) => e.type);
  const take = () => events.splice(0).map((e) => e.type);
  return { state, events, types, take, tick: (seconds: number) => (now += seconds) };
}

describe('emulated Stripe account', () => {
  it('seeds the catalogue: three monthly tiers and a one-time token pack', () => {
    const { state } = setup();
    const pro = renderPrice(state, PRICE_IDS.pro);
    expect(pro).toMatchObject({ object: 'price', unit_amount: 1999, lookup_key: 'pro', type: 'recurring', recurring: { interval: 'month', interval_count: 1 } });
    expect(renderPrice(state, PRICE_IDS.tokenPack)).toMatchObject({ unit_amount: 500, type: 'one_time', recurring: null, metadata: { tokens: '100' } });
    expect(renderPrice(state, PRICE_IDS.basic).unit_amount).toBe(999);
    expect(renderPrice(state, PRICE_IDS.enterprise).unit_amount).toBe(4999);
  });

  it('creates a subscription with periods on its items, a paid invoice and the two events', () => {
    const { state, events, take } = setup();
    const customer = state.createCustomer({ email: 'a@example.test' });
    const { subscription, invoice } = state.createSubscription({ customer: customer.id, items: [{ price: PRICE_IDS.basic, quantity: 1 }], metadata: { userId: 'u1' } });
    const sub = renderSubscription(state, subscription.id);
    expect(sub).toMatchObject({ object: 'subscription', status: 'active', customer: customer.id, metadata: { userId: 'u1' }, latest_invoice: invoice.id, livemode: false });
    const item = sub.items.data[0];
    expect(item.price.id).toBe(PRICE_IDS.basic);
    expect(iso(item.current_period_start)).toBe('2025-01-31T12:00:00.000Z');
    expect(iso(item.current_period_end)).toBe('2025-02-28T12:00:00.000Z');
    // API 2025-03-31.basil removed the top-level period from subscriptions and `subscription` from invoices.
    expect(sub).not.toHaveProperty('current_period_end');
    expect(sub).not.toHaveProperty('current_period_start');
    const inv = renderInvoice(state, invoice.id);
    expect(inv).not.toHaveProperty('subscription');
    expect(inv).toMatchObject({ status: 'paid', amount_paid: 999, billing_reason: 'subscription_create' });
    expect(inv.parent).toEqual({ quote_details: null, subscription_details: { metadata: { userId: 'u1' }, subscription: subscription.id }, type: 'subscription_details' });
    expect(take()).toEqual(['customer.created', 'customer.subscription.created', 'invoice.paid']);
    expect(events).toHaveLength(0);
  });

  it('runs a trial, converts it on renewal and keeps the anchor day', () => {
    const { state, events, take } = setup();
    const customer = state.createCustomer({ email: 't@example.test' });
    const { subscription, invoice } = state.createSubscription({ customer: customer.id, items: [{ price: PRICE_IDS.pro, quantity: 1 }], trialPeriodDays: 14 });
    expect(renderSubscription(state, subscription.id)).toMatchObject({ status: 'trialing', trial_end: START + 14 * 86_400 });
    expect(renderInvoice(state, invoice.id)).toMatchObject({ amount_paid: 0, status: 'paid' });
    take();
    state.renewSubscription(subscription.id);
    const sub = renderSubscription(state, subscription.id);
    expect(sub.status).toBe('active');
    expect(iso(sub.items.data[0].current_period_start)).toBe('2025-02-14T12:00:00.000Z');
    expect(iso(sub.items.data[0].current_period_end)).toBe('2025-03-14T12:00:00.000Z');
    expect(events.map((e) => e.type)).toEqual(['customer.subscription.updated', 'invoice.paid']);
    expect(events[0]?.previous).toMatchObject({ status: 'trialing' });
    expect(events[1]?.object).toMatchObject({ amount_paid: 1999, billing_reason: 'subscription_cycle' });
  });

  it('fails a renewal (past_due, open invoice), retries it and recovers', () => {
    const { state, events, take } = setup();
    const customer = state.createCustomer({ email: 'f@example.test' });
    const { subscription } = state.createSubscription({ customer: customer.id, items: [{ price: PRICE_IDS.basic, quantity: 1 }] });
    take();
    const failed = state.failPayment(subscription.id);
    expect(renderInvoice(state, failed.invoice.id)).toMatchObject({ status: 'open', attempt_count: 1, amount_paid: 0, amount_remaining: 999 });
    expect(take()).toEqual(['invoice.payment_failed', 'customer.subscription.updated']);
    expect(renderSubscription(state, subscription.id).status).toBe('past_due');
    expect(renderCustomer(state, customer.id).delinquent).toBe(true);

    const retried = state.failPayment(subscription.id);
    expect(retried.invoice.id).toBe(failed.invoice.id);
    expect(renderInvoice(state, retried.invoice.id).attempt_count).toBe(2);
    expect(take()).toEqual(['invoice.payment_failed']);

    state.recoverPayment(subscription.id);
    expect(renderSubscription(state, subscription.id).status).toBe('active');
    expect(events.map((e) => e.type)).toEqual(['invoice.paid', 'customer.subscription.updated']);
    expect(events[1]?.previous).toEqual({ status: 'past_due' });
  });

  it('changes plans through the item id (without it Stripe adds an item)', () => {
    const { state, events, take } = setup();
    const customer = state.createCustomer({});
    const { subscription } = state.createSubscription({ customer: customer.id, items: [{ price: PRICE_IDS.basic, quantity: 1 }] });
    take();
    const itemId = subscription.items[0]?.id as string;
    state.modifySubscription(subscription.id, { items: [{ id: itemId, price: PRICE_IDS.pro }] });
    const sub = renderSubscription(state, subscription.id);
    expect(sub.items.data.map((i: Json) => i.price.id)).toEqual([PRICE_IDS.pro]);
    expect(events.map((e) => e.type)).toEqual(['customer.subscription.updated']);
    expect(events[0]?.previous?.items.data[0].price.id).toBe(PRICE_IDS.basic);

    state.modifySubscription(subscription.id, { items: [{ price: PRICE_IDS.enterprise }] });
    expect(renderSubscription(state, subscription.id).items.data).toHaveLength(2);
    expect(() => state.modifySubscription(subscription.id, { items: [{ price: PRICE_IDS.tokenPack }] })).toThrow(/type=recurring/);
    // A failed change leaves the subscription as it was.
    expect(renderSubscription(state, subscription.id).items.data).toHaveLength(2);
  });

  it('cancels at period end, ends on renewal, and refuses changes afterwards', () => {
    const { state, events, take } = setup();
    const customer = state.createCustomer({});
    const { subscription } = state.createSubscription({ customer: customer.id, items: [{ price: PRICE_IDS.basic, quantity: 1 }] });
    take();
    state.requestCancellation(subscription.id, true);
    const scheduled = renderSubscription(state, subscription.id);
    expect(scheduled).toMatchObject({ status: 'active', cancel_at_period_end: true, cancel_at: scheduled.items.data[0].current_period_end, canceled_at: START });
    expect(take()).toEqual(['customer.subscription.updated']);
    state.renewSubscription(subscription.id);
    expect(renderSubscription(state, subscription.id)).toMatchObject({ status: 'canceled', ended_at: scheduled.items.data[0].current_period_end });
    expect(events.map((e) => e.type)).toEqual(['customer.subscription.deleted']);
    expect(() => state.modifySubscription(subscription.id, { cancelAtPeriodEnd: false })).toThrow(StripeApiError);
    expect(() => state.cancelSubscription(subscription.id)).toThrow(/already been canceled/);
  });

  it('deletes a customer after canceling its subscriptions', () => {
    const { state, take } = setup();
    const customer = state.createCustomer({ email: 'd@example.test' });
    const { subscription } = state.createSubscription({ customer: customer.id, items: [{ price: PRICE_IDS.basic, quantity: 1 }] });
    take();
    state.deleteCustomer(customer.id);
    expect(take()).toEqual(['customer.subscription.deleted', 'customer.deleted']);
    expect(renderCustomer(state, customer.id)).toEqual({ id: customer.id, object: 'customer', deleted: true });
    expect(renderSubscription(state, subscription.id).status).toBe('canceled');
    expect(() => state.createSubscription({ customer: customer.id, items: [{ price: PRICE_IDS.basic, quantity: 1 }] })).toThrow(/No such customer/);
    expect(state.listSubscriptions({ customer: customer.id })).toHaveLength(0);
    expect(state.listSubscriptions({ customer: customer.id, status: 'all' })).toHaveLength(1);
  });

  it('completes Checkout: creates the customer and subscription, then checkout.session.completed', () => {
    const { state, take } = setup();
    const session = state.createCheckoutSession({
      mode: 'subscription',
      customer: null,
      customerEmail: 'new@example.test',
      customerCreation: null,
      lineItems: [{ id: 'li_1', price: PRICE_IDS.pro, quantity: 1 }],
      successUrl: 'http://app/ok',
      cancelUrl: null,
      returnUrl: null,
      clientReferenceId: 'user-1',
      metadata: { userId: 'user-1' },
      subscriptionData: { metadata: { userId: 'user-1' }, trialPeriodDays: null, description: null },
      paymentIntentData: { metadata: {} },
    });
    expect(renderCheckoutSession(state, session.id)).toMatchObject({ status: 'open', payment_status: 'unpaid', amount_total: 1999, url: `http://127.0.0.1:12111/checkout/${session.id}` });
    state.completeCheckoutSession(session.id);
    expect(take()).toEqual(['customer.created', 'customer.subscription.created', 'invoice.paid', 'checkout.session.completed']);
    const done = renderCheckoutSession(state, session.id);
    expect(done).toMatchObject({ status: 'complete', payment_status: 'paid', client_reference_id: 'user-1', url: null });
    expect(renderSubscription(state, done.subscription).metadata).toEqual({ userId: 'user-1' });
    expect(() => state.completeCheckoutSession(session.id)).toThrow(/already complete/);
  });

  it('reports top-level previous attributes', () => {
    expect(previousAttributes({ a: 1, b: { c: 2 }, d: 'x' }, { a: 1, b: { c: 3 }, d: 'x', e: true })).toEqual({ b: { c: 2 }, e: null });
  });
});
