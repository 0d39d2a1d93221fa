import { createHash } from 'node:crypto';
import { expiresAfter } from './periods';

/**
 * Idempotency records of token writes: a repeat of a request (same key, same
 * fingerprint) is answered with the first answer; another request under the
 * same key is a conflict. The record is stored in the same write as the
 * counters and the ledger entries (./token-writes.ts).
 */

/** Client-chosen idempotency keys: 1-128 characters, no spaces or slashes. */
export const IDEMPOTENCY_KEY_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;
/** A consume key answers the same for 7 days: far beyond any client's retry window. */
export const CONSUME_KEY_RETENTION_DAYS = 7;
/** Grants and top-ups remember their key for 35 days: longer than Stripe keeps (and can resend) an event. */
export const ADD_KEY_RETENTION_DAYS = 35;

export type IdempotentOperation = 'tokens-consume' | 'tokens-add' | 'tokens-adjust';

/** What a request is remembered as: its record's key, who asked what, and for how long. */
export interface IdempotentRequest {
  /** `consume:<userId>:<key>`, `add:<userId>:<key>` or `adjust:<userId>:<key>`. */
  key: string;
  operation: IdempotentOperation;
  userId: string;
  /** SHA-256 of the request's meaningful fields: a different request under the same key is a conflict. */
  fingerprint: string;
  retentionDays: number;
}

/** What an idempotency record remembers: who asked what, and the first answer. */
export interface IdempotencyRecord<R> extends Omit<IdempotentRequest, 'retentionDays'> {
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

/** A token consume keeps its historical fingerprint; a metered feature's names the feature (the same key for another feature is a conflict). */
export const consumeFingerprint = (amount: number, feature?: string): string =>
  requestFingerprint(feature === undefined ? ['consume', amount] : ['consume', amount, 'feature', feature]);
export const addFingerprint = (request: { tokens: number; reason: string; kind: string }): string =>
  requestFingerprint(['add', request.kind, request.tokens, request.reason]);

export function idempotencyRecord<R>({ key, operation, userId, fingerprint, retentionDays }: IdempotentRequest, response: R, now: Date): IdempotencyRecord<R> {
  return { key, operation, userId, fingerprint, response, createdAt: now.toISOString(), expiresAt: expiresAfter(now, retentionDays) };
}

/** How a request found under an existing record is answered: the first answer, or a conflict when it asked something else. */
export function replayOf<R>(record: IdempotencyRecord<R>, fingerprint: string): { kind: 'replayed'; response: R } | { kind: 'conflict' } {
  return record.fingerprint === fingerprint ? { kind: 'replayed', response: record.response } : { kind: 'conflict' };
}
