/** Checkout Sessions and their line items. */
import type { StripeState } from '../state';
import type { Json } from '../state/records';
import { renderPrice } from './prices';

export function renderCheckoutLineItems(state: StripeState, id: string): Json[] {
  const session = state.checkoutSession(id);
  return session.lineItems.map((li) => {
    const price = state.price(li.price);
    const amount = price.unitAmount * li.quantity;
    return {
      id: li.id,
      object: 'item',
      adjustable_quantity: null,
      amount_discount: 0,
      amount_subtotal: amount,
      amount_tax: 0,
      amount_total: amount,
      currency: 'usd',
      description: state.product(price.product).name,
      metadata: {},
      price: renderPrice(state, price.id),
      quantity: li.quantity,
    };
  });
}

export function renderCheckoutSession(state: StripeState, id: string): Json {
  const s = state.checkoutSession(id);
  const amount = s.mode === 'setup' ? null : state.sessionAmount(s);
  const email = s.completedEmail ?? s.customerEmail;
  return {
    id: s.id,
    object: 'checkout.session',
    adaptive_pricing: null,
    after_expiration: null,
    allow_promotion_codes: null,
    allowed_payment_method_types: null,
    amount_subtotal: amount,
    amount_total: amount,
    automatic_tax: { enabled: false, liability: null, provider: null, status: null },
    billing_address_collection: null,
    cancel_url: s.cancelUrl,
    client_reference_id: s.clientReferenceId,
    client_secret: null,
    collected_information: null,
    consent: null,
    consent_collection: null,
    created: s.created,
    currency: s.mode === 'setup' ? null : 'usd',
    currency_conversion: null,
    custom_fields: [],
    custom_text: { after_submit: null, shipping_address: null, submit: null, terms_of_service_acceptance: null },
    customer: s.customer,
    customer_account: null,
    customer_creation: s.customerCreation,
    customer_details:
      s.status === 'complete'
        ? { address: null, business_name: null, email, individual_name: null, name: null, phone: null, tax_exempt: 'none', tax_ids: [] }
        : null,
    customer_email: s.customerEmail,
    discounts: [],
    expires_at: s.expiresAt,
    integration_identifier: null,
    invoice: s.invoice,
    invoice_creation: null,
    livemode: false,
    locale: null,
    managed_payments: null,
    metadata: { ...s.metadata },
    mode: s.mode,
    origin_context: null,
    payment_intent: s.paymentIntent,
    payment_link: null,
    payment_method_collection: s.mode === 'subscription' ? 'always' : null,
    payment_method_configuration_details: null,
    payment_method_options: {},
    payment_method_types: ['card'],
    payment_status: s.paymentStatus,
    permissions: null,
    recovered_from: null,
    saved_payment_method_options: null,
    setup_intent: null,
    shipping_address_collection: null,
    shipping_cost: null,
    shipping_options: [],
    status: s.status,
    submit_type: null,
    subscription: s.subscription,
    success_url: s.successUrl,
    total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
    ui_mode: 'hosted',
    url: s.status === 'open' ? `${state.baseUrl()}/checkout/${s.id}` : null,
    wallet_options: null,
  };
}
