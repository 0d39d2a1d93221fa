import { isPremium, normaliseEmail, type EntitlementRecord, type PremiumPolicy } from '../domain/entitlement';
import { CacheInvalidationError, cacheKeys, type ReadThroughCache } from '../ports/cache';
import type { EntitlementStore, PremiumOverrides } from '../ports/entitlements';
import type { UserProfile, UserStore } from '../ports/users';

export interface PremiumOverrideDeps {
  users: Pick<UserStore, 'findByEmail'>;
  entitlements: Pick<EntitlementStore, 'get'> & PremiumOverrides;
  cache: ReadThroughCache;
  policy: PremiumPolicy;
}

export type OverrideResult =
  | { outcome: 'unknown-user'; email: string }
  | { outcome: 'gone'; email: string; userId: string }
  | {
      outcome: 'written';
      email: string;
      userId: string;
      premiumOverride: boolean | null;
      /** Effective premium after the write, read back from DynamoDB. */
      premium: boolean;
      /** False when Redis could not be reached: the old answer may be served until the TTL ends. */
      cacheInvalidated: boolean;
    };

/** Every cache key an entitlement write for this user makes stale. */
export function userCacheKeys(user: Pick<UserProfile, 'userId' | 'email'>): string[] {
  return [cacheKeys.premium(user.email), cacheKeys.entitlement(user.userId)];
}

/**
 * Sets (`true` / `false`) or clears (`undefined`) a user's premium override
 * (ops, the local demo user, Ko-fi), then invalidates the user's cache keys
 * so the very next check sees it.
 */
export async function setPremiumOverride(deps: PremiumOverrideDeps, rawEmail: string, value: boolean | undefined): Promise<OverrideResult> {
  const email = normaliseEmail(rawEmail);
  const user = await deps.users.findByEmail(email);
  if (!user) return { outcome: 'unknown-user', email };
  const written = await deps.entitlements.setPremiumOverride(user.userId, value);
  if (written === 'gone') return { outcome: 'gone', email, userId: user.userId };
  let cacheInvalidated = true;
  try {
    await deps.cache.invalidate(userCacheKeys(user));
  } catch (err) {
    if (!(err instanceof CacheInvalidationError)) throw err;
    cacheInvalidated = false;
  }
  const row = await deps.entitlements.get(user.userId, { consistent: true });
  return {
    outcome: 'written',
    email,
    userId: user.userId,
    premiumOverride: row?.premiumOverride ?? null,
    premium: effectivePremium(row, deps.policy),
    cacheInvalidated,
  };
}

export function effectivePremium(row: EntitlementRecord | undefined, policy: PremiumPolicy): boolean {
  return row ? isPremium(row.status, policy, row.premiumOverride) : false;
}
