/**
 * Allowance periods: the window a monthly allowance (tokens, API calls)
 * belongs to, and when it resets.
 *
 * - `billing`: tiers bought through Stripe follow the subscription item's
 *   current period [current_period_start, current_period_end): the allowance
 *   resets when Stripe starts a new paid period, never on the 1st. Until
 *   Stripe reports the next period (the renewal's webhook), the old period
 *   goes on: a new allowance comes with a new paid period, not with the clock.
 * - `calendar`: tiers without a subscription (tester, admin-set, free) reset
 *   at 00:00 UTC on the 1st.
 *
 * A period's `id` is its start as ISO text, so ids of both kinds sort in time
 * order (a stored period is never read backwards). Rows written before
 * billing periods existed hold 'YYYY-MM'; they read as that month's start.
 */
export type PeriodAnchor = 'billing' | 'calendar';

export interface AllowancePeriod {
  /** The start, ISO 8601 in UTC with milliseconds. */
  id: string;
  start: Date;
  /** When the allowance of this period resets. */
  end: Date;
  anchor: PeriodAnchor;
}

/** 'YYYY-MM' of a date, in UTC: the calendar month (API-call counters of old rows, ledger statements). */
export function monthOf(date: Date): string {
  return `${date.getUTCFullYear().toString().padStart(4, '0')}-${String(date.getUTCMonth() + 1).padStart(2, '0')}`;
}

/** The calendar month containing `date`: 00:00 UTC on the 1st to the next 1st. */
export function calendarPeriod(date: Date): AllowancePeriod {
  const start = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1));
  const end = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1));
  return { id: start.toISOString(), start, end, anchor: 'calendar' };
}

/** Stripe's current period of the subscription item; undefined when it is missing or not a period. */
export function billingPeriod(start: string | null | undefined, end: string | null | undefined): AllowancePeriod | undefined {
  if (!start || !end) return undefined;
  const s = new Date(start);
  const e = new Date(end);
  if (Number.isNaN(s.getTime()) || Number.isNaN(e.getTime()) || e.getTime() <= s.getTime()) return undefined;
  return { id: s.toISOString(), start: s, end: e, anchor: 'billing' };
}

const LEGACY_MONTH = /^(\d{4})-(\d{2})$/;

/** A stored period id, normalised: legacy 'YYYY-MM' becomes the ISO start of that month. */
export function normalisePeriodId(stored: string): string {
  const legacy = LEGACY_MONTH.exec(stored);
  return legacy ? new Date(Date.UTC(Number(legacy[1]), Number(legacy[2]) - 1, 1)).toISOString() : stored;
}

/**
 * The period a row's counters count in at `now`: the current one, or the
 * stored one when that is later (a clock a little behind at the boundary, or
 * a calendar period that began after the billing period now in force). A
 * later calendar period keeps its own end; a later period under a billing
 * anchor ends with the billing period.
 */
export function effectivePeriod(storedId: string | undefined, current: AllowancePeriod): AllowancePeriod {
  if (storedId === undefined) return current;
  const stored = normalisePeriodId(storedId);
  if (stored <= current.id) return current;
  const start = new Date(stored);
  if (current.anchor === 'calendar') return { ...calendarPeriod(start), id: stored };
  return { ...current, id: stored, start };
}

const DAY_SECONDS = 24 * 60 * 60;

/** Epoch seconds `days` after `from`: when DynamoDB's TTL drops an item kept that long (ledger, usage, idempotency records). */
export function expiresAfter(from: Date, days: number): number {
  return Math.floor(from.getTime() / 1000) + days * DAY_SECONDS;
}

/** Seconds from `now` until `period` resets (at least 1): the Retry-After of a monthly limit. */
export function secondsUntilEnd(period: AllowancePeriod, now: Date): number {
  return Math.max(1, Math.ceil((period.end.getTime() - now.getTime()) / 1000));
}
