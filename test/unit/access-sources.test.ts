import { DEFAULT_ACCESS_POLICY, adminTierFields, decideAccess, type AccessReason, type AccessSource, type AccessState } from '../../shared/domain/access';
import type { EntitlementStatus } from '../../shared/domain/entitlement';
import { planRank, type PlanName as TierName } from '../../shared/domain/catalogue';
import { defaultCatalogue } from '../fixtures/catalogue';

/**
 * The sources combined: Stripe (or the admin-set tier standing in for it),
 * Ko-fi and the admin grant. The best ACTIVE one by plan rank wins (ties:
 * grant, then Stripe, then Ko-fi); nothing active: Stripe's answer; revoke
 * beats all. The expectations are written from those words, with the rank
 * list spelled out here rather than read from the implementation.
 */
const catalogue = defaultCatalogue();
const RANK: TierName[] = ['free', 'tester', 'basic', 'pro', 'enterprise', 'admin'];
const NOW = new Date('2026-11-30T12:00:00.000Z');
const PERIOD = { currentPeriodStart: '2026-11-20T08:00:00.000Z', currentPeriodEnd: '2026-12-20T08:00:00.000Z' };

type Stripe = 'none' | 'active-basic' | 'active-enterprise' | 'trialing-pro' | 'past-due-pro' | 'canceled';
type Kofi = 'none' | 'pro' | 'enterprise' | 'basic' | 'expired-pro' | 'ends-now' | 'unknown-plan';
type Admin = 'none' | 'grant' | 'grant-basic' | 'revoke' | 'tier-tester' | 'sticky-admin';

const STRIPE: Record<Stripe, { status: EntitlementStatus; tier: TierName }> = {
  none: { status: 'none', tier: 'free' },
  'active-basic': { status: 'active', tier: 'basic' },
  'active-enterprise': { status: 'active', tier: 'enterprise' },
  'trialing-pro': { status: 'trialing', tier: 'pro' },
  'past-due-pro': { status: 'past_due', tier: 'pro' },
  canceled: { status: 'canceled', tier: 'free' },
};

function kofiFields(kofi: Kofi): Partial<AccessState> {
  switch (kofi) {
    case 'none':
      return {};
    case 'expired-pro':
      return { kofiPlan: 'pro', kofiPaidThrough: '2026-11-30T11:59:59.999Z' };
    case 'ends-now':
      return { kofiPlan: 'pro', kofiPaidThrough: NOW.toISOString() };
    case 'unknown-plan':
      return { kofiPlan: 'platinum', kofiPaidThrough: '2026-12-30T12:00:00.000Z' };
    default:
      return { kofiPlan: kofi, kofiPaidThrough: '2026-12-30T12:00:00.000Z' };
  }
}

function stateOf(stripe: Stripe, kofi: Kofi, admin: Admin): AccessState {
  const { status, tier } = STRIPE[stripe];
  const subscribed = status === 'active' || status === 'trialing' || status === 'past_due';
  return {
    status,
    tier,
    ...(subscribed ? { ...PERIOD, plan: `price_${tier}`, subscriptionId: 'sub_1' } : {}),
    ...(status === 'past_due' ? { pastDueSince: '2026-11-28T12:00:00.000Z' } : {}),
    ...kofiFields(kofi),
    ...(admin === 'grant' ? { premiumOverride: true } : {}),
    ...(admin === 'grant-basic' ? { premiumOverride: true, premiumOverrideTier: 'basic' } : {}),
    ...(admin === 'revoke' ? { premiumOverride: false } : {}),
    ...(admin === 'tier-tester' ? adminTierFields('tester', { status, plan: subscribed ? `price_${tier}` : null, subscriptionId: subscribed ? 'sub_1' : null }) : {}),
    ...(admin === 'sticky-admin' ? adminTierFields('admin', { status }, true) : {}),
  };
}

interface Want {
  tier: TierName;
  reason: AccessReason;
  source: AccessSource;
}

function expected(stripe: Stripe, kofi: Kofi, admin: Admin): Want {
  const { status, tier } = STRIPE[stripe];
  if (admin === 'revoke') return { tier: 'free', reason: 'admin-revoke', source: 'admin' };
  const adminTier: TierName | undefined = admin === 'tier-tester' ? 'tester' : admin === 'sticky-admin' ? 'admin' : undefined;
  const stripeAnswer: Want = adminTier
    ? { tier: adminTier, reason: 'admin-tier', source: 'admin' }
    : status === 'active'
      ? { tier, reason: 'subscription-active', source: 'stripe' }
      : status === 'trialing'
        ? { tier, reason: 'subscription-trialing', source: 'stripe' }
        : status === 'past_due'
          ? { tier: 'free', reason: 'past-due', source: 'stripe' }
          : status === 'canceled'
            ? { tier: 'free', reason: 'subscription-ended', source: 'stripe' }
            : { tier: 'free', reason: 'no-subscription', source: 'none' };
  const candidates: Want[] = [];
  if (admin === 'grant' || admin === 'grant-basic') {
    const named = admin === 'grant-basic' ? 'basic' : (adminTier ?? (tier !== 'free' ? tier : undefined));
    candidates.push({ tier: named ?? DEFAULT_ACCESS_POLICY.grantTier, reason: 'admin-grant', source: 'admin' });
  }
  candidates.push(stripeAnswer);
  if (kofi === 'pro' || kofi === 'enterprise' || kofi === 'basic') candidates.push({ tier: kofi, reason: 'kofi-subscription', source: 'kofi' });
  const active = candidates.filter((c) => c.tier !== 'free');
  if (active.length === 0) return stripeAnswer;
  return active.reduce((best, c) => (RANK.indexOf(c.tier) > RANK.indexOf(best.tier) ? c : best));
}

const STRIPES = Object.keys(STRIPE) as Stripe[];
const KOFIS: Kofi[] = ['none', 'pro', 'enterprise', 'basic', 'expired-pro', 'ends-now', 'unknown-plan'];
const ADMINS: Admin[] = ['none', 'grant', 'grant-basic', 'revoke', 'tier-tester', 'sticky-admin'];
const cases: Array<[Stripe, Kofi, Admin]> = STRIPES.flatMap((s) => KOFIS.flatMap((k) => ADMINS.map((a): [Stripe, Kofi, Admin] => [s, k, a])));

describe('the access decision combines Stripe, Ko-fi and the admin grant', () => {
  it('covers every combination', () => expect(cases).toHaveLength(6 * 7 * 6));

  it.each(cases)('stripe=%s kofi=%s admin=%s', (stripe, kofi, admin) => {
    const access = decideAccess(stateOf(stripe, kofi, admin), catalogue, DEFAULT_ACCESS_POLICY, NOW);
    expect({ tier: access.tier, reason: access.reason, source: access.source }).toEqual(expected(stripe, kofi, admin));
    expect(access.premium).toBe(access.tier !== 'free');
    // The allowance period follows the subscription in force, whichever source decides.
    const subscribed = ['active', 'trialing', 'past_due'].includes(STRIPE[stripe].status);
    expect(access.period.anchor).toBe(subscribed ? 'billing' : 'calendar');
  });

  it('plan rank is the catalogue order', () => {
    expect(RANK.map((name) => planRank(catalogue, name))).toEqual([0, 1, 2, 3, 4, 5]);
    expect(planRank(catalogue, 'creator')).toBe(planRank(catalogue, 'pro'));
    expect(planRank(catalogue, 'platinum')).toBe(-1);
  });
});

describe('a Ko-fi grant over time (fake clock)', () => {
  const grant = { kofiPlan: 'pro', kofiPaidThrough: '2027-01-02T12:00:00.000Z' };
  const noAccount: AccessState = { status: 'none', tier: 'free', ...grant };
  const at = (iso: string) => decideAccess(noAccount, catalogue, DEFAULT_ACCESS_POLICY, new Date(iso));

  it('gives its plan until paidThrough, with the calendar month as the allowance period, then nothing', () => {
    const during = at('2026-12-15T00:00:00.000Z');
    expect(during).toMatchObject({ tier: 'pro', premium: true, reason: 'kofi-subscription', source: 'kofi', kofiPaidThrough: '2027-01-02T12:00:00.000Z', monthlyTokens: 5000 });
    expect(during.period).toMatchObject({ anchor: 'calendar', id: '2026-12-01T00:00:00.000Z' });
    expect(at('2027-01-02T11:59:59.999Z').premium).toBe(true);
    const after = at('2027-01-02T12:00:00.000Z');
    expect(after).toMatchObject({ tier: 'free', premium: false, reason: 'no-subscription', source: 'none' });
    expect(after.kofiPaidThrough).toBeUndefined();
  });

  it('a Stripe subscription that ends leaves the Ko-fi plan in force, and a Ko-fi plan that ends leaves Stripe', () => {
    const both: AccessState = { status: 'canceled', tier: 'free', ...grant };
    expect(decideAccess(both, catalogue, DEFAULT_ACCESS_POLICY, NOW)).toMatchObject({ tier: 'pro', source: 'kofi' });
    const stripeBasic: AccessState = { status: 'active', tier: 'basic', ...PERIOD, ...grant };
    expect(decideAccess(stripeBasic, catalogue, DEFAULT_ACCESS_POLICY, NOW)).toMatchObject({ tier: 'pro', source: 'kofi' });
    expect(decideAccess(stripeBasic, catalogue, DEFAULT_ACCESS_POLICY, new Date('2027-01-03T00:00:00Z'))).toMatchObject({ tier: 'basic', source: 'stripe' });
  });

  it('a malformed paidThrough grants nothing', () => {
    expect(decideAccess({ ...noAccount, kofiPaidThrough: 'soon' }, catalogue, DEFAULT_ACCESS_POLICY, NOW).premium).toBe(false);
  });
});
