import { deriveSubscriptionState, keepTierOnUnknownPrice, type SubscriptionSnapshot } from '../../shared/domain/entitlement';
import { catalogueWith, defaultCatalogue } from '../fixtures/catalogue';

const catalogue = catalogueWith({ prices: { basic: 'price_basic', pro: 'price_pro', enterprise: 'price_ent' } });
const sub = (over: Partial<SubscriptionSnapshot>): SubscriptionSnapshot => ({
  id: 'sub_1',
  status: 'active',
  priceId: 'price_pro',
  created: 1,
  currentPeriodStart: 1,
  currentPeriodEnd: 2,
  periodPaid: true,
  trialEnd: null,
  cancelAtPeriodEnd: false,
  ...over,
});

describe('keepTierOnUnknownPrice', () => {
  it.each(['active', 'trialing', 'past_due'])('a %s subscription on an unknown price keeps the previous tier and names the price', (status) => {
    const derived = deriveSubscriptionState([sub({ status, priceId: 'price_dashboard_only' })], catalogue);
    expect(derived.tier).toBe('free');
    const { state, unknownPrice } = keepTierOnUnknownPrice(derived, 'pro', catalogue);
    expect(unknownPrice).toBe('price_dashboard_only');
    expect(state).toEqual({ ...derived, tier: 'pro' });
  });

  it('without a previous tier the derived one stays (still reported)', () => {
    const derived = deriveSubscriptionState([sub({ priceId: 'price_dashboard_only' })], catalogue);
    expect(keepTierOnUnknownPrice(derived, undefined, catalogue)).toEqual({ state: derived, unknownPrice: 'price_dashboard_only' });
  });

  it('changes nothing for a known price, or a subscription that grants nothing', () => {
    const known = deriveSubscriptionState([sub({ priceId: 'price_basic' })], catalogue);
    expect(keepTierOnUnknownPrice(known, 'pro', catalogue)).toEqual({ state: known, unknownPrice: null });
    const canceled = deriveSubscriptionState([sub({ status: 'canceled', priceId: 'price_dashboard_only' })], catalogue);
    expect(keepTierOnUnknownPrice(canceled, 'pro', catalogue)).toEqual({ state: canceled, unknownPrice: null });
  });
});
