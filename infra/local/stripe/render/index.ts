/**
 * The Stripe JSON of every object, rendered from the records on every read
 * (like moto's responses.py), so a response, an event payload and a later
 * read always agree. Shapes follow the API version stripe-node pins.
 */
import { StripeApiError } from '../errors';
import type { StripeState } from '../state';
import type { Json } from '../state/records';
import { renderCheckoutSession } from './checkout';
import { renderCustomer } from './customers';
import { renderInvoice } from './invoices';
import { renderCharge, renderDispute, renderPaymentIntent, renderRefund } from './payments';
import { renderPortalSession } from './portal';
import { renderPrice, renderProduct } from './prices';
import { renderSubscription } from './subscriptions';

export * from './prices';
export * from './customers';
export * from './subscriptions';
export * from './invoices';
export * from './checkout';
export * from './payments';
export * from './portal';

/** Renders any object by id (for `expand`); undefined for ids this emulator does not hold. */
export function renderById(state: StripeState, id: string): Json | undefined {
  try {
    if (id.startsWith('cus_')) return renderCustomer(state, id);
    if (id.startsWith('sub_')) return renderSubscription(state, id);
    if (id.startsWith('in_')) return renderInvoice(state, id);
    if (id.startsWith('price_') && state.prices.has(id)) return renderPrice(state, id);
    if (id.startsWith('prod_') && state.products.has(id)) return renderProduct(state, id);
    if (id.startsWith('cs_')) return renderCheckoutSession(state, id);
    if (id.startsWith('bps_')) return renderPortalSession(state, id);
    if (id.startsWith('pi_')) return renderPaymentIntent(state, id);
    if (id.startsWith('ch_')) return renderCharge(state, id);
    if (id.startsWith('re_')) return renderRefund(state, id);
    if (id.startsWith('dp_')) return renderDispute(state, id);
  } catch (err) {
    if (err instanceof StripeApiError) return undefined;
    throw err;
  }
  return undefined;
}
