import type { ChangeCause } from '../domain/entitlement-events';
import {
  deliveryIds,
  grantOf,
  isKnownTier,
  isUnsetVerificationToken,
  parseKofiData,
  paymentRecordOf,
  supporterEmail,
  verificationTokenMatches,
  type KofiRules,
} from '../domain/kofi';
import { cacheKeys, type ReadThroughCache } from '../ports/cache';
import type { KofiEntitlements } from '../ports/entitlements';
import type { ProcessedEvents } from '../ports/events';
import { NO_EMAIL_SUPPORTER, type KofiSupporters } from '../ports/kofi';
import type { UserStore } from '../ports/users';
import { logger } from '../observability/logger';
import { countMetric } from '../observability/metrics';

/**
 * Our verification token (Secrets Manager on AWS; reading it can fail like
 * any dependency: 503, Ko-fi retries). `current` is the token held;
 * `reread` reads the source again after a mismatch (ops rotated it), at most
 * once a minute, and gives undefined when it may not read yet.
 */
export interface KofiVerificationToken {
  current(): Promise<string>;
  reread(): Promise<string | undefined>;
}

export interface KofiWebhookDeps {
  verificationToken: KofiVerificationToken;
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
  /** OUR token is unset (empty, or the old public placeholder): every delivery is refused, nothing written. */
  | { outcome: 'not-configured' }
  /** Not a Ko-fi payment (after the token held, or no JSON to find a token in): `message` names the field. */
  | { outcome: 'invalid'; message: string };

/**
 * Binds the email's Ko-fi grant (if it has one) to the account and puts it on
 * the account's row, monotonic (never shortens, never extends twice). The
 * claim is one conditional write: a grant already bound to another account
 * stays with it ('owned': nothing written), so one payment never makes two
 * accounts premium. The webhook calls it after writing the email's grant, the
 * sign-up after creating the row, the email change after the move: whichever
 * runs second finds the other's write, so a payment racing a sign-up is never
 * lost. 'none': the email has no grant.
 */
export async function attachEmailGrant(
  deps: { supporters: Pick<KofiSupporters, 'claimGrant'>; entitlements: KofiEntitlements },
  userId: string,
  email: string,
  cause: ChangeCause,
): Promise<'written' | 'unchanged' | 'gone' | 'owned' | 'none'> {
  const claim = await deps.supporters.claimGrant(email, userId);
  if (claim.outcome === 'none') return 'none';
  if (claim.outcome === 'owned') {
    logger.info('Ko-fi grant of the address belongs to another account; not attached', { userId, ownerUserId: claim.ownerUserId });
    return 'owned';
  }
  return deps.entitlements.applyKofiGrant(userId, email, claim.grant, cause.ref ? cause : { ...cause, ref: claim.grant.paymentId });
}

/**
 * Compares the sent token with ours; after a mismatch (or while ours is
 * unset) reads ours again, at most once a minute, and compares once more:
 * after a rotation a warm function must not refuse every real delivery.
 */
async function tokenCheck(deps: Pick<KofiWebhookDeps, 'verificationToken'>, sent: unknown): Promise<'match' | 'refused' | 'not-configured'> {
  let expected = await deps.verificationToken.current();
  if (verificationTokenMatches(sent, expected)) return 'match';
  const fresh = await deps.verificationToken.reread();
  if (fresh !== undefined) {
    expected = fresh;
    if (verificationTokenMatches(sent, expected)) return 'match';
  }
  if (isUnsetVerificationToken(expected)) {
    logger.error('Ko-fi verification token is not configured (empty or the placeholder): every delivery is refused; put Ko-fi\'s token in the secret');
    countMetric('KofiTokenNotConfigured');
    return 'not-configured';
  }
  return 'refused';
}

/**
 * The account a subscription payment's grant goes to: the grant's owner
 * (renewals follow the account whatever its email is now), else the live
 * account owning the address now, which claims it.
 */
async function grantPaymentToAccount(deps: KofiWebhookDeps, email: string, messageId: string): Promise<string | undefined> {
  const cause: ChangeCause = { kind: 'kofi', ref: messageId };
  const stored = await deps.supporters.grantOf(email);
  let ownerUserId = stored?.ownerUserId;
  if (!ownerUserId) {
    const holder = await deps.users.findByEmail(email);
    if (!holder || holder.deletingAt) return undefined;
    const claim = await deps.supporters.claimGrant(email, holder.userId);
    if (claim.outcome === 'none') return undefined;
    // Lost a race to another claim (a sign-up or email change of the same address): the winner gets it.
    ownerUserId = claim.outcome === 'owned' ? claim.ownerUserId : holder.userId;
  }
  // Strongly consistent, after the claim: the best paid-through so far, this payment's or a later one's.
  const grant = await deps.supporters.grantOf(email);
  if (!grant) return undefined;
  const written = await deps.entitlements.applyKofiGrant(ownerUserId, email, grant, cause);
  return written === 'gone' ? undefined : ownerUserId;
}

/**
 * POST /kofi/webhook. Primary course:
 * 1. find the verification token in `data` and check it in constant time
 *    (re-reading ours once after a mismatch): missing or wrong, refuse with
 *    nothing written (not even the delivery id); ours unset, refuse every delivery;
 * 2. check the rest is a Ko-fi payment (400 naming the field; Ko-fi's retries cannot fix it);
 * 3. once per message / transaction id: record the payment on the supporter's email;
 * 4. a subscription payment extends the email's grant (paid month + grace, monotonic),
 *    then the grant goes onto the row of the account it is bound to (claimed
 *    by the account owning the address now, when unbound);
 * 5. drop the cached premium answer of the email and the account's entitlements;
 * 6. record the delivery ids. A failure before this throws: the caller answers 5xx and
 *    Ko-fi retries with the same message id, which redoes only what is missing.
 */
export async function receiveKofiPayment(deps: KofiWebhookDeps, data: string): Promise<KofiDeliveryResult> {
  const parsed = parseKofiData(data);
  // No JSON object at all: nothing could carry a token, the request is malformed.
  if (!parsed.ok && parsed.field === 'data') return { outcome: 'invalid', message: parsed.message };
  const token = await tokenCheck(deps, parsed.token);
  if (token !== 'match') return { outcome: token };
  if (!parsed.ok) return { outcome: 'invalid', message: parsed.message };
  const payment = parsed.payment;
  const ids = deliveryIds(payment);
  const seen = await Promise.all(ids.map((id) => deps.processed.seen(id)));
  if (seen.some(Boolean)) return { outcome: 'handled', handled: 'duplicate', messageId: payment.message_id, type: payment.type, account: false };

  const email = supporterEmail(payment);
  const now = deps.now();
  const grant = grantOf(payment, deps.rules);
  if (grant && payment.tier_name?.trim() && !isKnownTier(deps.rules, payment.tier_name)) {
    // The tier name is the operator's (ko-fi.com), not the supporter's: no personal data here.
    logger.warn('Ko-fi tier not in the rules: the default plan was granted', { messageId: payment.message_id, tierName: payment.tier_name.trim(), plan: grant.plan });
  }
  await deps.supporters.recordPayment(email ?? NO_EMAIL_SUPPORTER, paymentRecordOf(payment, grant, now));
  let account = false;
  // The schema refuses a subscription payment without an email: a grant always has its address.
  if (grant && email) {
    await deps.supporters.extendGrant(email, grant);
    const ownerUserId = await grantPaymentToAccount(deps, email, payment.message_id);
    account = ownerUserId !== undefined;
    const keys = [cacheKeys.premium(email), ...(ownerUserId ? [cacheKeys.entitlement(ownerUserId)] : [])];
    // Also when nothing changed: a retry after a failed invalidation must still clear the cache.
    await deps.cache.invalidate(keys);
  }
  for (const id of ids) await deps.processed.record(id, payment.type);
  const handled: KofiOutcome = grant ? 'granted' : 'recorded';
  logger.info('Ko-fi payment handled', { messageId: payment.message_id, type: payment.type, outcome: handled, account, plan: grant?.plan, paidThrough: grant?.paidThrough });
  return { outcome: 'handled', handled, messageId: payment.message_id, type: payment.type, account };
}
