import type { EntitlementStatus } from './entitlement';
import { billingPeriod, calendarPeriod, type AllowancePeriod } from './periods';
import { defaultPlan, findPlan, planRank, type Catalogue, type Feature, type Plan, type PlanName } from './catalogue-model';

/**
 * THE access decision: what a user may do now, from the stored entitlement
 * row and the time. Every route, token consume, the webhook and the premium
 * check ask this function; nothing else decides access.
 *
 * | state                                  | access                                         |
 * | -------------------------------------- | ---------------------------------------------- |
 * | admin override revoke                  | free (purchased tokens stay spendable)         |
 * | admin override grant                   | the override tier's everything                 |
 * | admin-set tier (PUT tier)              | that tier's everything                         |
 * | active, trialing                       | the plan's everything                          |
 * | past_due, grace off (default)          | free: premium false, allowance 0               |
 * | past_due, grace on, within grace       | the plan's everything until the grace ends     |
 * | canceled, none (unpaid, paused, ...)   | free                                           |
 *
 * Revoke beats everything; a grant beats billing; an admin-set tier beats
 * billing until Stripe's state of the user changes (status, plan or
 * subscription), or for good when it is sticky. Purchased tokens are not an
 * access right: they were paid for and stay spendable whatever this says.
 *
 * Sources: Stripe (the table above, an admin-set tier standing in for it),
 * Ko-fi (`kofiPlan` while now < `kofiPaidThrough`) and the admin grant. The
 * best ACTIVE one by plan rank (the catalogue's order: a later plan is
 * better) wins; on a tie the precedence is admin grant, then Stripe (or the
 * admin-set tier), then Ko-fi. When none is active, Stripe's answer stands
 * (it says why: past-due, subscription-ended...). Revoke beats all of them.
 * So an admin-set tier lower than a live Ko-fi plan does not take it away
 * (revoke does), exactly as it never took away an admin grant.
 *
 * The allowance period does not depend on which row above applies: while a
 * subscription is in force (active, trialing, past_due) it is the paid
 * billing period; otherwise the calendar month. So a revoke, a grant, an
 * admin tier or a past_due spell never moves a subscriber's counters to
 * another period, and clearing it finds them where they were.
 */

/** The fields of an entitlement row the decision reads (and token writes are conditioned on). */
export interface AccessState {
  status: EntitlementStatus;
  /** Stripe's plan tier (free without a paid subscription). */
  tier: string;
  /** Stripe's price and subscription: with `status`, the Stripe state an admin tier was set against. */
  plan?: string | null;
  subscriptionId?: string | null;
  /** An admin-set tier (PUT /v1/users/{userId}/tier), in force while Stripe's state is still `adminTierSetOn`. */
  adminTier?: string;
  /** `stripeStateKey` of the row when the admin tier was set. */
  adminTierSetOn?: string;
  /** A sticky admin tier: in force whatever Stripe says. */
  tierStickyValue?: string;
  /** Admin override: true = grant, false = revoke, absent = billing decides. */
  premiumOverride?: boolean;
  /** The tier a grant gives; absent = the row's paid tier, else the policy's grant tier. */
  premiumOverrideTier?: string;
  /** When the subscription was first seen past_due (ISO); the grace runs from here. */
  pastDueSince?: string;
  /** The paid billing period in force: Stripe's current period of the subscription item once its invoice is paid (ISO). */
  currentPeriodStart?: string | null;
  currentPeriodEnd?: string | null;
  /** The plan Ko-fi payments bought (shared/domain/kofi.ts), in force while now < `kofiPaidThrough`. */
  kofiPlan?: string;
  /** ISO 8601: the end of the paid Ko-fi month plus the grace. */
  kofiPaidThrough?: string;
}

export const ACCESS_STATE_FIELDS = [
  'status',
  'tier',
  'plan',
  'subscriptionId',
  'adminTier',
  'adminTierSetOn',
  'tierStickyValue',
  'premiumOverride',
  'premiumOverrideTier',
  'pastDueSince',
  'currentPeriodStart',
  'currentPeriodEnd',
  'kofiPlan',
  'kofiPaidThrough',
] as const satisfies ReadonlyArray<keyof AccessState>;

export interface AccessPolicy {
  /** Keep the plan while Stripe retries a failed payment (past_due). Off by default. */
  pastDueGrace: boolean;
  /** How long that grace lasts from the first past_due sighting. */
  pastDueGraceDays: number;
  /** The plan an admin grant gives when neither the grant nor the row names a paid plan (catalogue: sources.admin.grantPlan). */
  grantTier: PlanName;
  /**
   * Per-user request rates of the paid capabilities (apply only where the
   * capability is granted). API calls: a plan's `rateLimitPerSecond` wins
   * over this default.
   */
  rates: { apiCallsPerWindow: number; apiCallWindowMs: number; awsCredentialsPerMinute: number };
}

export const DEFAULT_ACCESS_POLICY: AccessPolicy = {
  pastDueGrace: false,
  pastDueGraceDays: 7,
  grantTier: 'pro',
  rates: { apiCallsPerWindow: 10, apiCallWindowMs: 1000, awsCredentialsPerMinute: 10 },
};

/** The policy a catalogue sets (past_due grace, the admin grant's plan), with the deployment's rates. */
export function accessPolicyOf(catalogue: Catalogue, rates: AccessPolicy['rates'] = DEFAULT_ACCESS_POLICY.rates): AccessPolicy {
  return { pastDueGrace: catalogue.pastDueGrace.enabled, pastDueGraceDays: catalogue.pastDueGrace.days, grantTier: catalogue.grantPlan, rates };
}

/** Why the access is what it is: served to callers (`accessReason`) and logged. */
export const ACCESS_REASONS = [
  'admin-revoke',
  'admin-grant',
  'admin-tier',
  'subscription-active',
  'subscription-trialing',
  'past-due-grace',
  'past-due',
  'subscription-ended',
  'no-subscription',
  'kofi-subscription',
] as const;
export type AccessReason = (typeof ACCESS_REASONS)[number];

export const ACCESS_SOURCES = ['admin', 'stripe', 'kofi', 'none'] as const;
export type AccessSource = (typeof ACCESS_SOURCES)[number];

export interface Access {
  /** The plan whose capabilities apply now (the default plan when nothing paid applies). */
  tier: PlanName;
  premium: boolean;
  /** Every feature the plan names (boolean and metered). */
  features: Feature[];
  /** The plan's metered features and their monthly limits (null = unlimited). */
  metered: Record<Feature, number | null>;
  /** Monthly token allowance of the period; null = unlimited. Purchased tokens come on top. */
  monthlyTokens: number | null;
  /** Verified API calls per period; null = unlimited. */
  monthlyApiCalls: number | null;
  awsCredentials: boolean;
  apiKeys: boolean;
  /** null where the capability is not granted. */
  rateLimits: { apiCalls: { limit: number; windowMs: number } | null; awsCredentialsPerMinute: number | null };
  /** The allowance period in force: billing-anchored for Stripe plans, calendar otherwise. */
  period: AllowancePeriod;
  reason: AccessReason;
  source: AccessSource;
  /** While a past_due grace applies: when it ends (ISO). */
  graceEndsAt?: string;
  /** While Ko-fi decides: when its paid month (and grace) ends (ISO). */
  kofiPaidThrough?: string;
  /**
   * Plan names the row stores that the catalogue does not know (a plan renamed
   * or removed without keeping its old name as an alias): each read as the
   * default plan. Absent when there are none. The domain only reports them;
   * the decider's caller logs and counts them (shared/wiring/access.ts).
   */
  unknownPlans?: string[];
}

const DAY_MS = 86_400_000;

function tierOrFree(catalogue: Catalogue, name: string | undefined): Plan {
  const tier = name ? findPlan(catalogue, name) : undefined;
  return tier ?? defaultPlan(catalogue);
}

function build(tier: Plan, reason: AccessReason, source: AccessSource, period: AllowancePeriod, policy: AccessPolicy, graceEndsAt?: string): Access {
  const features = Object.keys(tier.features);
  const metered: Record<Feature, number | null> = {};
  for (const [key, grant] of Object.entries(tier.features)) if (grant !== true) metered[key] = grant.monthlyLimit;
  const apiKeys = features.includes('api-access');
  const awsCredentials = features.includes('aws-credentials');
  const apiCalls = tier.rateLimitPerSecond !== undefined ? { limit: tier.rateLimitPerSecond, windowMs: 1000 } : { limit: policy.rates.apiCallsPerWindow, windowMs: policy.rates.apiCallWindowMs };
  return {
    tier: tier.name,
    premium: features.includes('premium'),
    features,
    metered,
    monthlyTokens: tier.monthlyTokens,
    monthlyApiCalls: apiKeys ? tier.monthlyApiCalls : 0,
    awsCredentials,
    apiKeys,
    rateLimits: {
      apiCalls: apiKeys ? apiCalls : null,
      awsCredentialsPerMinute: awsCredentials ? policy.rates.awsCredentialsPerMinute : null,
    },
    period,
    reason,
    source,
    ...(graceEndsAt ? { graceEndsAt } : {}),
  };
}

/** When a past_due grace ends; undefined when grace is off or the start is unknown. */
function graceEnd(state: AccessState, policy: AccessPolicy): Date | undefined {
  if (!policy.pastDueGrace || !state.pastDueSince) return undefined;
  const since = Date.parse(state.pastDueSince);
  return Number.isNaN(since) ? undefined : new Date(since + policy.pastDueGraceDays * DAY_MS);
}

/** Stripe's state of a user as one value: an admin tier set against it lasts until it changes. */
export function stripeStateKey(state: Pick<AccessState, 'status' | 'plan' | 'subscriptionId'>): string {
  return [state.status, state.plan ?? '-', state.subscriptionId ?? '-'].join('|');
}

/** The row fields of an admin-set tier, set against the row's Stripe state (sticky: whatever Stripe does). */
export function adminTierFields(
  tier: PlanName,
  row: Pick<AccessState, 'status' | 'plan' | 'subscriptionId'>,
  sticky = false,
): { tierStickyValue: PlanName } | { adminTier: PlanName; adminTierSetOn: string } {
  return sticky ? { tierStickyValue: tier } : { adminTier: tier, adminTierSetOn: stripeStateKey(row) };
}

const SUBSCRIBED: ReadonlySet<EntitlementStatus> = new Set(['active', 'trialing', 'past_due']);

/** A Ko-fi plan in force at `now`, if any. */
function kofiPlanAt(state: AccessState, catalogue: Catalogue, now: Date): Plan | undefined {
  if (!state.kofiPlan || !state.kofiPaidThrough) return undefined;
  const through = Date.parse(state.kofiPaidThrough);
  if (Number.isNaN(through) || now.getTime() >= through) return undefined;
  return findPlan(catalogue, state.kofiPlan);
}

/** Stripe's answer (an admin-set tier standing in for it, as before Ko-fi existed). */
function stripeAccess(state: AccessState, catalogue: Catalogue, policy: AccessPolicy, now: Date, period: AllowancePeriod, adminTier: string | undefined): Access {
  const free = defaultPlan(catalogue);
  if (adminTier !== undefined) return build(tierOrFree(catalogue, adminTier), 'admin-tier', 'admin', period, policy);
  const plan = tierOrFree(catalogue, state.tier);
  switch (state.status) {
    case 'active':
      return build(plan, 'subscription-active', 'stripe', period, policy);
    case 'trialing':
      return build(plan, 'subscription-trialing', 'stripe', period, policy);
    case 'past_due': {
      const ends = graceEnd(state, policy);
      if (ends && now.getTime() < ends.getTime()) return build(plan, 'past-due-grace', 'stripe', period, policy, ends.toISOString());
      return build(free, 'past-due', 'stripe', period, policy);
    }
    case 'canceled':
      return build(free, 'subscription-ended', 'stripe', period, policy);
    default:
      return build(free, 'no-subscription', 'none', period, policy);
  }
}

/** A new row's `tier` (shared/domain/entitlement.ts): "no paid plan", the default plan whatever the catalogue calls it. */
const NO_PAID_TIER = 'free';

/** The plan names a row stores (every source's) that the catalogue knows by no name or alias. */
function unknownStoredPlans(state: AccessState, catalogue: Catalogue): string[] {
  const stored = [state.tier === NO_PAID_TIER ? undefined : state.tier, state.kofiPlan, state.tierStickyValue, state.adminTier, state.premiumOverrideTier];
  return [...new Set(stored.filter((name): name is string => typeof name === 'string' && name !== '' && !findPlan(catalogue, name)))];
}

/**
 * The decision. No row = a user without any right: free. A person with a
 * Ko-fi grant and no account is decided from a no-account state carrying the
 * Ko-fi fields (`{status: 'none', tier: 'free', kofiPlan, kofiPaidThrough}`).
 */
export function decideAccess(state: AccessState | undefined, catalogue: Catalogue, policy: AccessPolicy, now: Date): Access {
  const access = decideFromRow(state, catalogue, policy, now);
  const unknownPlans = state ? unknownStoredPlans(state, catalogue) : [];
  return unknownPlans.length > 0 ? { ...access, unknownPlans } : access;
}

function decideFromRow(state: AccessState | undefined, catalogue: Catalogue, policy: AccessPolicy, now: Date): Access {
  const calendar = calendarPeriod(now);
  const free = defaultPlan(catalogue);
  if (!state) return build(free, 'no-subscription', 'none', calendar, policy);
  const period = (SUBSCRIBED.has(state.status) ? billingPeriod(state.currentPeriodStart, state.currentPeriodEnd) : undefined) ?? calendar;

  if (state.premiumOverride === false) return build(free, 'admin-revoke', 'admin', period, policy);

  const adminTier = state.tierStickyValue ?? (state.adminTier !== undefined && state.adminTierSetOn === stripeStateKey(state) ? state.adminTier : undefined);
  // Candidates in tie precedence: the first of the best rank wins.
  const candidates: Access[] = [];
  if (state.premiumOverride === true) {
    const named = state.premiumOverrideTier ?? adminTier ?? (state.tier !== free.name ? state.tier : undefined);
    const tier = tierOrFree(catalogue, named);
    candidates.push(build(tier.name === free.name ? tierOrFree(catalogue, policy.grantTier) : tier, 'admin-grant', 'admin', period, policy));
  }
  const stripe = stripeAccess(state, catalogue, policy, now, period, adminTier);
  candidates.push(stripe);
  const kofi = kofiPlanAt(state, catalogue, now);
  if (kofi) candidates.push({ ...build(kofi, 'kofi-subscription', 'kofi', period, policy), kofiPaidThrough: new Date(state.kofiPaidThrough as string).toISOString() });

  const freeRank = planRank(catalogue, free.name);
  let best: Access | undefined;
  for (const candidate of candidates) {
    const rank = planRank(catalogue, candidate.tier);
    if (rank <= freeRank) continue;
    if (!best || rank > planRank(catalogue, best.tier)) best = candidate;
  }
  return best ?? stripe;
}

/** A short, caller-safe sentence for a refusal (403s name the reason, never internals). */
export function describeReason(reason: AccessReason): string {
  switch (reason) {
    case 'admin-revoke':
      return 'paid features were revoked for this account';
    case 'past-due':
      return 'the subscription payment is past due';
    case 'subscription-ended':
      return 'the subscription has ended';
    case 'no-subscription':
      return 'there is no active subscription';
    case 'kofi-subscription':
      return 'the Ko-fi membership does not include this';
    default:
      return 'the current plan does not include this';
  }
}

/** The decision bound to a catalogue and a policy (built once, in the wiring). */
export type AccessDecider = (state: AccessState | undefined, now: Date) => Access;
