import type { EntitlementRecord, SubscriptionState } from '../domain/entitlement';
import type { ChangeCause } from '../domain/entitlement-events';
import type { PlanName } from '../domain/catalogue-model';
import type { KofiGrant } from '../domain/kofi';

export interface EntitlementStore {
  get(userId: string, options?: { consistent?: boolean }): Promise<EntitlementRecord | undefined>;
  /**
   * Creates the row unless it exists (sign-up retries never reset it):
   * 'exists' when it does, 'gone' when the user has no live profile (none
   * yet, or its account deletion has started: the row must not come back).
   */
  createIfAbsent(record: EntitlementRecord): Promise<'created' | 'exists' | 'gone'>;
  /**
   * Writes Stripe-derived state read at `syncedAt` (epoch ms). Refused (returns
   * 'stale') when a newer read is already stored, and ('gone') when the user
   * no longer exists or is being deleted. A sticky admin tier is kept.
   * `cause` is stored with the write (the Stripe event, or reconcile) and named by entitlement.changed.
   */
  applySubscriptionState(userId: string, state: SubscriptionState, syncedAt: number, cause: ChangeCause): Promise<'written' | 'stale' | 'gone'>;
  /**
   * Marks the row of a user whose account deletion has started (`deletingAt`,
   * the first mark kept); no row, nothing written. Token writes check the mark
   * in their own condition and stop. Changes nothing of the user's access.
   */
  markDeleting(userId: string, at: string): Promise<void>;
  delete(userId: string): Promise<void>;
}

/** Ko-fi grants on accounts: the email's grant copied onto the row of the account that owns the email. */
export interface KofiEntitlements {
  /**
   * Writes the grant's plan and paid-through onto the user's row unless the
   * row already runs as long or longer (monotonic: 'unchanged'); creates the
   * row with the no-subscription defaults when sign-up has not yet. 'gone'
   * when the user does not exist or is being deleted (nothing written).
   * The row records `email` among the addresses whose grants it carries
   * (`kofiEmails`, also when 'unchanged'): the account's deletion purges them.
   */
  applyKofiGrant(userId: string, email: string, grant: KofiGrant, cause: ChangeCause): Promise<'written' | 'unchanged' | 'gone'>;
}

/** The admin premium override, kept beside the Stripe state in the entitlement row. */
export interface PremiumOverrides {
  /**
   * Grants (`true`, optionally naming the tier the grant gives), revokes
   * (`false`) or clears (`undefined`: follow the subscription) the override,
   * creating the entitlement row when sign-up could not. 'gone' when the
   * user does not exist or is being deleted.
   */
  setPremiumOverride(userId: string, value: boolean | undefined, grantTier?: PlanName): Promise<'written' | 'gone'>;
}
