/** Customers. */
import type { StripeState } from '../state';
import type { Json } from '../state/records';

export function renderCustomer(state: StripeState, id: string, { full = false }: { full?: boolean } = {}): Json {
  const c = state.customer(id);
  if (c.deleted && !full) return { id: c.id, object: 'customer', deleted: true };
  return {
    id: c.id,
    object: 'customer',
    address: null,
    balance: 0,
    created: c.created,
    currency: state.subscriptionsOf(c.id).length > 0 ? 'usd' : null,
    default_source: null,
    delinquent: state.subscriptionsOf(c.id).some((s) => s.status === 'past_due' || s.status === 'unpaid'),
    description: c.description,
    discount: null,
    email: c.email,
    invoice_prefix: c.invoicePrefix,
    invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
    livemode: false,
    metadata: { ...c.metadata },
    name: c.name,
    next_invoice_sequence: c.nextInvoiceSequence,
    phone: c.phone,
    preferred_locales: [],
    shipping: null,
    tax_exempt: 'none',
    test_clock: null,
  };
}
