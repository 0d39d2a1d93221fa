import { DeletionLeaseLostError } from '../ports/account-deletion';
import { CacheInvalidationError } from '../ports/cache';
import { CredentialsVendorError } from '../ports/credentials';
import { Contention, DependencyUnavailable } from '../ports/errors';
import { RateLimiterUnavailableError } from '../ports/rate-limiter';
import { EmailTakenError } from '../ports/users';
import {
  AccountNotFoundError,
  AlreadySubscribedError,
  EmailTokenRefusedError,
  InvalidCheckoutError,
  InvalidEmailCodeError,
  NoBillingAccountError,
  UnknownFeatureError,
  FeatureNotMeteredError,
  NoPendingEmailChangeError,
} from '../use-cases/errors';
import { AppError, ConflictError, DependencyUnavailableError, InternalError, NotFoundError, UnauthorizedError, ValidationError } from './errors';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any constructor signature
export type ErrorClass<E> = abstract new (...args: any[]) => E;
/** Turns one error type into the typed HTTP error that carries its status and code. */
export type ErrorMapper<E> = (err: E) => AppError;

/**
 * Error type -> HTTP error, each type registered once (like Powertools'
 * event-handler ErrorHandlerRegistry, `app.errorHandler(ErrorClass, fn)`).
 * The most specific registered class in an error's prototype chain wins, so a
 * subclass inherits its parent's mapping unless it has its own. Errors of no
 * registered type are a generic 500. The status comes from the type alone,
 * never from an error's message.
 */
export class ErrorHandlerRegistry {
  private readonly mappers = new Map<ErrorClass<unknown>, ErrorMapper<never>>();

  register<E extends Error>(type: ErrorClass<E>, map: ErrorMapper<E>): this {
    if (this.mappers.has(type)) throw new Error(`${type.name} already has an error mapping: map each error type once`);
    this.mappers.set(type, map as ErrorMapper<never>);
    return this;
  }

  /** The mapper of the most specific registered class of `err`, if any. */
  resolve(err: unknown): ErrorMapper<unknown> | undefined {
    if (typeof err !== 'object' || err === null) return undefined;
    for (let proto: unknown = Object.getPrototypeOf(err); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
      const mapper = this.mappers.get((proto as { constructor: ErrorClass<unknown> }).constructor);
      if (mapper) return mapper as ErrorMapper<unknown>;
    }
    return undefined;
  }

  /** The HTTP error to answer with: the registered mapping, else a generic 500. */
  toHttpError(err: unknown): AppError {
    return this.resolve(err)?.(err) ?? new InternalError('unhandled error');
  }
}

/** 503 `dependency_unavailable`; the body is always the generic one (5xx never expose their message). */
function unavailable(what: string, retryAfterSeconds?: number): DependencyUnavailableError {
  const err = new DependencyUnavailableError(what);
  if (retryAfterSeconds !== undefined) err.headers['Retry-After'] = String(Math.max(1, Math.ceil(retryAfterSeconds)));
  return err;
}

/**
 * The service's one error policy (README "Errors and timeouts"):
 * - the HTTP errors (AppError and its subclasses) carry their own status;
 * - any dependency that failed, timed out or throttled: 503;
 * - optimistic-concurrency contention that gave up: 503 with Retry-After;
 * - the ports' own "could not ask the dependency" errors: 503;
 * - anything else: 500, generic body, details in the logs only.
 */
export const errorPolicy = new ErrorHandlerRegistry()
  .register(AppError, (err) => err)
  .register(DependencyUnavailable, (err) => unavailable(`${err.dependency} ${err.failure}`))
  .register(Contention, (err) => unavailable('contention', err.retryAfterSeconds))
  .register(RateLimiterUnavailableError, () => unavailable('redis rate limiter'))
  .register(CacheInvalidationError, () => unavailable('written, but the cache could not be invalidated'))
  .register(CredentialsVendorError, (err) => unavailable(`sts ${err.code}`))
  // Another runner (the worker, the sweep) took the account deletion over: call again for its state.
  .register(DeletionLeaseLostError, () => unavailable('account deletion taken over by another run', 1))
  // The holder's id is never shown: the caller learns only that the address is taken.
  .register(EmailTakenError, () => new ConflictError('email: this address belongs to another account'))
  .register(NoPendingEmailChangeError, (err) => new ConflictError(err.message))
  .register(InvalidEmailCodeError, (err) => new ValidationError(`code: ${err.message}`))
  .register(EmailTokenRefusedError, (err) => new UnauthorizedError(err.message))
  .register(AccountNotFoundError, () => new NotFoundError('No account for this token'))
  .register(InvalidCheckoutError, (err) => new ValidationError(err.message))
  .register(AlreadySubscribedError, (err) => new ConflictError(err.message))
  .register(NoBillingAccountError, (err) => new NotFoundError(err.message, 'account_not_found'))
  .register(UnknownFeatureError, (err) => new NotFoundError(err.message, 'unknown_feature'))
  .register(FeatureNotMeteredError, (err) => new ValidationError(err.message));
