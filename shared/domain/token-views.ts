import type { Access } from './access';
import type { EntitlementRecord, EntitlementStatus } from './entitlement';
import type { AllowancePeriod } from './periods';
import { currentCounters, remainingOf, type StoredTokenState } from './token-balances';

/** GET /me/entitlements' and the status route's `tokens` field. */
export interface TokenSummary {
  /** Allowance left + purchased; null = unlimited. */
  remaining: number | null;
  /** The allowance of the period in force; null = unlimited. */
  monthlyAllowance: number | null;
  /** Purchased tokens left (they never reset). */
  purchased: number;
  /** Tokens consumed since the last reset, from the allowance and purchased tokens. */
  usedThisPeriod: number;
  /** ISO time of the next reset: the end of the paid billing period, or 00:00 UTC on the 1st. */
  resetsAt: string;
  /** What the period follows: the Stripe billing period or the calendar month. */
  periodAnchor: AllowancePeriod['anchor'];
}

/** The token view of a row under `access` (decided from the same row at the same time). No row = nothing. */
export function describeTokens(record: StoredTokenState | undefined, access: Access): TokenSummary {
  const counters = currentCounters(record ?? {}, access.period);
  return {
    remaining: remainingOf(access.monthlyTokens, counters),
    monthlyAllowance: access.monthlyTokens,
    purchased: counters.tokensPurchased,
    usedThisPeriod: counters.tokensUsedThisPeriod,
    resetsAt: counters.period.end.toISOString(),
    periodAnchor: counters.period.anchor,
  };
}

export interface UserTokenStatus {
  userId: string;
  /** The tier whose capabilities apply now (from the access decision). */
  tier: string;
  /** The tier is an admin override that Stripe updates keep. */
  tierSticky: boolean;
  status: EntitlementStatus;
  /** Why the access is what it is (shared/domain/access.ts). */
  accessReason: Access['reason'];
  premium: boolean;
  /** At least one token can be spent now (or the allowance is unlimited). */
  canMakeRequest: boolean;
  tokens: TokenSummary;
}

/** GET /v1/users/{userId}/status. */
export function describeStatus(record: EntitlementRecord, access: Access): UserTokenStatus {
  const tokens = describeTokens(record, access);
  return {
    userId: record.userId,
    tier: access.tier,
    tierSticky: record.tierStickyValue !== undefined,
    status: record.status,
    accessReason: access.reason,
    premium: access.premium,
    canMakeRequest: tokens.remaining === null || tokens.remaining > 0,
    tokens,
  };
}
