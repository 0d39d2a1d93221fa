import { stripeAtColdStart } from '../../shared/wiring/stripe';
import { stripeSync } from '../../shared/wiring/stripe-sync';
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

export const handler = createStripeWebhookHandler({ ...stripeSync(), signedEvents: stripeAtColdStart().signedEvents });
