import { assessHealth } from '../../shared/domain/health';
import { DEFAULT_TIER_SETTINGS, TIER_NAMES, buildTierCatalogue, findTier, publicTier, tierForPrice } from '../../shared/domain/tiers';

describe('tier catalogue', () => {
  const catalogue = buildTierCatalogue({ ...DEFAULT_TIER_SETTINGS, stripePrices: { basic: 'price_basic', pro: 'price_pro' } });

  it('holds every tier once with the contract defaults', () => {
    expect(catalogue.map((t) => t.name)).toEqual([...TIER_NAMES]);
    const allowance = Object.fromEntries(catalogue.map((t) => [t.name, t.monthlyTokens]));
    expect(allowance).toEqual({ free: 0, tester: 1000, basic: 1000, pro: 5000, enterprise: null, admin: null });
    expect(catalogue.filter((t) => t.purchasable).map((t) => [t.name, t.priceMonthlyUsd])).toEqual([
      ['basic', 9.99],
      ['pro', 19.99],
      ['enterprise', 49.99],
    ]);
  });

  it('finds tiers by name and by their historical aliases', () => {
    expect(findTier(catalogue, ' PRO ')?.name).toBe('pro');
    expect(findTier(catalogue, 'creator')?.name).toBe('pro');
    expect(findTier(catalogue, 'agency')?.name).toBe('enterprise');
    expect(findTier(catalogue, 'platinum')).toBeUndefined();
  });

  it('maps Stripe prices to tiers', () => {
    expect(tierForPrice(catalogue, 'price_pro')?.name).toBe('pro');
    expect(tierForPrice(catalogue, 'price_unknown')).toBeUndefined();
  });

  it('uses configured allowances', () => {
    const custom = buildTierCatalogue({ basicMonthlyTokens: 10, proMonthlyTokens: 20, enterpriseMonthlyTokens: 30, stripePrices: {} });
    expect(findTier(custom, 'enterprise')?.monthlyTokens).toBe(30);
  });

  it('publishes no internal fields', () => {
    expect(Object.keys(publicTier(catalogue[0]!))).not.toContain('aliases');
  });
});

describe('assessHealth', () => {
  it('is ok when both answer', () => {
    expect(assessHealth({ dynamodb: 'ok', redis: 'ok' })).toMatchObject({ status: 'ok', httpStatus: 200 });
  });
  it('is degraded, still 200, without the cache', () => {
    expect(assessHealth({ dynamodb: 'ok', redis: 'down' })).toMatchObject({ status: 'degraded', httpStatus: 200 });
    expect(assessHealth({ dynamodb: 'ok', redis: 'disabled' })).toMatchObject({ status: 'degraded', httpStatus: 200 });
  });
  it('is 503 without DynamoDB, whatever Redis says', () => {
    expect(assessHealth({ dynamodb: 'down', redis: 'ok' })).toMatchObject({ status: 'down', httpStatus: 503 });
  });
});
