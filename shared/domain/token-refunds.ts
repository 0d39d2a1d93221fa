import { planAdd, remainingOf, type StoredTokenState, type TokenAccess } from './token-balances';
import { requestFingerprint } from './token-idempotency';
import { writeEntries, type LedgerEntry, type LedgerFields } from './token-ledger';
import type { TokenOperation, TokenWriteDecision } from './token-writes';

/**
 * Refunds and disputes of token top-ups, pure. A top-up bought `tokens` for a
 * charge of `amount` cents; money going back takes the tokens it bought back:
 *
 * - a refund of part of the charge takes its share, rounded down, counted
 *   cumulatively so that refunds adding up to the whole charge take exactly
 *   `tokens` (only `succeeded` refunds count);
 * - a dispute takes the disputed share when it opens; a dispute won (or an
 *   inquiry closed, or a prevented one) gives back exactly what it took;
 * - only purchased tokens are taken (the monthly allowance is not touched)
 *   and the balance never goes below zero: tokens already spent cannot be
 *   taken back, that part is recorded as the `shortfall` of the ledger entry
 *   (and counted), never carried as a debt.
 *
 * Every adjustment is idempotent per Stripe object (`refund:<re_>`,
 * `dispute:<dp_>`, `dispute-won:<dp_>`).
 */

export interface TopUpPurchase {
  /** Tokens the Checkout credited. */
  tokens: number;
  /** What the charge was, in cents. */
  amount: number;
}

export interface RefundLike {
  id: string;
  amount: number;
  status: string | null;
  created: number;
}

/** Tokens each succeeded refund takes back, oldest first; cumulative rounding, so a full refund takes all. */
export function refundClawbacks(purchase: TopUpPurchase, refunds: readonly RefundLike[]): Array<{ refundId: string; tokens: number }> {
  if (purchase.amount <= 0) return [];
  const counted = refunds.filter((r) => r.status === 'succeeded').sort((a, b) => a.created - b.created || a.id.localeCompare(b.id));
  let refunded = 0;
  return counted.map((refund) => {
    const before = shareOf(purchase, refunded);
    refunded = Math.min(purchase.amount, refunded + refund.amount);
    return { refundId: refund.id, tokens: shareOf(purchase, refunded) - before };
  });
}

/** Tokens a dispute of `disputedAmount` cents takes while it is open or lost. */
export function disputeClawback(purchase: TopUpPurchase, disputedAmount: number): number {
  if (purchase.amount <= 0) return 0;
  return shareOf(purchase, Math.min(purchase.amount, Math.max(0, disputedAmount)));
}

const shareOf = (purchase: TopUpPurchase, cents: number) => Math.floor((purchase.tokens * cents) / purchase.amount);

/** Dispute statuses in which the money is (or may end up) with the customer: the tokens stay taken. */
const DISPUTE_HOLDS = new Set(['needs_response', 'under_review', 'warning_needs_response', 'warning_under_review', 'lost', 'appeal_needs_response', 'appeal_under_review']);
/** Closed in the merchant's favour: what was taken is given back. */
const DISPUTE_RETURNS = new Set(['won', 'warning_closed', 'prevented']);

export function disputeEffect(status: string): 'take' | 'give-back' | 'none' {
  if (DISPUTE_HOLDS.has(status)) return 'take';
  if (DISPUTE_RETURNS.has(status)) return 'give-back';
  return 'none';
}

export const adjustmentKeys = {
  refund: (refundId: string) => `refund:${refundId}`,
  dispute: (disputeId: string) => `dispute:${disputeId}`,
  disputeWon: (disputeId: string) => `dispute-won:${disputeId}`,
  /** The idempotency record of an adjustment (its own namespace beside consume:/add:). */
  record: (userId: string, key: string) => `adjust:${userId}:${key}`,
};

/** Adjustments are kept as long as the ledger: a late refund or dispute event must still find them. */
export const ADJUST_KEY_RETENTION_DAYS = 400;

export interface PurchasedTokenAdjustment {
  userId: string;
  /** `refund:<re_>`, `dispute:<dp_>`, `dispute-won:<dp_>`. */
  idempotencyKey: string;
  kind: 'refund' | 'dispute' | 'dispute-reversal';
  direction: 'take' | 'give';
  /** Whole tokens, 0 allowed (a marker: "nothing to take"). */
  tokens: number;
  /** The Stripe object (refund, dispute) the entry is about. */
  stripeId: string;
  reason: string;
}

export interface AdjustmentResponse {
  requested: number;
  /** Tokens actually taken or given. */
  applied: number;
  /** Tokens a take could not take: already spent. */
  shortfall: number;
  remaining: number | null;
}

export const adjustmentFingerprint = (request: Pick<PurchasedTokenAdjustment, 'kind' | 'direction' | 'tokens' | 'stripeId'>): string =>
  requestFingerprint(['adjust', request.kind, request.direction, request.tokens, request.stripeId]);

/** One ledger entry of the adjustment, with the Stripe id and the shortfall. */
export type AdjustmentLedgerEntry = LedgerEntry & { stripeId: string; shortfall?: number };

/**
 * The adjustment as one write: the period fold-in every token write makes
 * (reset entry and fresh counters, as planAdd computes them for a write now),
 * then only the purchased balance changes, never below zero.
 */
export function decideAdjustment(
  request: PurchasedTokenAdjustment,
  stored: StoredTokenState,
  access: TokenAccess,
  now: Date,
  randomSuffix: () => string,
): TokenWriteDecision<AdjustmentResponse> {
  if (!Number.isSafeInteger(request.tokens) || request.tokens < 0) throw new RangeError(`adjustments are whole tokens >= 0, got ${request.tokens}`);
  // planAdd of one token is the fold-in of a write now; that token is not kept.
  const folded = planAdd(stored, 1, access);
  const purchased = folded.next.tokensPurchased - 1;
  const applied = request.direction === 'take' ? Math.min(request.tokens, purchased) : request.tokens;
  const shortfall = request.tokens - applied;
  const next = { ...folded.next, tokensPurchased: request.direction === 'take' ? purchased - applied : purchased + applied };
  const remaining = remainingOf(access.monthlyTokens, next);
  const entry: LedgerFields & Pick<AdjustmentLedgerEntry, 'stripeId' | 'shortfall'> = {
    userId: request.userId,
    kind: request.kind,
    amount: request.direction === 'take' ? -applied : applied,
    balanceAfter: remaining,
    period: next.tokenPeriod,
    idempotencyKey: request.idempotencyKey,
    reason: request.reason,
    at: now,
    stripeId: request.stripeId,
    ...(shortfall > 0 ? { shortfall } : {}),
  };
  const entries = writeEntries(folded.reset, entry, randomSuffix);
  return { write: true, counters: next, entries, response: { requested: request.tokens, applied, shortfall, remaining } };
}

export function adjustmentOperation(request: PurchasedTokenAdjustment): TokenOperation<AdjustmentResponse> {
  return {
    userId: request.userId,
    key: adjustmentKeys.record(request.userId, request.idempotencyKey),
    operation: 'tokens-adjust',
    fingerprint: adjustmentFingerprint(request),
    retentionDays: ADJUST_KEY_RETENTION_DAYS,
    cause: { kind: 'refund', ref: request.stripeId },
    decide: (state, access, now, randomSuffix) => decideAdjustment(request, state, access, now, randomSuffix),
  };
}
