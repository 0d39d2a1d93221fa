import type Stripe from 'stripe';
import type { StripeConfig } from '../../config';
import { logger } from '../../observability/logger';
import { once } from '../secrets';
import type { wireAws } from '../wiring';
import { StripeBilling } from './billing';
import { createStripeClient, resolveStripeKeys, type StripeKeys } from './client';

/**
 * Stripe's wiring, apart from shared/adapters/wiring.ts so that only the
 * functions that call Stripe (FunctionDefinition.stripe) import, and bundle,
 * the Stripe SDK: `bench/cold-start.bench.ts` holds the others under 500 KB.
 */
export function wireStripe(aws: ReturnType<typeof wireAws>, config: StripeConfig) {
  const keys = once<StripeKeys>(() => resolveStripeKeys(config, aws.readSecret));
  const client = once<Stripe>(async () => createStripeClient(config, (await keys()).secretKey));
  // Start reading the secret at cold start.
  keys().catch((err: unknown) => logger.error('could not read the Stripe keys at cold start', err as Error));
  return { keys, client, billing: new StripeBilling(client) };
}
