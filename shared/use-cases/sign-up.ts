import { newEntitlement, normaliseEmail } from '../domain/entitlement';
import type { BillingProvider } from '../ports/billing';
import type { EntitlementStore, KofiEntitlements } from '../ports/entitlements';
import type { KofiSupporters } from '../ports/kofi';
import type { UserStore } from '../ports/users';
import { logger } from '../observability/logger';
import { createProfileOwningEmail, type EmailOwnershipDeps } from './email-change';
import { attachEmailGrant } from './kofi-webhook';

export interface AccountDeps {
  users: UserStore;
  entitlements: EntitlementStore;
  billing: BillingProvider;
  now: () => Date;
}

/**
 * The Stripe idempotency key for a user's customer: any retry, anywhere, gets
 * the same customer. After a customer was deleted in Stripe the generation
 * moves on, so the re-creation is a new customer instead of Stripe replaying
 * the deleted one (it would for 24 hours).
 */
export const customerIdempotencyKey = (userId: string, generation = 0) => (generation > 0 ? `customer:${userId}:${generation}` : `customer:${userId}`);

/**
 * The Stripe customer of a user, created when missing (sign-up could not, or
 * the customer was deleted in Stripe); undefined when the account is gone or
 * being deleted. Safe to call concurrently: Stripe's idempotency key and the
 * conditional attach make every caller agree.
 */
export async function ensureStripeCustomer(deps: AccountDeps, userId: string): Promise<string | undefined> {
  const profile = await deps.users.get(userId, { consistent: true });
  if (!profile || profile.deletingAt) return undefined;
  if (profile.stripeCustomerId) return profile.stripeCustomerId;
  const { customerId } = await deps.billing.createCustomer({
    userId,
    email: profile.email,
    idempotencyKey: customerIdempotencyKey(userId, profile.stripeCustomerGeneration ?? 0),
  });
  const stored = await deps.users.attachStripeCustomer(userId, customerId);
  if (stored === undefined) {
    // The account's deletion started while the customer was being made, maybe after its billing step
    // ran: delete the customer here, or it would outlive the account (and could be billed).
    await deps.billing.deleteCustomer(customerId);
    return undefined;
  }
  return stored;
}

/** What the sign-up trigger needs: the account's stores and Stripe, the address ownership rules and the Ko-fi grants by email. */
export type SignUpDeps = AccountDeps & EmailOwnershipDeps & { kofi: Pick<KofiSupporters, 'claimGrant'>; entitlements: KofiEntitlements };

/**
 * Cognito confirmed a sign-up. Primary course:
 * 1. create the profile (claiming its email) and the entitlement row
 *    (conditional writes, so a retried trigger never duplicates or resets them);
 * 2. claim the email's Ko-fi grant for the account (unless another account
 *    owns it) and attach it, read AFTER the row exists (a payment arriving
 *    meanwhile finds the account and writes the row itself: either way it lands);
 * 3. the Stripe customer within `stripeBudgetMs`. When Stripe is slow or
 *    down the sign-up still succeeds; the customer is created lazily later.
 */
export async function onSignUpConfirmed(
  deps: SignUpDeps,
  input: { userId: string; email: string },
  stripeBudgetMs: number,
): Promise<{ profileCreated: boolean; customer: 'created' | 'existing' | 'deferred' | 'none' }> {
  const email = normaliseEmail(input.email);
  const now = deps.now();
  // The profile claims its address in the same write (an address another live account holds throws).
  const profileCreated = await createProfileOwningEmail(deps, { userId: input.userId, email, createdAt: now.toISOString() });
  if ((await deps.entitlements.createIfAbsent(newEntitlement(input.userId, now))) === 'gone') {
    // A trigger Cognito retried after the user started deleting the account: nothing is created or claimed.
    logger.info('sign-up retried for an account being deleted; nothing created', { userId: input.userId });
    return { profileCreated, customer: 'none' };
  }
  const kofi = await attachEmailGrant({ supporters: deps.kofi, entitlements: deps.entitlements }, input.userId, email, { kind: 'kofi' });
  if (kofi === 'written') logger.info('Ko-fi grant of the email attached to the new account', { userId: input.userId });

  let timer: NodeJS.Timeout | undefined;
  const budget = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), Math.max(0, stripeBudgetMs));
  });
  const attempt = ensureStripeCustomer(deps, input.userId).then(() => 'done' as const);
  try {
    const outcome = await Promise.race([attempt, budget]);
    if (outcome === 'timeout') {
      attempt.catch(() => undefined);
      logger.warn('Stripe customer creation exceeded the sign-up budget; it will be created lazily', { userId: input.userId, stripeBudgetMs });
      return { profileCreated, customer: 'deferred' };
    }
    return { profileCreated, customer: profileCreated ? 'created' : 'existing' };
  } catch (err) {
    logger.warn('Stripe customer creation failed at sign-up; it will be created lazily', { userId: input.userId, reason: (err as Error).message });
    return { profileCreated, customer: 'deferred' };
  } finally {
    clearTimeout(timer);
  }
}
