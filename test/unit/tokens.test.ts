import { catalogueWith, defaultCatalogue } from '../fixtures/catalogue';
import { DEFAULT_ACCESS_POLICY, adminTierFields, decideAccess } from '../../shared/domain/access';
import { NO_SUBSCRIPTION, newEntitlement, type EntitlementRecord } from '../../shared/domain/entitlement';
import { calendarPeriod, monthOf } from '../../shared/domain/periods';
import { MAX_TOKEN_AMOUNT, isValidTokenAmount, planAdd, planConsume, splitConsumption } from '../../shared/domain/token-balances';
import { LEDGER_RETENTION_DAYS, ledgerEntry } from '../../shared/domain/token-ledger';
import { describeStatus, describeTokens } from '../../shared/domain/token-views';
import { decideConsume } from '../../shared/domain/token-writes';
import { addBody, consumeBody, tierBody, userPath } from '../../shared/http/schemas';
import { INVALID_CONSUME_BODIES } from '../fixtures/tokens';

const catalogue = defaultCatalogue();
const at = (iso: string) => new Date(iso);
const row = (fields: Partial<EntitlementRecord>): EntitlementRecord => ({ ...newEntitlement('u1', at('2026-01-01T00:00:00Z')), ...fields });
/** A tier an admin set: calendar months. */
const adminTier = (tier: EntitlementRecord['tier'], fields: Partial<EntitlementRecord> = {}) => row({ ...adminTierFields(tier, NO_SUBSCRIPTION), ...fields });
/** A Stripe subscriber: the item's current period. */
const subscriber = (tier: EntitlementRecord['tier'], start: string, end: string, fields: Partial<EntitlementRecord> = {}) =>
  row({ tier, status: 'active', currentPeriodStart: start, currentPeriodEnd: end, ...fields });
const access = (record: EntitlementRecord | undefined, now: Date) => decideAccess(record, catalogue, DEFAULT_ACCESS_POLICY, now);
const tokens = (record: EntitlementRecord | undefined, now: Date) => describeTokens(record, access(record, now));
const month = (m: string) => `${m}-01T00:00:00.000Z`;

describe('calendar periods (UTC months)', () => {
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
    expect(monthOf(at(now))).toBe(period);
    expect(calendarPeriod(at(now))).toMatchObject({ id: month(period), anchor: 'calendar' });
    expect(calendarPeriod(at(now)).end.toISOString()).toBe(reset);
  });
});

describe('allowances and the token view', () => {
  it('takes allowances from the access decision (null = unlimited, no plan = nothing)', () => {
    const now = at('2026-05-10T00:00:00Z');
    expect(tokens(adminTier('tester'), now).monthlyAllowance).toBe(1000);
    expect(tokens(row({ tier: 'free' }), now).monthlyAllowance).toBe(0);
    expect(tokens(adminTier('admin'), now).monthlyAllowance).toBeNull();
    // A paid tier without a subscription in force (none, canceled, past_due without grace) has no allowance.
    expect(tokens(row({ tier: 'pro', status: 'past_due' }), now).monthlyAllowance).toBe(0);
    expect(tokens(row({ tier: 'enterprise', status: 'past_due' }), now).remaining).toBe(0);
  });

  it('shows no row as a free user with nothing', () => {
    expect(tokens(undefined, at('2026-05-10T00:00:00Z'))).toEqual({
      remaining: 0,
      monthlyAllowance: 0,
      purchased: 0,
      usedThisPeriod: 0,
      resetsAt: '2026-06-01T00:00:00.000Z',
      periodAnchor: 'calendar',
    });
  });

  it('reads a row from an earlier month as a fresh period, purchased tokens kept (legacy YYYY-MM periods too)', () => {
    for (const stored of ['2026-04', month('2026-04')]) {
      const stale = adminTier('tester', { tokenPeriod: stored, tokensUsedThisPeriod: 900, tokensAllowanceUsed: 900, tokensPurchased: 7 });
      expect(tokens(stale, at('2026-05-01T00:00:00Z'))).toEqual({
        remaining: 1007,
        monthlyAllowance: 1000,
        purchased: 7,
        usedThisPeriod: 0,
        resetsAt: '2026-06-01T00:00:00.000Z',
        periodAnchor: 'calendar',
      });
      expect(tokens(stale, at('2026-04-30T23:59:59.999Z')).remaining).toBe(107);
    }
  });

  it('never reads a period backwards when the clock is a little behind', () => {
    const ahead = adminTier('tester', { tokenPeriod: month('2026-05'), tokensUsedThisPeriod: 10, tokensPurchased: 0 });
    expect(tokens(ahead, at('2026-04-30T23:59:59.990Z'))).toMatchObject({ usedThisPeriod: 10, remaining: 990, resetsAt: '2026-06-01T00:00:00.000Z' });
  });

  it('shows unlimited tiers as null but still counts their usage', () => {
    const admin = adminTier('admin', { tokenPeriod: month('2026-05'), tokensUsedThisPeriod: 123456, tokensPurchased: 5 });
    expect(tokens(admin, at('2026-05-02T00:00:00Z'))).toMatchObject({ remaining: null, monthlyAllowance: null, usedThisPeriod: 123456, purchased: 5 });
  });

  it('floors the allowance at zero after a downgrade and keeps purchased tokens', () => {
    const downgraded = adminTier('basic', { tokenPeriod: month('2026-05'), tokensUsedThisPeriod: 3000, tokensAllowanceUsed: 3000, tokensPurchased: 40 });
    expect(tokens(downgraded, at('2026-05-02T00:00:00Z')).remaining).toBe(40);
  });

  it('gives the status with canMakeRequest and the access reason', () => {
    const now = at('2026-05-02T00:00:00Z');
    const status = (r: EntitlementRecord) => describeStatus(r, access(r, now));
    expect(status(row({ tier: 'free' }))).toMatchObject({ userId: 'u1', tier: 'free', status: 'none', canMakeRequest: false, tierSticky: false, accessReason: 'no-subscription' });
    expect(status(row({ tier: 'free', tokensPurchased: 1 })).canMakeRequest).toBe(true);
    expect(status(row({ tier: 'admin', tierStickyValue: 'admin' }))).toMatchObject({ canMakeRequest: true, tierSticky: true, accessReason: 'admin-tier', premium: true });
    // past_due without grace: nothing paid, the stored plan tier is not what applies.
    expect(status(row({ tier: 'pro', status: 'past_due' }))).toMatchObject({ tier: 'free', premium: false, canMakeRequest: false, accessReason: 'past-due' });
  });
});

describe('billing-anchored periods (tiers bought through Stripe)', () => {
  const start = '2026-11-30T10:00:00.000Z';
  const end = '2026-12-30T10:00:00.000Z';

  it('gives one allowance per paid period: subscribing on the 30th does not earn another on the 1st', () => {
    // Regression: the allowance used to reset at 00:00 UTC on the 1st for every tier.
    const spent = subscriber('pro', start, end, { tokenPeriod: start, tokensUsedThisPeriod: 5000, tokensAllowanceUsed: 5000 });
    expect(tokens(spent, at('2026-12-01T00:00:00.000Z'))).toMatchObject({ remaining: 0, usedThisPeriod: 5000, resetsAt: end, periodAnchor: 'billing' });
    expect(planConsume(spent, 1, access(spent, at('2026-12-01T00:00:00.000Z')))).toEqual({ ok: false, remaining: 0 });
  });

  it('resets when Stripe reports the next paid period, not before', () => {
    const spent = subscriber('pro', start, end, { tokenPeriod: start, tokensUsedThisPeriod: 5000, tokensAllowanceUsed: 5000, tokensPurchased: 3 });
    // The period is over but Stripe has not reported the renewal yet: no new allowance.
    expect(tokens(spent, at('2026-12-30T11:00:00.000Z')).remaining).toBe(3);
    const renewed = { ...spent, currentPeriodStart: end, currentPeriodEnd: '2027-01-30T10:00:00.000Z' };
    const plan = planConsume(renewed, 10, access(renewed, at('2026-12-30T11:00:00.000Z')));
    expect(plan).toMatchObject({ ok: true, remaining: 4993, next: { tokenPeriod: end, tokensAllowanceUsed: 10 }, reset: { period: end, previousPeriod: start, allowance: 5000, anchor: 'billing' } });
    expect(plan.ok && plan.reset?.at.toISOString()).toBe(end);
  });

  it('starts a fresh allowance when a subscription starts after calendar usage (a new paid period)', () => {
    const tester = subscriber('basic', '2026-05-20T08:00:00.000Z', '2026-06-20T08:00:00.000Z', { tokenPeriod: month('2026-05'), tokensUsedThisPeriod: 900, tokensAllowanceUsed: 900 });
    expect(tokens(tester, at('2026-05-21T00:00:00Z'))).toMatchObject({ remaining: 1000, usedThisPeriod: 0, periodAnchor: 'billing', resetsAt: '2026-06-20T08:00:00.000Z' });
  });

  it('upgrades add the difference at once and downgrades floor what is left, within the same paid period', () => {
    const used = { tokenPeriod: start, tokensUsedThisPeriod: 800, tokensAllowanceUsed: 800 };
    const now = at('2026-12-05T00:00:00Z');
    expect(tokens(subscriber('pro', start, end, used), now).remaining).toBe(4200);
    expect(tokens(subscriber('basic', start, end, used), now).remaining).toBe(200);
    expect(tokens(subscriber('basic', start, end, { ...used, tokensUsedThisPeriod: 3000, tokensAllowanceUsed: 3000 }), now).remaining).toBe(0);
  });

  it('keeps counters a later calendar period wrote when the billing period in force began earlier (past_due, then paid)', () => {
    // past_due without grace on Jan 1: free, calendar period; paid again on Jan 2: billing period [Dec 30, Jan 30).
    const recovered = subscriber('pro', end, '2027-01-30T10:00:00.000Z', { tokenPeriod: month('2027-01'), tokensUsedThisPeriod: 4, tokensAllowanceUsed: 0, tokensPurchased: 6 });
    expect(tokens(recovered, at('2027-01-02T00:00:00Z'))).toMatchObject({ remaining: 5006, usedThisPeriod: 4, resetsAt: '2027-01-30T10:00:00.000Z' });
    expect(tokens(recovered, at('2027-01-30T10:00:00Z')).usedThisPeriod).toBe(4); // no renewal reported yet
  });
});

describe('one period per paid period, whatever access does in between', () => {
  // A pro subscriber, paid period Oct 20 -> Nov 20 (across a calendar month).
  const paid = subscriber('pro', '2026-10-20T00:00:00.000Z', '2026-11-20T00:00:00.000Z', { tokensPurchased: 10 });
  const apply = (r: EntitlementRecord, amount: number, now: Date): EntitlementRecord => {
    const plan = planConsume(r, amount, access(r, now));
    if (!plan.ok) throw new Error(`refused: ${plan.remaining}`);
    return { ...r, ...plan.next };
  };

  it('past_due mid-period, a purchased token spent, then paid again: the spent allowance stays spent', () => {
    // Regression (review): the past_due write moved the counters to the calendar month, and recovery found them zeroed.
    let r = apply(paid, 5000, at('2026-10-25T00:00:00Z'));
    r = { ...r, status: 'past_due', pastDueSince: '2026-11-05T00:00:00.000Z' };
    r = apply(r, 1, at('2026-11-05T01:00:00Z'));
    r = { ...r, status: 'active' };
    delete r.pastDueSince;
    expect(tokens(r, at('2026-11-06T00:00:00Z')).remaining).toBe(9);
  });

  it('a revoke with a top-up, then clear: no second allowance', () => {
    let r = apply({ ...paid, tokensPurchased: 0 }, 5000, at('2026-10-25T00:00:00Z'));
    r = { ...r, premiumOverride: false };
    r = { ...r, ...planAdd(r, 100, access(r, at('2026-11-05T00:00:00Z'))).next };
    delete r.premiumOverride;
    expect(tokens(r, at('2026-11-06T00:00:00Z')).remaining).toBe(100);
  });

  it('keeps the paid period (and the API-call counter) for grants and admin tiers of a subscriber', () => {
    const now = at('2026-11-05T00:00:00Z');
    const billing = access(paid, now).period.id;
    expect(access({ ...paid, premiumOverride: true }, now).period.id).toBe(billing);
    expect(access({ ...paid, ...adminTierFields('tester', paid) }, now).period.id).toBe(billing);
    expect(access({ ...paid, status: 'past_due' }, now).period.id).toBe(billing);
    // Without a subscription in force, the calendar month.
    expect(access({ ...paid, status: 'canceled' }, now).period).toMatchObject({ id: month('2026-11'), anchor: 'calendar' });
  });
});

describe('admin tiers last until Stripe changes', () => {
  const active = subscriber('pro', '2026-11-01T00:00:00.000Z', '2026-12-01T00:00:00.000Z', { plan: 'price_pro', subscriptionId: 'sub_1' });
  const now = at('2026-11-10T00:00:00Z');

  it('survives Stripe writes of the same state (a top-up checkout, an invoice event), ends with a real change', () => {
    // Regression (review): every Stripe event ended a non-sticky admin tier, a top-up included.
    const restricted = { ...active, ...adminTierFields('free', active) };
    expect(access(restricted, now)).toMatchObject({ tier: 'free', reason: 'admin-tier' });
    const resynced = { ...restricted, stripeSyncedAt: Date.now() };
    expect(access(resynced, now)).toMatchObject({ tier: 'free', reason: 'admin-tier' });
    expect(access({ ...restricted, plan: 'price_basic', tier: 'basic' }, now)).toMatchObject({ tier: 'basic', reason: 'subscription-active' });
    expect(access({ ...restricted, status: 'past_due' }, now)).toMatchObject({ reason: 'past-due' });
    expect(access({ ...restricted, subscriptionId: 'sub_2' }, now)).toMatchObject({ tier: 'pro', reason: 'subscription-active' });
  });

  it('a sticky tier stays whatever Stripe does', () => {
    const sticky = { ...active, ...adminTierFields('tester', active, true) };
    expect(access({ ...sticky, status: 'canceled', plan: null, subscriptionId: null, tier: 'free' }, now)).toMatchObject({ tier: 'tester', reason: 'admin-tier' });
  });
});

describe('consumption', () => {
  const may = at('2026-05-10T00:00:00Z');
  const tester = (fields: Partial<EntitlementRecord> = {}) => adminTier('tester', fields);
  const plan = (r: EntitlementRecord, amount: number, now = may) => planConsume(r, amount, access(r, now));

  it('splits allowance first, purchased after', () => {
    expect(splitConsumption(5, 10, 0)).toEqual({ fromAllowance: 5, fromPurchased: 0 });
    expect(splitConsumption(15, 10, 7)).toEqual({ fromAllowance: 10, fromPurchased: 5 });
    expect(splitConsumption(17, 10, 7)).toEqual({ fromAllowance: 10, fromPurchased: 7 });
    expect(splitConsumption(18, 10, 7)).toBeUndefined();
    expect(splitConsumption(10 ** 6, null, 0)).toEqual({ fromAllowance: 10 ** 6, fromPurchased: 0 });
  });

  it('spends the allowance, then purchased tokens, and refuses below zero', () => {
    const start = tester({ tokenPeriod: month('2026-05'), tokensUsedThisPeriod: 995, tokensAllowanceUsed: 995, tokensPurchased: 10 });
    expect(plan(start, 8)).toEqual({
      ok: true,
      split: { fromAllowance: 5, fromPurchased: 3 },
      next: { tokenPeriod: month('2026-05'), tokensUsedThisPeriod: 1003, tokensAllowanceUsed: 1000, tokensPurchased: 7 },
      remaining: 7,
      reset: undefined,
    });
    expect(plan(start, 16)).toEqual({ ok: false, remaining: 15 });
  });

  it('spends only purchased tokens while past_due without grace (they were paid for)', () => {
    const pastDue = row({ tier: 'pro', status: 'past_due', tokenPeriod: month('2026-05'), tokensPurchased: 10 });
    expect(plan(pastDue, 4)).toMatchObject({ ok: true, remaining: 6, split: { fromAllowance: 0, fromPurchased: 4 } });
    expect(plan(pastDue, 11)).toEqual({ ok: false, remaining: 10 });
  });

  it('folds the monthly reset into the first write of a month', () => {
    const april = tester({ tokenPeriod: '2026-04', tokensUsedThisPeriod: 1000, tokensAllowanceUsed: 1000, tokensPurchased: 2 });
    const planned = plan(april, 4, at('2026-05-01T00:00:00.000Z'));
    expect(planned).toMatchObject({
      ok: true,
      next: { tokenPeriod: month('2026-05'), tokensUsedThisPeriod: 4, tokensAllowanceUsed: 4, tokensPurchased: 2 },
      remaining: 998,
      reset: { period: month('2026-05'), previousPeriod: '2026-04', allowance: 1000, balanceAfter: 1002, anchor: 'calendar' },
    });
    expect(planned.ok && planned.reset?.at.toISOString()).toBe('2026-05-01T00:00:00.000Z');
    // The same row one millisecond earlier is still April: 2 purchased tokens left.
    expect(plan(april, 4, at('2026-04-30T23:59:59.999Z'))).toEqual({ ok: false, remaining: 2 });
  });

  it('starts the first period without a reset entry', () => {
    const planned = plan(tester(), 1);
    expect(planned).toMatchObject({ ok: true, next: { tokenPeriod: month('2026-05') } });
    expect(planned.ok && planned.reset).toBeUndefined();
  });

  it('counts unlimited usage without touching purchased tokens', () => {
    expect(plan(adminTier('admin', { tokensPurchased: 3 }), MAX_TOKEN_AMOUNT)).toMatchObject({ ok: true, remaining: null, next: { tokensUsedThisPeriod: MAX_TOKEN_AMOUNT, tokensPurchased: 3 } });
  });

  it('adds purchased tokens on top of the allowance', () => {
    const used = tester({ tokenPeriod: month('2026-05'), tokensUsedThisPeriod: 1000 });
    expect(planAdd(used, 50, access(used, may))).toMatchObject({ next: { tokensPurchased: 50, tokensUsedThisPeriod: 1000 }, remaining: 50 });
  });

  it('refuses amounts that are not positive whole numbers, as a guard against a caller bug', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1]) {
      expect(() => plan(row({}), bad)).toThrow(RangeError);
      expect(() => planAdd(row({}), bad, access(row({}), may))).toThrow(RangeError);
    }
  });

  it('writes a consume as its ledger entry (and the reset entry first when the month turned)', () => {
    const april = tester({ tokenPeriod: '2026-04', tokensUsedThisPeriod: 5, tokensPurchased: 0 });
    let n = 0;
    const decision = decideConsume({ userId: 'u1', amount: 3, idempotencyKey: 'req-1' }, april, access(april, may), may, () => `r${n++}`);
    expect(decision.write && decision.entries.map((e) => [e.kind, e.amount, e.balanceAfter, e.period])).toEqual([
      ['reset', 1000, 1000, month('2026-05')],
      ['consume', 3, 997, month('2026-05')],
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

  it.each(INVALID_CONSUME_BODIES)('refuses %s, naming the field', (_name, body, field) => {
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
