import Stripe from 'stripe';
import type { SubscriptionSnapshot } from '../../domain/entitlement';
import { DependencyUnavailableError } from '../../http/errors';
import type { BillingProvider } from '../../ports/billing';

/** Stripe failures that a retry may fix become 503s (or 500s to Stripe on webhooks). */
function translate(err: unknown): never {
  if (
    err instanceof Stripe.errors.StripeConnectionError ||
    err instanceof Stripe.errors.StripeAPIError ||
    err instanceof Stripe.errors.StripeRateLimitError ||
    (err instanceof Stripe.errors.StripeError && (err.statusCode ?? 0) >= 500)
  ) {
    throw new DependencyUnavailableError(`Stripe unavailable: ${err.message}`);
  }
  throw err;
}

const isMissing = (err: unknown) => err instanceof Stripe.errors.StripeInvalidRequestError && err.code === 'resource_missing';

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
    trialEnd: sub.trial_end ?? null,
    // The billing portal may schedule the end with `cancel_at` instead of the flag.
    cancelAtPeriodEnd: sub.cancel_at_period_end || (sub.cancel_at !== null && sub.cancel_at !== undefined),
  };
}

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
      for await (const sub of stripe.subscriptions.list({ customer: customerId, status: 'all', limit: 100 })) out.push(toSnapshot(sub));
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
      if (!(err instanceof Stripe.errors.StripeInvalidRequestError)) translate(err);
      // Refused: fine if it is already canceled (a retry, or Stripe got there first).
      const current = await stripe.subscriptions.retrieve(subscriptionId).catch((e: unknown) => (isMissing(e) ? undefined : translate(e)));
      if (current && current.status !== 'canceled' && current.status !== 'incomplete_expired') throw err;
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
          metadata: { userId: input.userId, kind: 'subscription' },
          subscription_data: { metadata: { userId: input.userId } },
        },
        input.idempotencyKey ? { idempotencyKey: input.idempotencyKey } : undefined,
      )
      .catch(translate);
    if (!session.url) throw new DependencyUnavailableError('Stripe returned a checkout session without a URL');
    return { url: session.url, sessionId: session.id };
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
      .catch(translate);
    if (!session.url) throw new DependencyUnavailableError('Stripe returned a checkout session without a URL');
    return { url: session.url, sessionId: session.id };
  }

  async createPortalSession(input: { customerId: string; returnUrl: string }): Promise<{ url: string }> {
    const stripe = await this.stripe();
    const session = await stripe.billingPortal.sessions.create({ customer: input.customerId, return_url: input.returnUrl }).catch(translate);
    return { url: session.url };
  }
}
