import type Stripe from 'stripe';
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

let sdk: typeof Stripe | undefined;

/**
 * The Stripe SDK, evaluated on first use: `require` inside a function is a
 * call to esbuild's lazy module wrapper in the bundle, so the SDK's ~20 ms
 * (bench: module: Stripe SDK) are paid only by a process that uses Stripe.
 * A cut for the functions that call Stripe on some paths only (account
 * deletion, email change: users with a Stripe customer); the ones that call
 * it on every invocation load it at cold start (wiring/stripe.ts,
 * stripeAtColdStart), since deferring it there would only move the cost into
 * their first invocation.
 */
export function stripeSdk(): typeof Stripe {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- deferred on purpose, see above
  sdk ??= require('stripe') as typeof Stripe;
  return sdk;
}

/**
 * The process's one Stripe client: a per-attempt timeout (STRIPE_TIMEOUT_MS)
 * and few retries (STRIPE_MAX_NETWORK_RETRIES; idempotency keys make them
 * safe), so a hung Stripe fails the call within a few seconds.
 */
export function createStripeClient(config: StripeConfig, secretKey: string): Stripe {
  const StripeClient = stripeSdk();
  return new StripeClient(secretKey, {
    timeout: config.STRIPE_TIMEOUT_MS,
    maxNetworkRetries: config.STRIPE_MAX_NETWORK_RETRIES,
    ...(config.STRIPE_API_HOST ? { host: config.STRIPE_API_HOST } : {}),
    ...(config.STRIPE_API_PORT ? { port: config.STRIPE_API_PORT } : {}),
    ...(config.STRIPE_API_PROTOCOL ? { protocol: config.STRIPE_API_PROTOCOL } : {}),
    appInfo: { name: 'entitlements-backend' },
  });
}
