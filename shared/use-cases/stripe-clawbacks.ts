import { adjustmentKeys, disputeClawback, disputeEffect, refundClawbacks, type TopUpPurchase } from '../domain/token-refunds';
import type { BillingProvider } from '../ports/billing';
import type { ReadThroughCache } from '../ports/cache';
import type { PurchasedTokenAdjustments } from '../ports/events';
import type { UserProfile, UserStore } from '../ports/users';
import { logger } from '../observability/logger';
import { countAnomaly } from '../observability/metrics';
import { invalidateUser, ownerOfTopUp } from './stripe-sync';

export interface ClawbackDeps {
  users: UserStore;
  billing: BillingProvider;
  cache: ReadThroughCache;
  tokenAdjustments: PurchasedTokenAdjustments;
}

export type ClawbackOutcome = 'applied' | 'ignored';

interface TopUp {
  owner: UserProfile;
  sessionId: string;
  purchase: TopUpPurchase;
}

/**
 * Refunds of a top-up's charge take back the tokens they paid for. Order-proof
 * like the subscription sync: whatever refund event arrives (charge.refunded,
 * refund.created/updated, in any order, twice), the charge's refunds are
 * re-read from Stripe and each succeeded one is applied once (`refund:<re_>`).
 * Charges that did not come from a top-up Checkout are ignored.
 */
export async function onChargeRefundsChanged(deps: ClawbackDeps, chargeId: string): Promise<ClawbackOutcome> {
  const charge = await deps.billing.chargeOf(chargeId);
  const topUp = charge?.paymentIntentId ? await topUpOf(deps, charge.paymentIntentId, charge.amount) : undefined;
  if (!charge || !topUp) return 'ignored';
  let applied = false;
  for (const { refundId, tokens } of refundClawbacks(topUp.purchase, charge.refunds)) {
    const result = await take(deps, topUp, { key: adjustmentKeys.refund(refundId), kind: 'refund', tokens, stripeId: refundId });
    applied ||= result;
  }
  await invalidateUser(deps.cache, topUp.owner);
  return applied ? 'applied' : 'ignored';
}

/**
 * A dispute of a top-up's charge: re-read from Stripe, then its current
 * status decides. Open or lost: the disputed share is taken (`dispute:<dp_>`).
 * Won (or an inquiry closed): what was taken is given back
 * (`dispute-won:<dp_>`); if nothing was taken yet (the close overtook the
 * open), a 0-token marker under `dispute:<dp_>` makes a late open a no-op.
 */
export async function onDisputeChanged(deps: ClawbackDeps, disputeId: string): Promise<ClawbackOutcome> {
  const dispute = await deps.billing.disputeOf(disputeId);
  const charge = dispute ? await deps.billing.chargeOf(dispute.chargeId) : undefined;
  const topUp = dispute && charge?.paymentIntentId ? await topUpOf(deps, charge.paymentIntentId, charge.amount) : undefined;
  if (!dispute || !topUp) return 'ignored';
  const effect = disputeEffect(dispute.status);
  let applied = false;
  if (effect === 'take') {
    applied = await take(deps, topUp, { key: adjustmentKeys.dispute(dispute.id), kind: 'dispute', tokens: disputeClawback(topUp.purchase, dispute.amount), stripeId: dispute.id });
  } else if (effect === 'give-back') {
    const takenKey = adjustmentKeys.dispute(dispute.id);
    let taken = await deps.tokenAdjustments.adjustmentOf(topUp.owner.userId, takenKey);
    if (!taken) {
      await take(deps, topUp, { key: takenKey, kind: 'dispute', tokens: 0, stripeId: dispute.id });
      // Re-read: a concurrent open may have won the key with the real clawback.
      taken = await deps.tokenAdjustments.adjustmentOf(topUp.owner.userId, takenKey);
    }
    if (taken && taken.applied > 0) {
      const result = await deps.tokenAdjustments.adjust({
        userId: topUp.owner.userId,
        idempotencyKey: adjustmentKeys.disputeWon(dispute.id),
        kind: 'dispute-reversal',
        direction: 'give',
        tokens: taken.applied,
        stripeId: dispute.id,
        reason: `Stripe dispute ${dispute.id} ${dispute.status}: tokens of checkout ${topUp.sessionId} returned`,
      });
      applied = result.outcome === 'applied';
    }
  }
  await invalidateUser(deps.cache, topUp.owner);
  return applied ? 'applied' : 'ignored';
}

/** The top-up a payment belongs to: its Checkout Session (metadata kind top-up) and the live user who owns it. */
async function topUpOf(deps: ClawbackDeps, paymentIntentId: string, amount: number): Promise<TopUp | undefined> {
  const session = await deps.billing.checkoutOfPayment(paymentIntentId);
  if (!session || session.metadata.kind !== 'top-up' || !session.customerId) return undefined;
  const tokens = Number(session.metadata.tokens);
  if (!Number.isSafeInteger(tokens) || tokens <= 0) return undefined;
  const owner = await ownerOfTopUp(deps, session.customerId, session.metadata.userId);
  if (!owner) return undefined;
  return { owner, sessionId: session.sessionId, purchase: { tokens, amount } };
}

async function take(deps: ClawbackDeps, topUp: TopUp, adjustment: { key: string; kind: 'refund' | 'dispute'; tokens: number; stripeId: string }): Promise<boolean> {
  const result = await deps.tokenAdjustments.adjust({
    userId: topUp.owner.userId,
    idempotencyKey: adjustment.key,
    kind: adjustment.kind,
    direction: 'take',
    tokens: adjustment.tokens,
    stripeId: adjustment.stripeId,
    reason: `Stripe ${adjustment.kind} ${adjustment.stripeId} of checkout ${topUp.sessionId}`,
  });
  if (result.outcome !== 'applied') return false;
  if (result.shortfall > 0) {
    logger.warn('refunded or disputed tokens were already spent; the balance stops at zero', {
      userId: topUp.owner.userId,
      stripeId: adjustment.stripeId,
      requested: adjustment.tokens,
      taken: result.applied,
      shortfall: result.shortfall,
    });
    countAnomaly('TokenClawbackShortfall');
  }
  return true;
}
