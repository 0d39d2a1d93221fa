import { NO_SUBSCRIPTION, isPremium, type EntitlementRecord, type PremiumPolicy } from './entitlement';
import { describeTokens } from './tokens';
import { findTier, type Tier } from './tiers';

/** GET /me/entitlements, from the stored row (or none). */
export function entitlementView(userId: string, record: EntitlementRecord | undefined, catalogue: readonly Tier[], policy: PremiumPolicy, now: Date) {
  const state = record ?? { ...NO_SUBSCRIPTION };
  const tier = findTier(catalogue, state.tier) ?? findTier(catalogue, 'free');
  const premium = isPremium(state.status, policy, record?.premiumOverride);
  return {
    userId,
    status: state.status,
    plan: state.plan,
    tier: tier?.name ?? 'free',
    premium,
    currentPeriodEnd: state.currentPeriodEnd,
    trialEndsAt: state.trialEndsAt,
    cancelAtPeriodEnd: state.cancelAtPeriodEnd,
    tokens: describeTokens(record, catalogue, now),
    features: featuresFor(tier, premium, catalogue),
  };
}

/**
 * Paid tiers give their features while the subscription is premium; tiers an
 * admin grants (tester, admin) give theirs outright; everyone else gets free's.
 */
function featuresFor(tier: Tier | undefined, premium: boolean, catalogue: readonly Tier[]) {
  if (tier && (!tier.purchasable || premium) && tier.name !== 'free') return tier.features;
  return findTier(catalogue, 'free')?.features ?? [];
}
