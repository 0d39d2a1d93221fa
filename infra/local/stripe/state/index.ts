/**
 * The emulator's account: customers, subscriptions, invoices, Checkout and
 * billing-portal sessions, in memory. Every state change goes through here
 * and emits the event Stripe would send for it; the HTTP layer (api.ts) only
 * parses parameters and renders. Objects are stored as small records and
 * rendered in the real API's shape on every read, so a response, an event
 * payload and a later read always agree.
 */
import { tierPrice } from '../catalog';
import { invalidRequest, resourceMissing } from '../errors';
import { newId } from '../ids';
import { CheckoutModels } from './checkout';
import type { PortalSessionRecord } from './records';

export * from './records';

export class StripeState extends CheckoutModels {
  createPortalSession(customerId: string, returnUrl: string | null): PortalSessionRecord {
    this.liveCustomer(customerId, 'customer');
    const session: PortalSessionRecord = { id: newId('bps'), created: this.now(), customer: customerId, returnUrl };
    this.portalSessions.set(session.id, session);
    return session;
  }

  portalSession(id: string): PortalSessionRecord {
    const session = this.portalSessions.get(id);
    if (!session) throw resourceMissing('billing_portal.session', id);
    return session;
  }

  /** Control `subscribe`: the price a tier name (or alias) or price id stands for. */
  resolvePrice(input: { price?: string; tier?: string }): string {
    if (input.price) return this.price(input.price, 'price').id;
    if (input.tier) {
      // A plan's price from the catalogue file (seeded at start) or pushed (its prices carry the plan's name; the
      // one holding the lookup key is the file's first, the one Checkout sells) wins over the built-in tier of that
      // name: a file that re-priced `pro` must not get subscriptions on a price it no longer lists.
      const wanted = input.tier.trim().toLowerCase();
      const fromFile = [...this.prices.values()].filter((p) => p.active && p.recurring && p.metadata.catalogue_plan === wanted);
      const pushed = fromFile.find((p) => p.lookupKey !== '') ?? fromFile.pop();
      const price = pushed?.id ?? tierPrice(input.tier);
      if (!price) throw invalidRequest(`Unknown tier '${input.tier}': use basic, pro, enterprise or a plan pushed with npm run catalogue -- push.`, 'tier');
      return price;
    }
    throw invalidRequest('Give a price or a tier.', 'price');
  }
}
