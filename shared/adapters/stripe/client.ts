import Stripe from 'stripe';
import type { StripeConfig } from '../../config';

export interface StripeKeys {
  secretKey: string;
  webhookSecret: string;
}

/** Reads the keys: the JSON secret on AWS, plain values locally. */
export async function resolveStripeKeys(config: StripeConfig, readSecret: (arn: string) => Promise<string>): Promise<StripeKeys> {
  if (config.STRIPE_SECRET_ARN) {
    const parsed = JSON.parse(await readSecret(config.STRIPE_SECRET_ARN)) as Partial<StripeKeys>;
    if (!parsed.secretKey || !parsed.webhookSecret) throw new Error('Stripe secret must hold secretKey and webhookSecret');
    return { secretKey: parsed.secretKey, webhookSecret: parsed.webhookSecret };
  }
  return { secretKey: config.STRIPE_SECRET_KEY as string, webhookSecret: config.STRIPE_WEBHOOK_SECRET as string };
}

/**
 * The process's one Stripe client: a per-attempt timeout (STRIPE_TIMEOUT_MS)
 * and few retries (STRIPE_MAX_NETWORK_RETRIES; idempotency keys make them
 * safe), so a hung Stripe fails the call within a few seconds.
 */
export function createStripeClient(config: StripeConfig, secretKey: string): Stripe {
  return new Stripe(secretKey, {
    timeout: config.STRIPE_TIMEOUT_MS,
    maxNetworkRetries: config.STRIPE_MAX_NETWORK_RETRIES,
    ...(config.STRIPE_API_HOST ? { host: config.STRIPE_API_HOST } : {}),
    ...(config.STRIPE_API_PORT ? { port: config.STRIPE_API_PORT } : {}),
    ...(config.STRIPE_API_PROTOCOL ? { protocol: config.STRIPE_API_PROTOCOL } : {}),
    appInfo: { name: 'entitlements-backend' },
  });
}
