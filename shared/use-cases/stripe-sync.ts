import { NO_SUBSCRIPTION, deriveSubscriptionState, holdsSubscriptionState, keepTierOnUnknownPrice, type EntitlementRecord, type SubscriptionSnapshot, type SubscriptionState } from '../domain/entitlement';
import type { ChangeCause } from '../domain/entitlement-events';
import { planForPrice, type Catalogue } from '../domain/catalogue-model';
import type { BillingProvider } from '../ports/billing';
import { cacheKeys, type ReadThroughCache } from '../ports/cache';
import type { EntitlementStore } from '../ports/entitlements';
import type { UserProfile, UserStore } from '../ports/users';
import { logger } from '../observability/logger';
import { countAnomaly } from '../observability/metrics';

export interface SyncDeps {
  users: UserStore;
  entitlements: EntitlementStore;
  billing: BillingProvider;
  cache: ReadThroughCache;
  catalogue: Catalogue;
  /** Epoch ms; the guard orders Stripe reads by when they started. */
  clock: () => number;
}

/** `unchanged`: the row already held Stripe's state; nothing was written. */
export type SyncOutcome = 'written' | 'unchanged' | 'stale' | 'ignored';

/**
 * The owner of a Stripe customer: by the byStripeCustomer index, else by the
 * customer's metadata.userId (the index is eventually consistent right after
 * the customer was attached). Unknown or deleting users -> undefined.
 */
export async function ownerOfCustomer(deps: Pick<SyncDeps, 'users' | 'billing'>, customerId: string, hintUserId?: string): Promise<UserProfile | undefined> {
  const indexed = await deps.users.findByStripeCustomer(customerId);
  let profile = indexed;
  if (!profile) {
    let userId = hintUserId;
    if (!userId) {
      const customer = await deps.billing.getCustomer(customerId);
      userId = customer.deleted ? undefined : customer.userId;
    }
    profile = userId ? await deps.users.get(userId, { consistent: true }) : undefined;
    // A customer is only ours when the profile points back at it (or has none yet).
    if (profile && profile.stripeCustomerId && profile.stripeCustomerId !== customerId) return undefined;
  }
  if (!profile || profile.deletingAt) return undefined;
  return profile;
}

/**
 * One paid subscription per user is the rule; Stripe still allows a second
 * (created in the dashboard, or two Checkouts raced). The entitlement takes the
 * best one (deriveSubscriptionState); the extra one is NOT canceled here: it may
 * be an operator's deliberate change, and canceling does not refund what was
 * charged. Operators are told instead: an error log naming both, and a metric.
 */
function reportDuplicateSubscriptions(userId: string, customerId: string, subscriptions: readonly SubscriptionSnapshot[]): void {
  const granting = subscriptions.filter((s) => ['active', 'trialing', 'past_due'].includes(s.status));
  if (granting.length < 2) return;
  logger.error('Stripe customer has more than one live subscription; the best one decides access, the others still bill', {
    userId,
    customerId,
    subscriptions: granting.map((s) => ({ id: s.id, status: s.status, priceId: s.priceId, created: s.created })),
  });
  countAnomaly('DuplicateSubscriptions');
}

/** An unknown price keeps the user's current tier (see keepTierOnUnknownPrice) and is reported loudly. */
async function withKnownTier(
  deps: SyncDeps,
  userId: string,
  customerId: string,
  derived: SubscriptionState,
  readRow: () => Promise<EntitlementRecord | undefined>,
): Promise<SubscriptionState> {
  if (!derived.plan || planForPrice(deps.catalogue, derived.plan)) return derived;
  const current = await readRow();
  const { state, unknownPrice } = keepTierOnUnknownPrice(derived, current?.tier, deps.catalogue);
  if (unknownPrice) {
    logger.error('Stripe price is not in the catalogue (stripePrices of this environment); the previous plan is kept', { userId, customerId, priceId: unknownPrice, keptTier: state.tier });
    countAnomaly('UnknownStripePrice');
  }
  return state;
}

/**
 * The owner of a top-up checkout: the user we created the session for
 * (`metadata.userId`, set server-side), while alive, whatever customer the
 * profile points at now (a customer deleted and re-created since still paid
 * for these tokens); sessions without it fall back to the customer's owner.
 */
export async function ownerOfTopUp(deps: Pick<SyncDeps, 'users' | 'billing'>, customerId: string, metadataUserId?: string): Promise<UserProfile | undefined> {
  if (!metadataUserId) return ownerOfCustomer(deps, customerId);
  const profile = await deps.users.get(metadataUserId, { consistent: true });
  return profile && !profile.deletingAt ? profile : undefined;
}

export async function invalidateUser(cache: ReadThroughCache, profile: Pick<UserProfile, 'userId' | 'email'>): Promise<void> {
  await cache.invalidate([cacheKeys.entitlement(profile.userId), cacheKeys.premium(profile.email)]);
}

/**
 * Order-proof sync: re-read the customer's subscriptions from Stripe NOW and
 * write the derived state, guarded by the read's start time so an older read
 * never overwrites a newer one. Whatever order events arrive in, the last
 * write is Stripe's latest state. `cause` (the Stripe event, or reconcile)
 * is stored with the write and named by entitlement.changed (only a change
 * of access publishes one). With `onlyIfDrifted` (reconcile) a state the row
 * already holds is not written again, so a pass over customers that did not
 * drift writes nothing.
 */
export async function syncCustomer(
  deps: SyncDeps,
  customerId: string,
  cause: ChangeCause,
  hintUserId?: string,
  options: { onlyIfDrifted?: boolean } = {},
): Promise<SyncOutcome> {
  const profile = await ownerOfCustomer(deps, customerId, hintUserId);
  if (!profile) {
    logger.info('Stripe customer has no live user; event ignored', { customerId });
    return 'ignored';
  }
  const readStartedAt = deps.clock();
  const subscriptions = await deps.billing.listSubscriptions(customerId);
  reportDuplicateSubscriptions(profile.userId, customerId, subscriptions);
  // The row is read (after Stripe, so a write that landed meanwhile is compared, not missed) only
  // when it decides something: a price the catalogue lacks keeps the row's tier, and reconcile
  // compares it. A webhook event for a known price needs no read (one DynamoDB request less).
  let row: Promise<EntitlementRecord | undefined> | undefined;
  const readRow = () => (row ??= deps.entitlements.get(profile.userId, { consistent: true }));
  const state = await withKnownTier(deps, profile.userId, customerId, deriveSubscriptionState(subscriptions, deps.catalogue), readRow);
  // Reconcile repairs only drift (0 writes when nothing drifted). The webhook always writes: its
  // write moves the row's read time forward, so an older read still in flight (Stripe changed and
  // changed back meanwhile) is refused instead of landing over a newer state it never saw.
  if (options.onlyIfDrifted && holdsSubscriptionState(await readRow(), state)) return 'unchanged';
  const result = await deps.entitlements.applySubscriptionState(profile.userId, state, readStartedAt, cause);
  if (result === 'gone') return 'ignored';
  if (result === 'written') {
    await invalidateUser(deps.cache, profile);
    // What the user may now do is decided from the row at read time (shared/domain/access.ts), overrides included.
    logger.info('entitlement synced from Stripe', { userId: profile.userId, status: state.status, tier: state.tier, periodPaid: state.periodPaid });
  }
  return result;
}

/** Stripe deleted the customer (e.g. from the dashboard): access ends, a new customer is created lazily. */
export async function onCustomerDeleted(deps: SyncDeps, customerId: string, cause: ChangeCause): Promise<SyncOutcome> {
  const profile = await deps.users.findByStripeCustomer(customerId);
  if (!profile || profile.deletingAt) return 'ignored';
  const current = await deps.entitlements.get(profile.userId, { consistent: true });
  const state = { ...NO_SUBSCRIPTION, status: current && current.status !== 'none' ? ('canceled' as const) : ('none' as const) };
  const result = await deps.entitlements.applySubscriptionState(profile.userId, state, deps.clock(), cause);
  await deps.users.detachStripeCustomer(profile.userId, customerId);
  if (result === 'written') await invalidateUser(deps.cache, profile);
  return result === 'gone' ? 'ignored' : result;
}
