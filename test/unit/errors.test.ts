import {
  ConflictError,
  DependencyUnavailableError,
  ForbiddenError,
  GENERIC_5XX_MESSAGE,
  InternalError,
  MethodNotAllowedError,
  NotFoundError,
  PaymentRequiredError,
  PayloadTooLargeError,
  RateLimitedError,
  UnauthorizedError,
  ValidationError,
} from '../../shared/http/errors';
import { toErrorResponse } from '../../shared/http/response';

const body = (r: { body: string }) => JSON.parse(r.body) as { error: Record<string, unknown> };

describe('toErrorResponse', () => {
  it.each([
    [new ValidationError('amount: must be positive'), 400, 'validation_failed'],
    [new UnauthorizedError('Invalid API key'), 401, 'unauthorized'],
    [new PaymentRequiredError('Not enough tokens', { remaining: 3 }), 402, 'insufficient_tokens'],
    [new ForbiddenError('Subscription inactive'), 403, 'forbidden'],
    [new NotFoundError('Unknown user'), 404, 'not_found'],
    [new MethodNotAllowedError('Use GET', ['GET']), 405, 'method_not_allowed'],
    [new ConflictError('Idempotency key reused with another payload'), 409, 'conflict'],
    [new PayloadTooLargeError('Too big'), 413, 'payload_too_large'],
    [new RateLimitedError('Slow down', 2.2), 429, 'rate_limited'],
  ])('maps %p to its status and shows the message', (error, status, code) => {
    const response = toErrorResponse(error, 'req-1');
    expect(response.statusCode).toBe(status);
    expect(body(response).error).toMatchObject({ code, message: error.message });
    expect(response.headers).toMatchObject({ 'Content-Type': 'application/json; charset=utf-8', 'x-request-id': 'req-1' });
  });

  it('adds Retry-After on 429 (whole seconds, at least 1) and Allow on 405', () => {
    expect(toErrorResponse(new RateLimitedError('x', 2.2)).headers).toMatchObject({ 'Retry-After': '3' });
    expect(toErrorResponse(new RateLimitedError('x', 0)).headers).toMatchObject({ 'Retry-After': '1' });
    expect(toErrorResponse(new MethodNotAllowedError('x', ['GET', 'POST'])).headers).toMatchObject({ Allow: 'GET, POST' });
  });

  it('keeps safe details such as the remaining balance on 402', () => {
    expect(body(toErrorResponse(new PaymentRequiredError('short', { remaining: 3 }))).error).toEqual({
      code: 'insufficient_tokens',
      message: 'short',
      remaining: 3,
    });
  });

  it('never shows the message of a 5xx', () => {
    const internal = toErrorResponse(new InternalError('db password is hunter2'));
    expect(internal.statusCode).toBe(500);
    expect(internal.body).not.toContain('hunter2');
    expect(body(internal).error).toEqual({ code: 'internal_error', message: GENERIC_5XX_MESSAGE });

    const unavailable = toErrorResponse(new DependencyUnavailableError('dynamo at 10.0.0.1 timed out'));
    expect(unavailable.statusCode).toBe(503);
    expect(unavailable.body).not.toContain('10.0.0.1');
  });

  it('turns unknown throwables into a generic 500 without their text or stack', () => {
    const err = new TypeError('Cannot read properties of undefined (reading secretKey)');
    const response = toErrorResponse(err);
    expect(response.statusCode).toBe(500);
    expect(response.body).not.toContain('secretKey');
    expect(response.body).not.toContain('at ');
    expect(toErrorResponse('a string').statusCode).toBe(500);
  });
});
