/** Payment intents, charges, refunds and disputes. */
import type { StripeState } from '../state';
import { DAY, type Json } from '../state/records';

export function renderPaymentIntent(state: StripeState, id: string): Json {
  const pi = state.paymentIntent(id);
  return {
    id: pi.id,
    object: 'payment_intent',
    allowed_payment_method_types: null,
    amount: pi.amount,
    amount_capturable: 0,
    amount_received: pi.status === 'succeeded' ? pi.amount : 0,
    application: null,
    application_fee_amount: null,
    automatic_payment_methods: null,
    canceled_at: null,
    cancellation_reason: null,
    capture_method: 'automatic',
    client_secret: `${pi.id}_secret_${pi.id.slice(3, 15)}`,
    confirmation_method: 'automatic',
    created: pi.created,
    currency: 'usd',
    customer: pi.customer,
    customer_account: null,
    description: null,
    excluded_payment_method_types: null,
    last_payment_error:
      pi.status === 'requires_payment_method'
        ? { code: 'payment_method_provider_decline', message: 'The bank debit was returned (local Stripe emulator).', type: 'card_error' }
        : null,
    latest_charge: pi.latestCharge,
    livemode: false,
    managed_payments: null,
    metadata: { ...pi.metadata },
    next_action: null,
    on_behalf_of: null,
    payment_method: null,
    payment_method_configuration_details: null,
    payment_method_options: null,
    payment_method_types: [pi.method],
    payment_record: null,
    processing: null,
    receipt_email: null,
    review: null,
    setup_future_usage: null,
    shipping: null,
    source: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: pi.status,
    transfer_group: null,
  };
}

export function renderCharge(state: StripeState, id: string): Json {
  const c = state.charge(id);
  return {
    id: c.id,
    object: 'charge',
    amount: c.amount,
    amount_captured: c.status === 'succeeded' ? c.amount : 0,
    amount_refunded: c.amountRefunded,
    application: null,
    application_fee: null,
    application_fee_amount: null,
    balance_transaction: null,
    billing_details: {
      address: { city: null, country: null, line1: null, line2: null, postal_code: null, state: null },
      email: c.billingEmail,
      name: null,
      phone: null,
      tax_id: null,
    },
    calculated_statement_descriptor: 'LOCAL EMULATOR',
    captured: c.status === 'succeeded',
    created: c.created,
    currency: 'usd',
    customer: c.customer,
    description: null,
    disputed: c.disputed,
    failure_balance_transaction: null,
    failure_code: c.status === 'failed' ? 'debit_not_authorized' : null,
    failure_message: c.status === 'failed' ? 'The bank debit was returned (local Stripe emulator).' : null,
    fraud_details: {},
    livemode: false,
    metadata: {},
    on_behalf_of: null,
    outcome: null,
    paid: c.status === 'succeeded',
    payment_intent: c.paymentIntent,
    payment_method: null,
    payment_method_details: null,
    receipt_email: null,
    receipt_number: null,
    receipt_url: null,
    refunded: c.amountRefunded >= c.amount && c.amount > 0,
    review: null,
    shipping: null,
    source: null,
    source_transfer: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: c.status,
    transfer_data: null,
    transfer_group: null,
  };
}

export function renderRefund(state: StripeState, id: string): Json {
  const r = state.refund(id);
  return {
    id: r.id,
    object: 'refund',
    amount: r.amount,
    balance_transaction: null,
    charge: r.charge,
    created: r.created,
    currency: 'usd',
    customer: r.customer,
    customer_account: null,
    metadata: { ...r.metadata },
    payment_intent: r.paymentIntent,
    payment_method: null,
    reason: r.reason,
    receipt_number: null,
    source_transfer_reversal: null,
    status: 'succeeded',
    transfer_reversal: null,
  };
}

export function renderDispute(state: StripeState, id: string): Json {
  const d = state.dispute(id);
  const evidence = Object.fromEntries(
    [
      'access_activity_log', 'billing_address', 'cancellation_policy', 'cancellation_policy_disclosure', 'cancellation_rebuttal',
      'customer_communication', 'customer_email_address', 'customer_name', 'customer_purchase_ip', 'customer_signature',
      'duplicate_charge_documentation', 'duplicate_charge_explanation', 'duplicate_charge_id', 'product_description', 'receipt',
      'refund_policy', 'refund_policy_disclosure', 'refund_refusal_explanation', 'service_date', 'service_documentation',
      'shipping_address', 'shipping_carrier', 'shipping_date', 'shipping_documentation', 'shipping_tracking_number',
      'uncategorized_file', 'uncategorized_text',
    ].map((k) => [k, null]),
  );
  return {
    id: d.id,
    object: 'dispute',
    amount: d.amount,
    balance_transactions: [],
    charge: d.charge,
    created: d.created,
    currency: 'usd',
    enhanced_eligibility_types: [],
    evidence: { ...evidence, enhanced_evidence: {} },
    evidence_details: {
      due_by: d.status === 'needs_response' ? d.created + 7 * DAY : null,
      enhanced_eligibility: {},
      has_evidence: false,
      past_due: false,
      submission_count: 0,
      submission_method: 'not_submitted',
    },
    intended_submission_method: null,
    is_charge_refundable: false,
    livemode: false,
    metadata: {},
    payment_intent: d.paymentIntent,
    reason: d.reason,
    status: d.status,
  };
}
