import type { AccessDecider } from '../domain/access';
import type { EntitlementRecord } from '../domain/entitlement';
import { findPlan, type Catalogue } from '../domain/catalogue-model';
import { meteredRemaining } from '../domain/token-balances';
import { describeStatus, type UserTokenStatus } from '../domain/token-views';
import { cacheKeys, type ReadThroughCache } from '../ports/cache';
import type { AddTokensResult, TokenStore } from '../ports/tokens';
import type { UserStore } from '../ports/users';
import { logger } from '../observability/logger';
import { UnknownFeatureError } from './errors';

export interface TokenAdminDeps {
  tokens: Pick<TokenStore, 'getEntitlement' | 'addPurchasedTokens' | 'setTier'>;
  users: Pick<UserStore, 'get'>;
  cache: Pick<ReadThroughCache, 'invalidate'>;
  catalogue: Catalogue;
  decide: AccessDecider;
  now: () => Date;
}

/** The status answer: the row and the access decision made from it now. */
function statusOf(deps: TokenAdminDeps, record: EntitlementRecord): UserTokenStatus {
  return describeStatus(record, deps.decide(record, deps.now()));
}

/**
 * GET /me/entitlements serves the row from the cache: after a tier or balance
 * change the cached copy goes; a tier change also changes `premium`, so the
 * premium check's answer for the user's email goes too. If it cannot, the
 * change is written but a stale answer could be served until the TTL ends:
 * CacheInvalidationError (503 by the error policy), and the (idempotent)
 * request is safe to repeat.
 */
async function forgetCachedEntitlement(deps: TokenAdminDeps, userId: string, options: { premium?: boolean } = {}): Promise<void> {
  const keys = [cacheKeys.entitlement(userId)];
  if (options.premium) {
    const profile = await deps.users.get(userId, { consistent: true });
    if (profile) keys.push(cacheKeys.premium(profile.email));
  }
  await deps.cache.invalidate(keys);
}

/** GET /v1/users/{userId}/status: a strongly consistent read of the row, decided now; undefined for an unknown user. */
export async function userStatus(deps: TokenAdminDeps, userId: string): Promise<UserTokenStatus | undefined> {
  const record = await deps.tokens.getEntitlement(userId);
  return record && statusOf(deps, record);
}

/**
 * POST /v1/users/{userId}/tokens/add. Primary course:
 * 1. credit purchased tokens once per idempotency key (one atomic write with its ledger entry);
 * 2. drop the cached row, on a replay too: it may be the retry of a request whose invalidation failed.
 */
export async function grantTokens(
  deps: TokenAdminDeps,
  grant: { userId: string; amount: number; reason: string; idempotencyKey: string },
): Promise<AddTokensResult> {
  const result = await deps.tokens.addPurchasedTokens({ userId: grant.userId, tokens: grant.amount, reason: grant.reason, idempotencyKey: grant.idempotencyKey, kind: 'add' });
  if (result.outcome === 'added') await forgetCachedEntitlement(deps, grant.userId);
  return result;
}

export type SetTierResult = { outcome: 'set'; status: UserTokenStatus } | { outcome: 'unknown-tier' } | { outcome: 'unknown-user' };

/**
 * PUT /v1/users/{userId}/tier. Primary course:
 * 1. find the tier in the catalogue;
 * 2. write the admin tier (sticky or until the next subscription change) against Stripe's current state;
 * 3. drop the cached row and the premium answer of the user's email;
 * 4. answer the status decided from the row as written.
 */
export async function setTier(deps: TokenAdminDeps, request: { userId: string; tier: string; sticky: boolean }): Promise<SetTierResult> {
  const tier = findPlan(deps.catalogue, request.tier);
  if (!tier) return { outcome: 'unknown-tier' };
  const record = await deps.tokens.setTier({ userId: request.userId, tier: tier.name, sticky: request.sticky });
  if (!record) return { outcome: 'unknown-user' };
  logger.info('tier override', { userId: request.userId, tier: tier.name, sticky: request.sticky });
  await forgetCachedEntitlement(deps, request.userId, { premium: true });
  return { outcome: 'set', status: statusOf(deps, record) };
}

/** POST /v1/users/{userId}/features/check's answer: metered features add uses left and the limit (null = unlimited). */
export type FeatureCheck = { allowed: boolean } | { allowed: boolean; remaining: number | null; limit: number | null };

/**
 * POST /v1/users/{userId}/features/check. Primary course:
 * 1. the feature must be one some plan of the catalogue names (else 404: a typo never reads as "not allowed");
 * 2. read the row and the profile strongly consistently (no row, or an account being deleted:
 *    undefined, the 404 consume answers: a check must never allow what the spend then refuses);
 * 3. decide access from it now; a boolean feature is allowed when the plan in force has it;
 * 4. a metered one also says what is left this period, from the counter consume spends.
 */
export async function checkFeature(deps: TokenAdminDeps, userId: string, feature: string): Promise<FeatureCheck | undefined> {
  const kind = deps.catalogue.features[feature];
  if (kind === undefined) throw new UnknownFeatureError(feature);
  const [record, profile] = await Promise.all([deps.tokens.getEntitlement(userId), deps.users.get(userId, { consistent: true })]);
  if (!record || profile?.deletingAt) return undefined;
  const access = deps.decide(record, deps.now());
  if (kind === 'boolean') return { allowed: access.features.includes(feature) };
  const { remaining, limit, included } = meteredRemaining(record, feature, access);
  return { allowed: included && (remaining === null || remaining > 0), remaining, limit };
}
