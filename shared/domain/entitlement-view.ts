import type { Access } from './access';
import { NO_SUBSCRIPTION, type EntitlementRecord } from './entitlement';
import { describeTokens } from './token-views';

/** GET /me/entitlements, from the stored row (or none) and the access decision made from it. */
export function entitlementView(userId: string, record: EntitlementRecord | undefined, access: Access) {
  const state = record ?? { ...NO_SUBSCRIPTION };
  return {
    userId,
    status: state.status,
    plan: state.plan,
    tier: access.tier,
    premium: access.premium,
    accessReason: access.reason,
    ...(access.graceEndsAt ? { graceEndsAt: access.graceEndsAt } : {}),
    ...(access.kofiPaidThrough ? { kofiPaidThrough: access.kofiPaidThrough } : {}),
    currentPeriodEnd: state.currentPeriodEnd,
    trialEndsAt: state.trialEndsAt,
    cancelAtPeriodEnd: state.cancelAtPeriodEnd,
    tokens: describeTokens(record, access),
    features: access.features,
  };
}
