import type { SubscriptionSnapshot } from '../domain/entitlement';

/** The customer named in a call no longer exists in Stripe (deleted, e.g. in the dashboard). */
export class BillingCustomerGoneError extends Error {
  constructor(readonly customerId: string) {
    super(`Stripe customer ${customerId} no longer exists`);
    this.name = 'BillingCustomerGoneError';
  }
}

export interface ChargeSnapshot {
  id: string;
  amount: number;
  paymentIntentId: string | null;
  refunds: Array<{ id: string; amount: number; status: string | null; created: number }>;
}

/** A Checkout Session of the customer (newest first when listed). */
export interface CheckoutSummary {
  sessionId: string;
  /** Stripe's mode: subscription, payment, setup. */
  mode: string;
  status: 'open' | 'complete' | 'expired';
  /** Present while open. */
  url: string | null;
  /** The price it sells (from its metadata; null for sessions made before it was recorded). */
  priceId: string | null;
}

/** What the product needs from the payment provider (Stripe). */
export interface BillingProvider {
  /** Idempotent on `idempotencyKey`: a retry returns the same customer. */
  createCustomer(input: { userId: string; email: string; idempotencyKey: string }): Promise<{ customerId: string }>;
  /** All the customer's subscriptions as the provider sees them now (including canceled). */
  listSubscriptions(customerId: string): Promise<SubscriptionSnapshot[]>;
  /** The customer's owner (metadata.userId), or `deleted` when the customer is gone. */
  getCustomer(customerId: string): Promise<{ deleted: true } | { deleted: false; userId?: string; email?: string }>;
  cancelSubscription(subscriptionId: string): Promise<void>;
  /** Sets the customer's email (receipts, invoices, dunning go there); succeeds when the customer is gone. */
  updateCustomerEmail(customerId: string, email: string): Promise<void>;
  /** Deletes the customer; succeeds when it is already gone. */
  deleteCustomer(customerId: string): Promise<void>;
  /** Throws BillingCustomerGoneError when the customer was deleted (as do the other two session creators). */
  /** `trialDays`: the plan's free trial (Checkout's subscription_data.trial_period_days; Stripe's minimum is 1). */
  createSubscriptionCheckout(input: { customerId: string; userId: string; priceId: string; trialDays?: number; successUrl: string; cancelUrl: string; idempotencyKey?: string }): Promise<{ url: string; sessionId: string }>;
  /** The customer's recent Checkout Sessions (any mode), newest first. */
  recentCheckouts(customerId: string): Promise<CheckoutSummary[]>;
  /** A charge with its refunds as Stripe has them now (undefined when unknown). */
  chargeOf(chargeId: string): Promise<ChargeSnapshot | undefined>;
  /** A dispute as Stripe has it now (undefined when unknown). */
  disputeOf(disputeId: string): Promise<{ id: string; status: string; amount: number; chargeId: string } | undefined>;
  /** The Checkout Session that created this payment intent (how a charge leads back to a top-up). */
  checkoutOfPayment(paymentIntentId: string): Promise<{ sessionId: string; customerId: string | null; metadata: Record<string, string> } | undefined>;
  /** Expires an open Checkout Session; says `complete` when it was paid before it could be expired. */
  expireCheckout(sessionId: string): Promise<'expired' | 'complete'>;
  createTopUpCheckout(input: { customerId: string; userId: string; priceId: string; packs: number; tokens: number; successUrl: string; cancelUrl: string }): Promise<{ url: string; sessionId: string }>;
  createPortalSession(input: { customerId: string; returnUrl: string }): Promise<{ url: string }>;
}
