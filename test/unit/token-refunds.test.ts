import { calendarPeriod } from '../../shared/domain/periods';
import { decideAdjustment, disputeClawback, disputeEffect, refundClawbacks, type PurchasedTokenAdjustment } from '../../shared/domain/token-refunds';

const purchase = { tokens: 300, amount: 1500 };
const refund = (id: string, amount: number, created: number, status: string | null = 'succeeded') => ({ id, amount, created, status });

describe('refundClawbacks', () => {
  it('a full refund takes every token', () => {
    expect(refundClawbacks(purchase, [refund('re_1', 1500, 1)])).toEqual([{ refundId: 're_1', tokens: 300 }]);
  });

  it('partial refunds take their share, rounded so that together they take exactly all', () => {
    const parts = refundClawbacks({ tokens: 100, amount: 1000 }, [refund('re_c', 334, 3), refund('re_a', 333, 1), refund('re_b', 333, 2)]);
    expect(parts).toEqual([
      { refundId: 're_a', tokens: 33 },
      { refundId: 're_b', tokens: 33 },
      { refundId: 're_c', tokens: 34 },
    ]);
    expect(parts.reduce((sum, p) => sum + p.tokens, 0)).toBe(100);
  });

  it('counts only succeeded refunds', () => {
    expect(refundClawbacks(purchase, [refund('re_1', 500, 1, 'pending'), refund('re_2', 500, 2, 'failed'), refund('re_3', 500, 3)])).toEqual([{ refundId: 're_3', tokens: 100 }]);
  });
});

describe('disputes', () => {
  it('take the disputed share', () => {
    expect(disputeClawback(purchase, 1500)).toBe(300);
    expect(disputeClawback(purchase, 750)).toBe(150);
    expect(disputeClawback(purchase, 99_999)).toBe(300);
  });

  it.each([
    ['needs_response', 'take'],
    ['under_review', 'take'],
    ['warning_needs_response', 'take'],
    ['lost', 'take'],
    ['won', 'give-back'],
    ['warning_closed', 'give-back'],
    ['prevented', 'give-back'],
    ['something_new', 'none'],
  ])('status %s: %s', (status, effect) => {
    expect(disputeEffect(status)).toBe(effect);
  });
});

describe('decideAdjustment', () => {
  const now = new Date('2026-11-30T12:00:00Z');
  const access = { monthlyTokens: 1000, period: calendarPeriod(now) };
  const period = calendarPeriod(now).id;
  const request = (over: Partial<PurchasedTokenAdjustment>): PurchasedTokenAdjustment => ({
    userId: 'u1',
    idempotencyKey: 'refund:re_1',
    kind: 'refund',
    direction: 'take',
    tokens: 300,
    stripeId: 're_1',
    reason: 'test',
    ...over,
  });
  const suffix = () => 'abc';

  it('takes purchased tokens only, with a ledger entry naming the Stripe object', () => {
    const decision = decideAdjustment(request({}), { tier: 'basic', status: 'active', tokenPeriod: period, tokensUsedThisPeriod: 10, tokensAllowanceUsed: 10, tokensPurchased: 500 }, access, now, suffix);
    if (!decision.write) throw new Error('expected a write');
    expect(decision.counters).toEqual({ tokenPeriod: period, tokensUsedThisPeriod: 10, tokensAllowanceUsed: 10, tokensPurchased: 200 });
    expect(decision.response).toEqual({ requested: 300, applied: 300, shortfall: 0, remaining: 990 + 200 });
    expect(decision.entries).toEqual([expect.objectContaining({ kind: 'refund', amount: -300, stripeId: 're_1', idempotencyKey: 'refund:re_1', balanceAfter: 1190 })]);
    expect(decision.entries[0]).not.toHaveProperty('shortfall');
  });

  it('never goes below zero: what was spent is the shortfall, recorded', () => {
    const decision = decideAdjustment(request({}), { tier: 'basic', status: 'active', tokenPeriod: period, tokensPurchased: 120 }, access, now, suffix);
    if (!decision.write) throw new Error('expected a write');
    expect(decision.counters.tokensPurchased).toBe(0);
    expect(decision.response).toMatchObject({ applied: 120, shortfall: 180 });
    expect(decision.entries[0]).toMatchObject({ amount: -120, shortfall: 180 });
  });

  it('gives back exactly what it is told (a dispute won)', () => {
    const decision = decideAdjustment(request({ direction: 'give', kind: 'dispute-reversal', tokens: 120, idempotencyKey: 'dispute-won:dp_1', stripeId: 'dp_1' }), { tier: 'free', status: 'none', tokenPeriod: period, tokensPurchased: 0 }, { ...access, monthlyTokens: 0 }, now, suffix);
    if (!decision.write) throw new Error('expected a write');
    expect(decision.counters.tokensPurchased).toBe(120);
    expect(decision.entries[0]).toMatchObject({ kind: 'dispute-reversal', amount: 120, stripeId: 'dp_1' });
  });

  it('folds in the period reset like every token write', () => {
    const decision = decideAdjustment(request({ tokens: 50 }), { tier: 'basic', status: 'active', tokenPeriod: '2026-10-01T00:00:00.000Z', tokensUsedThisPeriod: 900, tokensAllowanceUsed: 900, tokensPurchased: 80 }, access, now, suffix);
    if (!decision.write) throw new Error('expected a write');
    expect(decision.counters).toMatchObject({ tokenPeriod: period, tokensUsedThisPeriod: 0, tokensAllowanceUsed: 0, tokensPurchased: 30 });
    expect(decision.entries.map((e) => e.kind)).toEqual(['reset', 'refund']);
  });

  it('refuses negative or fractional amounts', () => {
    expect(() => decideAdjustment(request({ tokens: -1 }), {}, access, now, suffix)).toThrow(RangeError);
    expect(() => decideAdjustment(request({ tokens: 1.5 }), {}, access, now, suffix)).toThrow(RangeError);
  });
});
