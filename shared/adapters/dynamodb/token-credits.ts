import type { PurchasedTokenAdjustments, TopUpCredits } from '../../ports/events';
import type { DynamoTokenStore } from './token-store';

/**
 * The webhook's view of the token store: Stripe top-ups credit purchased
 * tokens (one atomic write, once per checkout session), refunds and disputes
 * take them back or return them (rules: shared/domain/token-refunds.ts).
 */
export class StripeTokenCredits implements TopUpCredits, PurchasedTokenAdjustments {
  constructor(private readonly tokens: DynamoTokenStore) {}

  async credit({ userId, tokens, idempotencyKey, reason }: Parameters<TopUpCredits['credit']>[0]): ReturnType<TopUpCredits['credit']> {
    const result = await this.tokens.addPurchasedTokens({ userId, tokens, idempotencyKey, reason, kind: 'top-up' });
    if (result.outcome === 'unknown-user') return 'unknown-user';
    // Same key, other payload cannot happen for one checkout session: treat as already applied.
    if (result.outcome === 'conflict') return 'duplicate';
    return result.applied ? 'applied' : 'duplicate';
  }

  async adjust(input: Parameters<PurchasedTokenAdjustments['adjust']>[0]): ReturnType<PurchasedTokenAdjustments['adjust']> {
    const result = await this.tokens.adjustPurchasedTokens(input);
    return result.outcome === 'applied' || result.outcome === 'duplicate' ? { outcome: result.outcome, applied: result.applied, shortfall: result.shortfall } : result;
  }

  adjustmentOf(userId: string, idempotencyKey: string): ReturnType<PurchasedTokenAdjustments['adjustmentOf']> {
    return this.tokens.adjustmentOf(userId, idempotencyKey);
  }
}
