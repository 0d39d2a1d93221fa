import { createHash } from 'node:crypto';
import { ACCESS_STATE_FIELDS, type Access, type AccessState } from './access';
import type { EntitlementRecord, EntitlementStatus } from './entitlement';
import { effectivePeriod, normalisePeriodId, type AllowancePeriod } from './periods';

/**
 * Token rules, pure. How much a user may spend comes from the access decision
 * (shared/domain/access.ts): its monthly allowance and its allowance period
 * (billing-anchored for Stripe plans, calendar otherwise). The token fields
 * of an entitlement row mean:
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
 */

/** Largest amount one consume or add may carry. */
export const MAX_TOKEN_AMOUNT = 1_000_000;
/** Client-chosen idempotency keys: 1-128 characters, no spaces or slashes. */
export const IDEMPOTENCY_KEY_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;
/** Ledger entries are kept 400 days (a year of statements plus a month of disputes), then DynamoDB's TTL removes them. */
export const LEDGER_RETENTION_DAYS = 400;
/** A consume key answers the same for 7 days: far beyond any client's retry window. */
export const CONSUME_KEY_RETENTION_DAYS = 7;
/** Grants and top-ups remember their key for 35 days: longer than Stripe keeps (and can resend) an event. */
export const ADD_KEY_RETENTION_DAYS = 35;

const DAY_SECONDS = 24 * 60 * 60;

export type LedgerKind = 'consume' | 'add' | 'reset' | 'top-up' | 'refund' | 'dispute' | 'dispute-reversal';

/** A positive whole number of tokens no larger than MAX_TOKEN_AMOUNT. */
export function isValidTokenAmount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1 && value <= MAX_TOKEN_AMOUNT;
}

/** Callers validate amounts (isValidTokenAmount, or a top-up's pack size); this guards the counters against a bug. */
function assertWholeTokens(amount: number): void {
  if (!Number.isSafeInteger(amount) || amount < 1) throw new RangeError(`token amounts are positive whole numbers, got ${amount}`);
}

/** The fields of a row a token write reads: the access state and the counters. What a write is conditioned on. */
export interface StoredTokenState extends Partial<AccessState> {
  tokenPeriod?: string;
  tokensUsedThisPeriod?: number;
  tokensAllowanceUsed?: number;
  tokensPurchased?: number;
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
export const TOKEN_STATE_FIELDS = [...ACCESS_STATE_FIELDS, 'tokenPeriod', 'tokensUsedThisPeriod', 'tokensAllowanceUsed', 'tokensPurchased'] as const;

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
export function planConsume(stored: StoredTokenState, amount: number, access: Pick<Access, 'monthlyTokens' | 'period'>): ConsumePlan {
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
export function planAdd(stored: StoredTokenState, amount: number, access: Pick<Access, 'monthlyTokens' | 'period'>): AddPlan {
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

/** One line of a user's token history. */
export interface LedgerEntry {
  userId: string;
  /**
   * `<ISO time>#<n>#<kind>#<random>`: a user's entries sort by time; `n` orders
   * the entries of one write (the reset, then the consume it came with).
   */
  entryId: string;
  kind: LedgerKind;
  /** Tokens consumed or added; for a reset, the new allowance (null = unlimited). */
  amount: number | null;
  /** Allowance left + purchased after this entry; null = unlimited. */
  balanceAfter: number | null;
  /** The allowance period (its ISO start) the entry counts in. */
  period: string;
  idempotencyKey?: string;
  reason?: string;
  /** For consumes: how the amount was split. */
  fromAllowance?: number;
  fromPurchased?: number;
  at: string;
  /** Epoch seconds; DynamoDB's TTL deletes the entry after LEDGER_RETENTION_DAYS. */
  expiresAt: number;
}

export function ledgerEntry(
  fields: Omit<LedgerEntry, 'entryId' | 'at' | 'expiresAt'> & { at: Date },
  randomSuffix: string,
  position = 0,
): LedgerEntry {
  const at = fields.at.toISOString();
  const entry = {
    ...fields,
    entryId: `${at}#${position}#${fields.kind}#${randomSuffix}`,
    at,
    expiresAt: Math.floor(fields.at.getTime() / 1000) + LEDGER_RETENTION_DAYS * DAY_SECONDS,
  };
  // Optional fields are left out rather than stored empty.
  for (const [k, v] of Object.entries(entry)) if (v === undefined) delete (entry as Record<string, unknown>)[k];
  return entry;
}

export function resetEntry(userId: string, reset: PeriodReset, randomSuffix: string): LedgerEntry {
  return ledgerEntry(
    {
      userId,
      kind: 'reset',
      amount: reset.allowance,
      balanceAfter: reset.balanceAfter,
      period: reset.period,
      reason: `allowance reset (${reset.anchor} period; was ${reset.previousPeriod})`,
      at: reset.at,
    },
    randomSuffix,
  );
}

export type IdempotentOperation = 'tokens-consume' | 'tokens-add' | 'tokens-adjust';

/** What an idempotency record remembers: who asked what, and the first answer. */
export interface IdempotencyRecord<R> {
  /** `consume:<userId>:<key>` or `add:<userId>:<key>`. */
  key: string;
  operation: IdempotentOperation;
  userId: string;
  /** SHA-256 of the request's meaningful fields: a different request under the same key is a conflict. */
  fingerprint: string;
  response: R;
  createdAt: string;
  /** Epoch seconds (DynamoDB TTL). */
  expiresAt: number;
}

export const idempotencyKeys = {
  consume: (userId: string, key: string) => `consume:${userId}:${key}`,
  add: (userId: string, key: string) => `add:${userId}:${key}`,
};

export function requestFingerprint(parts: ReadonlyArray<string | number>): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

export function idempotencyRecord<R>(
  fields: { key: string; operation: IdempotentOperation; userId: string; fingerprint: string; response: R },
  now: Date,
  retentionDays: number,
): IdempotencyRecord<R> {
  return { ...fields, createdAt: now.toISOString(), expiresAt: Math.floor(now.getTime() / 1000) + retentionDays * DAY_SECONDS };
}

export interface ConsumeResponse {
  consumed: number;
  remaining: number | null;
}

export interface AddResponse {
  remaining: number | null;
}

/** What a token write stores (counters, ledger entries) and answers; or why it is refused. */
export type TokenWriteDecision<R> =
  | { write: true; counters: TokenCounters; entries: LedgerEntry[]; response: R }
  | { write: false; remaining: number };

/**
 * A consume as one write under `access` (decided from `stored` at `now`): the
 * new counters, the reset entry when this is the period's first write, the consume entry and the answer to remember.
 */
export function decideConsume(
  request: { userId: string; amount: number; idempotencyKey: string },
  stored: StoredTokenState,
  access: Pick<Access, 'monthlyTokens' | 'period'>,
  now: Date,
  randomSuffix: () => string,
): TokenWriteDecision<ConsumeResponse> {
  const plan = planConsume(stored, request.amount, access);
  if (!plan.ok) return { write: false, remaining: plan.remaining };
  const { userId, amount, idempotencyKey } = request;
  const entries = plan.reset ? [resetEntry(userId, plan.reset, randomSuffix())] : [];
  entries.push(
    ledgerEntry(
      { userId, kind: 'consume', amount, balanceAfter: plan.remaining, period: plan.next.tokenPeriod, idempotencyKey, ...plan.split, at: now },
      randomSuffix(),
      entries.length,
    ),
  );
  return { write: true, counters: plan.next, entries, response: { consumed: amount, remaining: plan.remaining } };
}

/** An add (admin grant or Stripe top-up) as one write. */
export function decideAdd(
  request: { userId: string; tokens: number; idempotencyKey: string; reason: string; kind: 'add' | 'top-up' },
  stored: StoredTokenState,
  access: Pick<Access, 'monthlyTokens' | 'period'>,
  now: Date,
  randomSuffix: () => string,
): TokenWriteDecision<AddResponse> {
  const plan = planAdd(stored, request.tokens, access);
  const { userId, tokens, idempotencyKey, reason, kind } = request;
  const entries = plan.reset ? [resetEntry(userId, plan.reset, randomSuffix())] : [];
  entries.push(
    ledgerEntry({ userId, kind, amount: tokens, balanceAfter: plan.remaining, period: plan.next.tokenPeriod, idempotencyKey, reason, at: now }, randomSuffix(), entries.length),
  );
  return { write: true, counters: plan.next, entries, response: { remaining: plan.remaining } };
}

export const consumeFingerprint = (amount: number): string => requestFingerprint(['consume', amount]);
export const addFingerprint = (request: { tokens: number; reason: string; kind: string }): string =>
  requestFingerprint(['add', request.kind, request.tokens, request.reason]);
