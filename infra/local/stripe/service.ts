/**
 * The Stripe service of the local stack: the emulator, or (`LOCAL_STRIPE=real`)
 * Stripe's own test mode, and the environment that points the handlers at it.
 */
import type { LocalService, LocalServiceFactory } from '../stack';
import { loadCatalogueFile } from '../../../shared/config/catalogue';
import { catalogueSeed } from './catalog';
import { startStripeEmulator, type StripeEmulator } from './emulator';

export const STRIPE_EMULATOR_DEFAULT_PORT = 12111;

/** What the handlers need to talk to this emulator with the real SDK. */
/** Price ids are not among them: the catalogue's "local" environment names the emulator's prices. */
export function stripeHandlerEnv(emulator: Pick<StripeEmulator, 'url' | 'port' | 'secretKey' | 'webhookSecret'>): Record<string, string> {
  return {
    STRIPE_SECRET_KEY: emulator.secretKey,
    STRIPE_WEBHOOK_SECRET: emulator.webhookSecret,
    STRIPE_API_HOST: '127.0.0.1',
    STRIPE_API_PORT: String(emulator.port),
    STRIPE_API_PROTOCOL: 'http',
    STRIPE_EMULATOR_URL: emulator.url,
  };
}

/**
 * `LOCAL_STRIPE=real`: no emulator; the handlers use Stripe's test mode with
 * the keys from the environment and the price ids of the catalogue's "test"
 * environment (CATALOGUE_ENVIRONMENT names another; `npm run catalogue -- push --env test` creates them) (webhooks through
 * `stripe listen --forward-to <gateway>/stripe/webhook`, whose whsec_ goes in
 * STRIPE_WEBHOOK_SECRET).
 */
function realStripeService(): LocalService {
  const env = process.env;
  const missing = ['STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET'].filter((n) => !env[n]);
  if (missing.length > 0) throw new Error(`LOCAL_STRIPE=real needs ${missing.join(', ')} (test-mode values).`);
  const key = env.STRIPE_SECRET_KEY as string;
  if (!/^(sk|rk)_test_/.test(key) || key.startsWith('sk_test_local_')) {
    throw new Error('LOCAL_STRIPE=real needs a test-mode key (sk_test_... or rk_test_...) from the Stripe dashboard; live keys are refused locally.');
  }
  const pass = ['STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET'];
  return {
    name: 'stripe',
    url: 'https://api.stripe.com (real test mode)',
    env: Object.fromEntries(pass.filter((n) => env[n]).map((n) => [n, env[n] as string])),
    stop: async () => undefined,
  };
}

export const stripeEmulatorService: LocalServiceFactory = {
  defaultPort: STRIPE_EMULATOR_DEFAULT_PORT,
  async start({ port, gatewayUrl }) {
    if ((process.env.LOCAL_STRIPE ?? '').toLowerCase() === 'real') return realStripeService();
    const webhookUrl = `${gatewayUrl}/stripe/webhook`;
    const emulator = await startStripeEmulator({
      port,
      webhookUrl,
      seed: catalogueSeed(loadCatalogueFile(process.env)),
      delivery: {
        onFailure: (entry) => {
          const last = entry.attempts[entry.attempts.length - 1];
          const why = last ? (last.status ?? last.error ?? 'no answer') : 'no attempt';
          process.stderr.write(`[stripe emulator] ${entry.type} ${entry.id} not delivered to ${webhookUrl} after ${entry.attempts.length} attempts (last: ${why})\n`);
        },
      },
    });
    return { name: 'stripe', url: emulator.url, env: stripeHandlerEnv(emulator), stop: () => emulator.stop() };
  },
};

