import type Stripe from 'stripe';
import { stripeSdk } from './client';
import type { SubscriptionSnapshot } from '../../domain/entitlement';
import { dependencyFailure, type DependencyFailure } from '../../ports/errors';
import { BillingCustomerGoneError, type BillingProvider, type ChargeSnapshot, type CheckoutSummary } from '../../ports/billing';

/** What kind of Stripe failure `err` is (by the SDK's error classes and status), or undefined for an answer about the request. */
export function stripeFailureKind(err: unknown): DependencyFailure | undefined {
  // The SDK's error classes: a Stripe call failed, so the SDK is loaded already.
  const { errors } = stripeSdk();
  if (err instanceof errors.StripeConnectionError) {
    // The SDK keeps the socket error as `detail`: ETIMEDOUT when STRIPE_TIMEOUT_MS passed without an answer.
    return (err.detail as { code?: unknown } | undefined)?.code === 'ETIMEDOUT' ? 'timeout' : 'unreachable';
  }
  if (err instanceof errors.StripeRateLimitError) return 'throttled';
  if (err instanceof errors.StripeAPIError) return 'failing';
  if (err instanceof errors.StripeError && (err.statusCode ?? 0) >= 500) return 'failing';
  return undefined;
}

/** Stripe failures a retry may fix become the port-level DependencyUnavailable; anything else is rethrown as it is. */
export function translate(err: unknown): never {
  const kind = stripeFailureKind(err);
  if (kind) throw dependencyFailure('stripe', kind, err);
  throw err;
}

const isInvalidRequest = (err: unknown): err is Stripe.errors.StripeInvalidRequestError => err instanceof stripeSdk().errors.StripeInvalidRequestError;
const isMissing = (err: unknown) => isInvalidRequest(err) && err.code === 'resource_missing';

/** "No such customer" on the `customer` parameter: it was deleted in Stripe (a webhook may not have told us yet). */
const customerGoneOr =
  (customerId: string) =>
  (err: unknown): never => {
    if (isMissing(err) && (err as Stripe.errors.StripeInvalidRequestError).param === 'customer') throw new BillingCustomerGoneError(customerId);
    return translate(err);
  };

/**
 * Whether the subscription's latest invoice is paid. At renewal Stripe moves
 * the period first and charges about an hour later (and may fail): a period is
 * only adopted once paid. Unexpanded or absent: nothing to wait for.
 */
function isPaid(latest: Stripe.Subscription['latest_invoice']): boolean {
  if (latest === null || latest === undefined || typeof latest === 'string') return true;
  return latest.status === 'paid';
}

export function toSnapshot(sub: Stripe.Subscription): SubscriptionSnapshot {
  const item = sub.items?.data?.[0];
  // Newer API versions keep the period on the item; older ones on the subscription.
  const legacy = sub as unknown as { current_period_start?: number; current_period_end?: number };
  return {
    id: sub.id,
    status: sub.status,
    priceId: item?.price?.id ?? null,
    created: sub.created,
    currentPeriodStart: item?.current_period_start ?? legacy.current_period_start ?? null,
    currentPeriodEnd: item?.current_period_end ?? legacy.current_period_end ?? null,
    periodPaid: isPaid(sub.latest_invoice),
    trialEnd: sub.trial_end ?? null,
    // The billing portal may schedule the end with `cancel_at` instead of the flag.
    cancelAtPeriodEnd: sub.cancel_at_period_end || (sub.cancel_at !== null && sub.cancel_at !== undefined),
  };
}

/** A status this code does not know (a future one) is treated as not payable. */
const checkoutStatus = (status: Stripe.Checkout.Session.Status | null): CheckoutSummary['status'] =>
  status === 'open' ? 'open' : status === 'complete' ? 'complete' : 'expired';

export class StripeBilling implements BillingProvider {
  constructor(private readonly stripe: () => Promise<Stripe>) {}

  async createCustomer(input: { userId: string; email: string; idempotencyKey: string }): Promise<{ customerId: string }> {
    const stripe = await this.stripe();
    const customer = await stripe.customers
      .create({ email: input.email, metadata: { userId: input.userId } }, { idempotencyKey: input.idempotencyKey })
      .catch(translate);
    return { customerId: customer.id };
  }

  async listSubscriptions(customerId: string): Promise<SubscriptionSnapshot[]> {
    const stripe = await this.stripe();
    const out: SubscriptionSnapshot[] = [];
    try {
      // A customer has a handful of subscriptions; auto-pagination covers the rest.
      // The latest invoice says whether the current period is paid (see isPaid).
      for await (const sub of stripe.subscriptions.list({ customer: customerId, status: 'all', limit: 100, expand: ['data.latest_invoice'] })) out.push(toSnapshot(sub));
    } catch (err) {
      translate(err);
    }
    return out;
  }

  async getCustomer(customerId: string): Promise<{ deleted: true } | { deleted: false; userId?: string; email?: string }> {
    const stripe = await this.stripe();
    try {
      const customer = await stripe.customers.retrieve(customerId);
      if ('deleted' in customer && customer.deleted) return { deleted: true };
      const c = customer as Stripe.Customer;
      return { deleted: false, userId: c.metadata?.userId, email: c.email ?? undefined };
    } catch (err) {
      if (isMissing(err)) return { deleted: true };
      return translate(err);
    }
  }

  async cancelSubscription(subscriptionId: string): Promise<void> {
    const stripe = await this.stripe();
    try {
      await stripe.subscriptions.cancel(subscriptionId);
    } catch (err) {
      if (!isInvalidRequest(err)) translate(err);
      // Refused: fine if it is already canceled (a retry, or Stripe got there first).
      const current = await stripe.subscriptions.retrieve(subscriptionId).catch((e: unknown) => (isMissing(e) ? undefined : translate(e)));
      if (current && current.status !== 'canceled' && current.status !== 'incomplete_expired') throw err;
    }
  }

  async updateCustomerEmail(customerId: string, email: string): Promise<void> {
    const stripe = await this.stripe();
    try {
      await stripe.customers.update(customerId, { email });
    } catch (err) {
      // Gone (deleted in the dashboard): the next one is created with the profile's address.
      if (isMissing(err)) return;
      translate(err);
    }
  }

  async deleteCustomer(customerId: string): Promise<void> {
    const stripe = await this.stripe();
    try {
      await stripe.customers.del(customerId);
    } catch (err) {
      if (isMissing(err)) return;
      translate(err);
    }
  }

  async createSubscriptionCheckout(input: {
    customerId: string;
    userId: string;
    priceId: string;
    trialDays?: number;
    successUrl: string;
    cancelUrl: string;
    idempotencyKey?: string;
  }): Promise<{ url: string; sessionId: string }> {
    const stripe = await this.stripe();
    const session = await stripe.checkout.sessions
      .create(
        {
          mode: 'subscription',
          customer: input.customerId,
          client_reference_id: input.userId,
          line_items: [{ price: input.priceId, quantity: 1 }],
          success_url: input.successUrl,
          cancel_url: input.cancelUrl,
          metadata: { userId: input.userId, kind: 'subscription', priceId: input.priceId },
          subscription_data: { metadata: { userId: input.userId }, ...(input.trialDays ? { trial_period_days: input.trialDays } : {}) },
        },
        input.idempotencyKey ? { idempotencyKey: input.idempotencyKey } : undefined,
      )
      .catch(customerGoneOr(input.customerId));
    if (!session.url) throw dependencyFailure('stripe', 'failing', new Error('Stripe returned a checkout session without a URL'));
    return { url: session.url, sessionId: session.id };
  }

  async recentCheckouts(customerId: string): Promise<CheckoutSummary[]> {
    const stripe = await this.stripe();
    // One page is enough: only the newest session and the open ones matter, and sessions expire within a day.
    const page = await stripe.checkout.sessions.list({ customer: customerId, limit: 100 }).catch(translate);
    return page.data.map((s) => ({ sessionId: s.id, mode: s.mode, status: checkoutStatus(s.status), url: s.url, priceId: s.metadata?.priceId ?? null }));
  }

  async chargeOf(chargeId: string): Promise<ChargeSnapshot | undefined> {
    const stripe = await this.stripe();
    try {
      const charge = await stripe.charges.retrieve(chargeId);
      const refunds: ChargeSnapshot['refunds'] = [];
      for await (const r of stripe.refunds.list({ charge: chargeId, limit: 100 })) refunds.push({ id: r.id, amount: r.amount, status: r.status, created: r.created });
      const pi = charge.payment_intent;
      return { id: charge.id, amount: charge.amount, paymentIntentId: typeof pi === 'string' ? pi : (pi?.id ?? null), refunds };
    } catch (err) {
      if (isMissing(err)) return undefined;
      return translate(err);
    }
  }

  async disputeOf(disputeId: string): Promise<{ id: string; status: string; amount: number; chargeId: string } | undefined> {
    const stripe = await this.stripe();
    try {
      const d = await stripe.disputes.retrieve(disputeId);
      return { id: d.id, status: d.status, amount: d.amount, chargeId: typeof d.charge === 'string' ? d.charge : d.charge.id };
    } catch (err) {
      if (isMissing(err)) return undefined;
      return translate(err);
    }
  }

  async checkoutOfPayment(paymentIntentId: string): Promise<{ sessionId: string; customerId: string | null; metadata: Record<string, string> } | undefined> {
    const stripe = await this.stripe();
    const page = await stripe.checkout.sessions.list({ payment_intent: paymentIntentId, limit: 1 }).catch(translate);
    const session = page.data[0];
    if (!session) return undefined;
    const customer = session.customer;
    return { sessionId: session.id, customerId: typeof customer === 'string' ? customer : (customer?.id ?? null), metadata: { ...(session.metadata ?? {}) } };
  }

  async expireCheckout(sessionId: string): Promise<'expired' | 'complete'> {
    const stripe = await this.stripe();
    try {
      await stripe.checkout.sessions.expire(sessionId);
      return 'expired';
    } catch (err) {
      if (!isInvalidRequest(err)) translate(err);
      // Refused: it is no longer open (paid meanwhile, or already expired).
      const session = await stripe.checkout.sessions.retrieve(sessionId).catch(translate);
      if (session.status === 'complete') return 'complete';
      if (session.status === 'expired') return 'expired';
      throw err;
    }
  }

  async createTopUpCheckout(input: {
    customerId: string;
    userId: string;
    priceId: string;
    packs: number;
    tokens: number;
    successUrl: string;
    cancelUrl: string;
  }): Promise<{ url: string; sessionId: string }> {
    const stripe = await this.stripe();
    const session = await stripe.checkout.sessions
      .create({
        mode: 'payment',
        customer: input.customerId,
        client_reference_id: input.userId,
        line_items: [{ price: input.priceId, quantity: input.packs }],
        success_url: input.successUrl,
        cancel_url: input.cancelUrl,
        metadata: { userId: input.userId, kind: 'top-up', tokens: String(input.tokens) },
      })
      .catch(customerGoneOr(input.customerId));
    if (!session.url) throw dependencyFailure('stripe', 'failing', new Error('Stripe returned a checkout session without a URL'));
    return { url: session.url, sessionId: session.id };
  }

  async createPortalSession(input: { customerId: string; returnUrl: string }): Promise<{ url: string }> {
    const stripe = await this.stripe();
    const session = await stripe.billingPortal.sessions.create({ customer: input.customerId, return_url: input.returnUrl }).catch(customerGoneOr(input.customerId));
    return { url: session.url };
  }
}
