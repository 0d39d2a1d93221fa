import type { ChangeCause } from '../domain/entitlement-events';
import {
  deliveryIds,
  grantOf,
  parseKofiData,
  paymentRecordOf,
  supporterEmail,
  verificationTokenMatches,
  type KofiRules,
} from '../domain/kofi';
import { cacheKeys, type ReadThroughCache } from '../ports/cache';
import type { KofiEntitlements } from '../ports/entitlements';
import type { ProcessedEvents } from '../ports/events';
import type { KofiSupporters } from '../ports/kofi';
import type { UserStore } from '../ports/users';
import { logger } from '../observability/logger';

export interface KofiWebhookDeps {
  /** Our verification token (Secrets Manager on AWS; reading it can fail like any dependency: 503, Ko-fi retries). */
  verificationToken: () => Promise<string>;
  rules: KofiRules;
  supporters: KofiSupporters;
  /** The account that owns a verified address now (the premium check's rule). */
  users: Pick<UserStore, 'findByEmail'>;
  entitlements: KofiEntitlements;
  /** Ko-fi deliveries already applied (the idempotency table, namespace `kofi`). */
  processed: ProcessedEvents;
  cache: Pick<ReadThroughCache, 'invalidate'>;
  now: () => Date;
}

/** `granted`: a subscription payment (its grant may already have been covered); `recorded`: any other payment. */
export type KofiOutcome = 'granted' | 'recorded' | 'duplicate';

export type KofiDeliveryResult =
  | { outcome: 'handled'; handled: KofiOutcome; messageId: string; type: string; account: boolean }
  /** The token is missing or wrong: nothing was read or written. */
  | { outcome: 'refused' }
  /** Not a Ko-fi payment (after the token held, or no JSON to find a token in): `message` names the field. */
  | { outcome: 'invalid'; message: string };

/**
 * The email's Ko-fi grant (if it has one) onto the row of the account that
 * owns the email, monotonic (never shortens, never extends twice). The
 * webhook calls it after writing the email's grant, the sign-up after
 * creating the row: whichever runs second finds the other's write, so a
 * payment racing a sign-up is never lost. 'none': the email has no grant.
 */
export async function attachEmailGrant(
  deps: { supporters: Pick<KofiSupporters, 'grantOf'>; entitlements: KofiEntitlements },
  userId: string,
  email: string,
  cause: ChangeCause,
): Promise<'written' | 'unchanged' | 'gone' | 'none'> {
  const grant = await deps.supporters.grantOf(email);
  if (!grant) return 'none';
  return deps.entitlements.applyKofiGrant(userId, grant, cause.ref ? cause : { ...cause, ref: grant.paymentId });
}

/**
 * POST /kofi/webhook. Primary course:
 * 1. find the verification token in `data` and check it in constant time:
 *    missing or wrong, refuse with nothing written (not even the delivery id);
 * 2. check the rest is a Ko-fi payment (400 naming the field; Ko-fi's retries cannot fix it);
 * 3. once per message / transaction id: record the payment on the supporter's email;
 * 4. a subscription payment extends the email's grant (paid month + grace, monotonic),
 *    then the grant goes onto the row of the account owning the email, if one does;
 * 5. drop the cached premium answer of the email and the account's entitlements;
 * 6. record the delivery ids. A failure before this throws: the caller answers 5xx and
 *    Ko-fi retries with the same message id, which redoes only what is missing.
 */
export async function receiveKofiPayment(deps: KofiWebhookDeps, data: string): Promise<KofiDeliveryResult> {
  const parsed = parseKofiData(data);
  // No JSON object at all: nothing could carry a token, the request is malformed.
  if (!parsed.ok && parsed.field === 'data') return { outcome: 'invalid', message: parsed.message };
  if (!verificationTokenMatches(parsed.token, await deps.verificationToken())) return { outcome: 'refused' };
  if (!parsed.ok) return { outcome: 'invalid', message: parsed.message };
  const payment = parsed.payment;
  const ids = deliveryIds(payment);
  const seen = await Promise.all(ids.map((id) => deps.processed.seen(id)));
  if (seen.some(Boolean)) return { outcome: 'handled', handled: 'duplicate', messageId: payment.message_id, type: payment.type, account: false };

  const email = supporterEmail(payment);
  const now = deps.now();
  const grant = grantOf(payment, deps.rules);
  await deps.supporters.recordPayment(email, paymentRecordOf(payment, grant, now));
  let account = false;
  if (grant) {
    await deps.supporters.extendGrant(email, grant);
    const owner = await deps.users.findByEmail(email);
    const keys = [cacheKeys.premium(email)];
    if (owner && !owner.deletingAt) {
      // The email's best grant (this one, or a later payment's already stored) goes onto the account.
      const written = await attachEmailGrant(deps, owner.userId, email, { kind: 'kofi', ref: payment.message_id });
      account = written === 'written' || written === 'unchanged';
      keys.push(cacheKeys.entitlement(owner.userId));
    }
    // Also when nothing changed: a retry after a failed invalidation must still clear the cache.
    await deps.cache.invalidate(keys);
  }
  for (const id of ids) await deps.processed.record(id, payment.type);
  const handled: KofiOutcome = grant ? 'granted' : 'recorded';
  logger.info('Ko-fi payment handled', { messageId: payment.message_id, type: payment.type, outcome: handled, account, plan: grant?.plan, paidThrough: grant?.paidThrough });
  return { outcome: 'handled', handled, messageId: payment.message_id, type: payment.type, account };
}
