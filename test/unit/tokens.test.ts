import { buildTierCatalogue, DEFAULT_TIER_SETTINGS } from '../../shared/domain/tiers';
import { newEntitlement, type EntitlementRecord } from '../../shared/domain/entitlement';
import {
  LEDGER_RETENTION_DAYS,
  MAX_TOKEN_AMOUNT,
  decideConsume,
  describeStatus,
  describeTokens,
  isValidTokenAmount,
  ledgerEntry,
  monthlyAllowance,
  planAdd,
  planConsume,
  resetsAt,
  splitConsumption,
  tokenPeriodOf,
} from '../../shared/domain/tokens';
import { addBody, consumeBody, tierBody, userPath } from '../../shared/http/schemas';

const catalogue = buildTierCatalogue(DEFAULT_TIER_SETTINGS);
const at = (iso: string) => new Date(iso);
const row = (fields: Partial<EntitlementRecord>): EntitlementRecord => ({ ...newEntitlement('u1', at('2026-01-01T00:00:00Z')), ...fields });

describe('token periods (UTC months)', () => {
  it.each([
    ['2026-01-31T23:59:59.999Z', '2026-01', '2026-02-01T00:00:00.000Z'],
    ['2026-02-01T00:00:00.000Z', '2026-02', '2026-03-01T00:00:00.000Z'],
    ['2026-12-31T23:59:59.999Z', '2026-12', '2027-01-01T00:00:00.000Z'],
    ['2027-02-28T23:59:59.999Z', '2027-02', '2027-03-01T00:00:00.000Z'],
    ['2028-02-28T12:00:00.000Z', '2028-02', '2028-03-01T00:00:00.000Z'],
    ['2028-02-29T23:59:59.999Z', '2028-02', '2028-03-01T00:00:00.000Z'],
    ['2028-03-01T00:00:00.000Z', '2028-03', '2028-04-01T00:00:00.000Z'],
    // 00:30 on the 1st in Paris is still the 31st in UTC.
    ['2026-02-01T00:30:00.000+01:00', '2026-01', '2026-02-01T00:00:00.000Z'],
  ])('%s is in %s and resets at %s', (now, period, reset) => {
    expect(tokenPeriodOf(at(now))).toBe(period);
    expect(resetsAt(at(now)).toISOString()).toBe(reset);
  });
});

describe('allowances and the token view', () => {
  it('takes allowances from the catalogue (null = unlimited, unknown tier = nothing)', () => {
    expect(monthlyAllowance(catalogue, 'tester')).toBe(1000);
    expect(monthlyAllowance(catalogue, 'free')).toBe(0);
    expect(monthlyAllowance(catalogue, 'admin')).toBeNull();
    expect(monthlyAllowance(catalogue, 'platinum')).toBe(0);
  });

  it('shows no row as a free user with nothing', () => {
    expect(describeTokens(undefined, catalogue, at('2026-05-10T00:00:00Z'))).toEqual({
      remaining: 0,
      monthlyAllowance: 0,
      purchased: 0,
      usedThisPeriod: 0,
      resetsAt: '2026-06-01T00:00:00.000Z',
    });
  });

  it('reads a row from an earlier month as a fresh period, purchased tokens kept', () => {
    const stale = row({ tier: 'tester', tokenPeriod: '2026-04', tokensUsedThisPeriod: 900, tokensAllowanceUsed: 900, tokensPurchased: 7 });
    expect(describeTokens(stale, catalogue, at('2026-05-01T00:00:00Z'))).toEqual({
      remaining: 1007,
      monthlyAllowance: 1000,
      purchased: 7,
      usedThisPeriod: 0,
      resetsAt: '2026-06-01T00:00:00.000Z',
    });
    expect(describeTokens(stale, catalogue, at('2026-04-30T23:59:59.999Z')).remaining).toBe(107);
  });

  it('never reads a period backwards when the clock is a little behind', () => {
    const ahead = row({ tier: 'tester', tokenPeriod: '2026-05', tokensUsedThisPeriod: 10, tokensPurchased: 0 });
    expect(describeTokens(ahead, catalogue, at('2026-04-30T23:59:59.990Z'))).toMatchObject({ usedThisPeriod: 10, remaining: 990, resetsAt: '2026-06-01T00:00:00.000Z' });
  });

  it('shows unlimited tiers as null but still counts their usage', () => {
    const admin = row({ tier: 'admin', tokenPeriod: '2026-05', tokensUsedThisPeriod: 123456, tokensPurchased: 5 });
    expect(describeTokens(admin, catalogue, at('2026-05-02T00:00:00Z'))).toMatchObject({ remaining: null, monthlyAllowance: null, usedThisPeriod: 123456, purchased: 5 });
  });

  it('floors the allowance at zero after a downgrade and keeps purchased tokens', () => {
    const downgraded = row({ tier: 'basic', tokenPeriod: '2026-05', tokensUsedThisPeriod: 3000, tokensAllowanceUsed: 3000, tokensPurchased: 40 });
    expect(describeTokens(downgraded, catalogue, at('2026-05-02T00:00:00Z')).remaining).toBe(40);
  });

  it('gives the status with canMakeRequest', () => {
    const now = at('2026-05-02T00:00:00Z');
    expect(describeStatus(row({ tier: 'free' }), catalogue, now)).toMatchObject({ userId: 'u1', tier: 'free', status: 'none', canMakeRequest: false, tierSticky: false });
    expect(describeStatus(row({ tier: 'free', tokensPurchased: 1 }), catalogue, now).canMakeRequest).toBe(true);
    expect(describeStatus(row({ tier: 'admin', tierStickyValue: 'admin' }), catalogue, now)).toMatchObject({ canMakeRequest: true, tierSticky: true });
  });
});

describe('consumption', () => {
  const may = at('2026-05-10T00:00:00Z');

  it('splits allowance first, purchased after', () => {
    expect(splitConsumption(5, 10, 0)).toEqual({ fromAllowance: 5, fromPurchased: 0 });
    expect(splitConsumption(15, 10, 7)).toEqual({ fromAllowance: 10, fromPurchased: 5 });
    expect(splitConsumption(17, 10, 7)).toEqual({ fromAllowance: 10, fromPurchased: 7 });
    expect(splitConsumption(18, 10, 7)).toBeUndefined();
    expect(splitConsumption(10 ** 6, null, 0)).toEqual({ fromAllowance: 10 ** 6, fromPurchased: 0 });
  });

  it('spends the allowance, then purchased tokens, and refuses below zero', () => {
    const start = row({ tier: 'tester', tokenPeriod: '2026-05', tokensUsedThisPeriod: 995, tokensAllowanceUsed: 995, tokensPurchased: 10 });
    const plan = planConsume(start, 8, catalogue, may);
    expect(plan).toEqual({
      ok: true,
      split: { fromAllowance: 5, fromPurchased: 3 },
      next: { tokenPeriod: '2026-05', tokensUsedThisPeriod: 1003, tokensAllowanceUsed: 1000, tokensPurchased: 7 },
      remaining: 7,
      reset: undefined,
    });
    expect(planConsume(start, 16, catalogue, may)).toEqual({ ok: false, remaining: 15 });
  });

  it('folds the monthly reset into the first write of a month', () => {
    const april = row({ tier: 'tester', tokenPeriod: '2026-04', tokensUsedThisPeriod: 1000, tokensAllowanceUsed: 1000, tokensPurchased: 2 });
    const plan = planConsume(april, 4, catalogue, at('2026-05-01T00:00:00.000Z'));
    expect(plan).toMatchObject({
      ok: true,
      next: { tokenPeriod: '2026-05', tokensUsedThisPeriod: 4, tokensAllowanceUsed: 4, tokensPurchased: 2 },
      remaining: 998,
      reset: { period: '2026-05', previousPeriod: '2026-04', allowance: 1000, balanceAfter: 1002 },
    });
    expect(plan.ok && plan.reset?.at.toISOString()).toBe('2026-05-01T00:00:00.000Z');
    // The same row one millisecond earlier is still April: 2 purchased tokens left.
    expect(planConsume(april, 4, catalogue, at('2026-04-30T23:59:59.999Z'))).toEqual({ ok: false, remaining: 2 });
  });

  it('starts the first period without a reset entry', () => {
    const plan = planConsume(row({ tier: 'tester' }), 1, catalogue, may);
    expect(plan).toMatchObject({ ok: true, next: { tokenPeriod: '2026-05' } });
    expect(plan.ok && plan.reset).toBeUndefined();
  });

  it('counts unlimited usage without touching purchased tokens', () => {
    const plan = planConsume(row({ tier: 'admin', tokensPurchased: 3 }), MAX_TOKEN_AMOUNT, catalogue, may);
    expect(plan).toMatchObject({ ok: true, remaining: null, next: { tokensUsedThisPeriod: MAX_TOKEN_AMOUNT, tokensPurchased: 3 } });
  });

  it('adds purchased tokens on top of the allowance', () => {
    expect(planAdd(row({ tier: 'tester', tokenPeriod: '2026-05', tokensUsedThisPeriod: 1000 }), 50, catalogue, may)).toMatchObject({
      next: { tokensPurchased: 50, tokensUsedThisPeriod: 1000 },
      remaining: 50,
    });
  });

  it('refuses amounts that are not positive whole numbers, as a guard against a caller bug', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1]) {
      expect(() => planConsume(row({}), bad, catalogue, may)).toThrow(RangeError);
      expect(() => planAdd(row({}), bad, catalogue, may)).toThrow(RangeError);
    }
  });

  it('writes a consume as its ledger entry (and the reset entry first when the month turned)', () => {
    const april = row({ tier: 'tester', tokenPeriod: '2026-04', tokensUsedThisPeriod: 5, tokensPurchased: 0 });
    let n = 0;
    const decision = decideConsume({ userId: 'u1', amount: 3, idempotencyKey: 'req-1' }, april, catalogue, may, () => `r${n++}`);
    expect(decision.write && decision.entries.map((e) => [e.kind, e.amount, e.balanceAfter, e.period])).toEqual([
      ['reset', 1000, 1000, '2026-05'],
      ['consume', 3, 997, '2026-05'],
    ]);
    expect(decision.write && decision.response).toEqual({ consumed: 3, remaining: 997 });
  });
});

describe('ledger entries', () => {
  it('sort by time, say what happened, and expire after the retention', () => {
    const entry = ledgerEntry({ userId: 'u1', kind: 'top-up', amount: 500, balanceAfter: 520, period: '2026-05', idempotencyKey: 'topup:cs_1', reason: 'Stripe checkout cs_1', at: at('2026-05-10T12:00:00.000Z') }, 'abc');
    expect(entry).toEqual({
      userId: 'u1',
      entryId: '2026-05-10T12:00:00.000Z#0#top-up#abc',
      kind: 'top-up',
      amount: 500,
      balanceAfter: 520,
      period: '2026-05',
      idempotencyKey: 'topup:cs_1',
      reason: 'Stripe checkout cs_1',
      at: '2026-05-10T12:00:00.000Z',
      expiresAt: Date.parse('2026-05-10T12:00:00.000Z') / 1000 + LEDGER_RETENTION_DAYS * 86400,
    });
    const later = ledgerEntry({ userId: 'u1', kind: 'add', amount: 1, balanceAfter: 1, period: '2026-05', at: at('2026-05-10T12:00:00.001Z') }, '000');
    expect([later.entryId, entry.entryId].sort()).toEqual([entry.entryId, later.entryId]);
    expect(Object.keys(later)).not.toContain('reason');
  });
});

describe('token request validation', () => {
  const ok = { amount: 5, idempotencyKey: 'req_01:a.b-c' };

  it('accepts whole amounts from 1 to the maximum and well-formed keys', () => {
    expect(consumeBody.parse(ok)).toEqual(ok);
    expect(consumeBody.parse({ ...ok, amount: MAX_TOKEN_AMOUNT }).amount).toBe(MAX_TOKEN_AMOUNT);
    expect(consumeBody.parse({ ...ok, idempotencyKey: 'k'.repeat(128) })).toBeDefined();
    expect(isValidTokenAmount(1)).toBe(true);
  });

  it.each([
    ['zero', { ...ok, amount: 0 }, 'amount'],
    ['negative', { ...ok, amount: -3 }, 'amount'],
    ['fractional', { ...ok, amount: 1.5 }, 'amount'],
    ['huge', { ...ok, amount: MAX_TOKEN_AMOUNT + 1 }, 'amount'],
    ['astronomical', { ...ok, amount: 1e300 }, 'amount'],
    ['a string', { ...ok, amount: '5' }, 'amount'],
    ['missing amount', { idempotencyKey: 'k' }, 'amount'],
    ['missing key', { amount: 1 }, 'idempotencyKey'],
    ['empty key', { ...ok, idempotencyKey: '' }, 'idempotencyKey'],
    ['key with a space', { ...ok, idempotencyKey: 'a b' }, 'idempotencyKey'],
    ['key too long', { ...ok, idempotencyKey: 'k'.repeat(129) }, 'idempotencyKey'],
  ])('refuses %s, naming the field', (_name, body, field) => {
    const result = consumeBody.safeParse(body);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.'))).toContain(field);
    if (field === 'amount') expect(isValidTokenAmount((body as { amount?: unknown }).amount)).toBe(false);
  });

  it('requires a reason for grants and a tier name for overrides', () => {
    expect(addBody.safeParse({ amount: 1, idempotencyKey: 'k' }).error?.issues[0]?.path).toEqual(['reason']);
    expect(addBody.safeParse({ amount: 1, idempotencyKey: 'k', reason: '   ' }).error?.issues[0]?.path).toEqual(['reason']);
    expect(tierBody.safeParse({}).error?.issues[0]?.path).toEqual(['tier']);
    expect(tierBody.safeParse({ tier: 'pro', sticky: 'yes' }).error?.issues[0]?.path).toEqual(['sticky']);
  });

  it('accepts opaque user ids and refuses ones that could break keys', () => {
    expect(userPath.safeParse({ userId: '3f1c2a9e-0b7d-4c55-9a43-2d1f0e6b7c88' }).success).toBe(true);
    for (const bad of ['', 'a:b', 'a b', 'x'.repeat(129)]) expect(userPath.safeParse({ userId: bad }).success).toBe(false);
  });
});
