import { planAdd, planConsume, planMeteredConsume, type StoredTokenState, type TokenAccess, type WriteCounters } from './token-balances';
import {
  ADD_KEY_RETENTION_DAYS,
  CONSUME_KEY_RETENTION_DAYS,
  addFingerprint,
  consumeFingerprint,
  idempotencyKeys,
  type IdempotentRequest,
} from './token-idempotency';
import type { ChangeCause } from './entitlement-events';
import { ledgerEntry, writeEntries, type LedgerEntry } from './token-ledger';

/**
 * Token writes, pure: what one request stores (the counters, its ledger
 * entries, the answer its idempotency record keeps) or why it is refused.
 * A store commits all of it at once or nothing (shared/adapters/dynamodb/token-store.ts).
 */

export interface ConsumeResponse {
  consumed: number;
  remaining: number | null;
}

export interface AddResponse {
  remaining: number | null;
}

/** What a token write stores (counters, ledger entries) and answers; or why it is refused. */
export type TokenWriteDecision<R> =
  | { write: true; counters: WriteCounters; entries: LedgerEntry[]; response: R }
  | { write: false; remaining: number };

/**
 * One token request, whichever store runs it: the record it is remembered
 * under, and the write it makes on a row's token state under the access
 * decided from that state at `now`.
 */
export interface TokenOperation<R> extends IdempotentRequest {
  /** Stored with the write (`lastChange`): entitlement.changed tells a consume from a top-up by it. */
  cause: ChangeCause;
  decide(state: StoredTokenState, access: TokenAccess, now: Date, randomSuffix: () => string): TokenWriteDecision<R>;
}

interface ConsumeRequest {
  userId: string;
  amount: number;
  idempotencyKey: string;
  /** A metered feature: its monthly allowance is spent instead of tokens. */
  feature?: string;
}

interface AddRequest {
  userId: string;
  tokens: number;
  idempotencyKey: string;
  reason: string;
  kind: 'add' | 'top-up';
}

/**
 * A consume as one write under `access` (decided from `stored` at `now`): the
 * new counters, the reset entry when this is the period's first write, the consume entry and the answer to remember.
 */
export function decideConsume(
  request: ConsumeRequest,
  stored: StoredTokenState,
  access: TokenAccess,
  now: Date,
  randomSuffix: () => string,
): TokenWriteDecision<ConsumeResponse> {
  if (request.feature !== undefined) return decideMeteredConsume({ ...request, feature: request.feature }, stored, access, now, randomSuffix);
  const plan = planConsume(stored, request.amount, access);
  if (!plan.ok) return { write: false, remaining: plan.remaining };
  const { userId, amount, idempotencyKey } = request;
  const entries = writeEntries(
    plan.reset,
    { userId, kind: 'consume', amount, balanceAfter: plan.remaining, period: plan.next.tokenPeriod, idempotencyKey, ...plan.split, at: now },
    randomSuffix,
  );
  return { write: true, counters: plan.next, entries, response: { consumed: amount, remaining: plan.remaining } };
}

/** A metered feature's use as one write: its count, one ledger entry naming it, the answer (uses left). */
function decideMeteredConsume(
  request: ConsumeRequest & { feature: string },
  stored: StoredTokenState,
  access: TokenAccess,
  now: Date,
  randomSuffix: () => string,
): TokenWriteDecision<ConsumeResponse> {
  const plan = planMeteredConsume(stored, request.feature, request.amount, access);
  if (!plan.ok) return { write: false, remaining: plan.remaining };
  const { userId, amount, idempotencyKey, feature } = request;
  const entry = ledgerEntry({ userId, kind: 'consume', amount, balanceAfter: plan.remaining, period: plan.period, idempotencyKey, feature, at: now }, randomSuffix());
  return { write: true, counters: { meteredUsage: plan.next }, entries: [entry], response: { consumed: amount, remaining: plan.remaining } };
}

/** An add (admin grant or Stripe top-up) as one write. */
export function decideAdd(request: AddRequest, stored: StoredTokenState, access: TokenAccess, now: Date, randomSuffix: () => string): TokenWriteDecision<AddResponse> {
  const plan = planAdd(stored, request.tokens, access);
  const { userId, tokens, idempotencyKey, reason, kind } = request;
  const entries = writeEntries(plan.reset, { userId, kind, amount: tokens, balanceAfter: plan.remaining, period: plan.next.tokenPeriod, idempotencyKey, reason, at: now }, randomSuffix);
  return { write: true, counters: plan.next, entries, response: { remaining: plan.remaining } };
}

export function consumeOperation(request: ConsumeRequest): TokenOperation<ConsumeResponse> {
  return {
    userId: request.userId,
    key: idempotencyKeys.consume(request.userId, request.idempotencyKey),
    operation: 'tokens-consume',
    fingerprint: consumeFingerprint(request.amount, request.feature),
    retentionDays: CONSUME_KEY_RETENTION_DAYS,
    cause: { kind: 'consume' },
    decide: (state, access, now, randomSuffix) => decideConsume(request, state, access, now, randomSuffix),
  };
}

export function addOperation(request: AddRequest): TokenOperation<AddResponse> {
  return {
    userId: request.userId,
    key: idempotencyKeys.add(request.userId, request.idempotencyKey),
    operation: 'tokens-add',
    fingerprint: addFingerprint(request),
    retentionDays: ADD_KEY_RETENTION_DAYS,
    // An `add` is the internal API's grant (an admin or an app backend); a top-up was paid through Stripe.
    cause: { kind: request.kind === 'top-up' ? 'top-up' : 'admin', ref: request.idempotencyKey },
    decide: (state, access, now, randomSuffix) => decideAdd(request, state, access, now, randomSuffix),
  };
}
