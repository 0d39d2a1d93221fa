import type { SubscriptionSnapshot } from '../domain/entitlement';

/** What the product needs from the payment provider (Stripe). */
export interface BillingProvider {
  /** Idempotent on `idempotencyKey`: a retry returns the same customer. */
  createCustomer(input: { userId: string; email: string; idempotencyKey: string }): Promise<{ customerId: string }>;
  /** All the customer's subscriptions as the provider sees them now (including canceled). */
  listSubscriptions(customerId: string): Promise<SubscriptionSnapshot[]>;
  /** The customer's owner (metadata.userId), or `deleted` when the customer is gone. */
  getCustomer(customerId: string): Promise<{ deleted: true } | { deleted: false; userId?: string; email?: string }>;
  cancelSubscription(subscriptionId: string): Promise<void>;
  /** Deletes the customer; succeeds when it is already gone. */
  deleteCustomer(customerId: string): Promise<void>;
  createSubscriptionCheckout(input: { customerId: string; userId: string; priceId: string; successUrl: string; cancelUrl: string; idempotencyKey?: string }): Promise<{ url: string; sessionId: string }>;
  createTopUpCheckout(input: { customerId: string; userId: string; priceId: string; packs: number; tokens: number; successUrl: string; cancelUrl: string }): Promise<{ url: string; sessionId: string }>;
  createPortalSession(input: { customerId: string; returnUrl: string }): Promise<{ url: string }>;
}
