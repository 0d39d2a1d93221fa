import { findPlan, topUpFor, type Catalogue } from '../domain/catalogue-model';
import { BillingCustomerGoneError } from '../ports/billing';
import { AlreadySubscribedError, InvalidCheckoutError, NoBillingAccountError } from './errors';
import { ensureStripeCustomer, type AccountDeps } from './sign-up';

export interface BillingDeps extends AccountDeps {
  catalogue: Catalogue;
  appBaseUrl: string;
}

const url = (base: string, path: string) => new URL(path, base.endsWith('/') ? base : `${base}/`).toString();

/**
 * Stripe Checkout for a plan or a token top-up, both from the catalogue: a
 * plan sells its first price of this environment (with its trial), `topUp: n`
 * buys n tokens as packs of the first top-up whose size divides n. The Stripe
 * customer is created here when sign-up could not. A user who already pays
 * for a plan changes it in the billing portal, not with a second subscription.
 */
export async function startCheckout(deps: BillingDeps, userId: string, request: { tier: string } | { topUp: number }): Promise<{ url: string }> {
  if ('tier' in request) {
    const tier = findPlan(deps.catalogue, request.tier);
    if (!tier || !tier.purchasable) throw new InvalidCheckoutError(`tier: must be one of ${deps.catalogue.plans.filter((t) => t.purchasable).map((t) => t.name).join(', ')}`);
    const priceId = tier.stripePriceIds[0];
    if (!priceId) throw new InvalidCheckoutError(`tier: ${tier.name} has no Stripe price in the catalogue's "${deps.catalogue.environment}" environment`);
    return subscriptionCheckout(deps, userId, priceId, tier.trialDays);
  }
  const priced = deps.catalogue.topUps.filter((t) => t.stripePriceIds.length > 0);
  if (priced.length === 0) throw new InvalidCheckoutError(`topUp: token top-ups have no Stripe price in the catalogue's "${deps.catalogue.environment}" environment`);
  const sale = topUpFor(deps.catalogue, request.topUp);
  if (!sale) throw new InvalidCheckoutError(`topUp: must be a multiple of ${priced.map((t) => t.tokens).join(' or ')} tokens`);
  return withLiveCustomer(deps, userId, async (customerId) => {
    const session = await deps.billing.createTopUpCheckout({
      customerId,
      userId,
      priceId: sale.pack.stripePriceIds[0]!,
      packs: sale.packs,
      tokens: request.topUp,
      successUrl: url(deps.appBaseUrl, 'billing/success?session_id={CHECKOUT_SESSION_ID}'),
      cancelUrl: url(deps.appBaseUrl, 'billing/canceled'),
    });
    return { url: session.url };
  });
}

const ALREADY_SUBSCRIBED = 'You already have a subscription; change or cancel it in the billing portal';

/** Stripe statuses of a subscription that still exists and bills (or is about to): a second one would double-bill. */
const LIVE_STRIPE_STATUSES = new Set(['active', 'trialing', 'past_due', 'unpaid', 'incomplete', 'paused']);

/**
 * One paid subscription per user:
 * 1. the stored entitlement or Stripe itself already has a live subscription -> 409;
 * 2. an open Checkout for the same price -> its URL again (a double click, a second tab);
 * 3. open Checkouts for another price are expired first (one paid in the meantime -> 409);
 * 4. a new Checkout, with an idempotency key naming the newest session seen (of
 *    any mode), so concurrent requests that saw the same state get one session;
 *    the session it creates becomes the newest, so the next request uses a new key.
 */
async function subscriptionCheckout(deps: BillingDeps, userId: string, priceId: string, trialDays: number): Promise<{ url: string }> {
  const current = await deps.entitlements.get(userId, { consistent: true });
  if (current && (current.status === 'active' || current.status === 'trialing' || current.status === 'past_due')) {
    throw new AlreadySubscribedError(ALREADY_SUBSCRIBED);
  }
  return withLiveCustomer(deps, userId, (customerId) => subscriptionCheckoutFor(deps, userId, customerId, priceId, trialDays));
}

async function subscriptionCheckoutFor(deps: BillingDeps, userId: string, customerId: string, priceId: string, trialDays: number): Promise<{ url: string }> {
  // Stripe, not our row, is the truth here: the webhook of a just-paid Checkout may not have landed yet.
  const subscriptions = await deps.billing.listSubscriptions(customerId);
  if (subscriptions.some((s) => LIVE_STRIPE_STATUSES.has(s.status))) throw new AlreadySubscribedError(ALREADY_SUBSCRIBED);

  const recent = await deps.billing.recentCheckouts(customerId);
  const open = recent.filter((s) => s.mode === 'subscription' && s.status === 'open');
  const same = open.find((s) => s.priceId === priceId && s.url);
  if (same?.url) return { url: same.url };
  for (const other of open) {
    if ((await deps.billing.expireCheckout(other.sessionId)) === 'complete') throw new AlreadySubscribedError(ALREADY_SUBSCRIBED);
  }
  const session = await deps.billing.createSubscriptionCheckout({
    customerId,
    userId,
    priceId,
    ...(trialDays > 0 ? { trialDays } : {}),
    successUrl: url(deps.appBaseUrl, 'billing/success?session_id={CHECKOUT_SESSION_ID}'),
    cancelUrl: url(deps.appBaseUrl, 'billing/canceled'),
    // Per customer: a re-created customer (see withLiveCustomer) must not meet the old customer's keys.
    // The trial is part of the request: a catalogue change between two clicks must not reuse the key with other parameters.
    idempotencyKey: `checkout:${customerId}:${priceId}:${trialDays > 0 ? `trial${trialDays}:` : ''}after:${recent[0]?.sessionId ?? 'none'}`,
  });
  return { url: session.url };
}

export async function openBillingPortal(deps: BillingDeps, userId: string): Promise<{ url: string }> {
  return withLiveCustomer(deps, userId, (customerId) => deps.billing.createPortalSession({ customerId, returnUrl: url(deps.appBaseUrl, 'account') }));
}

/**
 * Runs `use` with the user's Stripe customer. When Stripe says that customer
 * was deleted (in the dashboard, before its customer.deleted webhook reached
 * us), it is forgotten the way the webhook would (next key generation) and
 * `use` runs once more with a new customer.
 */
async function withLiveCustomer<T>(deps: BillingDeps, userId: string, use: (customerId: string) => Promise<T>): Promise<T> {
  const customerId = await customerFor(deps, userId);
  try {
    return await use(customerId);
  } catch (err) {
    if (!(err instanceof BillingCustomerGoneError)) throw err;
    await deps.users.detachStripeCustomer(userId, customerId);
    return use(await customerFor(deps, userId));
  }
}

async function customerFor(deps: BillingDeps, userId: string): Promise<string> {
  const profile = await deps.users.get(userId, { consistent: true });
  if (!profile || profile.deletingAt) throw new NoBillingAccountError('No account for this user');
  const customerId = await ensureStripeCustomer(deps, userId);
  if (!customerId) throw new NoBillingAccountError('No account for this user');
  return customerId;
}
