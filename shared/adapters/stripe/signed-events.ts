import type Stripe from 'stripe';
import type { SignedEvents } from '../../ports/events';
import type { StripeKeys } from './client';

/** Stripe's own default: signatures older than 5 minutes are replays. */
const SIGNATURE_TOLERANCE_SECONDS = 300;

/** Stripe-Signature checked by the Stripe SDK (`webhooks.constructEvent`) with the endpoint's signing secret. */
export class StripeSignedEvents implements SignedEvents {
  constructor(
    private readonly keys: () => Promise<StripeKeys>,
    private readonly client: () => Promise<Stripe>,
  ) {}

  async verify(payload: Buffer, signature: string): Promise<unknown> {
    const [{ webhookSecret }, client] = await Promise.all([this.keys(), this.client()]);
    try {
      return client.webhooks.constructEvent(payload, signature, webhookSecret, SIGNATURE_TOLERANCE_SECONDS);
    } catch {
      return undefined;
    }
  }
}
