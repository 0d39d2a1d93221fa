import type { AccessDecider } from '../domain/access';
import { normaliseEmail, type EntitlementRecord } from '../domain/entitlement';
import type { PlanName } from '../domain/catalogue-model';
import { CacheInvalidationError, cacheKeys, type ReadThroughCache } from '../ports/cache';
import type { EntitlementStore, PremiumOverrides } from '../ports/entitlements';
import type { UserProfile, UserStore } from '../ports/users';

export interface PremiumOverrideDeps {
  users: Pick<UserStore, 'findByEmail'>;
  entitlements: Pick<EntitlementStore, 'get'> & PremiumOverrides;
  cache: ReadThroughCache;
  decide: AccessDecider;
  now: () => Date;
}

export type OverrideResult =
  | { outcome: 'unknown-user'; email: string }
  | { outcome: 'gone'; email: string; userId: string }
  | {
      outcome: 'written';
      email: string;
      userId: string;
      premiumOverride: boolean | null;
      /** Effective access after the write, read back from DynamoDB. */
      premium: boolean;
      tier: PlanName;
      accessReason: string;
      /** False when Redis could not be reached: the old answer may be served until the TTL ends. */
      cacheInvalidated: boolean;
    };

/** Every cache key an entitlement write for this user makes stale. */
export function userCacheKeys(user: Pick<UserProfile, 'userId' | 'email'>): string[] {
  return [cacheKeys.premium(user.email), cacheKeys.entitlement(user.userId)];
}

/**
 * Grants (`true`, optionally with the tier it gives), revokes (`false`) or
 * clears (`undefined`) a user's premium override (ops, the local demo user,
 * Ko-fi), then invalidates the user's cache keys so the very next check sees
 * it.
 */
export async function setPremiumOverride(deps: PremiumOverrideDeps, rawEmail: string, value: boolean | undefined, grantTier?: PlanName): Promise<OverrideResult> {
  const email = normaliseEmail(rawEmail);
  const user = await deps.users.findByEmail(email);
  if (!user) return { outcome: 'unknown-user', email };
  const written = await deps.entitlements.setPremiumOverride(user.userId, value, grantTier);
  if (written === 'gone') return { outcome: 'gone', email, userId: user.userId };
  let cacheInvalidated = true;
  try {
    await deps.cache.invalidate(userCacheKeys(user));
  } catch (err) {
    if (!(err instanceof CacheInvalidationError)) throw err;
    cacheInvalidated = false;
  }
  const row = await deps.entitlements.get(user.userId, { consistent: true });
  const access = deps.decide(row, deps.now());
  return {
    outcome: 'written',
    email,
    userId: user.userId,
    premiumOverride: row?.premiumOverride ?? null,
    premium: access.premium,
    tier: access.tier,
    accessReason: access.reason,
    cacheInvalidated,
  };
}

/** What the access decision says of a stored row now (the admin `show` command). */
export function describeAccess(row: EntitlementRecord | undefined, decide: AccessDecider, now: Date) {
  const access = decide(row, now);
  return { premium: access.premium, tier: access.tier, accessReason: access.reason, features: access.features, monthlyTokens: access.monthlyTokens };
}
