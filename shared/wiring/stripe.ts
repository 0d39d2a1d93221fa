import type Stripe from 'stripe';
import { loadConfig, stripeSection } from '../config';
import { StripeBilling } from '../adapters/stripe/billing';
import { StripeSignedEvents } from '../adapters/stripe/signed-events';
import { createStripeClient, resolveStripeKeys, stripeSdk, type StripeKeys } from '../adapters/stripe/client';
import { once } from '../adapters/secrets';
import { logger } from '../observability/logger';
import { aws } from './aws';
import { perProcess } from './process';

export const stripeConfig = perProcess(() => loadConfig({ stripe: stripeSection }).stripe);

/**
 * Stripe, in its own file so that only the functions that call Stripe
 * (FunctionDefinition.stripe) import, and bundle, the Stripe SDK:
 * `bench/cold-start.bench.ts` holds the others under 500 KB.
 */
export const stripe = perProcess(() => {
  const config = stripeConfig();
  const keys = once<StripeKeys>(() => resolveStripeKeys(config, aws().readSecret));
  const client = once<Stripe>(async () => createStripeClient(config, (await keys()).secretKey));
  // Start reading the secret at cold start.
  keys().catch((err: unknown) => logger.error('could not read the Stripe keys at cold start', err as Error));
  return { keys, client, billing: new StripeBilling(client), signedEvents: new StripeSignedEvents(keys, client) };
});

/**
 * Stripe with its SDK evaluated at cold start, for the functions that call
 * Stripe on every invocation (sign-up, the webhook, checkout and the portal,
 * the reconciler): for them a lazy load would be no cut, only the same cost
 * in the first invocation. stripe() alone leaves the SDK to the first Stripe
 * call (adapters/stripe/client.ts, stripeSdk): account deletion and email
 * changes call Stripe only for users with a Stripe customer.
 */
export const stripeAtColdStart = perProcess(() => {
  stripeSdk();
  return stripe();
});
