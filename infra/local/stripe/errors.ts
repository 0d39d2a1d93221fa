/**
 * Errors in Stripe's own shape, `{ error: { type, code, message, param } }`,
 * so stripe-node raises the same typed errors it raises against the real API
 * (StripeInvalidRequestError, StripeAuthenticationError, StripeIdempotencyError,
 * StripeAPIError, ...): the SDK picks the class from `type` and the status.
 */
export type StripeErrorType = 'api_error' | 'card_error' | 'idempotency_error' | 'invalid_request_error' | 'rate_limit_error';

export class StripeApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: StripeErrorType,
    message: string,
    readonly code?: string,
    readonly param?: string,
    /**
     * The parameters were refused before the endpoint ran. Stripe saves no
     * idempotent result for these (the key stays free); every other outcome,
     * errors included, is saved and replayed.
     */
    readonly beforeExecution = false,
  ) {
    super(message);
    this.name = 'StripeApiError';
  }

  toBody(): { error: Record<string, string> } {
    const error: Record<string, string> = { type: this.type, message: this.message };
    if (this.code) {
      error.code = this.code;
      error.doc_url = `https://stripe.com/docs/error-codes/${this.code.replace(/_/g, '-')}`;
    }
    if (this.param) error.param = this.param;
    return { error };
  }
}

export const invalidRequest = (message: string, param?: string, code?: string) =>
  new StripeApiError(400, 'invalid_request_error', message, code, param);

/** The resource in the URL is unknown: 404. A resource named in a parameter is unknown: 400 with that param. */
export const resourceMissing = (kind: string, id: string, param?: string) =>
  new StripeApiError(param ? 400 : 404, 'invalid_request_error', `No such ${kind}: '${id}'`, 'resource_missing', param ?? 'id');

/** A parameter failed validation: refused before the endpoint ran, so no idempotent result is saved. */
export const invalidParam = (message: string, param?: string, code?: string) =>
  new StripeApiError(400, 'invalid_request_error', message, code, param, true);

export const missingParam = (param: string) => invalidParam(`Missing required param: ${param}.`, param, 'parameter_missing');

export const unknownParam = (param: string) => invalidParam(`Received unknown parameter: ${param}`, param, 'parameter_unknown');

export const idempotencyError = (key: string) =>
  new StripeApiError(
    400,
    'idempotency_error',
    `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
  );

export const authenticationError = (message: string) => new StripeApiError(401, 'invalid_request_error', message);

export const injectedApiError = () =>
  new StripeApiError(500, 'api_error', 'An unknown error occurred (injected by the local Stripe emulator).');
