import type { Context, PostConfirmationTriggerEvent } from 'aws-lambda';
import { cache } from '../../shared/wiring/cache';
import { emailIdentity } from '../../shared/wiring/identity';
import { stores } from '../../shared/wiring/stores';
import { stripeAtColdStart } from '../../shared/wiring/stripe';
import { logger } from '../../shared/observability/logger';
import { flushMetrics } from '../../shared/observability/metrics';
import { onSignUpConfirmed, type SignUpDeps } from '../../shared/use-cases/sign-up';

/** Cognito gives a trigger 5 s; leave room for the DynamoDB writes and the answer. */
const MAX_STRIPE_BUDGET_MS = 2500;

export type PostConfirmationHandler = (event: PostConfirmationTriggerEvent, context?: Context) => Promise<PostConfirmationTriggerEvent>;

/**
 * Cognito post-confirmation trigger. Returns the event unchanged; throwing
 * would make Cognito report the confirmation as failed, so only the
 * DynamoDB writes (without which the user cannot be served) may throw.
 * `onEventPool` tells the identity adapter which pool the event is from
 * (one event at a time per Lambda instance).
 */
export function createPostConfirmationHandler(deps: SignUpDeps, onEventPool: (userPoolId: string) => void): PostConfirmationHandler {
  return async (event, context) => {
    logger.appendKeys({ trigger: event.triggerSource });
    try {
      if (event.triggerSource !== 'PostConfirmation_ConfirmSignUp') return event;
      onEventPool(event.userPoolId);
      const { sub: userId, email } = event.request.userAttributes;
      if (!userId || !email) {
        logger.error('post-confirmation event without sub or email');
        return event;
      }
      const remaining = context?.getRemainingTimeInMillis?.() ?? 5000;
      const budget = Math.min(MAX_STRIPE_BUDGET_MS, Math.max(0, remaining - 1500));
      const result = await onSignUpConfirmed(deps, { userId, email }, budget);
      logger.info('sign-up confirmed', { userId, ...result });
      return event;
    } finally {
      flushMetrics();
      logger.resetKeys();
    }
  };
}

// A trigger cannot be given its own pool's id without a CloudFormation cycle: it learns it from each event.
let eventUserPoolId = '';
const { users, entitlements, kofi } = stores();
export const handler = createPostConfirmationHandler(
  { users, entitlements, kofi, billing: stripeAtColdStart().billing, identity: emailIdentity(() => eventUserPoolId), cache: cache(), now: () => new Date() },
  (userPoolId) => (eventUserPoolId = userPoolId),
);
