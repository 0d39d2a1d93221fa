/**
 * The tier catalogue: data in one place. Served by GET /v1/tiers, used by the
 * webhook to map Stripe prices to tiers and by token consumption for
 * allowances. `null` means unlimited.
 */
export const TIER_NAMES = ['free', 'tester', 'basic', 'pro', 'enterprise', 'admin'] as const;
export type TierName = (typeof TIER_NAMES)[number];

export type Feature = 'premium' | 'aws-credentials' | 'api-access' | 'token-top-ups' | 'priority-support';

export interface Tier {
  name: TierName;
  displayName: string;
  /** Names the product used before; accepted on input, never returned. */
  aliases: string[];
  monthlyTokens: number | null;
  /** Verified API calls a month (end-user API keys); null = unlimited. */
  monthlyApiCalls: number | null;
  /** List price in the local Stripe catalogue, USD a month; null = not sold. */
  priceMonthlyUsd: number | null;
  features: Feature[];
  stripePriceIds: string[];
  /** Sold through Stripe Checkout. */
  purchasable: boolean;
}

export interface TierSettings {
  basicMonthlyTokens: number;
  proMonthlyTokens: number;
  enterpriseMonthlyTokens: number | null;
  stripePrices: Partial<Record<'basic' | 'pro' | 'enterprise', string>>;
}

export const DEFAULT_TIER_SETTINGS: TierSettings = {
  basicMonthlyTokens: 1000,
  proMonthlyTokens: 5000,
  enterpriseMonthlyTokens: null,
  stripePrices: {},
};

const PAID_FEATURES: Feature[] = ['premium', 'aws-credentials', 'api-access', 'token-top-ups'];

export function buildTierCatalogue(settings: TierSettings = DEFAULT_TIER_SETTINGS): Tier[] {
  const prices = (tier: 'basic' | 'pro' | 'enterprise'): string[] => {
    const id = settings.stripePrices[tier];
    return id ? [id] : [];
  };
  return [
    { name: 'free', displayName: 'Free', aliases: [], monthlyTokens: 0, monthlyApiCalls: 0, priceMonthlyUsd: 0, features: ['token-top-ups'], stripePriceIds: [], purchasable: false },
    { name: 'tester', displayName: 'Tester', aliases: [], monthlyTokens: 1000, monthlyApiCalls: 1000, priceMonthlyUsd: null, features: [...PAID_FEATURES], stripePriceIds: [], purchasable: false },
    { name: 'basic', displayName: 'Basic', aliases: [], monthlyTokens: settings.basicMonthlyTokens, monthlyApiCalls: 1000, priceMonthlyUsd: 9.99, features: [...PAID_FEATURES], stripePriceIds: prices('basic'), purchasable: true },
    { name: 'pro', displayName: 'Pro', aliases: ['creator'], monthlyTokens: settings.proMonthlyTokens, monthlyApiCalls: 5000, priceMonthlyUsd: 19.99, features: [...PAID_FEATURES], stripePriceIds: prices('pro'), purchasable: true },
    { name: 'enterprise', displayName: 'Enterprise', aliases: ['agency'], monthlyTokens: settings.enterpriseMonthlyTokens, monthlyApiCalls: null, priceMonthlyUsd: 49.99, features: [...PAID_FEATURES, 'priority-support'], stripePriceIds: prices('enterprise'), purchasable: true },
    { name: 'admin', displayName: 'Admin', aliases: [], monthlyTokens: null, monthlyApiCalls: null, priceMonthlyUsd: null, features: [...PAID_FEATURES, 'priority-support'], stripePriceIds: [], purchasable: false },
  ];
}

/** Resolves a tier by name or alias, case-insensitively; undefined when unknown. */
export function findTier(catalogue: readonly Tier[], nameOrAlias: string): Tier | undefined {
  const wanted = nameOrAlias.trim().toLowerCase();
  return catalogue.find((t) => t.name === wanted || t.aliases.includes(wanted));
}

/** The tier a Stripe price buys; undefined when the price is not in the catalogue. */
export function tierForPrice(catalogue: readonly Tier[], priceId: string): Tier | undefined {
  return catalogue.find((t) => t.stripePriceIds.includes(priceId));
}

/** The public view served by GET /v1/tiers. */
export function publicTier(tier: Tier) {
  return {
    name: tier.name,
    displayName: tier.displayName,
    monthlyTokens: tier.monthlyTokens,
    monthlyApiCalls: tier.monthlyApiCalls,
    priceMonthlyUsd: tier.priceMonthlyUsd,
    features: tier.features,
    stripePriceIds: tier.stripePriceIds,
    purchasable: tier.purchasable,
  };
}
