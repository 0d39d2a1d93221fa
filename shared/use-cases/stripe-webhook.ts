import type { ProcessedEvents, PurchasedTokenAdjustments, SignedEvents, TopUpCredits } from '../ports/events';
import { logger } from '../observability/logger';
import { countAnomaly, countMetric, type BusinessMetric } from '../observability/metrics';
import { onChargeRefundsChanged, onDisputeChanged } from './stripe-clawbacks';
import { invalidateUser, onCustomerDeleted, ownerOfTopUp, syncCustomer, type SyncDeps, type SyncOutcome } from './stripe-sync';

/** The fields of a verified Stripe event the rules read (the adapter checked the signature). */
export interface StripeEventLike {
  id: string;
  type: string;
  data: { object: Record<string, unknown> };
}

export interface WebhookDeps extends SyncDeps {
  processed: ProcessedEvents;
  topUps: TopUpCredits;
  tokenAdjustments: PurchasedTokenAdjustments;
}

/** Events about refunds: each leads to the charge whose refunds are re-read. */
const REFUND_EVENTS = new Set(['charge.refunded', 'charge.refund.updated', 'refund.created', 'refund.updated', 'refund.failed']);

/** `unchanged`: the re-read found the row already holding Stripe's state. */
export type WebhookOutcome = 'applied' | 'unchanged' | 'duplicate' | 'ignored' | 'stale';

const SYNC_PREFIXES = ['customer.subscription.', 'invoice.', 'checkout.session.'];

/**
 * Events that can say a Checkout's money arrived: `completed` (a card pays at
 * once) and `async_payment_succeeded` (a bank debit settled days later). Each
 * credits only when it says `payment_status: paid`; the credit is keyed by
 * the session, so whichever comes first credits and the other is a no-op.
 */
const CHECKOUT_PAID_EVENTS = new Set(['checkout.session.completed', 'checkout.session.async_payment_succeeded']);

/** An id, or the id of an expanded object. */
function idOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { id?: unknown }).id === 'string') return (value as { id: string }).id;
  return undefined;
}

function customerOf(object: Record<string, unknown>): string | undefined {
  const customer = object.customer;
  if (typeof customer === 'string') return customer;
  if (customer && typeof customer === 'object' && typeof (customer as { id?: unknown }).id === 'string') return (customer as { id: string }).id;
  return undefined;
}

/**
 * Applies one verified Stripe event. Subscription, invoice and checkout events
 * all trigger the same order-proof re-read of the customer; a paid top-up
 * checkout also credits its tokens exactly once (keyed by the session id).
 */
export async function handleStripeEvent(deps: WebhookDeps, event: StripeEventLike): Promise<WebhookOutcome> {
  if (await deps.processed.seen(event.id)) return 'duplicate';
  const object = event.data.object;
  const cause = { kind: 'stripe', ref: event.id } as const;
  let outcome: WebhookOutcome = 'ignored';

  if (event.type === 'customer.deleted') {
    const id = typeof object.id === 'string' ? object.id : undefined;
    outcome = id ? toOutcome(await onCustomerDeleted(deps, id, cause)) : 'ignored';
  } else if (REFUND_EVENTS.has(event.type)) {
    // A charge.* event carries the charge; a refund.* event the refund (its `charge`).
    const chargeId = idOf(event.type.startsWith('charge.') && event.type !== 'charge.refund.updated' ? object.id : object.charge);
    outcome = chargeId ? await onChargeRefundsChanged(deps, chargeId) : 'ignored';
  } else if (event.type.startsWith('charge.dispute.')) {
    const disputeId = idOf(object.id);
    outcome = disputeId ? await onDisputeChanged(deps, disputeId) : 'ignored';
  } else if (SYNC_PREFIXES.some((p) => event.type.startsWith(p))) {
    const customerId = customerOf(object);
    const metadata = (object.metadata ?? {}) as Record<string, string>;
    if (customerId) {
      if (CHECKOUT_PAID_EVENTS.has(event.type) && metadata.kind === 'top-up') {
        outcome = await creditTopUp(deps, customerId, object, metadata);
      }
      if (event.type === 'checkout.session.async_payment_failed' && object.mode === 'subscription') {
        await abandonUnpaidSubscription(deps, customerId, object);
      }
      const synced = toOutcome(await syncCustomer(deps, customerId, cause, metadata.userId));
      if (outcome !== 'applied') outcome = synced;
    }
  } else {
    logger.debug('Stripe event type not handled', { type: event.type });
  }

  await deps.processed.record(event.id, event.type);
  return outcome;
}

/**
 * The bank debit for a subscription's first invoice bounced: the subscription
 * would sit `incomplete` (no access) for 23 h and block a new checkout (one
 * subscription per user). It is canceled now, only while still incomplete,
 * so the user can start again with another payment method.
 */
async function abandonUnpaidSubscription(deps: WebhookDeps, customerId: string, session: Record<string, unknown>): Promise<void> {
  const raw = session.subscription;
  const subscriptionId = typeof raw === 'string' ? raw : raw && typeof raw === 'object' ? (raw as { id?: string }).id : undefined;
  if (!subscriptionId) return;
  const current = (await deps.billing.listSubscriptions(customerId)).find((s) => s.id === subscriptionId);
  if (current?.status !== 'incomplete') return;
  await deps.billing.cancelSubscription(subscriptionId);
  logger.info('canceled a subscription whose first (delayed) payment failed', { customerId, subscriptionId });
}

function toOutcome(sync: SyncOutcome): WebhookOutcome {
  return sync === 'written' ? 'applied' : sync;
}

async function creditTopUp(deps: WebhookDeps, customerId: string, session: Record<string, unknown>, metadata: Record<string, string>): Promise<WebhookOutcome> {
  if (session.payment_status !== 'paid' || typeof session.id !== 'string') return 'ignored';
  const tokens = Number(metadata.tokens);
  if (!Number.isSafeInteger(tokens) || tokens <= 0) {
    logger.error('top-up checkout without a valid token count', { sessionId: session.id });
    return 'ignored';
  }
  const owner = await ownerOfTopUp(deps, customerId, metadata.userId);
  if (!owner) {
    // Paid, and nobody to credit: the money must go back, so ops must see it.
    logger.error('top-up paid for a user who is gone or being deleted: refund it', { sessionId: session.id, customerId });
    countAnomaly('TopUpWithoutLiveUser');
    return 'ignored';
  }
  const result = await deps.topUps.credit({ userId: owner.userId, tokens, idempotencyKey: `topup:${session.id}`, reason: `Stripe checkout ${session.id}` });
  if (result === 'unknown-user') return 'ignored';
  // Also on a duplicate: a redelivery after a failed invalidation must still clear the cache.
  await invalidateUser(deps.cache, owner);
  return result === 'applied' ? 'applied' : 'ignored';
}

/** A signed body is still checked for the fields the rules read: junk is a 400, never a 500 retried for days. */
function isEventShaped(event: unknown): event is StripeEventLike {
  const e = event as { id?: unknown; type?: unknown; data?: { object?: unknown } } | null;
  const object = e?.data?.object;
  return (
    typeof e?.id === 'string' && e.id.length > 0 && e.id.length <= 255 &&
    typeof e.type === 'string' && e.type.length > 0 &&
    typeof object === 'object' && object !== null && !Array.isArray(object)
  );
}

/** A stale event (an older read than the row) changed nothing, like an ignored one. */
const WEBHOOK_METRIC: Record<WebhookOutcome, BusinessMetric> = {
  applied: 'WebhookApplied',
  // Applied, and the row already held it: the event is in effect all the same.
  unchanged: 'WebhookApplied',
  duplicate: 'WebhookDuplicate',
  ignored: 'WebhookIgnored',
  stale: 'WebhookIgnored',
};

export type ReceiveEventResult =
  | { outcome: 'handled'; eventId: string; type: string; handled: WebhookOutcome }
  | { outcome: 'invalid-signature' }
  | { outcome: 'not-an-event' };

/**
 * POST /stripe/webhook. Primary course:
 * 1. verify the signature over the exact bytes Stripe sent (old signatures are replays);
 * 2. check the event carries what the rules read;
 * 3. apply it (once per event id). A failure after verification is left to
 *    throw: the caller answers 5xx so that Stripe retries.
 */
export async function receiveStripeEvent(deps: WebhookDeps & { signedEvents: SignedEvents }, payload: Buffer, signature: string): Promise<ReceiveEventResult> {
  const event = await deps.signedEvents.verify(payload, signature);
  if (event === undefined) return { outcome: 'invalid-signature' };
  if (!isEventShaped(event)) return { outcome: 'not-an-event' };
  try {
    const handled = await handleStripeEvent(deps, event);
    logger.info('stripe event handled', { eventId: event.id, type: event.type, outcome: handled });
    countMetric(WEBHOOK_METRIC[handled]);
    return { outcome: 'handled', eventId: event.id, type: event.type, handled };
  } catch (err) {
    countMetric('WebhookFailed');
    logger.warn('stripe event failed; Stripe will retry', { eventId: event.id, type: event.type });
    throw err;
  }
}
