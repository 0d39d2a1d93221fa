import { addMonths, periodEnd, periodStart } from '../../infra/local/stripe/periods';

const at = (iso: string) => Date.parse(iso) / 1000;
const iso = (unix: number) => new Date(unix * 1000).toISOString();

describe('billing periods', () => {
  it('adds calendar months keeping the time of day', () => {
    expect(iso(addMonths(at('2025-03-15T10:20:30Z'), 1))).toBe('2025-04-15T10:20:30.000Z');
    expect(iso(addMonths(at('2025-12-15T00:00:00Z'), 1))).toBe('2026-01-15T00:00:00.000Z');
    expect(iso(addMonths(at('2025-01-15T00:00:00Z'), -1))).toBe('2024-12-15T00:00:00.000Z');
  });

  it('falls back to the last day of short months', () => {
    expect(iso(addMonths(at('2025-01-31T12:00:00Z'), 1))).toBe('2025-02-28T12:00:00.000Z');
    expect(iso(addMonths(at('2024-01-31T12:00:00Z'), 1))).toBe('2024-02-29T12:00:00.000Z');
  });

  it('counts every period from the anchor, so the anchor day comes back', () => {
    const anchor = at('2025-01-31T12:00:00Z');
    expect(iso(periodEnd(anchor, 'month', 1, 0))).toBe('2025-02-28T12:00:00.000Z');
    expect(iso(periodStart(anchor, 'month', 1, 1))).toBe('2025-02-28T12:00:00.000Z');
    expect(iso(periodEnd(anchor, 'month', 1, 1))).toBe('2025-03-31T12:00:00.000Z');
    expect(periodStart(anchor, 'month', 1, 0)).toBe(anchor);
  });

  it('handles day, week and year intervals', () => {
    const anchor = at('2025-01-01T00:00:00Z');
    expect(periodEnd(anchor, 'day', 1, 0) - anchor).toBe(86_400);
    expect(periodEnd(anchor, 'week', 2, 0) - anchor).toBe(14 * 86_400);
    expect(iso(periodEnd(anchor, 'year', 1, 1))).toBe('2027-01-01T00:00:00.000Z');
  });
});
