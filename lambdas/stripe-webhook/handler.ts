import { awsSection, loadConfig, policySection, redisSection, stripeSection, tablesSection, tiersSection } from '../../shared/config';
import { wireAccess, wireAws, wireCache, wireCatalogue, wireStores, wireTokenAdjustments, wireTopUps } from '../../shared/adapters/wiring';
import { wireStripe } from '../../shared/adapters/stripe/wiring';
import { AppError, InternalError, ValidationError } from '../../shared/http/errors';
import { httpHandler } from '../../shared/http/handler';
import { header, rawBody } from '../../shared/http/request';
import { jsonResponse } from '../../shared/http/response';
import { logger } from '../../shared/observability/logger';
import { handleStripeEvent, type StripeEventLike } from '../../shared/use-cases/stripe-webhook';

const config = loadConfig({ aws: awsSection, tables: tablesSection, redis: redisSection, stripe: stripeSection, tiers: tiersSection, policy: policySection });
const aws = wireAws(config.aws);
const stores = wireStores(aws, config.tables);
const stripe = wireStripe(aws, config.stripe);
const catalogue = wireCatalogue(config.tiers);
const access = wireAccess(catalogue, config.policy);
const deps = {
  users: stores.users,
  entitlements: stores.entitlements,
  billing: stripe.billing,
  cache: wireCache(aws, config.redis),
  catalogue,
  processed: stores.processedEvents,
  topUps: wireTopUps(aws, config.tables, catalogue, access.policy),
  tokenAdjustments: wireTokenAdjustments(aws, config.tables, catalogue, access.policy),
  clock: () => Date.now(),
};

/** Stripe's own default: signatures older than 5 minutes are replays. */
const SIGNATURE_TOLERANCE_SECONDS = 300;
/** Stripe events are small; 256 KB leaves room for expanded objects. */
const MAX_EVENT_BYTES = 256 * 1024;

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

export const handler = httpHandler(async (event) => {
  const signature = header(event, 'stripe-signature');
  if (!signature) throw new ValidationError('Stripe-Signature header is required', 'invalid_signature');
  // The signature covers the exact bytes Stripe sent (API Gateway may have base64-encoded them).
  const payload = rawBody(event, MAX_EVENT_BYTES);
  const [{ webhookSecret }, client] = await Promise.all([stripe.keys(), stripe.client()]);
  let stripeEvent: StripeEventLike;
  try {
    stripeEvent = client.webhooks.constructEvent(payload, signature, webhookSecret, SIGNATURE_TOLERANCE_SECONDS) as unknown as StripeEventLike;
  } catch {
    throw new ValidationError('Invalid or expired Stripe signature', 'invalid_signature');
  }
  if (!isEventShaped(stripeEvent)) throw new ValidationError('body: not a Stripe event (id, type and data.object are required)', 'invalid_event');
  try {
    const outcome = await handleStripeEvent(deps, stripeEvent);
    logger.info('stripe event handled', { eventId: stripeEvent.id, type: stripeEvent.type, outcome });
    return jsonResponse(200, { received: true });
  } catch (err) {
    // Anything that failed after verification is worth Stripe's retry: a 5xx, never a 4xx (Stripe
    // stops on 4xx). The error policy maps dependency failures to 503 and the rest to 500.
    logger.warn('stripe event failed; Stripe will retry', { eventId: stripeEvent.id, type: stripeEvent.type });
    if (err instanceof AppError && err.expose) throw new InternalError(err.message);
    throw err;
  }
});
