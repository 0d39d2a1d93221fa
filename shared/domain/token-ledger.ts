import { expiresAfter } from './periods';
import type { PeriodReset } from './token-balances';

/** Ledger entries are kept 400 days (a year of statements plus a month of disputes), then DynamoDB's TTL removes them. */
export const LEDGER_RETENTION_DAYS = 400;

export type LedgerKind = 'consume' | 'add' | 'reset' | 'top-up' | 'refund' | 'dispute' | 'dispute-reversal';

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
  /** A metered feature's use: the feature (amount and balance count its uses, not tokens). */
  feature?: string;
  /** For consumes: how the amount was split. */
  fromAllowance?: number;
  fromPurchased?: number;
  at: string;
  /** Epoch seconds; DynamoDB's TTL deletes the entry after LEDGER_RETENTION_DAYS. */
  expiresAt: number;
}

/** What an entry says; its id, time text and expiry follow from them. Kinds may add fields of their own (a refund's Stripe id). */
export type LedgerFields = Omit<LedgerEntry, 'entryId' | 'at' | 'expiresAt'> & { at: Date };

export function ledgerEntry<F extends LedgerFields>(fields: F, randomSuffix: string, position = 0): LedgerEntry & Omit<F, 'at'> {
  const at = fields.at.toISOString();
  const entry: Record<string, unknown> = {
    ...fields,
    entryId: `${at}#${position}#${fields.kind}#${randomSuffix}`,
    at,
    expiresAt: expiresAfter(fields.at, LEDGER_RETENTION_DAYS),
  };
  // Optional fields are left out rather than stored empty.
  for (const [k, v] of Object.entries(entry)) if (v === undefined) delete entry[k];
  return entry as LedgerEntry & Omit<F, 'at'>;
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

/** The entries of one write: the period's reset first when the write opens a new period, then the write's own entry. */
export function writeEntries<F extends LedgerFields>(reset: PeriodReset | undefined, fields: F, randomSuffix: () => string): LedgerEntry[] {
  const entries = reset ? [resetEntry(fields.userId, reset, randomSuffix())] : [];
  entries.push(ledgerEntry(fields, randomSuffix(), entries.length));
  return entries;
}
