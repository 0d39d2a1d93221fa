import type { PurchasedTokenAdjustment } from '../domain/token-refunds';
/**
 * Checks a webhook's signature over the exact bytes received: the parsed
 * event when it holds (and is recent), undefined when it does not. Reading
 * the signing secret can fail like any dependency (a port error, 503).
 */
export interface SignedEvents {
  verify(payload: Buffer, signature: string): Promise<unknown>;
}

/** Webhook event ids already applied (duplicates are no-ops). */
export interface ProcessedEvents {
  seen(eventId: string): Promise<boolean>;
  /** Records the id after the event was applied, so a failure lets Stripe's retry run it again. */
  record(eventId: string, type: string): Promise<void>;
}

/** Credits purchased tokens exactly once per `idempotencyKey`. */
export interface TopUpCredits {
  credit(input: { userId: string; tokens: number; idempotencyKey: string; reason: string }): Promise<'applied' | 'duplicate' | 'unknown-user'>;
}

/** Takes back / gives back purchased tokens for refunds and disputes of top-ups (rules: shared/domain/token-refunds.ts). */
export interface PurchasedTokenAdjustments {
  /**
   * Once per `idempotencyKey`. `take` never goes below zero: `applied` is what
   * was taken, `shortfall` what was already spent. `conflict`: the key holds
   * another adjustment (e.g. a 0-token marker written first); nothing done.
   */
  adjust(input: PurchasedTokenAdjustment): Promise<{ outcome: 'applied' | 'duplicate'; applied: number; shortfall: number } | { outcome: 'conflict' } | { outcome: 'unknown-user' }>;
  /** What the adjustment under this key did, if it happened. */
  adjustmentOf(userId: string, idempotencyKey: string): Promise<{ applied: number; shortfall: number } | undefined>;
}
