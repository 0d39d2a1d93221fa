/**
 * The use cases' refusals: what a caller asked for cannot be done, and
 * nothing was written. Each is mapped to an HTTP answer once, in
 * shared/http/error-policy.ts; the use cases never know HTTP.
 */

/** The caller's account does not exist (any more), or is being deleted. */
export class AccountNotFoundError extends Error {
  override readonly name = 'AccountNotFoundError';
}

/** Email change: nothing to verify (no change started, or it was withdrawn). */
export class NoPendingEmailChangeError extends Error {
  override readonly name = 'NoPendingEmailChangeError';
}

/** Cognito refused the caller's access token for the verification (revoked, signed out): sign in again. */
export class EmailTokenRefusedError extends Error {
  override readonly name = 'EmailTokenRefusedError';
}

export class InvalidEmailCodeError extends Error {
  override readonly name = 'InvalidEmailCodeError';
  constructor(readonly reason: 'invalid-code' | 'expired-code') {
    super(reason === 'expired-code' ? 'the code has expired: start the change again' : 'the code is not the one that was sent');
  }
}

/** Checkout: the request names no purchasable plan or a top-up this deployment does not sell; the message names the field. */
export class InvalidCheckoutError extends Error {
  override readonly name = 'InvalidCheckoutError';
}

/** Checkout: the user already pays for a plan (change it in the billing portal). */
export class AlreadySubscribedError extends Error {
  override readonly name = 'AlreadySubscribedError';
}

/** Billing: no account (or no Stripe customer can be made for it) for this user. */
export class NoBillingAccountError extends Error {
  override readonly name = 'NoBillingAccountError';
}
