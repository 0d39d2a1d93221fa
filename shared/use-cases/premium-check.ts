import type { AccessDecider } from '../domain/access';
import { normaliseEmail } from '../domain/entitlement';
import { cacheKeys, type CacheSource, type ReadThroughCache } from '../ports/cache';
import type { EntitlementStore } from '../ports/entitlements';
import type { KofiSupporters } from '../ports/kofi';
import type { UserStore } from '../ports/users';

export interface PremiumCheckDeps {
  users: Pick<UserStore, 'findByEmail'>;
  entitlements: Pick<EntitlementStore, 'get'>;
  /** Ko-fi supporters without an account are premium all the same (their grant is by email, while no account owns it). */
  kofi: Pick<KofiSupporters, 'grantOf'>;
  cache: ReadThroughCache;
  /** The one access decision. */
  decide: AccessDecider;
  now: () => Date;
}

export interface PremiumAnswer {
  email: string;
  premium: boolean;
  source: CacheSource;
}

/**
 * The truth, from DynamoDB: the profile that owns the address now (its
 * ownership item, then the profile, both strongly consistent: never the
 * eventually consistent byEmail index, which can still list a previous
 * holder), then the entitlement row with a strongly consistent read, then the
 * access decision. An email no account owns is decided from its Ko-fi grant, when no account owns that either
 * (a no-account state carrying the Ko-fi fields, through the same decision);
 * a user being deleted, a missing row or an email without either are not
 * premium: paid features are never on by default.
 */
export async function premiumFromSource(deps: Omit<PremiumCheckDeps, 'cache'>, email: string): Promise<boolean> {
  const user = await deps.users.findByEmail(email);
  if (!user) {
    const grant = await deps.kofi.grantOf(email);
    // A grant bound to an account is that account's (it may have moved to another address): not the bare address's.
    if (!grant || grant.ownerUserId) return false;
    return deps.decide({ status: 'none', tier: 'free', kofiPlan: grant.plan, kofiPaidThrough: grant.paidThrough }, deps.now()).premium;
  }
  if (user.deletingAt) return false;
  const entitlement = await deps.entitlements.get(user.userId, { consistent: true });
  if (!entitlement) return false;
  return deps.decide(entitlement, deps.now()).premium;
}

/**
 * Is this email premium? Read through the cache under `premium:v1:<email>`.
 * Negative answers (unknown emails) are cached too: sign-up does not change
 * them (a new user is not premium), and everything that can make an email
 * premium (Stripe sync, the admin override, a Ko-fi payment) or move it to another account
 * (a verified email change, a take-over at sign-up) invalidates the key.
 */
export async function checkPremium(deps: PremiumCheckDeps, rawEmail: string): Promise<PremiumAnswer> {
  const email = normaliseEmail(rawEmail);
  const { value, source } = await deps.cache.read(cacheKeys.premium(email), () => premiumFromSource(deps, email));
  return { email, premium: value, source };
}
