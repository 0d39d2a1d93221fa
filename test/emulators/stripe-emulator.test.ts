import { createServer, type Server } from 'node:http';
import Stripe from 'stripe';
import { freePort } from '../../infra/local/processes';
import { StripeEmulatorControl } from '../../infra/local/stripe/control';
import { startStripeEmulator, type StripeEmulator } from '../../infra/local/stripe/emulator';
import { stripeEmulatorService } from '../../infra/local/stripe/service';

/**
 * The emulator driven by the real stripe SDK over HTTP, with a local server
 * standing in for the webhook handler. Each test makes its own customers and
 * looks only at the events about them.
 */

interface Received {
  event: Stripe.Event;
  raw: string;
  signature: string;
  verified: boolean;
}

let emulator: StripeEmulator;
let control: StripeEmulatorControl;
let stripe: Stripe;
let receiver: Server;
let received: Received[] = [];
/** How the receiver answers; tests swap it to make deliveries fail. */
let answer: (event: Stripe.Event) => number = () => 200;

const closeServer = (server: Server) =>
  new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const signature = String(req.headers['stripe-signature'] ?? '');
      let event: Stripe.Event;
      let verified = true;
      try {
        event = stripe.webhooks.constructEvent(raw, signature, emulator.webhookSecret);
      } catch {
        verified = false;
        event = JSON.parse(raw) as Stripe.Event;
      }
      received.push({ event, raw, signature, verified });
      const status = verified ? answer(event) : 400;
      res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(status < 300 ? { received: true } : { error: 'no' }));
    });
  });
  const receiverPort = await freePort();
  await new Promise<void>((resolve) => receiver.listen(receiverPort, '127.0.0.1', () => resolve()));

  emulator = await startStripeEmulator({
    port: await freePort(),
    webhookUrl: `http://127.0.0.1:${receiverPort}/stripe/webhook`,
    delivery: { retryDelayMs: 50, reorderWindowMs: 50 },
  });
  control = new StripeEmulatorControl(emulator.url);
  stripe = new Stripe(emulator.secretKey, { host: '127.0.0.1', port: emulator.port, protocol: 'http', maxNetworkRetries: 0 });
});

afterEach(async () => {
  answer = () => 200;
  await control.resetFaults();
  await control.delivery({ duplicate: false, delayMs: 0, reorder: false, paused: false, drop: false, dropCustomers: [] });
  await control.flush();
  received = [];
});

afterAll(async () => {
  await emulator.stop();
  await closeServer(receiver);
});

/** Waits until the emulator has delivered everything, then returns the events about `objectIds`. */
async function deliveredAbout(...objectIds: string[]): Promise<Received[]> {
  await control.flush();
  return received.filter((r) => {
    const object = r.event.data.object as unknown as Record<string, any>;
    const subscription = object.subscription ?? object.parent?.subscription_details?.subscription;
    return objectIds.some((id) => object.id === id || object.customer === id || subscription === id);
  });
}

const unique = (prefix: string) => `${prefix}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.test`;

describe('the API, through the real stripe SDK', () => {
  it('refuses requests without the secret key, in Stripe error shape', async () => {
    const wrong = new Stripe('sk_test_wrong_key_123456', { host: '127.0.0.1', port: emulator.port, protocol: 'http', maxNetworkRetries: 0 });
    await expect(wrong.customers.list()).rejects.toMatchObject({ type: 'StripeAuthenticationError', statusCode: 401 });

    const res = await fetch(`${emulator.url}/v1/customers`);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: { type: 'invalid_request_error', message: expect.stringMatching(/did not provide an API key/) } });
  });

  it('replays a create sent with the same idempotency key, and refuses the key with other params', async () => {
    const email = unique('idem');
    const key = `key-${email}`;
    const first = await stripe.customers.create({ email, metadata: { userId: 'u-idem' } }, { idempotencyKey: key });
    const again = await stripe.customers.create({ email, metadata: { userId: 'u-idem' } }, { idempotencyKey: key });
    expect(again.id).toBe(first.id);
    expect(again.lastResponse.headers['idempotent-replayed']).toBe('true');

    await expect(stripe.customers.create({ email: unique('other') }, { idempotencyKey: key })).rejects.toMatchObject({
      type: 'StripeIdempotencyError',
      statusCode: 400,
    });
    const events = await deliveredAbout(first.id);
    expect(events.map((r) => r.event.type)).toEqual(['customer.created']);
  });

  /** A raw POST, so status, body and replay headers are seen exactly as sent. */
  const rawPost = async (path: string, form: Record<string, string>, idempotencyKey: string) => {
    const res = await fetch(`${emulator.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${emulator.secretKey}`, 'content-type': 'application/x-www-form-urlencoded', 'idempotency-key': idempotencyKey },
      body: new URLSearchParams(form).toString(),
    });
    return { status: res.status, body: (await res.json()) as any, replayed: res.headers.get('idempotent-replayed'), original: res.headers.get('original-request') };
  };

  it('replays a saved error for a reused key, status code and body included, like Stripe', async () => {
    const customer = await stripe.customers.create({ email: unique('idem-error') });
    await stripe.customers.del(customer.id);
    const key = `key-error-${customer.id}`;
    const first = await rawPost(`/v1/customers/${customer.id}`, { description: 'x' }, key);
    expect(first.status).toBe(404);
    expect(first.replayed).toBeNull();
    const again = await rawPost(`/v1/customers/${customer.id}`, { description: 'x' }, key);
    expect(again).toMatchObject({ status: 404, body: first.body, replayed: 'true' });
    expect(again.original).toMatch(/^req_/);
  });

  it('saves nothing for parameters refused before the endpoint ran: the key stays free', async () => {
    const email = unique('idem-validation');
    const key = `key-validation-${email}`;
    const refused = await rawPost('/v1/customers', { emial: email }, key);
    expect(refused).toMatchObject({ status: 400, body: { error: { code: 'parameter_unknown', param: 'emial' } } });
    const fixed = await rawPost('/v1/customers', { email }, key);
    expect(fixed).toMatchObject({ status: 200, body: { object: 'customer', email }, replayed: null });
  });

  it('expires a key 24 hours after its first use on the emulator clock: the request then runs again', async () => {
    const email = unique('idem-expiry');
    const key = `key-expiry-${email}`;
    const first = await stripe.customers.create({ email }, { idempotencyKey: key });
    await control.clock({ advanceSeconds: 23 * 3600 });
    expect((await stripe.customers.create({ email }, { idempotencyKey: key })).id).toBe(first.id);
    const before = await control.clock();
    await control.clock({ advanceSeconds: 3600 });
    expect((await control.clock()).now).toBeGreaterThanOrEqual(before.now + 3600);
    const after = await stripe.customers.create({ email }, { idempotencyKey: key });
    expect(after.id).not.toBe(first.id);
    expect(after.created).toBeGreaterThanOrEqual(before.now + 3600);
  });

  it('serves the seeded catalogue', async () => {
    const tiers = await stripe.prices.list({ lookup_keys: ['basic', 'pro', 'enterprise'], active: true });
    expect(Object.fromEntries(tiers.data.map((p) => [p.lookup_key, [p.id, p.unit_amount, p.recurring?.interval]]))).toEqual({
      basic: ['price_basic_monthly', 999, 'month'],
      pro: ['price_pro_monthly', 1999, 'month'],
      enterprise: ['price_enterprise_monthly', 4999, 'month'],
    });
    const pack = await stripe.prices.retrieve(emulator.prices.tokenPack, { expand: ['product'] });
    expect(pack).toMatchObject({ id: 'price_token_pack_100', unit_amount: 500, type: 'one_time', metadata: { tokens: '100' } });
    expect((pack.product as Stripe.Product).name).toBe('Token pack');
    await expect(stripe.prices.retrieve('price_nope')).rejects.toMatchObject({ statusCode: 404, code: 'resource_missing' });
  });

  it('refuses parameters the real API does not know, naming them', async () => {
    await expect(stripe.customers.create({ emial: 'x@example.test' } as Stripe.CustomerCreateParams)).rejects.toMatchObject({
      type: 'StripeInvalidRequestError',
      param: 'emial',
    });
    const customer = await stripe.customers.create({ email: unique('params') });
    await expect(
      stripe.checkout.sessions.create({ mode: 'subscription', customer: customer.id, line_items: [{ price: emulator.prices.tokenPack, quantity: 1 }] }),
    ).rejects.toMatchObject({ param: 'line_items' });
    await expect(stripe.checkout.sessions.create({ mode: 'payment', customer: customer.id, line_items: [{ price: emulator.prices.tokenPack }] })).rejects.toMatchObject({
      param: 'line_items[0][quantity]',
    });
  });
});

describe('subscribing through Checkout', () => {
  it('completes the session and sends signed checkout, subscription and invoice events', async () => {
    const customer = await stripe.customers.create({ email: unique('checkout'), metadata: { userId: 'user-checkout' } });
    const session = await stripe.checkout.sessions.create({
      mode: 'subscription',
      customer: customer.id,
      line_items: [{ price: emulator.prices.pro, quantity: 1 }],
      success_url: 'http://127.0.0.1:3000/done?session={CHECKOUT_SESSION_ID}',
      cancel_url: 'http://127.0.0.1:3000/cancel',
      client_reference_id: 'user-checkout',
      metadata: { userId: 'user-checkout' },
      subscription_data: { metadata: { userId: 'user-checkout' } },
    });
    expect(session).toMatchObject({ object: 'checkout.session', status: 'open', payment_status: 'unpaid', mode: 'subscription', amount_total: 1999, customer: customer.id });
    expect(session.id).toMatch(/^cs_test_/);
    expect(session.url).toBe(`${emulator.url}/checkout/${session.id}`);
    const page = await fetch(session.url as string);
    expect(await page.text()).toContain('Pay</button>');
    await control.flush();
    received = [];

    const done = await control.completeCheckout(session.id);
    const subscriptionId = done.subscription?.id as string;
    const events = await deliveredAbout(customer.id, session.id);
    expect(events.map((r) => r.event.type).sort()).toEqual(['checkout.session.completed', 'customer.subscription.created', 'invoice.paid']);
    for (const r of events) {
      expect(r.verified).toBe(true);
      expect(r.signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
      expect(r.event).toMatchObject({ object: 'event', api_version: emulator.apiVersion, livemode: false, pending_webhooks: 1 });
      expect(r.event.id).toMatch(/^evt_/);
    }
    const completed = events.find((r) => r.event.type === 'checkout.session.completed')?.event.data.object as Stripe.Checkout.Session;
    expect(completed).toMatchObject({ status: 'complete', payment_status: 'paid', subscription: subscriptionId, client_reference_id: 'user-checkout' });

    const sub = await stripe.subscriptions.retrieve(subscriptionId, { expand: ['latest_invoice'] });
    expect(sub).toMatchObject({ status: 'active', customer: customer.id, metadata: { userId: 'user-checkout' } });
    expect(sub.items.data[0]?.price.id).toBe(emulator.prices.pro);
    expect(sub.items.data[0]?.current_period_end).toBeGreaterThan(Date.now() / 1000 + 27 * 86_400);
    const invoice = sub.latest_invoice as Stripe.Invoice;
    expect(invoice).toMatchObject({ status: 'paid', amount_paid: 1999, customer: customer.id });
    expect(invoice.parent?.subscription_details?.subscription).toBe(subscriptionId);
    expect((await stripe.checkout.sessions.retrieve(session.id)).status).toBe('complete');
  });

  it('sells token packs in payment mode', async () => {
    const customer = await stripe.customers.create({ email: unique('tokens') });
    const session = await stripe.checkout.sessions.create({
      mode: 'payment',
      customer: customer.id,
      line_items: [{ price: emulator.prices.tokenPack, quantity: 3 }],
      metadata: { userId: 'user-tokens', tokens: '300' },
      payment_intent_data: { metadata: { userId: 'user-tokens' } },
      success_url: 'http://127.0.0.1:3000/done',
    });
    expect(session.amount_total).toBe(1500);
    await control.completeCheckout(session.id);
    const [event] = await deliveredAbout(session.id);
    expect(event?.event.type).toBe('checkout.session.completed');
    const paid = await stripe.checkout.sessions.retrieve(session.id, { expand: ['line_items'] });
    expect(paid).toMatchObject({ status: 'complete', payment_status: 'paid', subscription: null });
    expect(paid.line_items?.data[0]).toMatchObject({ quantity: 3, price: { id: emulator.prices.tokenPack, metadata: { tokens: '100' } } });
  });

  it('lets a person click Pay and manage the plan in the portal pages', async () => {
    const session = await stripe.checkout.sessions.create({
      mode: 'subscription',
      customer_email: unique('click'),
      line_items: [{ price: emulator.prices.basic, quantity: 1 }],
      success_url: 'http://127.0.0.1:3000/done?session={CHECKOUT_SESSION_ID}',
    });
    const form = (fields: Record<string, string>) => ({
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
      redirect: 'manual' as const,
    });
    const paid = await fetch(`${emulator.url}/_emulator/checkout/${session.id}/complete`, form({ redirect: '1' }));
    expect(paid.status).toBe(303);
    expect(paid.headers.get('location')).toBe(`http://127.0.0.1:3000/done?session=${session.id}`);
    const done = await stripe.checkout.sessions.retrieve(session.id);
    expect(done).toMatchObject({ status: 'complete', payment_status: 'paid' });

    const portal = await stripe.billingPortal.sessions.create({ customer: done.customer as string });
    const page = await (await fetch(portal.url)).text();
    expect(page).toContain('Switch to Pro');
    const switched = await fetch(`${emulator.url}/_emulator/subscriptions/${done.subscription as string}/change-price`, form({ tier: 'pro', redirect: `/billing_portal/${portal.id}` }));
    expect(switched.status).toBe(303);
    expect(switched.headers.get('location')).toBe(`/billing_portal/${portal.id}`);
    expect((await stripe.subscriptions.retrieve(done.subscription as string)).items.data[0]?.price.id).toBe(emulator.prices.pro);
  });

  it('creates a billing portal session', async () => {
    const customer = await stripe.customers.create({ email: unique('portal') });
    const portal = await stripe.billingPortal.sessions.create({ customer: customer.id, return_url: 'http://127.0.0.1:3000/account' });
    expect(portal).toMatchObject({ object: 'billing_portal.session', customer: customer.id, return_url: 'http://127.0.0.1:3000/account' });
    expect(portal.id).toMatch(/^bps_/);
    expect((await fetch(portal.url)).status).toBe(200);
  });
});

describe('changing and ending subscriptions', () => {
  it('upgrades by changing the price of the subscription item', async () => {
    const { customer, subscription } = await control.subscribe({ email: unique('upgrade'), tier: 'basic' });
    const itemId = subscription.items.data[0].id as string;
    const updated = await stripe.subscriptions.update(subscription.id, { items: [{ id: itemId, price: emulator.prices.enterprise }], proration_behavior: 'none' });
    expect(updated.items.data.map((i) => i.price.id)).toEqual([emulator.prices.enterprise]);
    const events = await deliveredAbout(customer.id);
    const change = events.find((r) => r.event.type === 'customer.subscription.updated')?.event as Stripe.CustomerSubscriptionUpdatedEvent;
    expect(change.data.object.items.data[0]?.price.id).toBe(emulator.prices.enterprise);
    expect((change.data.previous_attributes?.items as Stripe.ApiList<Stripe.SubscriptionItem>).data[0]?.price.id).toBe(emulator.prices.basic);
  });

  it('cancels at period end, then at once', async () => {
    const { customer, subscription } = await control.subscribe({ email: unique('cancel'), tier: 'pro' });
    const scheduled = await stripe.subscriptions.update(subscription.id, { cancel_at_period_end: true });
    expect(scheduled).toMatchObject({ status: 'active', cancel_at_period_end: true, cancel_at: scheduled.items.data[0]?.current_period_end });
    const canceled = await stripe.subscriptions.cancel(subscription.id);
    expect(canceled.status).toBe('canceled');
    expect(canceled.canceled_at).toEqual(expect.any(Number));
    expect(canceled.ended_at).toEqual(expect.any(Number));
    const types = (await deliveredAbout(customer.id)).map((r) => r.event.type);
    expect(types).toEqual(['customer.created', 'customer.subscription.created', 'invoice.paid', 'customer.subscription.updated', 'customer.subscription.deleted']);
  });

  it('deleting a customer cancels its subscriptions first', async () => {
    const { customer, subscription } = await control.subscribe({ email: unique('delete'), tier: 'basic' });
    await control.flush();
    received = [];
    expect(await stripe.customers.del(customer.id)).toEqual(expect.objectContaining({ id: customer.id, deleted: true }));
    const types = (await deliveredAbout(customer.id)).map((r) => r.event.type);
    expect(types).toEqual(['customer.subscription.deleted', 'customer.deleted']);
    expect(await stripe.customers.retrieve(customer.id)).toMatchObject({ id: customer.id, deleted: true });
    expect((await stripe.subscriptions.retrieve(subscription.id)).status).toBe('canceled');
    await expect(stripe.customers.update(customer.id, { name: 'x' })).rejects.toMatchObject({ statusCode: 404 });
  });

  it('lists canceled subscriptions only with status all', async () => {
    const { customer, subscription } = await control.subscribe({ email: unique('list'), tier: 'basic' });
    await control.cancel(subscription.id);
    const second = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: emulator.prices.pro }], trial_period_days: 7 });
    expect(second.status).toBe('trialing');
    const current = await stripe.subscriptions.list({ customer: customer.id });
    expect(current.data.map((s) => s.id)).toEqual([second.id]);
    const all = await stripe.subscriptions.list({ customer: customer.id, status: 'all' });
    expect(all.data.map((s) => [s.id, s.status])).toEqual([
      [second.id, 'trialing'],
      [subscription.id, 'canceled'],
    ]);
  });

  it('renews, fails a payment and recovers through the control API', async () => {
    const { customer, subscription } = await control.subscribe({ email: unique('renew'), tier: 'pro' });
    const end = subscription.items.data[0].current_period_end as number;
    const renewed = await control.advance(subscription.id);
    expect(renewed.subscription.items.data[0].current_period_start).toBe(end);
    expect(renewed.invoice).toMatchObject({ status: 'paid', billing_reason: 'subscription_cycle' });

    const failed = await control.failPayment(subscription.id);
    expect(failed.subscription.status).toBe('past_due');
    expect(failed.invoice).toMatchObject({ status: 'open', attempt_count: 1 });
    const recovered = await control.recover(subscription.id);
    expect(recovered.subscription.status).toBe('active');

    const types = (await deliveredAbout(customer.id)).map((r) => r.event.type);
    expect(types.slice(3)).toEqual([
      'customer.subscription.updated',
      'invoice.paid',
      'invoice.payment_failed',
      'customer.subscription.updated',
      'invoice.paid',
      'customer.subscription.updated',
    ]);
  });
});

describe('delayed payment methods, refunds, disputes, dashboard changes', () => {
  const topUpSession = async (customer: string) =>
    stripe.checkout.sessions.create({ mode: 'payment', customer, line_items: [{ price: emulator.prices.tokenPack, quantity: 2 }], success_url: 'http://127.0.0.1:3000/done' });
  const subscriptionSession = async (customer: string) =>
    stripe.checkout.sessions.create({ mode: 'subscription', customer, line_items: [{ price: emulator.prices.basic, quantity: 1 }], success_url: 'http://127.0.0.1:3000/done' });

  it('a bank debit completes the top-up Checkout unpaid, then async_payment_succeeded makes it paid', async () => {
    const customer = await stripe.customers.create({ email: unique('delayed-pay') });
    const session = await topUpSession(customer.id);
    const done = await control.completeCheckout(session.id, { delayed: true });
    expect(done.session).toMatchObject({ status: 'complete', payment_status: 'unpaid' });
    expect((await stripe.paymentIntents.retrieve(done.session.payment_intent)).status).toBe('processing');
    await expect(control.refund({ session: session.id })).rejects.toThrow(/has not succeeded/);
    const settled = await control.asyncPayment(session.id, 'succeeded');
    expect(settled.session.payment_status).toBe('paid');
    expect((await stripe.paymentIntents.retrieve(done.session.payment_intent)).status).toBe('succeeded');
    const events = (await deliveredAbout(session.id)).map((r) => [r.event.type, (r.event.data.object as Stripe.Checkout.Session).payment_status]);
    expect(events).toEqual([
      ['checkout.session.completed', 'unpaid'],
      ['checkout.session.async_payment_succeeded', 'paid'],
    ]);
    await expect(control.asyncPayment(session.id, 'failed')).rejects.toThrow(/no delayed payment waiting/);
  });

  it('the Checkout page has a Pay by bank debit button that completes the session unpaid', async () => {
    const customer = await stripe.customers.create({ email: unique('delayed-page') });
    const session = await topUpSession(customer.id);
    expect(await (await fetch(session.url as string)).text()).toContain('name="delayed" value="true"');
    const res = await fetch(`${emulator.url}/_emulator/checkout/${session.id}/complete`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ redirect: '1', delayed: 'true' }).toString(),
      redirect: 'manual',
    });
    expect(res.status).toBe(303);
    expect(await stripe.checkout.sessions.retrieve(session.id)).toMatchObject({ status: 'complete', payment_status: 'unpaid' });
  });

  it('a bounced bank debit sends async_payment_failed and the session stays unpaid', async () => {
    const customer = await stripe.customers.create({ email: unique('delayed-fail') });
    const session = await topUpSession(customer.id);
    await control.completeCheckout(session.id, { delayed: true });
    const failed = await control.asyncPayment(session.id, 'failed');
    expect(failed.session.payment_status).toBe('unpaid');
    const intent = await stripe.paymentIntents.retrieve(failed.session.payment_intent);
    expect(intent.status).toBe('requires_payment_method');
    expect((await stripe.charges.retrieve(intent.latest_charge as string)).status).toBe('failed');
    expect((await deliveredAbout(session.id)).map((r) => r.event.type)).toEqual(['checkout.session.completed', 'checkout.session.async_payment_failed']);
  });

  it('a subscription paid by bank debit starts incomplete and turns active when its first invoice is paid', async () => {
    const customer = await stripe.customers.create({ email: unique('delayed-sub') });
    const session = await subscriptionSession(customer.id);
    const done = await control.completeCheckout(session.id, { delayed: true });
    expect(done.session.payment_status).toBe('unpaid');
    expect(done.subscription).toMatchObject({ status: 'incomplete' });
    expect(done.invoice).toMatchObject({ status: 'open' });
    await control.asyncPayment(session.id, 'succeeded');
    expect((await stripe.subscriptions.retrieve(done.subscription!.id)).status).toBe('active');
    const types = (await deliveredAbout(customer.id)).map((r) => r.event.type);
    expect(types).toEqual(['customer.created', 'customer.subscription.created', 'checkout.session.completed', 'invoice.paid', 'customer.subscription.updated', 'checkout.session.async_payment_succeeded']);
  });

  it('a bounced first payment leaves the subscription incomplete with the invoice open', async () => {
    const customer = await stripe.customers.create({ email: unique('delayed-sub-fail') });
    const session = await subscriptionSession(customer.id);
    const done = await control.completeCheckout(session.id, { delayed: true });
    await control.asyncPayment(session.id, 'failed');
    expect((await stripe.subscriptions.retrieve(done.subscription!.id)).status).toBe('incomplete');
    expect((await stripe.invoices.retrieve(done.invoice!.id)).status).toBe('open');
    const types = (await deliveredAbout(customer.id)).map((r) => r.event.type);
    expect(types.slice(-2)).toEqual(['invoice.payment_failed', 'checkout.session.async_payment_failed']);
  });

  it('refunds part of a charge, then the rest; never more than was paid', async () => {
    const customer = await stripe.customers.create({ email: unique('refund') });
    const session = await topUpSession(customer.id);
    const done = await control.completeCheckout(session.id);
    const intent = await stripe.paymentIntents.retrieve(done.session.payment_intent);
    const part = await control.refund({ session: session.id, amount: 400 });
    expect(part.charge).toMatchObject({ amount: 1000, amount_refunded: 400, refunded: false, payment_intent: intent.id });
    await expect(stripe.refunds.create({ charge: intent.latest_charge as string, amount: 700 })).rejects.toMatchObject({ statusCode: 400, param: 'amount' });
    const rest = await stripe.refunds.create({ payment_intent: intent.id });
    expect(rest).toMatchObject({ object: 'refund', amount: 600, charge: intent.latest_charge, status: 'succeeded' });
    expect((await stripe.charges.retrieve(intent.latest_charge as string)).refunded).toBe(true);
    expect((await stripe.refunds.list({ charge: intent.latest_charge as string })).data.map((r) => r.amount)).toEqual([600, 400]);
    const events = (await deliveredAbout(customer.id)).filter((r) => r.event.type.startsWith('charge.') || r.event.type.startsWith('refund.'));
    const amounts = (o: unknown) => o as { amount_refunded?: number; amount: number };
    expect(events.map((r) => [r.event.type, amounts(r.event.data.object).amount_refunded ?? amounts(r.event.data.object).amount])).toEqual([
      ['charge.refunded', 400],
      ['refund.created', 400],
      ['charge.refunded', 1000],
      ['refund.created', 600],
    ]);
  });

  it('opens a dispute on a charge and closes it won or lost', async () => {
    const customer = await stripe.customers.create({ email: unique('dispute') });
    const session = await topUpSession(customer.id);
    await control.completeCheckout(session.id);
    const { dispute, charge } = await control.openDispute({ email: customer.email as string });
    expect(dispute).toMatchObject({ object: 'dispute', status: 'needs_response', amount: 1000, charge: charge.id });
    expect(charge.disputed).toBe(true);
    await expect(control.openDispute({ charge: charge.id })).rejects.toThrow(/already has an open dispute/);
    const closed = await control.closeDispute({ session: session.id }, 'won');
    expect(closed.dispute).toMatchObject({ id: dispute.id, status: 'won' });
    expect((await stripe.disputes.retrieve(dispute.id)).status).toBe('won');
    await control.flush();
    const types = received.filter((r) => (r.event.data.object as { charge?: unknown }).charge === charge.id).map((r) => r.event.type);
    expect(types).toEqual(['charge.dispute.created', 'charge.dispute.closed']);
  });

  it('a second subscription from the dashboard, and a customer deleted in the dashboard', async () => {
    const customer = await stripe.customers.create({ email: unique('dashboard') });
    await control.subscribe({ customer: customer.id, tier: 'basic' });
    await expect(control.subscribe({ customer: customer.id, tier: 'pro' })).rejects.toThrow(/already has subscription/);
    await control.subscribe({ customer: customer.id, tier: 'pro', another: true });
    expect((await stripe.subscriptions.list({ customer: customer.id })).data).toHaveLength(2);
    const deleted = await control.deleteCustomer(customer.id);
    expect(deleted.customer).toEqual({ id: customer.id, object: 'customer', deleted: true });
    expect(deleted.subscriptions.map((s) => s.status)).toEqual(['canceled', 'canceled']);
    const types = (await deliveredAbout(customer.id)).map((r) => r.event.type);
    expect(types.slice(-3)).toEqual(['customer.subscription.deleted', 'customer.subscription.deleted', 'customer.deleted']);
  });
});

describe('webhook delivery switches', () => {
  it('duplicate delivers every event twice with the same id', async () => {
    await control.delivery({ duplicate: true });
    const customer = await stripe.customers.create({ email: unique('dup') });
    const events = await deliveredAbout(customer.id);
    expect(events).toHaveLength(2);
    expect(events[0]?.event.id).toBe(events[1]?.event.id);
    expect(events.every((r) => r.verified)).toBe(true);
  });

  it('retries a refused delivery and logs every attempt', async () => {
    let refusals = 1;
    answer = (event) => (event.type === 'customer.created' && refusals-- > 0 ? 500 : 200);
    const customer = await stripe.customers.create({ email: unique('retry') });
    const events = await deliveredAbout(customer.id);
    expect(events).toHaveLength(2);
    const [entry] = await control.events({ type: 'customer.created' }).then((all) => all.filter((e) => e.objectId === customer.id));
    expect(entry).toMatchObject({ state: 'delivered' });
    expect(entry?.attempts.map((a) => a.status)).toEqual([500, 200]);
  });

  it('gives up after three attempts and can resend later', async () => {
    answer = () => 503;
    const customer = await stripe.customers.create({ email: unique('giveup') });
    expect(await deliveredAbout(customer.id)).toHaveLength(3);
    const [entry] = (await control.events({ type: 'customer.created' })).filter((e) => e.objectId === customer.id);
    expect(entry?.state).toBe('failed');
    answer = () => 200;
    await control.resend(entry?.id as string);
    expect(await deliveredAbout(customer.id)).toHaveLength(4);
    expect((await control.events()).find((e) => e.id === entry?.id)?.state).toBe('delivered');
  });

  it('paused holds events until flushed; reorder shuffles a batch', async () => {
    await control.delivery({ paused: true });
    const customer = await stripe.customers.create({ email: unique('paused') });
    await new Promise((r) => setTimeout(r, 100));
    expect(received.filter((r) => (r.event.data.object as Stripe.Customer).id === customer.id)).toHaveLength(0);
    expect(await deliveredAbout(customer.id)).toHaveLength(1);

    await control.delivery({ paused: false, reorder: true });
    const made: string[] = [];
    for (let i = 0; i < 4; i++) made.push((await stripe.customers.create({ email: unique(`reorder${i}`) })).id);
    const order = (await deliveredAbout(...made)).map((r) => (r.event.data.object as Stripe.Customer).id);
    expect([...order].sort()).toEqual([...made].sort());
    expect(order).not.toEqual(made);
  });

  it('drop loses every event for good; events.list finds them with delivery_success=false', async () => {
    await control.delivery({ drop: true });
    const lost = await stripe.customers.create({ email: unique('drop') });
    expect(await deliveredAbout(lost.id)).toHaveLength(0);
    await control.delivery({ drop: false });
    const kept = await stripe.customers.create({ email: unique('kept') });
    expect(await deliveredAbout(kept.id)).toHaveLength(1);

    const failed = await stripe.events.list({ delivery_success: false, type: 'customer.created', limit: 100 });
    const succeeded = await stripe.events.list({ delivery_success: true, type: 'customer.created', limit: 100 });
    const about = (list: Stripe.ApiList<Stripe.Event>, id: string) => list.data.filter((e) => (e.data.object as Stripe.Customer).id === id);
    expect(about(failed, lost.id)).toEqual([expect.objectContaining({ pending_webhooks: 1 })]);
    expect(about(failed, kept.id)).toHaveLength(0);
    expect(about(succeeded, kept.id)).toEqual([expect.objectContaining({ pending_webhooks: 0 })]);
    expect((await control.events()).find((e) => e.objectId === lost.id)).toMatchObject({ state: 'failed', attempts: [expect.objectContaining({ status: null })] });
  });

  it('dropCustomers loses only those customers\' events', async () => {
    const target = await stripe.customers.create({ email: unique('target') });
    await control.flush();
    await control.delivery({ dropCustomers: [target.id] });
    await stripe.customers.update(target.id, { name: 'lost' });
    const other = await stripe.customers.create({ email: unique('other') });
    expect(await deliveredAbout(target.id)).toHaveLength(1); // customer.created, before the switch
    expect(await deliveredAbout(other.id)).toHaveLength(1);
  });

  it('filters events by created, as Stripe does', async () => {
    const customer = await stripe.customers.create({ email: unique('created') });
    const [event] = (await stripe.events.list({ type: 'customer.created', limit: 1 })).data;
    expect((event?.data.object as Stripe.Customer).id).toBe(customer.id);
    const created = event!.created;
    expect((await stripe.events.list({ created: { gte: created }, limit: 100 })).data.map((e) => e.id)).toContain(event!.id);
    expect((await stripe.events.list({ created: { gt: created }, limit: 100 })).data.map((e) => e.id)).not.toContain(event!.id);
    expect((await stripe.events.list({ created, limit: 100 })).data.map((e) => e.id)).toContain(event!.id);
  });

  it('delayMs holds each delivery back', async () => {
    await control.delivery({ delayMs: 150 });
    const started = Date.now();
    const customer = await stripe.customers.create({ email: unique('delay') });
    expect(await deliveredAbout(customer.id)).toHaveLength(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });
});

describe('faults and call counts', () => {
  it('answers the next matching request with a 500 the SDK sees as an API error', async () => {
    await control.fault({ method: 'POST', path: '^/v1/customers$', status: 500, count: 1 });
    await expect(stripe.customers.create({ email: unique('fault') })).rejects.toMatchObject({ type: 'StripeAPIError', statusCode: 500 });
    await expect(stripe.customers.create({ email: unique('fault') })).resolves.toMatchObject({ object: 'customer' });
  });

  it('hangs a request until the SDK times out', async () => {
    const customer = await stripe.customers.create({ email: unique('hang') });
    await control.fault({ method: 'GET', path: '^/v1/customers/', status: 'hang', hangMs: 5000 });
    const impatient = new Stripe(emulator.secretKey, { host: '127.0.0.1', port: emulator.port, protocol: 'http', maxNetworkRetries: 0, timeout: 200 });
    await expect(impatient.customers.retrieve(customer.id)).rejects.toMatchObject({ type: 'StripeConnectionError' });
    await expect(impatient.customers.retrieve(customer.id)).resolves.toMatchObject({ id: customer.id });
  });

  it('counts API calls by method and path template', async () => {
    await control.resetCalls();
    const customer = await stripe.customers.create({ email: unique('calls') });
    await stripe.customers.retrieve(customer.id);
    await stripe.customers.retrieve(customer.id);
    await stripe.subscriptions.list({ customer: customer.id, status: 'all' });
    const call = (operation: string, path: string) => ({ at: expect.any(String), operation, path });
    expect(await control.calls()).toEqual({
      total: 4,
      counts: { 'GET /v1/customers/:id': 2, 'GET /v1/subscriptions': 1, 'POST /v1/customers': 1 },
      calls: [
        call('POST /v1/customers', '/v1/customers'),
        call('GET /v1/customers/:id', `/v1/customers/${customer.id}`),
        call('GET /v1/customers/:id', `/v1/customers/${customer.id}`),
        call('GET /v1/subscriptions', '/v1/subscriptions'),
      ],
    });
  });
});

describe('the local stack service', () => {
  it('starts on its port and gives the handlers what the SDK needs', async () => {
    const service = await stripeEmulatorService.start({ port: await freePort(), stateDir: '/nonexistent', gatewayUrl: 'http://127.0.0.1:1' });
    try {
      expect(service.name).toBe('stripe');
      const env = service.env;
      expect(env).toMatchObject({
        STRIPE_API_HOST: '127.0.0.1',
        STRIPE_API_PROTOCOL: 'http',
        STRIPE_EMULATOR_URL: service.url,
      });
      expect(env.STRIPE_SECRET_KEY).toMatch(/^sk_test_local_/);
      expect(env.STRIPE_WEBHOOK_SECRET).toMatch(/^whsec_/);
      const client = new Stripe(env.STRIPE_SECRET_KEY as string, {
        host: env.STRIPE_API_HOST,
        port: Number(env.STRIPE_API_PORT),
        protocol: env.STRIPE_API_PROTOCOL as 'http',
        maxNetworkRetries: 0,
      });
      // Price ids are the catalogue's ("local" environment), not variables.
      expect(Object.keys(env).filter((name) => name.startsWith('STRIPE_PRICE_'))).toEqual([]);
      expect((await client.prices.retrieve('price_pro_monthly')).unit_amount).toBe(1999);
    } finally {
      await service.stop();
    }
  });
});
