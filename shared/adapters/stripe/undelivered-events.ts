import type Stripe from 'stripe';
import type { UndeliveredEvent, UndeliveredStripeEvents } from '../../ports/reconcile';
import { translate } from './billing';

/** Stripe's event log (`events.list` with `delivery_success=false`: events still retrying or that failed every attempt). */
export class StripeUndeliveredEvents implements UndeliveredStripeEvents {
  constructor(private readonly stripe: () => Promise<Stripe>) {}

  async page(input: { createdFrom: number; createdTo: number; after?: string; limit: number }): Promise<{ events: UndeliveredEvent[]; next?: string }> {
    const stripe = await this.stripe();
    const page = await stripe.events
      .list({ delivery_success: false, created: { gte: input.createdFrom, lte: input.createdTo }, limit: input.limit, ...(input.after ? { starting_after: input.after } : {}) })
      .catch(translate);
    const events = page.data.map((e) => ({ id: e.id, type: e.type, created: e.created, data: { object: e.data.object as unknown as Record<string, unknown> } }));
    const last = events[events.length - 1];
    return page.has_more && last ? { events, next: last.id } : { events };
  }
}
