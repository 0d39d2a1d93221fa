import { catalogue } from '../../shared/wiring/access';
import { cache } from '../../shared/wiring/cache';
import { stores } from '../../shared/wiring/stores';
import { stripe } from '../../shared/wiring/stripe';
import { tokenCredits } from '../../shared/wiring/tokens';
import { ValidationError } from '../../shared/http/errors';
import { httpHandler, retryableFailure, type HttpHandler } from '../../shared/http/handler';
import { header, rawBody } from '../../shared/http/request';
import { jsonResponse } from '../../shared/http/response';
import type { SignedEvents } from '../../shared/ports/events';
import { receiveStripeEvent, type WebhookDeps } from '../../shared/use-cases/stripe-webhook';

/** Stripe events are small; 256 KB leaves room for expanded objects. */
const MAX_EVENT_BYTES = 256 * 1024;

/**
 * POST /stripe/webhook (public, signed by Stripe). Refusals of what Stripe
 * sent are 400s (Stripe stops retrying); anything that fails after the
 * signature held is a 5xx, so that Stripe retries.
 */
export function createStripeWebhookHandler(deps: WebhookDeps & { signedEvents: SignedEvents }): HttpHandler {
  return httpHandler(async (event) => {
    const signature = header(event, 'stripe-signature');
    if (!signature) throw new ValidationError('Stripe-Signature header is required', 'invalid_signature');
    // The signature covers the exact bytes Stripe sent (API Gateway may have base64-encoded them).
    const result = await receiveStripeEvent(deps, rawBody(event, MAX_EVENT_BYTES), signature).catch(retryableFailure);
    if (result.outcome === 'invalid-signature') throw new ValidationError('Invalid or expired Stripe signature', 'invalid_signature');
    if (result.outcome === 'not-an-event') throw new ValidationError('body: not a Stripe event (id, type and data.object are required)', 'invalid_event');
    return jsonResponse(200, { received: true });
  });
}

const { users, entitlements, processedEvents } = stores();
const { billing, signedEvents } = stripe();
export const handler = createStripeWebhookHandler({
  users,
  entitlements,
  billing,
  signedEvents,
  cache: cache(),
  catalogue: catalogue(),
  processed: processedEvents,
  topUps: tokenCredits(),
  tokenAdjustments: tokenCredits(),
  clock: () => Date.now(),
});
