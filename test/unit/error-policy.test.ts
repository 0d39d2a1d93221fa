import Stripe from 'stripe';
import { StripeBilling, stripeFailureKind } from '../../shared/adapters/stripe/billing';
import { ErrorHandlerRegistry, errorPolicy } from '../../shared/http/error-policy';
import { AppError, ConflictError, DependencyUnavailableError, GENERIC_503_MESSAGE, GENERIC_5XX_MESSAGE, InternalError, NotFoundError } from '../../shared/http/errors';
import { toErrorResponse } from '../../shared/http/response';
import { CacheInvalidationError } from '../../shared/ports/cache';
import { CredentialsVendorError } from '../../shared/ports/credentials';
import { Contention, DependencyTimedOut, DependencyUnavailable } from '../../shared/ports/errors';
import { RateLimiterUnavailableError } from '../../shared/ports/rate-limiter';
import { TokenContentionError } from '../../shared/ports/tokens';

const body = (r: { body: string }) => JSON.parse(r.body) as { error: Record<string, unknown> };

describe('ErrorHandlerRegistry', () => {
  class Base extends Error {}
  class Child extends Base {}
  class GrandChild extends Child {}

  it('maps an error by its most specific registered class, and subclasses inherit their parent\'s mapping', () => {
    const registry = new ErrorHandlerRegistry()
      .register(Base, () => new ConflictError('base'))
      .register(Child, () => new NotFoundError('child'));
    expect(registry.toHttpError(new Base('x'))).toMatchObject({ statusCode: 409 });
    expect(registry.toHttpError(new Child('x'))).toMatchObject({ statusCode: 404 });
    expect(registry.toHttpError(new GrandChild('x'))).toMatchObject({ statusCode: 404 });
  });

  it('maps each type once: a second registration of a type is refused', () => {
    const registry = new ErrorHandlerRegistry().register(Base, () => new ConflictError('base'));
    expect(() => registry.register(Base, () => new NotFoundError('again'))).toThrow(/already has an error mapping/);
  });

  it('answers a generic 500 for anything unregistered (plain errors, strings, undefined)', () => {
    const registry = new ErrorHandlerRegistry();
    for (const thrown of [new Error('x'), new TypeError('y'), 'a string', undefined, null, 42]) {
      expect(registry.toHttpError(thrown)).toBeInstanceOf(InternalError);
    }
  });
});

describe('the error policy', () => {
  it.each([
    ['DependencyUnavailable (dynamodb throttled)', new DependencyUnavailable('dynamodb', 'throttled')],
    ['DependencyTimedOut (a paused DynamoDB)', new DependencyTimedOut('dynamodb')],
    ['DependencyUnavailable (secrets read)', new DependencyUnavailable('secrets-manager', 'unreachable')],
    ['DependencyUnavailable (stripe)', new DependencyUnavailable('stripe', 'failing')],
    ['DependencyTimedOut (sts)', new DependencyTimedOut('sts')],
    ['DependencyTimedOut (cognito)', new DependencyTimedOut('cognito')],
    ['RateLimiterUnavailableError (redis)', new RateLimiterUnavailableError()],
    ['CacheInvalidationError (redis)', new CacheInvalidationError(['k'])],
    ['CredentialsVendorError (sts refused)', new CredentialsVendorError('RegionDisabledException')],
  ])('%s -> 503 dependency_unavailable with the generic body', (_what, err) => {
    const res = toErrorResponse(err, 'req-1');
    expect(res.statusCode).toBe(503);
    expect(body(res)).toEqual({ error: { code: 'dependency_unavailable', message: GENERIC_503_MESSAGE } });
    expect(res.headers).toMatchObject({ 'x-request-id': 'req-1' });
  });

  it('contention -> 503 with Retry-After (the token store gave up racing; nothing was written)', () => {
    for (const err of [new Contention('busy'), new TokenContentionError('u1', 4)]) {
      const res = toErrorResponse(err);
      expect(res.statusCode).toBe(503);
      expect(res.headers).toMatchObject({ 'Retry-After': '1' });
      expect(body(res).error).toEqual({ code: 'dependency_unavailable', message: GENERIC_503_MESSAGE });
    }
  });

  it('HTTP errors keep their own status; unknown errors are a generic 500 whatever their message says', () => {
    expect(errorPolicy.toHttpError(new ConflictError('dup'))).toMatchObject({ statusCode: 409 });
    expect(errorPolicy.toHttpError(new DependencyUnavailableError('x'))).toMatchObject({ statusCode: 503 });
    // A message that reads like an outage is still an unknown error: statuses come from types, never text.
    const res = toErrorResponse(new Error('ProvisionedThroughputExceededException: service unavailable, ECONNREFUSED, timed out'));
    expect(res.statusCode).toBe(500);
    expect(body(res).error).toEqual({ code: 'internal_error', message: GENERIC_5XX_MESSAGE });
  });

  it('port errors are not HTTP errors (adapters never choose a status)', () => {
    expect(new DependencyUnavailable('redis', 'timeout')).not.toBeInstanceOf(AppError);
    expect(new Contention('x')).not.toBeInstanceOf(AppError);
  });
});

describe('the Stripe adapter throws port-level errors', () => {
  const failing = (err: unknown) => new StripeBilling(async () => ({ customers: { create: () => Promise.reject(err), retrieve: () => Promise.reject(err) } }) as unknown as Stripe);
  const request = { userId: 'u1', email: 'a@example.com', idempotencyKey: 'customer:u1' };

  it.each([
    ['a connection error', new Stripe.errors.StripeConnectionError({ message: 'x' }), 'unreachable'],
    ['a timeout', new Stripe.errors.StripeConnectionError({ message: 'x', detail: Object.assign(new TypeError('ETIMEDOUT'), { code: 'ETIMEDOUT' }) }), 'timeout'],
    ['an API error', new Stripe.errors.StripeAPIError({ message: 'x', statusCode: 500 }), 'failing'],
    ['a rate limit', new Stripe.errors.StripeRateLimitError({ message: 'x', statusCode: 429 }), 'throttled'],
    ['any 5xx', new Stripe.errors.StripeInvalidRequestError({ message: 'x', statusCode: 502 }), 'failing'],
  ])('%s -> DependencyUnavailable(stripe), never an HTTP error', async (_what, err, kind) => {
    expect(stripeFailureKind(err)).toBe(kind);
    const thrown = await failing(err).createCustomer(request).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(DependencyUnavailable);
    expect(thrown).not.toBeInstanceOf(AppError);
    expect(thrown).toMatchObject({ dependency: 'stripe', failure: kind, cause: err });
    expect(toErrorResponse(thrown).statusCode).toBe(503);
  });

  it('a refusal about the request (invalid request, card error) passes through: a 500 for us, not an outage', async () => {
    const err = new Stripe.errors.StripeInvalidRequestError({ message: 'No such price', statusCode: 400 });
    expect(stripeFailureKind(err)).toBeUndefined();
    await expect(failing(err).createCustomer(request)).rejects.toBe(err);
  });
});
