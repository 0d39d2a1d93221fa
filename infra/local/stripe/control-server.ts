/**
 * The Stripe emulator's side of its control API: each action in-process (a
 * running emulator object is a `StripeEmulatorControlApi`) and its
 * `/_emulator` route (JSON from the client and the CLI, form posts from the
 * HTML pages). Calls and faults are the shared ones (infra/local/http.ts).
 */
import type { ServerResponse } from 'node:http';
import { describeControlRoute, emulatorControl, sharedControlRoutes, type CallRecorder, type ControlBody, type ControlRoute, type FaultInjector } from '../http';
import type { ChargeSelector, CheckoutCompletion, CustomerSummary, EmulatorClock, FlushResult, StripeApiCall, StripeEmulatorControlApi, SubscribeRequest, SubscriptionChange } from './control';
import type { DeliverySettings, EventLogEntry, WebhookDelivery } from './delivery';
import { invalidRequest, resourceMissing } from './errors';
import type { ChargeTarget, CheckoutSessionRecord, Json, StripeState } from './state';
import { renderCharge, renderCheckoutSession, renderCustomer, renderDispute, renderInvoice, renderRefund, renderSubscription } from './render';

/** The emulator's time: real time plus how far `POST /_emulator/clock` advanced it. */
export interface Clock {
  offsetSeconds: number;
  now(): number;
}

export interface StripeControlParts {
  state: StripeState;
  delivery: WebhookDelivery;
  faults: FaultInjector;
  recorder: CallRecorder<StripeApiCall>;
  clock: Clock;
}

export function stripeControl({ state, delivery, faults, recorder, clock }: StripeControlParts): StripeEmulatorControlApi {
  const completion = (session: CheckoutSessionRecord): CheckoutCompletion => ({
    session: renderCheckoutSession(state, session.id),
    customer: session.customer ? renderCustomer(state, session.customer) : null,
    subscription: session.subscription ? renderSubscription(state, session.subscription) : null,
    invoice: session.invoice ? renderInvoice(state, session.invoice) : null,
  });

  /** An email means the newest paid charge of the newest customer with it. */
  const chargeTarget = ({ email, ...target }: ChargeSelector): ChargeTarget => {
    if (!email) return target;
    const customers = state.customersByEmail(email, { caseInsensitive: true });
    const charge = customers.map((c) => state.latestChargeOf(c.id)).find((c) => c !== undefined);
    if (!charge) throw invalidRequest(`No paid charge for a customer with email ${email}.`, 'email');
    return { charge: charge.id };
  };

  return {
    ...emulatorControl(faults, recorder),
    async completeCheckout(sessionId, { email, delayed } = {}): Promise<CheckoutCompletion> {
      return completion(state.completeCheckoutSession(sessionId, { email, delayed }));
    },
    async asyncPayment(sessionId, outcome): Promise<CheckoutCompletion> {
      if (outcome !== 'succeeded' && outcome !== 'failed') throw invalidRequest('outcome must be succeeded or failed', 'outcome');
      return completion(state.settleAsyncPayment(sessionId, outcome));
    },
    async refund({ amount, ...selector }) {
      if (amount !== undefined && (!Number.isSafeInteger(amount) || amount < 1)) throw invalidRequest('amount must be a positive whole number of cents', 'amount');
      const refund = state.createRefund({ ...chargeTarget(selector), amount, reason: 'requested_by_customer' });
      return { refund: renderRefund(state, refund.id), charge: renderCharge(state, refund.charge) };
    },
    async openDispute(selector) {
      const dispute = state.openDispute(chargeTarget(selector));
      return { dispute: renderDispute(state, dispute.id), charge: renderCharge(state, dispute.charge) };
    },
    async closeDispute({ dispute: disputeId, ...selector }, outcome) {
      if (outcome !== 'won' && outcome !== 'lost') throw invalidRequest('outcome must be won or lost', 'outcome');
      let id = disputeId;
      if (!id) {
        const charge = state.resolveCharge(chargeTarget(selector));
        id = state.openDisputeOf(charge.id)?.id;
        if (!id) throw invalidRequest(`Charge ${charge.id} has no open dispute.`, 'charge');
      }
      const dispute = state.closeDispute(id, outcome);
      return { dispute: renderDispute(state, dispute.id), charge: renderCharge(state, dispute.charge) };
    },
    async subscribe(request: SubscribeRequest) {
      const price = state.resolvePrice(request);
      let customerId = request.customer ? state.liveCustomer(request.customer, 'customer').id : undefined;
      if (!customerId) {
        const email = request.email?.trim().toLowerCase();
        if (!email) throw invalidRequest('Give the email or the customer id of who subscribes.', 'email');
        customerId = state.customersByEmail(email, { caseInsensitive: true })[0]?.id ?? state.createCustomer({ email }).id;
      }
      const current = state.currentSubscriptionOf(customerId);
      if (current && !request.another) {
        throw invalidRequest(`Customer ${customerId} already has subscription ${current.id} (${current.status}): change its price or cancel it first (or pass another: true, as the dashboard allows).`);
      }
      const { subscription } = state.createSubscription({
        customer: customerId,
        items: [{ price, quantity: 1 }],
        trialPeriodDays: request.trialDays,
        metadata: request.metadata,
      });
      return { customer: renderCustomer(state, customerId), subscription: renderSubscription(state, subscription.id) };
    },
    async changePrice(subscriptionId, target) {
      const price = state.resolvePrice(target);
      const sub = state.subscription(subscriptionId);
      const first = sub.items[0];
      state.modifySubscription(sub.id, { items: [{ id: first?.id, price }], prorationBehavior: 'create_prorations' });
      return renderSubscription(state, sub.id);
    },
    async advance(subscriptionId): Promise<SubscriptionChange> {
      const { subscription, invoice } = state.renewSubscription(subscriptionId);
      return { subscription: renderSubscription(state, subscription.id), invoice: invoice ? renderInvoice(state, invoice.id) : null };
    },
    async failPayment(subscriptionId, { final } = {}): Promise<SubscriptionChange> {
      const { subscription, invoice } = state.failPayment(subscriptionId, { final });
      return { subscription: renderSubscription(state, subscription.id), invoice: renderInvoice(state, invoice.id) };
    },
    async recover(subscriptionId): Promise<SubscriptionChange> {
      const { subscription, invoice } = state.recoverPayment(subscriptionId);
      return { subscription: renderSubscription(state, subscription.id), invoice: renderInvoice(state, invoice.id) };
    },
    async cancel(subscriptionId, { atPeriodEnd = false } = {}) {
      return renderSubscription(state, state.requestCancellation(subscriptionId, atPeriodEnd).id);
    },
    async resume(subscriptionId) {
      return renderSubscription(state, state.modifySubscription(subscriptionId, { cancelAt: null }).id);
    },
    async customers(email): Promise<CustomerSummary[]> {
      return state.customersByEmail(email, { caseInsensitive: true }).map((c) => ({
        customer: renderCustomer(state, c.id),
        subscriptions: state.subscriptionsOf(c.id).map((s) => renderSubscription(state, s.id)),
      }));
    },
    async deleteCustomer(customerId): Promise<CustomerSummary> {
      state.deleteCustomer(customerId);
      return {
        customer: renderCustomer(state, customerId),
        subscriptions: state.subscriptionsOf(customerId).map((s) => renderSubscription(state, s.id)),
      };
    },
    async events({ type } = {}): Promise<EventLogEntry[]> {
      return delivery.log().filter((e) => !type || e.type === type);
    },
    async resend(eventId) {
      const entry = delivery.resend(eventId);
      if (!entry) throw resourceMissing('event', eventId);
      return entry;
    },
    async delivery(settings?: Partial<DeliverySettings>) {
      if (!settings) return delivery.settings();
      try {
        return delivery.configure(settings);
      } catch (err) {
        throw invalidRequest((err as Error).message, 'delayMs');
      }
    },
    async flush(): Promise<FlushResult> {
      return delivery.flush();
    },
    async clock(change?: { advanceSeconds?: number }): Promise<EmulatorClock> {
      if (change?.advanceSeconds !== undefined) {
        if (!Number.isFinite(change.advanceSeconds) || change.advanceSeconds < 0) throw invalidRequest('advanceSeconds must be a number >= 0 (the clock only moves forward).', 'advanceSeconds');
        clock.offsetSeconds += Math.floor(change.advanceSeconds);
      }
      return { now: clock.now(), offsetSeconds: clock.offsetSeconds };
    },
  };
}

// Control bodies come as JSON (client, CLI) or as form posts (the HTML pages).
const asString = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined);
const asBool = (v: unknown): boolean | undefined => (v === undefined || v === '' ? undefined : v === true || v === 'true' || v === '1' || v === 'on');
const selectorOf = (b: Json): ChargeSelector => ({
  charge: asString(b.charge),
  paymentIntent: asString(b.paymentIntent),
  session: asString(b.session),
  email: asString(b.email),
});
function asNumber(v: unknown, name: string): number | undefined {
  if (v === undefined || v === '' || v === null) return undefined;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n)) throw invalidRequest(`${name} must be a number`, name);
  return n;
}

export function stripeControlRoutes(control: StripeEmulatorControlApi, info: () => Json): ControlRoute[] {
  const routes: ControlRoute[] = [
    // For a person at a browser or curl: what this emulator is and which control routes it has.
    { method: 'GET', path: /^$/, run: async () => ({ ...info(), control: routes.map(describeControlRoute) }) },
    { method: 'POST', path: /^checkout\/([^/]+)\/complete$/, run: (m, b) => control.completeCheckout(m[1] as string, { email: asString(b.email), delayed: asBool(b.delayed) }) },
    { method: 'POST', path: /^checkout\/([^/]+)\/async-payment$/, run: (m, b) => control.asyncPayment(m[1] as string, asString(b.outcome) as 'succeeded') },
    { method: 'POST', path: /^refunds$/, run: (_m, b) => control.refund({ ...selectorOf(b), amount: asNumber(b.amount, 'amount') }) },
    { method: 'POST', path: /^disputes$/, run: (_m, b) => control.openDispute(selectorOf(b)) },
    { method: 'POST', path: /^disputes\/close$/, run: (_m, b) => control.closeDispute({ ...selectorOf(b), dispute: asString(b.dispute) }, asString(b.outcome) as 'won') },
    { method: 'POST', path: /^subscribe$/, run: (_m, b) =>
        control.subscribe({
          email: asString(b.email),
          customer: asString(b.customer),
          price: asString(b.price),
          tier: asString(b.tier),
          trialDays: asNumber(b.trialDays, 'trialDays'),
          metadata: typeof b.metadata === 'object' && b.metadata ? (b.metadata as Record<string, string>) : undefined,
          another: asBool(b.another),
        }) },
    { method: 'POST', path: /^subscriptions\/([^/]+)\/change-price$/, run: (m, b) => control.changePrice(m[1] as string, { price: asString(b.price), tier: asString(b.tier) }) },
    { method: 'POST', path: /^subscriptions\/([^/]+)\/advance$/, run: (m) => control.advance(m[1] as string) },
    { method: 'POST', path: /^subscriptions\/([^/]+)\/fail-payment$/, run: (m, b) => control.failPayment(m[1] as string, { final: asBool(b.final) }) },
    { method: 'POST', path: /^subscriptions\/([^/]+)\/recover$/, run: (m) => control.recover(m[1] as string) },
    { method: 'POST', path: /^subscriptions\/([^/]+)\/cancel$/, run: (m, b) => control.cancel(m[1] as string, { atPeriodEnd: asBool(b.atPeriodEnd) }) },
    { method: 'POST', path: /^subscriptions\/([^/]+)\/resume$/, run: (m) => control.resume(m[1] as string) },
    { method: 'GET', path: /^customers$/, run: async (_m, _b, q) => {
        const email = q.get('email');
        if (!email) throw invalidRequest('email is required', 'email');
        return control.customers(email);
      } },
    { method: 'POST', path: /^customers\/([^/]+)\/delete$/, run: (m) => control.deleteCustomer(m[1] as string) },
    { method: 'GET', path: /^events$/, run: (_m, _b, q) => control.events({ type: q.get('type') ?? undefined }) },
    { method: 'POST', path: /^events\/([^/]+)\/resend$/, run: (m) => control.resend(m[1] as string) },
    { method: 'GET', path: /^delivery$/, run: () => control.delivery() },
    { method: 'POST', path: /^delivery$/, run: (_m, b) =>
        control.delivery({
          duplicate: asBool(b.duplicate),
          delayMs: asNumber(b.delayMs, 'delayMs'),
          reorder: asBool(b.reorder),
          paused: asBool(b.paused),
          drop: asBool(b.drop),
          dropCustomers: Array.isArray(b.dropCustomers) ? b.dropCustomers.map(String) : asString(b.dropCustomers)?.split(','),
        }) },
    { method: 'POST', path: /^delivery\/flush$/, run: () => control.flush() },
    { method: 'GET', path: /^clock$/, run: () => control.clock() },
    { method: 'POST', path: /^clock$/, run: (_m, b) => control.clock({ advanceSeconds: asNumber(b.advanceSeconds, 'advanceSeconds') }) },
    ...sharedControlRoutes(control),
  ];
  return routes;
}

/** After an HTML form: Checkout goes to its success_url (with {CHECKOUT_SESSION_ID}); other pages come back to themselves. */
export function redirectAfterForm(res: ServerResponse, sub: string, body: ControlBody, result: unknown): boolean {
  if (!body.redirect) return false;
  let location = typeof body.redirect === 'string' && body.redirect.startsWith('/') ? body.redirect : '/';
  if (sub.startsWith('checkout/')) {
    const session = (result as CheckoutCompletion).session;
    location = session.success_url ? String(session.success_url).replace('{CHECKOUT_SESSION_ID}', session.id) : `/checkout/${session.id}`;
  }
  res.writeHead(303, { Location: location, 'Content-Length': 0 });
  res.end();
  return true;
}
