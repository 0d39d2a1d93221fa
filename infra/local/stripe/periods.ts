/**
 * Billing period arithmetic the way Stripe does it for monthly prices: periods
 * are counted from the billing cycle anchor, and a day that a month lacks
 * falls back to that month's last day (anchor Jan 31 -> Feb 28 -> Mar 31), so
 * the anchor day is never lost.
 */

const daysInMonth = (year: number, month: number) => new Date(Date.UTC(year, month + 1, 0)).getUTCDate();

/** `months` calendar months after `unixSec`, keeping the time of day. */
export function addMonths(unixSec: number, months: number): number {
  const d = new Date(unixSec * 1000);
  const total = d.getUTCFullYear() * 12 + d.getUTCMonth() + months;
  const year = Math.floor(total / 12);
  const month = total - year * 12;
  const day = Math.min(d.getUTCDate(), daysInMonth(year, month));
  return Date.UTC(year, month, day, d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()) / 1000;
}

export type Interval = 'day' | 'week' | 'month' | 'year';

/** The end of period number `cycle` (0 = the first) of a price billed every `count` `interval`s from `anchor`. */
export function periodEnd(anchor: number, interval: Interval, count: number, cycle: number): number {
  const n = (cycle + 1) * count;
  switch (interval) {
    case 'day':
      return anchor + n * 86_400;
    case 'week':
      return anchor + n * 7 * 86_400;
    case 'month':
      return addMonths(anchor, n);
    case 'year':
      return addMonths(anchor, n * 12);
  }
}

/** The start of period number `cycle`: the anchor itself, or the end of the previous period. */
export function periodStart(anchor: number, interval: Interval, count: number, cycle: number): number {
  return cycle === 0 ? anchor : periodEnd(anchor, interval, count, cycle - 1);
}
