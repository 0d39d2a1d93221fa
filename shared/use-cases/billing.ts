import type { Tier } from '../domain/tiers';
import { findTier } from '../domain/tiers';
import { ConflictError, NotFoundError, ValidationError } from '../http/errors';
import { ensureStripeCustomer, type AccountDeps } from './sign-up';

export interface BillingDeps extends AccountDeps {
  catalogue: readonly Tier[];
  tokenPack: { priceId?: string; size: number };
  appBaseUrl: string;
}

const url = (base: string, path: string) => new URL(path, base.endsWith('/') ? base : `${base}/`).toString();

/**
 * Stripe Checkout for a subscription tier or a token top-up. The Stripe
 * customer is created here when sign-up could not. A user who already pays
 * for a plan changes it in the billing portal, not with a second subscription.
 */
export async function startCheckout(deps: BillingDeps, userId: string, request: { tier: string } | { topUp: number }): Promise<{ url: string }> {
  if ('tier' in request) {
    const tier = findTier(deps.catalogue, request.tier);
    if (!tier || !tier.purchasable) throw new ValidationError(`tier: must be one of ${deps.catalogue.filter((t) => t.purchasable).map((t) => t.name).join(', ')}`);
    const priceId = tier.stripePriceIds[0];
    if (!priceId) throw new ValidationError(`tier: ${tier.name} has no Stripe price configured`);
    const current = await deps.entitlements.get(userId, { consistent: true });
    if (current && (current.status === 'active' || current.status === 'trialing' || current.status === 'past_due')) {
      throw new ConflictError('You already have a subscription; change or cancel it in the billing portal');
    }
    const customerId = await customerFor(deps, userId);
    const session = await deps.billing.createSubscriptionCheckout({
      customerId,
      userId,
      priceId,
      successUrl: url(deps.appBaseUrl, 'billing/success?session_id={CHECKOUT_SESSION_ID}'),
      cancelUrl: url(deps.appBaseUrl, 'billing/canceled'),
    });
    return { url: session.url };
  }
  const { priceId, size } = deps.tokenPack;
  if (!priceId) throw new ValidationError('topUp: token top-ups are not configured');
  if (request.topUp % size !== 0) throw new ValidationError(`topUp: must be a multiple of ${size} tokens`);
  const customerId = await customerFor(deps, userId);
  const session = await deps.billing.createTopUpCheckout({
    customerId,
    userId,
    priceId,
    packs: request.topUp / size,
    tokens: request.topUp,
    successUrl: url(deps.appBaseUrl, 'billing/success?session_id={CHECKOUT_SESSION_ID}'),
    cancelUrl: url(deps.appBaseUrl, 'billing/canceled'),
  });
  return { url: session.url };
}

export async function openBillingPortal(deps: BillingDeps, userId: string): Promise<{ url: string }> {
  const customerId = await customerFor(deps, userId);
  return deps.billing.createPortalSession({ customerId, returnUrl: url(deps.appBaseUrl, 'account') });
}

async function customerFor(deps: BillingDeps, userId: string): Promise<string> {
  const profile = await deps.users.get(userId, { consistent: true });
  if (!profile || profile.deletingAt) throw new NotFoundError('No account for this user', 'account_not_found');
  return ensureStripeCustomer(deps, userId);
}
