import type { EntitlementRecord } from '../domain/entitlement';
import type { PlanName } from '../domain/catalogue-model';
import { Contention } from './errors';

export interface ConsumeTokensRequest {
  userId: string;
  amount: number;
  /** The caller's key (without prefix); one charge per key and user. */
  idempotencyKey: string;
  /** A metered feature of the catalogue: spend its monthly allowance instead of tokens. */
  feature?: string;
}

export type ConsumeTokensResult =
  /** Charged now, or (`replayed`) the answer of the first request with this key. */
  | { outcome: 'consumed'; consumed: number; remaining: number | null; replayed: boolean }
  /** Nothing charged: allowance left + purchased (or the metered feature's uses left) is below the amount. */
  | { outcome: 'insufficient'; remaining: number }
  /** The key was already used for a different request. */
  | { outcome: 'conflict' }
  /** No entitlement row for this user. */
  | { outcome: 'unknown-user' };

export interface AddTokensRequest {
  userId: string;
  tokens: number;
  /** E.g. the caller's key, or `topup:<checkoutSessionId>` for a Stripe top-up. */
  idempotencyKey: string;
  reason: string;
  /** Ledger kind: `add` for grants (default), `top-up` for purchases. */
  kind?: 'add' | 'top-up';
}

export type AddTokensResult =
  /** `applied` false: the key was used before for the same request; `remaining` is that first answer. */
  | { outcome: 'added'; applied: boolean; remaining: number | null }
  | { outcome: 'conflict' }
  | { outcome: 'unknown-user' };

export interface TierOverride {
  userId: string;
  tier: PlanName;
  /** Sticky: Stripe updates keep it. Otherwise the next subscription change replaces it. */
  sticky: boolean;
}

/**
 * Token balances of entitlement rows, their ledger and idempotency records.
 * Every balance change is one atomic write with its ledger entry and its
 * idempotency record.
 */
export interface TokenStore {
  consume(request: ConsumeTokensRequest): Promise<ConsumeTokensResult>;
  /**
   * What a consume under this request's key already answered (`replayed`), a
   * conflict when the key was used for another request, undefined when the key
   * is new. Reads only.
   */
  earlierConsume(request: ConsumeTokensRequest): Promise<Extract<ConsumeTokensResult, { outcome: 'consumed' | 'conflict' }> | undefined>;
  /** Credits purchased tokens exactly once per idempotency key (admin grants and Stripe top-ups). */
  addPurchasedTokens(request: AddTokensRequest): Promise<AddTokensResult>;
  /** The row after the change; undefined when the user has no entitlement row. */
  setTier(override: TierOverride): Promise<EntitlementRecord | undefined>;
  /** A strongly consistent read of the row. */
  getEntitlement(userId: string): Promise<EntitlementRecord | undefined>;
}

/** Other writers kept winning the row for longer than a request should wait. Safe to retry. */
export class TokenContentionError extends Contention {
  constructor(readonly userId: string, readonly attempts: number) {
    super(`token write for a user lost ${attempts} races in a row`);
    this.name = 'TokenContentionError';
  }
}
