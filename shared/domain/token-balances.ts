import { ACCESS_STATE_FIELDS, type Access, type AccessState } from './access';
import { effectivePeriod, normalisePeriodId, type AllowancePeriod } from './periods';

/**
 * Token balances, pure. How much a user may spend comes from the access
 * decision (shared/domain/access.ts): its monthly allowance and its allowance
 * period (billing-anchored for Stripe plans, calendar otherwise). The token
 * fields of an entitlement row mean:
 *
 * - `tokenPeriod`: the id (ISO start) of the allowance period the counters
 *   below belong to. Absent until the first token write. A row whose period
 *   is older than the period in force reads as a fresh period (allowance
 *   unused): the reset needs no cron, the first token write of a period
 *   stores it. Old rows hold 'YYYY-MM' (read as that month's start).
 * - `tokensUsedThisPeriod`: every token consumed in `tokenPeriod`, from the
 *   allowance and from purchased tokens (unlimited allowances count here too).
 * - `tokensAllowanceUsed`: the part of `tokensUsedThisPeriod` taken from the
 *   allowance, so the allowance left is `allowance - tokensAllowanceUsed`
 *   whatever the plan is now: an upgrade mid-period adds the difference, a
 *   downgrade floors what is left at 0 and never takes purchased tokens.
 *   Absent = all usage came from it.
 * - `tokensPurchased`: purchased (and granted) tokens left. They never reset,
 *   are spent after the allowance and stay spendable without a plan.
 *
 * What a write stores beside the counters: ./token-ledger.ts (history),
 * ./token-idempotency.ts (answers to repeats), ./token-writes.ts (the three
 * together as one write).
 */

/** Largest amount one consume or add may carry. */
export const MAX_TOKEN_AMOUNT = 1_000_000;

/** A positive whole number of tokens no larger than MAX_TOKEN_AMOUNT. */
export function isValidTokenAmount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1 && value <= MAX_TOKEN_AMOUNT;
}

/** Callers validate amounts (isValidTokenAmount, or a top-up's pack size); this guards the counters against a bug. */
function assertWholeTokens(amount: number): void {
  if (!Number.isSafeInteger(amount) || amount < 1) throw new RangeError(`token amounts are positive whole numbers, got ${amount}`);
}

/** What of the access decision a token write needs: the allowances (tokens, metered features) and the period they belong to. */
export type TokenAccess = Pick<Access, 'monthlyTokens' | 'period'> & Partial<Pick<Access, 'metered'>>;

/**
 * Uses of metered features (catalogue features with a `monthlyLimit`), per
 * feature: the allowance period (ISO start) the count belongs to, and the
 * count. A count from an earlier period reads as 0: like the token allowance,
 * the reset needs no cron and follows the same period (billing or calendar).
 */
export type MeteredUsage = Record<string, { period: string; used: number }>;

/** The fields of a row a token write reads: the access state and the counters. What a write is conditioned on. */
export interface StoredTokenState extends Partial<AccessState> {
  tokenPeriod?: string;
  tokensUsedThisPeriod?: number;
  tokensAllowanceUsed?: number;
  tokensPurchased?: number;
  meteredUsage?: MeteredUsage;
}

/** The counters a token write stores (all four, always). */
export interface TokenCounters {
  tokenPeriod: string;
  tokensUsedThisPeriod: number;
  tokensAllowanceUsed: number;
  tokensPurchased: number;
}

/**
 * Every field a token write's plan depends on: the access decision's inputs
 * (status, tiers, overrides, grace, billing period) and the counters. The
 * write is conditioned on all of them, so a plan made before a webhook, an
 * admin change or a reset can never be committed after it.
 */
export const TOKEN_STATE_FIELDS = [...ACCESS_STATE_FIELDS, 'tokenPeriod', 'tokensUsedThisPeriod', 'tokensAllowanceUsed', 'tokensPurchased', 'meteredUsage'] as const;

/** What a write stores: the token counters, or (a metered feature's consume) the feature counts. */
export type WriteCounters = Partial<TokenCounters> & { meteredUsage?: MeteredUsage };

/** Just the token-relevant fields of a row (for conditions and in-process hints). */
export function tokenStateOf(row: StoredTokenState): StoredTokenState {
  const state: StoredTokenState = {};
  for (const field of TOKEN_STATE_FIELDS) {
    if (row[field] !== undefined) (state as Record<string, unknown>)[field] = row[field];
  }
  return state;
}

/**
 * The counters as they stand in `period` (the access decision's allowance
 * period): a row from an earlier period reads as a fresh one. A row already
 * in a later period (a clock a little behind at a boundary, or a calendar
 * period that began after the billing period now in force) keeps its
 * counters: periods never go backwards.
 */
export function currentCounters(stored: StoredTokenState, period: AllowancePeriod): TokenCounters & { rolledOver: boolean; period: AllowancePeriod } {
  const effective = effectivePeriod(stored.tokenPeriod, period);
  const purchased = stored.tokensPurchased ?? 0;
  if (stored.tokenPeriod === undefined || normalisePeriodId(stored.tokenPeriod) !== effective.id) {
    return { tokenPeriod: effective.id, tokensUsedThisPeriod: 0, tokensAllowanceUsed: 0, tokensPurchased: purchased, rolledOver: true, period: effective };
  }
  const used = stored.tokensUsedThisPeriod ?? 0;
  return {
    tokenPeriod: effective.id,
    tokensUsedThisPeriod: used,
    tokensAllowanceUsed: stored.tokensAllowanceUsed ?? used,
    tokensPurchased: purchased,
    rolledOver: false,
    period: effective,
  };
}

/** Allowance left this period; null = unlimited. Never negative (a downgrade floors it at 0). */
export function allowanceLeft(allowance: number | null, allowanceUsed: number): number | null {
  return allowance === null ? null : Math.max(0, allowance - allowanceUsed);
}

/** Tokens that can be spent now: allowance left + purchased; null = unlimited. */
export function remainingOf(allowance: number | null, counters: Pick<TokenCounters, 'tokensAllowanceUsed' | 'tokensPurchased'>): number | null {
  const left = allowanceLeft(allowance, counters.tokensAllowanceUsed);
  return left === null ? null : left + counters.tokensPurchased;
}

export interface TokenSplit {
  fromAllowance: number;
  fromPurchased: number;
}

/** Allowance first, purchased after; undefined when both together fall short. */
export function splitConsumption(amount: number, left: number | null, purchased: number): TokenSplit | undefined {
  if (left === null) return { fromAllowance: amount, fromPurchased: 0 };
  const fromAllowance = Math.min(amount, left);
  const fromPurchased = amount - fromAllowance;
  return fromPurchased <= purchased ? { fromAllowance, fromPurchased } : undefined;
}

/** The allowance reset a write stores when it is the first one of a new period. */
export interface PeriodReset {
  period: string;
  previousPeriod: string;
  /** The new period's allowance; null = unlimited. */
  allowance: number | null;
  /** Remaining right after the reset; null = unlimited. */
  balanceAfter: number | null;
  /** The start of the new period: when the reset took effect. */
  at: Date;
  anchor: AllowancePeriod['anchor'];
}

function resetOf(stored: StoredTokenState, counters: ReturnType<typeof currentCounters>, allowance: number | null): PeriodReset | undefined {
  // The very first token write starts a period; there is nothing to reset.
  if (!counters.rolledOver || stored.tokenPeriod === undefined) return undefined;
  return {
    period: counters.tokenPeriod,
    previousPeriod: stored.tokenPeriod,
    allowance,
    balanceAfter: allowance === null ? null : allowance + counters.tokensPurchased,
    at: counters.period.start,
    anchor: counters.period.anchor,
  };
}

export type ConsumePlan =
  | { ok: true; next: TokenCounters; split: TokenSplit; remaining: number | null; reset?: PeriodReset }
  | { ok: false; remaining: number };

/**
 * What consuming `amount` does to a row under `access`: the period's reset
 * folded in, the allowance spent before purchased tokens, never below zero.
 */
export function planConsume(stored: StoredTokenState, amount: number, access: TokenAccess): ConsumePlan {
  assertWholeTokens(amount);
  const counters = currentCounters(stored, access.period);
  const allowance = access.monthlyTokens;
  const left = allowanceLeft(allowance, counters.tokensAllowanceUsed);
  const split = splitConsumption(amount, left, counters.tokensPurchased);
  if (!split) return { ok: false, remaining: (left ?? 0) + counters.tokensPurchased };
  const next: TokenCounters = {
    tokenPeriod: counters.tokenPeriod,
    tokensUsedThisPeriod: counters.tokensUsedThisPeriod + amount,
    tokensAllowanceUsed: counters.tokensAllowanceUsed + split.fromAllowance,
    tokensPurchased: counters.tokensPurchased - split.fromPurchased,
  };
  return { ok: true, next, split, remaining: remainingOf(allowance, next), reset: resetOf(stored, counters, allowance) };
}

export interface AddPlan {
  next: TokenCounters;
  remaining: number | null;
  reset?: PeriodReset;
}

/** What adding purchased tokens does to a row under `access` (the period's reset folded in, as for a consume). */
export function planAdd(stored: StoredTokenState, amount: number, access: TokenAccess): AddPlan {
  assertWholeTokens(amount);
  const counters = currentCounters(stored, access.period);
  const allowance = access.monthlyTokens;
  const next: TokenCounters = {
    tokenPeriod: counters.tokenPeriod,
    tokensUsedThisPeriod: counters.tokensUsedThisPeriod,
    tokensAllowanceUsed: counters.tokensAllowanceUsed,
    tokensPurchased: counters.tokensPurchased + amount,
  };
  return { next, remaining: remainingOf(allowance, next), reset: resetOf(stored, counters, allowance) };
}

/** A metered feature's uses in `period` (0 when its count belongs to an earlier period) and the period it counts in. */
export function meteredUsed(stored: StoredTokenState, feature: string, period: AllowancePeriod): { used: number; period: AllowancePeriod } {
  const entry = stored.meteredUsage?.[feature];
  const effective = effectivePeriod(entry?.period, period);
  if (!entry || normalisePeriodId(entry.period) !== effective.id) return { used: 0, period: effective };
  return { used: entry.used, period: effective };
}

/** What is left of a metered feature: null = unlimited; 0 when the plan does not have it. */
export function meteredRemaining(stored: StoredTokenState, feature: string, access: TokenAccess): { remaining: number | null; limit: number | null; included: boolean } {
  const metered = access.metered ?? {};
  if (!(feature in metered)) return { remaining: 0, limit: 0, included: false };
  const limit = metered[feature]!;
  if (limit === null) return { remaining: null, limit: null, included: true };
  return { remaining: Math.max(0, limit - meteredUsed(stored, feature, access.period).used), limit, included: true };
}

export type MeteredConsumePlan =
  | { ok: true; next: MeteredUsage; period: string; remaining: number | null }
  | { ok: false; remaining: number };

/**
 * What using a metered feature `amount` times does under `access`: never over
 * the plan's monthly limit (a plan without the feature has none to spend).
 * Only this feature's count changes; tokens are untouched.
 */
export function planMeteredConsume(stored: StoredTokenState, feature: string, amount: number, access: TokenAccess): MeteredConsumePlan {
  assertWholeTokens(amount);
  const { remaining, included } = meteredRemaining(stored, feature, access);
  if (!included || (remaining !== null && remaining < amount)) return { ok: false, remaining: remaining ?? 0 };
  const { used, period } = meteredUsed(stored, feature, access.period);
  const next: MeteredUsage = { ...(stored.meteredUsage ?? {}), [feature]: { period: period.id, used: used + amount } };
  return { ok: true, next, period: period.id, remaining: remaining === null ? null : remaining - amount };
}
