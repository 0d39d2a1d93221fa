import type { Catalogue, PlanName } from './catalogue-model';
import { planForPrice } from './catalogue-model';

/**
 * A user's right to paid features, derived from Stripe's current state (never
 * from one event's payload), plus the admin overrides and token balances kept
 * beside it in the same row.
 */
export const ENTITLEMENT_STATUSES = ['active', 'trialing', 'past_due', 'canceled', 'none'] as const;
export type EntitlementStatus = (typeof ENTITLEMENT_STATUSES)[number];

/** What the webhook derives from Stripe and writes. */
export interface SubscriptionState {
  status: EntitlementStatus;
  /** Stripe price id of the subscription that decides the state; null without one. */
  plan: string | null;
  /** Tier that price buys (free when there is no paid subscription). */
  tier: PlanName;
  subscriptionId: string | null;
  /**
   * The paid billing period in force (ISO): Stripe's current period of the
   * subscription item, adopted once its invoice is paid (the allowance period
   * of Stripe plans). Stripe moves the period at renewal and charges about an
   * hour later: until then (or while the payment fails) the previous paid
   * period stays in force.
   */
  currentPeriodStart: string | null;
  currentPeriodEnd: string | null;
  /** False while the subscription's latest invoice is not paid: the stored period is kept, not replaced. */
  periodPaid: boolean;
  trialEndsAt: string | null;
  cancelAtPeriodEnd: boolean;
}

/** The subset of a Stripe subscription the rules need (the adapter maps Stripe's object to it). */
export interface SubscriptionSnapshot {
  id: string;
  /** Stripe's status: active, trialing, past_due, canceled, unpaid, incomplete, incomplete_expired, paused. */
  status: string;
  priceId: string | null;
  /** Epoch seconds. */
  created: number;
  /** The subscription item's current period (epoch seconds); Stripe keeps it on the item since API 2025-03-31. */
  currentPeriodStart: number | null;
  currentPeriodEnd: number | null;
  /** The latest invoice is paid (or there is none, or it is for nothing). */
  periodPaid: boolean;
  trialEnd: number | null;
  cancelAtPeriodEnd: boolean;
}

export const NO_SUBSCRIPTION: SubscriptionState = {
  status: 'none',
  plan: null,
  tier: 'free',
  subscriptionId: null,
  currentPeriodStart: null,
  currentPeriodEnd: null,
  periodPaid: true,
  trialEndsAt: null,
  cancelAtPeriodEnd: false,
};

/** Stripe status -> ours. `unpaid` (retries exhausted) and `paused` (trial ended without payment) end access. */
export function mapStripeStatus(status: string): EntitlementStatus {
  switch (status) {
    case 'active':
      return 'active';
    case 'trialing':
      return 'trialing';
    case 'past_due':
      return 'past_due';
    case 'canceled':
    case 'unpaid':
    case 'paused':
    case 'incomplete_expired':
      return 'canceled';
    default:
      // incomplete: the first payment never succeeded, nothing was granted.
      return 'none';
  }
}

const RANK: Record<EntitlementStatus, number> = { active: 4, trialing: 3, past_due: 2, canceled: 1, none: 0 };

const iso = (epochSeconds: number | null): string | null => (epochSeconds === null ? null : new Date(epochSeconds * 1000).toISOString());

/**
 * Derives the entitlement from ALL the customer's subscriptions as Stripe
 * reports them now: the one granting the most access wins (ties: the newest),
 * so a stray canceled or incomplete subscription never hides an active one.
 */
export function deriveSubscriptionState(subscriptions: readonly SubscriptionSnapshot[], catalogue: Catalogue): SubscriptionState {
  let best: { snap: SubscriptionSnapshot; status: EntitlementStatus } | undefined;
  for (const snap of subscriptions) {
    const status = mapStripeStatus(snap.status);
    if (status === 'none') continue;
    if (!best || RANK[status] > RANK[best.status] || (RANK[status] === RANK[best.status] && snap.created > best.snap.created)) {
      best = { snap, status };
    }
  }
  if (!best) return NO_SUBSCRIPTION;
  const { snap, status } = best;
  const paidTier = snap.priceId ? planForPrice(catalogue, snap.priceId)?.name : undefined;
  const grantsAccess = status === 'active' || status === 'trialing' || status === 'past_due';
  return {
    status,
    plan: snap.priceId,
    tier: grantsAccess && paidTier ? paidTier : 'free',
    subscriptionId: snap.id,
    currentPeriodStart: iso(snap.currentPeriodStart),
    currentPeriodEnd: iso(snap.currentPeriodEnd),
    periodPaid: snap.periodPaid,
    trialEndsAt: status === 'trialing' ? iso(snap.trialEnd) : null,
    cancelAtPeriodEnd: status === 'canceled' ? false : snap.cancelAtPeriodEnd,
  };
}

/**
 * The stored row: subscription state + overrides + token balances (owned by
 * the token rules). What the user may do is never read from it directly:
 * shared/domain/access.ts decides.
 */
export interface EntitlementRecord extends Omit<SubscriptionState, 'periodPaid'> {
  userId: string;
  /** Epoch ms when the Stripe state written here was read; an older read never overwrites a newer one. */
  stripeSyncedAt?: number;
  /** An admin-set tier, in force while Stripe's state is still the one it was set against (shared/domain/access.ts). */
  adminTier?: PlanName;
  /** `stripeStateKey` of the row when `adminTier` was set. */
  adminTierSetOn?: string;
  /** A sticky admin tier: in force whatever Stripe says (absent = Stripe decides). */
  tierStickyValue?: PlanName;
  /** Admin premium override: true = grant, false = revoke; absent = follow the subscription. */
  premiumOverride?: boolean;
  /** The tier a grant gives (absent: see shared/domain/access.ts). */
  premiumOverrideTier?: PlanName;
  /** When Stripe's state was first seen past_due (ISO); cleared when it is anything else. The grace runs from here. */
  pastDueSince?: string;
  /** The plan Ko-fi payments of the account's email bought, in force until `kofiPaidThrough` (shared/domain/access.ts). */
  kofiPlan?: string;
  /** ISO 8601: end of the paid Ko-fi month plus the grace; only ever grows. */
  kofiPaidThrough?: string;
  /** The Ko-fi addresses whose grants this account owns (their grants go with the account). */
  kofiEmails?: string[];
  /** Token fields: see shared/domain/token-balances.ts. */
  tokenPeriod?: string;
  tokensUsedThisPeriod?: number;
  /** The part of tokensUsedThisPeriod taken from the monthly allowance. */
  tokensAllowanceUsed?: number;
  tokensPurchased?: number;
  /** Set when the user's account deletion started (ISO): token writes stop; the access it decides is unchanged. */
  deletingAt?: string;
  createdAt: string;
  updatedAt: string;
}

/**
 * Whether the row already holds what writing `state` would store (the
 * fields applySubscriptionState sets, the grace start included): such a
 * state is not written again, so a re-read that finds no drift writes nothing.
 */
export function holdsSubscriptionState(row: EntitlementRecord | undefined, state: SubscriptionState): boolean {
  if (!row || row.stripeSyncedAt === undefined) return false;
  const subscription =
    row.status === state.status &&
    (row.plan ?? null) === state.plan &&
    row.tier === state.tier &&
    (row.subscriptionId ?? null) === state.subscriptionId &&
    (row.trialEndsAt ?? null) === state.trialEndsAt &&
    (row.cancelAtPeriodEnd ?? false) === state.cancelAtPeriodEnd;
  // An unpaid period is not adopted: the stored one stays whatever Stripe's moved to.
  const period = !state.periodPaid || ((row.currentPeriodStart ?? null) === state.currentPeriodStart && (row.currentPeriodEnd ?? null) === state.currentPeriodEnd);
  const grace = state.status === 'past_due' ? row.pastDueSince !== undefined : row.pastDueSince === undefined;
  const balances = row.tokensPurchased !== undefined && row.tokensUsedThisPeriod !== undefined;
  return subscription && period && grace && balances;
}

export function newEntitlement(userId: string, now: Date): EntitlementRecord {
  // `periodPaid` tells a Stripe write what to do; it is not stored.
  const { periodPaid: _unused, ...state } = NO_SUBSCRIPTION;
  return { userId, ...state, tokensPurchased: 0, tokensUsedThisPeriod: 0, createdAt: now.toISOString(), updatedAt: now.toISOString() };
}

export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

/**
 * A subscription that grants access but whose price the catalogue does not
 * know (a price made in the dashboard, a catalogue missing an env var) must
 * never downgrade a paying customer silently: the derived state keeps the
 * tier the user had, and the price is returned so the caller reports it.
 */
export function keepTierOnUnknownPrice(
  state: SubscriptionState,
  previousTier: PlanName | undefined,
  catalogue: Catalogue,
): { state: SubscriptionState; unknownPrice: string | null } {
  const grantsAccess = state.status === 'active' || state.status === 'trialing' || state.status === 'past_due';
  if (!grantsAccess || !state.plan || planForPrice(catalogue, state.plan)) return { state, unknownPrice: null };
  return { state: { ...state, tier: previousTier ?? state.tier }, unknownPrice: state.plan };
}
