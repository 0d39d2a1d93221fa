import { kofiWebhook } from '../../shared/wiring/kofi';
import { DependencyUnavailableError, UnauthorizedError, ValidationError } from '../../shared/http/errors';
import { httpHandler, retryableFailure, type HttpHandler } from '../../shared/http/handler';
import { header, rawBody } from '../../shared/http/request';
import { jsonResponse } from '../../shared/http/response';
import { receiveKofiPayment, type KofiWebhookDeps } from '../../shared/use-cases/kofi-webhook';

/** A payment with shop items and a shipping address is a few KB. */
const MAX_FORM_BYTES = 64 * 1024;

/**
 * The `data` field of Ko-fi's form post (API Gateway may have base64-encoded
 * the body); a 400 naming what is missing otherwise.
 */
export function kofiDataField(event: Parameters<HttpHandler>[0]): string {
  const contentType = header(event, 'content-type');
  if (contentType !== undefined && !/^application\/x-www-form-urlencoded\b/i.test(contentType.trim())) {
    throw new ValidationError('Content-Type must be application/x-www-form-urlencoded', 'unsupported_media_type');
  }
  const data = new URLSearchParams(rawBody(event, MAX_FORM_BYTES).toString('utf8')).get('data');
  if (!data) throw new ValidationError('data: the form field holding the payment JSON is required');
  return data;
}

/**
 * POST /kofi/webhook (public; Ko-fi puts its verification token in the
 * payment). A wrong or missing token is a 401 with nothing written; what is
 * not a payment a 400; anything failing after the token held a 5xx, so that
 * Ko-fi retries (it retries every answer but a 200, with the same message id).
 */
export function createKofiWebhookHandler(deps: KofiWebhookDeps): HttpHandler {
  return httpHandler(async (event) => {
    const data = kofiDataField(event);
    const result = await receiveKofiPayment(deps, data).catch(retryableFailure);
    // Ours is unset (logged and counted): 503, so Ko-fi keeps retrying until ops put the token in.
    if (result.outcome === 'not-configured') throw new DependencyUnavailableError('Ko-fi verification token not configured');
    if (result.outcome === 'refused') throw new UnauthorizedError('verification_token: missing or not this webhook\'s token');
    if (result.outcome === 'invalid') throw new ValidationError(result.message, 'invalid_payment');
    return jsonResponse(200, { received: true });
  });
}

export const handler = createKofiWebhookHandler(kofiWebhook());
