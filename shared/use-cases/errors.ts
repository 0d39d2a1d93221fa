/**
 * The use cases' refusals: what a caller asked for cannot be done, and
 * nothing was written. Each is mapped to an HTTP answer once, in
 * shared/http/error-policy.ts; the use cases never know HTTP.
 */
export abstract class Refusal extends Error {
  constructor(message?: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The caller's account does not exist (any more), or is being deleted. */
export class AccountNotFoundError extends Refusal {}

/** Email change: nothing to verify (no change started, or it was withdrawn). */
export class NoPendingEmailChangeError extends Refusal {}

/** Cognito refused the caller's access token for the verification (revoked, signed out): sign in again. */
export class EmailTokenRefusedError extends Refusal {}

/** Email change: the code is not the one sent, or it has expired. */
export class InvalidEmailCodeError extends Refusal {
  constructor(readonly reason: 'invalid-code' | 'expired-code') {
    super(reason === 'expired-code' ? 'the code has expired: start the change again' : 'the code is not the one that was sent');
  }
}

/** Checkout: the request names no purchasable plan or a top-up this deployment does not sell; the message names the field. */
export class InvalidCheckoutError extends Refusal {}

/** Checkout: the user already pays for a plan (change it in the billing portal). */
export class AlreadySubscribedError extends Refusal {}

/** Billing: no account (or no Stripe customer can be made for it) for this user. */
export class NoBillingAccountError extends Refusal {}

/** A feature no plan of the catalogue names (a typo in the caller, or a feature removed from the file). */
export class UnknownFeatureError extends Refusal {
  constructor(readonly feature: string) {
    super(`feature: no plan of the catalogue names "${feature}" (see GET /v1/tiers)`);
  }
}

/** Consume of a feature that is boolean in the catalogue: only metered features have uses to spend. */
export class FeatureNotMeteredError extends Refusal {
  constructor(readonly feature: string) {
    super(`feature: "${feature}" is not metered in the catalogue; only metered features are consumed`);
  }
}
