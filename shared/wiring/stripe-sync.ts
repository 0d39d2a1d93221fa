import type { WebhookDeps } from '../use-cases/stripe-webhook';
import { perProcess } from './process';
import { catalogue } from './access';
import { cache } from './cache';
import { stores } from './stores';
import { stripeAtColdStart } from './stripe';
import { tokenCredits } from './tokens';

/** What applying a Stripe event needs: the same for the webhook and the reconciler, so a repair takes the webhook's path. */
export const stripeSync = perProcess((): WebhookDeps => {
  const { users, entitlements, processedEvents } = stores();
  return {
    users,
    entitlements,
    billing: stripeAtColdStart().billing,
    cache: cache(),
    catalogue: catalogue(),
    processed: processedEvents,
    topUps: tokenCredits(),
    tokenAdjustments: tokenCredits(),
    clock: () => Date.now(),
  };
});
