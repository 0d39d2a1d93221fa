import type { Context, PostConfirmationTriggerEvent } from 'aws-lambda';
import { awsSection, cognitoSection, loadConfig, redisSection, stripeSection, tablesSection } from '../../shared/config';
import { wireAws, wireCache, wireEmailIdentity, wireStores } from '../../shared/adapters/wiring';
import { wireStripe } from '../../shared/adapters/stripe/wiring';
import { logger } from '../../shared/observability/logger';
import { onSignUpConfirmed } from '../../shared/use-cases/sign-up';

const config = loadConfig({
  aws: awsSection,
  tables: tablesSection,
  stripe: stripeSection,
  redis: redisSection,
  // Only the endpoint override (local stack): a trigger cannot be given its own pool's id without a CloudFormation cycle.
  cognito: cognitoSection.pick({ COGNITO_ENDPOINT: true }),
});
const aws = wireAws(config.aws);
const stores = wireStores(aws, config.tables);
const stripe = wireStripe(aws, config.stripe);
/** The pool of the event being handled (one event at a time per Lambda instance). */
let eventUserPoolId = '';
const identity = wireEmailIdentity(config.aws, config.cognito.COGNITO_ENDPOINT, () => eventUserPoolId);
const cache = wireCache(aws, config.redis);
const deps = { users: stores.users, entitlements: stores.entitlements, billing: stripe.billing, identity, cache, now: () => new Date() };

/** Cognito gives a trigger 5 s; leave room for the DynamoDB writes and the answer. */
const MAX_STRIPE_BUDGET_MS = 2500;

/**
 * Cognito post-confirmation trigger. Returns the event unchanged; throwing
 * would make Cognito report the confirmation as failed, so only the
 * DynamoDB writes (without which the user cannot be served) may throw.
 */
export async function handler(event: PostConfirmationTriggerEvent, context?: Context): Promise<PostConfirmationTriggerEvent> {
  logger.appendKeys({ trigger: event.triggerSource });
  try {
    if (event.triggerSource !== 'PostConfirmation_ConfirmSignUp') return event;
    eventUserPoolId = event.userPoolId;
    const userId = event.request.userAttributes.sub;
    const email = event.request.userAttributes.email;
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
    logger.resetKeys();
  }
}
