import type { KofiGrant, KofiPaymentRecord } from '../domain/kofi';

/**
 * Ko-fi payments by supporter email (the address Ko-fi reports, normalised):
 * one grant per email (the best paid-through so far) and one record per
 * payment. Everything is a key lookup; nothing here knows accounts.
 */
export interface KofiSupporters {
  /** The email's grant, strongly consistent; undefined when it never paid a subscription. */
  grantOf(email: string): Promise<KofiGrant | undefined>;
  /**
   * Stores `grant` unless the stored one already runs as long or longer:
   * paidThrough only ever grows, so a replay or a late, older payment never
   * shortens or extends twice. 'extended' when written, 'unchanged' otherwise.
   */
  extendGrant(email: string, grant: KofiGrant): Promise<'extended' | 'unchanged'>;
  /** Records a payment (the same payment again overwrites itself: idempotent). */
  recordPayment(email: string, payment: KofiPaymentRecord): Promise<void>;
  /** Deletes the email's grant and payment records (account deletion); safe to repeat. */
  purge(email: string): Promise<void>;
}
