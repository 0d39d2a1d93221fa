import type { KofiGrant, KofiPaymentRecord } from '../domain/kofi';

/** Where a payment without a supporter email is recorded (a donation or shop order may have none). */
export const NO_EMAIL_SUPPORTER = '(no email)';

/**
 * Ko-fi payments by supporter email (the address Ko-fi reports, normalised):
 * one grant per email (the best paid-through so far, and the account it is
 * bound to) and one record per payment. Everything is a key lookup.
 */
export interface KofiSupporters {
  /** The email's grant, strongly consistent; undefined when it never paid a subscription. */
  grantOf(email: string): Promise<KofiGrant | undefined>;
  /**
   * Stores `grant`'s plan and paid-through unless the stored one already runs
   * as long or longer: paidThrough only ever grows, so a replay or a late,
   * older payment never shortens or extends twice. Never changes the owner.
   * 'extended' when written, 'unchanged' otherwise.
   */
  extendGrant(email: string, grant: Omit<KofiGrant, 'ownerUserId'>): Promise<'extended' | 'unchanged'>;
  /**
   * Binds the email's grant to `userId`, conditional on it being unowned or
   * already this user's (one write: of two accounts claiming, one wins).
   * `claimed` carries the grant as stored after the claim; `owned` names the
   * other account holding it; `none`: the email has no grant.
   */
  claimGrant(email: string, userId: string): Promise<{ outcome: 'claimed'; grant: KofiGrant } | { outcome: 'owned'; ownerUserId: string } | { outcome: 'none' }>;
  /** Records a payment (the same payment again overwrites itself: idempotent). */
  recordPayment(email: string, payment: KofiPaymentRecord): Promise<void>;
  /**
   * Deletes the email's grant and payment records (account deletion) when
   * the grant is unowned or owned by `userId`; an address whose grant another
   * account owns is left alone. Safe to repeat.
   */
  purge(email: string, userId: string): Promise<void>;
}
