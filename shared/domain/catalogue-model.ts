import type { CatalogueFile } from './catalogue';

/**
 * The resolved catalogue the functions read (plans, top-ups, the lookups),
 * apart from the zod schema of the file (catalogue.ts, which re-exports all
 * of this): building that schema costs every cold start milliseconds, and a
 * function bundle carries the file already validated at synth
 * (shared/config/catalogue.ts), so runtime code imports this module only.
 */

/** A plan's name: any string the catalogue defines (validated against it where it comes in). */
export type PlanName = string;
/** A feature key: free-form, defined by the catalogue. */
export type Feature = string;

/** What a plan gives of one feature: `true` (boolean) or a monthly allowance (metered; null = unlimited). */
export type FeatureGrant = true | { monthlyLimit: number | null };

/** A plan with the Stripe prices of the environment in force. */
export interface Plan {
  name: PlanName;
  displayName: string;
  /** Names the product used before; accepted on input, never returned. */
  aliases: string[];
  monthlyTokens: number | null;
  /** Verified API calls a month (end-user API keys); null = unlimited. */
  monthlyApiCalls: number | null;
  /** Verified API calls a second; undefined = the deployment's default. */
  rateLimitPerSecond?: number;
  trialDays: number;
  price: { amount: number; currency: string; interval: 'day' | 'week' | 'month' | 'year' } | null;
  features: Record<Feature, FeatureGrant>;
  /** This environment's price ids; the first one is what checkout sells. */
  stripePriceIds: string[];
  /** Sold through Stripe Checkout (has a list price). */
  purchasable: boolean;
}

export interface TopUp {
  name: string;
  displayName: string;
  tokens: number;
  price: { amount: number; currency: string };
  stripePriceIds: string[];
}

/** The catalogue of one deployment: the file, resolved for one Stripe environment. */
export interface Catalogue {
  environment: string;
  /** Rank order: later is better. */
  plans: Plan[];
  defaultPlan: PlanName;
  topUps: TopUp[];
  pastDueGrace: { enabled: boolean; days: number };
  sources: CatalogueFile['sources'];
  /** What an admin grant gives when it names no plan: sources.admin.grantPlan, else the best plan. */
  grantPlan: PlanName;
  /** Every feature some plan names, and its kind. */
  features: Record<Feature, 'boolean' | 'metered'>;
}

/** Validated file -> the catalogue of `environment` (its price ids; other environments' ids are not used). */
export function resolveCatalogue(file: CatalogueFile, environment: string): Catalogue {
  const features: Record<Feature, 'boolean' | 'metered'> = {};
  const plans = file.plans.map((p): Plan => {
    for (const [key, value] of Object.entries(p.features)) features[key] = value === true ? 'boolean' : 'metered';
    return {
      name: p.name,
      displayName: p.displayName,
      aliases: [...(p.aliases ?? [])],
      monthlyTokens: p.monthlyTokens,
      monthlyApiCalls: p.monthlyApiCalls,
      ...(p.rateLimitPerSecond !== undefined ? { rateLimitPerSecond: p.rateLimitPerSecond } : {}),
      trialDays: p.trialDays ?? 0,
      price: p.price ?? null,
      features: { ...p.features },
      stripePriceIds: [...(p.stripePrices?.[environment] ?? [])],
      purchasable: p.price !== undefined,
    };
  });
  const topUps = file.topUps.map((t): TopUp => ({
    name: t.name,
    displayName: t.displayName ?? `${t.tokens} tokens`,
    tokens: t.tokens,
    price: t.price,
    stripePriceIds: [...(t.stripePrices?.[environment] ?? [])],
  }));
  const grantPlan = file.sources.admin?.grantPlan ?? plans[plans.length - 1]!.name;
  return { environment, plans, defaultPlan: file.defaultPlan, topUps, pastDueGrace: file.pastDueGrace, sources: file.sources, grantPlan, features };
}

/** A plan by name or alias, case-insensitively; undefined when the catalogue has none. */
export function findPlan(catalogue: Catalogue, nameOrAlias: string): Plan | undefined {
  const wanted = nameOrAlias.trim().toLowerCase();
  return catalogue.plans.find((p) => p.name === wanted || p.aliases.includes(wanted));
}

/** The free-of-charge base plan. */
export function defaultPlan(catalogue: Catalogue): Plan {
  const plan = findPlan(catalogue, catalogue.defaultPlan);
  if (!plan) throw new Error(`the catalogue has no default plan "${catalogue.defaultPlan}"`);
  return plan;
}

/** The plan a Stripe price of this environment buys; undefined when the catalogue does not know the price. */
export function planForPrice(catalogue: Catalogue, priceId: string): Plan | undefined {
  return catalogue.plans.find((p) => p.stripePriceIds.includes(priceId));
}

/** Rank of a plan (its position; higher is better); -1 when unknown. */
export function planRank(catalogue: Catalogue, nameOrAlias: string): number {
  const plan = findPlan(catalogue, nameOrAlias);
  return plan ? catalogue.plans.indexOf(plan) : -1;
}

/** The names a caller may send, for error messages. */
export function planNames(catalogue: Catalogue): string {
  return catalogue.plans.map((p) => p.name).join(', ');
}

/** A feature of the public view: its key and kind (and a metered feature's monthly limit, null = unlimited). */
export type PublicFeature = { key: Feature; kind: 'boolean' } | { key: Feature; kind: 'metered'; monthlyLimit: number | null };

function publicFeatures(plan: Plan): PublicFeature[] {
  return Object.entries(plan.features).map(([key, grant]) => (grant === true ? { key, kind: 'boolean' as const } : { key, kind: 'metered' as const, monthlyLimit: grant.monthlyLimit }));
}

/** One plan as GET /v1/tiers serves it (no aliases: they are accepted, never returned). */
export function publicPlan(plan: Plan) {
  return {
    name: plan.name,
    displayName: plan.displayName,
    monthlyTokens: plan.monthlyTokens,
    monthlyApiCalls: plan.monthlyApiCalls,
    rateLimitPerSecond: plan.rateLimitPerSecond ?? null,
    trialDays: plan.trialDays,
    price: plan.price,
    features: publicFeatures(plan),
    stripePriceIds: plan.stripePriceIds,
    purchasable: plan.purchasable,
  };
}

/** GET /v1/tiers: the plans in rank order and the top-up packs. */
export function publicCatalogue(catalogue: Catalogue) {
  return {
    tiers: catalogue.plans.map(publicPlan),
    topUps: catalogue.topUps.map((t) => ({ name: t.name, displayName: t.displayName, tokens: t.tokens, price: t.price, stripePriceIds: t.stripePriceIds })),
  };
}

/** The top-up pack that sells `tokens`: the first whose size divides it and that has a price here. */
export function topUpFor(catalogue: Catalogue, tokens: number): { pack: TopUp; packs: number } | undefined {
  const pack = catalogue.topUps.find((t) => t.stripePriceIds.length > 0 && tokens % t.tokens === 0);
  return pack ? { pack, packs: tokens / pack.tokens } : undefined;
}
