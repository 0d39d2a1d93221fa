import { deriveSubscriptionState, holdsSubscriptionState, mapStripeStatus, newEntitlement, NO_SUBSCRIPTION, type SubscriptionSnapshot } from '../../shared/domain/entitlement';
import { catalogueWith, defaultCatalogue } from '../fixtures/catalogue';

const catalogue = catalogueWith({ prices: { basic: 'price_basic', pro: 'price_pro', enterprise: 'price_ent' } });
const sub = (over: Partial<SubscriptionSnapshot>): SubscriptionSnapshot => ({
  id: 'sub_1',
  status: 'active',
  priceId: 'price_basic',
  created: 1_700_000_000,
  currentPeriodStart: 1_700_000_000,
  currentPeriodEnd: 1_702_592_000,
  periodPaid: true,
  trialEnd: null,
  cancelAtPeriodEnd: false,
  ...over,
});

describe('deriveSubscriptionState', () => {
  it('is none without subscriptions', () => {
    expect(deriveSubscriptionState([], catalogue)).toEqual(NO_SUBSCRIPTION);
  });

  it('maps an active subscription to its tier and period end', () => {
    expect(deriveSubscriptionState([sub({ priceId: 'price_pro' })], catalogue)).toEqual({
      status: 'active',
      plan: 'price_pro',
      tier: 'pro',
      subscriptionId: 'sub_1',
      currentPeriodStart: new Date(1_700_000_000_000).toISOString(),
      currentPeriodEnd: new Date(1_702_592_000_000).toISOString(),
      periodPaid: true,
      trialEndsAt: null,
      cancelAtPeriodEnd: false,
    });
  });

  it('prefers the subscription granting most access, then the newest', () => {
    const state = deriveSubscriptionState(
      [sub({ id: 'old', status: 'canceled', created: 1 }), sub({ id: 'new', status: 'active', created: 2, priceId: 'price_ent' }), sub({ id: 'inc', status: 'incomplete', created: 3 })],
      catalogue,
    );
    expect(state).toMatchObject({ subscriptionId: 'new', tier: 'enterprise', status: 'active' });
    expect(deriveSubscriptionState([sub({ id: 'a', status: 'canceled', created: 1 }), sub({ id: 'b', status: 'canceled', created: 5 })], catalogue).subscriptionId).toBe('b');
  });

  it('reports trials with their end, and canceled as free without cancel-at-period-end', () => {
    expect(deriveSubscriptionState([sub({ status: 'trialing', trialEnd: 1_701_000_000 })], catalogue)).toMatchObject({
      status: 'trialing',
      trialEndsAt: new Date(1_701_000_000_000).toISOString(),
    });
    expect(deriveSubscriptionState([sub({ status: 'canceled', cancelAtPeriodEnd: true })], catalogue)).toMatchObject({
      status: 'canceled',
      tier: 'free',
      cancelAtPeriodEnd: false,
    });
  });

  it('never grants a paid tier for a price outside the catalogue', () => {
    expect(deriveSubscriptionState([sub({ priceId: 'price_unknown' })], catalogue)).toMatchObject({ status: 'active', tier: 'free' });
  });

  it('does not depend on the order subscriptions are listed in', () => {
    const subs = [sub({ id: 'a', status: 'past_due', created: 3 }), sub({ id: 'b', status: 'trialing', created: 1 }), sub({ id: 'c', status: 'canceled', created: 9 })];
    const expected = deriveSubscriptionState(subs, catalogue);
    expect(deriveSubscriptionState([...subs].reverse(), catalogue)).toEqual(expected);
    expect(expected.subscriptionId).toBe('b');
  });
});

describe('Stripe status', () => {
  it.each([
    ['active', 'active'],
    ['trialing', 'trialing'],
    ['past_due', 'past_due'],
    ['unpaid', 'canceled'],
    ['paused', 'canceled'],
    ['incomplete_expired', 'canceled'],
    ['canceled', 'canceled'],
    ['incomplete', 'none'],
  ])('Stripe %s -> %s', (stripe, ours) => {
    expect(mapStripeStatus(stripe)).toBe(ours);
  });
});

describe('holdsSubscriptionState', () => {
  const state = deriveSubscriptionState([sub({ priceId: 'price_pro' })], catalogue);
  const { periodPaid: _unused, ...stored } = state;
  const row = { ...newEntitlement('u1', new Date(0)), ...stored, stripeSyncedAt: 1 };

  it('holds what a write of the same state stored', () => {
    expect(holdsSubscriptionState(row, state)).toBe(true);
  });

  it.each([
    ['no row', undefined],
    ['a row never synced from Stripe', { ...row, stripeSyncedAt: undefined }],
    ['another tier', { ...row, tier: 'basic' as const }],
    ['another status', { ...row, status: 'canceled' as const }],
    ['another period', { ...row, currentPeriodEnd: new Date(0).toISOString() }],
    ['a grace start left from past_due', { ...row, pastDueSince: new Date(0).toISOString() }],
    ['no token balances yet', { ...row, tokensPurchased: undefined }],
  ])('does not hold it with %s', (_name, other) => {
    expect(holdsSubscriptionState(other, state)).toBe(false);
  });

  it('ignores the period while the new one is unpaid (the stored one stays in force)', () => {
    expect(holdsSubscriptionState({ ...row, currentPeriodEnd: new Date(0).toISOString() }, { ...state, periodPaid: false })).toBe(true);
  });

  it('needs the grace start while past_due', () => {
    const pastDue = { ...state, status: 'past_due' as const };
    expect(holdsSubscriptionState({ ...row, status: 'past_due' }, pastDue)).toBe(false);
    expect(holdsSubscriptionState({ ...row, status: 'past_due', pastDueSince: new Date(0).toISOString() }, pastDue)).toBe(true);
  });
});
