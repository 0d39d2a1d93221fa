import { DEFAULT_ACCESS_POLICY, adminTierFields, decideAccess, describeReason, type AccessPolicy, type AccessReason, type AccessState } from '../../shared/domain/access';
import { ENTITLEMENT_STATUSES, type EntitlementStatus } from '../../shared/domain/entitlement';
import { catalogueOf, type PlanName } from '../../shared/domain/catalogue';
import { logger } from '../../shared/observability/logger';
import { metrics } from '../../shared/observability/metrics';
import { accessDecider } from '../../shared/wiring/access';
import { catalogueWith, PLAN_NAMES, defaultCatalogue } from '../fixtures/catalogue';

const catalogue = defaultCatalogue();
const NOW = new Date('2026-11-30T12:00:00.000Z');
const PERIOD = { currentPeriodStart: '2026-11-20T08:00:00.000Z', currentPeriodEnd: '2026-12-20T08:00:00.000Z' };

type Override = 'revoke' | 'grant' | 'clear';
type TierSource = 'stripe' | 'admin-set' | 'sticky';
type Grace = 'off' | 'within' | 'expired';

const policyFor = (grace: Grace): AccessPolicy => ({ ...DEFAULT_ACCESS_POLICY, pastDueGrace: grace !== 'off', pastDueGraceDays: 7 });
const pastDueSince = (grace: Grace) => (grace === 'expired' ? '2026-11-20T12:00:00.000Z' : '2026-11-28T12:00:00.000Z');

function stateOf(status: EntitlementStatus, tier: PlanName, override: Override, source: TierSource, grace: Grace): AccessState {
  return {
    status,
    tier,
    ...PERIOD,
    ...(source === 'admin-set' ? adminTierFields(tier, { status, plan: null, subscriptionId: null }) : {}),
    ...(source === 'sticky' ? adminTierFields(tier, { status }, true) : {}),
    ...(override === 'revoke' ? { premiumOverride: false } : override === 'grant' ? { premiumOverride: true } : {}),
    ...(status === 'past_due' ? { pastDueSince: pastDueSince(grace) } : {}),
  };
}

/** The rules of the README's access table, written out independently of the implementation. */
function expected(status: EntitlementStatus, tier: PlanName, override: Override, source: TierSource, grace: Grace): { tier: PlanName; reason: AccessReason; anchor: 'billing' | 'calendar' } {
  // The period follows the subscription in force, whichever rule decides the capabilities.
  const anchor = status === 'active' || status === 'trialing' || status === 'past_due' ? 'billing' : 'calendar';
  if (override === 'revoke') return { tier: 'free', reason: 'admin-revoke', anchor };
  if (override === 'grant') return { tier: tier === 'free' ? DEFAULT_ACCESS_POLICY.grantTier : tier, reason: 'admin-grant', anchor };
  if (source !== 'stripe') return { tier, reason: 'admin-tier', anchor };
  switch (status) {
    case 'active':
      return { tier, reason: 'subscription-active', anchor };
    case 'trialing':
      return { tier, reason: 'subscription-trialing', anchor };
    case 'past_due':
      return grace === 'within' ? { tier, reason: 'past-due-grace', anchor } : { tier: 'free', reason: 'past-due', anchor };
    case 'canceled':
      return { tier: 'free', reason: 'subscription-ended', anchor };
    case 'none':
      return { tier: 'free', reason: 'no-subscription', anchor };
  }
}

const cases: Array<[EntitlementStatus, PlanName, Override, TierSource, Grace]> = [];
for (const status of ENTITLEMENT_STATUSES)
  for (const tier of PLAN_NAMES)
    for (const override of ['revoke', 'grant', 'clear'] as const)
      for (const source of ['stripe', 'admin-set', 'sticky'] as const)
        for (const grace of ['off', 'within', 'expired'] as const) cases.push([status, tier, override, source, grace]);

describe('the access decision: every status x tier x override x tier source x grace', () => {
  it('covers all 810 combinations', () => expect(cases).toHaveLength(5 * 6 * 3 * 3 * 3));

  it.each(cases)('%s %s override=%s tier=%s grace=%s', (status, tier, override, source, grace) => {
    const want = expected(status, tier, override, source, grace);
    const plan = catalogue.plans.find((t) => t.name === want.tier)!;
    const access = decideAccess(stateOf(status, tier, override, source, grace), catalogue, policyFor(grace), NOW);

    expect(access.tier).toBe(want.tier);
    expect(access.reason).toBe(want.reason);
    expect(access.period.anchor).toBe(want.anchor);
    // Everything follows from the one tier: nothing paid leaks from the stored tier when access is free.
    const features = Object.keys(plan.features);
    expect(access.features).toEqual(features);
    expect(access.premium).toBe(features.includes('premium'));
    expect(access.premium).toBe(want.tier !== 'free');
    expect(access.monthlyTokens).toBe(plan.monthlyTokens);
    expect(access.monthlyApiCalls).toBe(features.includes('api-access') ? plan.monthlyApiCalls : 0);
    expect(access.awsCredentials).toBe(features.includes('aws-credentials'));
    expect(access.apiKeys).toBe(features.includes('api-access'));
    expect(access.rateLimits.apiCalls).toEqual(access.apiKeys ? { limit: 10, windowMs: 1000 } : null);
    expect(access.rateLimits.awsCredentialsPerMinute).toBe(access.awsCredentials ? 10 : null);
    if (want.anchor === 'billing') expect(access.period).toMatchObject({ id: PERIOD.currentPeriodStart, end: new Date(PERIOD.currentPeriodEnd) });
    else expect(access.period).toMatchObject({ id: '2026-11-01T00:00:00.000Z', end: new Date('2026-12-01T00:00:00.000Z') });
    expect(access.graceEndsAt).toBe(want.reason === 'past-due-grace' ? '2026-12-05T12:00:00.000Z' : undefined);
  });
});

describe('the access decision, edges', () => {
  it('gives nothing without a row, and never defaults paid features on', () => {
    const access = decideAccess(undefined, catalogue, DEFAULT_ACCESS_POLICY, NOW);
    expect(access).toMatchObject({ tier: 'free', premium: false, monthlyTokens: 0, monthlyApiCalls: 0, awsCredentials: false, apiKeys: false, reason: 'no-subscription' });
  });

  it('ends the grace at its exact instant', () => {
    const policy = { ...DEFAULT_ACCESS_POLICY, pastDueGrace: true, pastDueGraceDays: 3 };
    const state: AccessState = { status: 'past_due', tier: 'pro', pastDueSince: '2026-11-27T12:00:00.000Z', ...PERIOD };
    expect(decideAccess(state, catalogue, policy, new Date('2026-11-30T11:59:59.999Z')).premium).toBe(true);
    expect(decideAccess(state, catalogue, policy, new Date('2026-11-30T12:00:00.000Z')).premium).toBe(false);
    // Grace on but the start unknown (a row written before grace existed): no grace rather than an endless one.
    expect(decideAccess({ status: 'past_due', tier: 'pro' }, catalogue, policy, NOW).premium).toBe(false);
  });

  it('grants the named tier, and the policy grant tier when nothing paid is named', () => {
    expect(decideAccess({ status: 'none', tier: 'free', premiumOverride: true, premiumOverrideTier: 'enterprise' }, catalogue, DEFAULT_ACCESS_POLICY, NOW).tier).toBe('enterprise');
    expect(decideAccess({ status: 'none', tier: 'free', premiumOverride: true }, catalogue, { ...DEFAULT_ACCESS_POLICY, grantTier: 'basic' }, NOW).tier).toBe('basic');
    // A sticky admin tier is what a grant gives when the grant names none.
    expect(decideAccess({ status: 'canceled', tier: 'free', tierStickyValue: 'tester', premiumOverride: true }, catalogue, DEFAULT_ACCESS_POLICY, NOW).tier).toBe('tester');
  });

  it('treats a tier the catalogue does not know as free, and a billing period that is not one as the calendar', () => {
    expect(decideAccess({ status: 'active', tier: 'platinum' }, catalogue, DEFAULT_ACCESS_POLICY, NOW)).toMatchObject({ tier: 'free', premium: false });
    const broken = decideAccess({ status: 'active', tier: 'pro', currentPeriodStart: '2026-12-20T00:00:00Z', currentPeriodEnd: '2026-11-20T00:00:00Z' }, catalogue, DEFAULT_ACCESS_POLICY, NOW);
    expect(broken.period.anchor).toBe('calendar');
  });

  it('explains refusals without internals', () => {
    expect(describeReason('past-due')).toMatch(/past due/);
    expect(describeReason('admin-revoke')).toMatch(/revoked/);
  });
});

describe('a stored plan the catalogue no longer knows', () => {
  const renamed = catalogueOf({
    defaultPlan: 'starter',
    plans: [
      { name: 'starter', displayName: 'Starter', monthlyTokens: 0, monthlyApiCalls: 0, features: {} },
      { name: 'growth', displayName: 'Growth', aliases: ['pro'], monthlyTokens: 100, monthlyApiCalls: 0, features: { premium: true } },
    ],
  });
  const active = { status: 'active' as const, ...PERIOD };

  it('reads as the default plan, and the decision names every such stored plan (each source) once', () => {
    const access = decideAccess({ ...active, tier: 'gold', kofiPlan: 'gold', kofiPaidThrough: '2026-12-10T00:00:00.000Z', tierStickyValue: 'team', premiumOverrideTier: 'vip' }, renamed, DEFAULT_ACCESS_POLICY, NOW);
    expect(access.tier).toBe('starter');
    expect(access.unknownPlans).toEqual(['gold', 'team', 'vip']);
    const stripeOnly = decideAccess({ ...active, tier: 'gold' }, renamed, DEFAULT_ACCESS_POLICY, NOW);
    expect([stripeOnly.tier, stripeOnly.premium, stripeOnly.unknownPlans]).toEqual(['starter', false, ['gold']]);
  });

  it('is not reported for names and aliases it knows, nor for a new row\'s "free" (no paid plan), nor without a row', () => {
    expect(decideAccess({ ...active, tier: 'pro' }, renamed, DEFAULT_ACCESS_POLICY, NOW)).not.toHaveProperty('unknownPlans');
    expect(decideAccess({ status: 'none', tier: 'free' }, renamed, DEFAULT_ACCESS_POLICY, NOW)).not.toHaveProperty('unknownPlans');
    expect(decideAccess(undefined, renamed, DEFAULT_ACCESS_POLICY, NOW)).not.toHaveProperty('unknownPlans');
  });

  it('the wiring\'s decider logs an error naming the plan (no email) and counts the UnknownStoredPlan anomaly', () => {
    const error = jest.spyOn(logger, 'error').mockImplementation(() => undefined);
    const metric = jest.spyOn(metrics, 'addMetric');
    const published = jest.spyOn(metrics, 'publishStoredMetrics').mockImplementation(() => (metrics.clearMetrics(), metrics));
    try {
      const { decide } = accessDecider(renamed);
      expect(decide({ ...active, tier: 'pro' }, NOW).tier).toBe('growth');
      expect(error).not.toHaveBeenCalled();
      expect(metric).not.toHaveBeenCalled();
      const row = { ...active, userId: 'user-1', email: 'alice@example.com', tier: 'gold' };
      expect(decide(row, NOW).tier).toBe('starter');
      expect(error).toHaveBeenCalledWith(expect.stringMatching(/not in the catalogue.*alias/), { unknownPlans: ['gold'], decidedTier: 'starter', userId: 'user-1' });
      expect(JSON.stringify(error.mock.calls)).not.toContain('alice');
      expect(metric).toHaveBeenCalledWith('UnknownStoredPlan', 'Count', 1);
    } finally {
      error.mockRestore();
      metric.mockRestore();
      published.mockRestore();
    }
  });
});
